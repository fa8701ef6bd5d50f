#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise build/bench/raw.csv: median and min-max per kernel and metric,
ratio new/reference (ours/upstream by default) of the medians, and whether that is better or worse
(time, memory, system calls: lower is better; MiB/s, IOPS: higher is better)."""
import csv
import os
import statistics
import sys
from collections import defaultdict

out = sys.argv[1]
# The two kernels compared, reference first (scripts/bench-pcp.sh: off on).
ref, new = os.environ.get("BENCH_KERNELS", "baseline ours").split()
ref_label = "upstream" if ref == "baseline" else ref
new_label = new
vals = defaultdict(lambda: defaultdict(list))
units = {}
failed = set()
with open(f"{out}/raw.csv") as f:
    for row in csv.DictReader(f):
        try:
            value = float(row["value"])
        except ValueError:
            failed.add((row["metric"], row["kernel"]))
            continue
        vals[row["metric"]][row["kernel"]].append(value)
        units[row["metric"]] = row["unit"]


def cell(xs):
    if not xs:
        return "n/a"
    return f"{statistics.median(xs):.1f} ({min(xs):.0f}-{max(xs):.0f})"


lines = [f"{'metric':44} {'unit':10} {ref_label:>22} {new_label:>22} {'ratio':>7}  verdict"]
ratios = []
for metric in sorted(vals):
    up, ours = vals[metric].get(ref, []), vals[metric].get(new, [])
    unit = units[metric]
    ratio, verdict = "n/a", ""
    if up and ours and statistics.median(up) > 0:
        r = statistics.median(ours) / statistics.median(up)
        higher_better = unit.startswith(("MiB/s", "IOPS"))
        good = r >= 1 / 1.05 if higher_better else r <= 1.05
        verdict = "ok" if good else "WORSE"
        # the huge-mapping targets are hundredths of upstream
        ratio = f"{r:.3f}" if r < 0.1 else f"{r:.2f}"
        ratios.append((metric, r, higher_better))
    lines.append(f"{metric:44} {unit:10} {cell(up):>22} {cell(ours):>22} {ratio:>7}  {verdict}")
for metric, kernel in sorted(failed):
    lines.append(f"{metric:44} FAILED on {kernel}")
# Stacked against bare on the new kernel alone: upstream cannot do P2P
# through md at all.
for stacked, bare in (("dio_read_to_p2pmem_raid0", "dio_read_to_p2pmem"),
                      ("dio_cpu_per_gib_raid0", "dio_cpu_per_gib")):
    s, b = vals[stacked].get(new, []), vals[bare].get(new, [])
    if s and b and statistics.median(b) > 0:
        r = statistics.median(s) / statistics.median(b)
        lines.append(f"{new_label}: {stacked} / {bare} = {r:.2f}")


# fio into P2P memory against fio into host memory, per kernel: what the
# CMB buffer costs or saves in the same job (fio_<engine>_<pattern>_p2p_*
# over fio_<engine>_<pattern>_host_*).
for metric in sorted(vals):
    if not (metric.startswith("fio_") and "_p2p_" in metric):
        continue
    host = metric.replace("_p2p_", "_host_")
    for kernel, label in ((ref, ref_label), (new, new_label)):
        p, h = vals[metric].get(kernel, []), vals.get(host, {}).get(kernel, [])
        if p and h and statistics.median(h) > 0:
            r = statistics.median(p) / statistics.median(h)
            lines.append(f"{label}: {metric} / {host} = {r:.2f}")


def new_median(metric):
    xs = vals.get(metric, {}).get(new, [])
    return statistics.median(xs) if xs else None


# Queue leases, on the new kernel alone (upstream has none): the holder
# against io_uring and pread on the same namespace, with the controller
# keeping queues for leases (rows *_lq, shadow doorbells off) and as the
# kernel sets it up by default; what keeping them costs io_uring and pread;
# and the system calls each made per read (counted under ptrace).
def uring_way(sfx):
    way = "qd_uring" + sfx
    return way if new_median(f"{way}_iops") is not None else "qd_uring_irq" + sfx


for sfx in ("_lq", ""):
    for other in (uring_way(sfx), "qd_pread" + sfx):
        for kind in ("iops", "cpu_us"):
            lease, o = new_median(f"qd_lease_{kind}"), new_median(f"{other}_{kind}")
            if lease is not None and o:
                lines.append(f"{new_label}: qd_lease_{kind} / {other}_{kind} = {lease / o:.2f}")
for default in (uring_way(""), "qd_pread"):
    kept = default + "_lq"
    for kind in ("iops", "cpu_us"):
        k, d = new_median(f"{kept}_{kind}"), new_median(f"{default}_{kind}")
        if k is not None and d:
            lines.append(f"{new_label}: lease queues kept: {kept}_{kind} / {default}_{kind} = {k / d:.2f}")
calls = [(way, new_median(f"{way}_syscalls")) for way in ("qd_lease", uring_way("_lq"), "qd_pread_lq")]
if any(c is not None for _, c in calls):
    lines.append(f"{new_label}: system calls per read: " +
                 ", ".join(f"{way[3:]} {c:.3f}" for way, c in calls if c is not None))
table = "\n".join(lines)
print(table)
with open(f"{out}/table.txt", "w") as f:
    f.write(table + "\n")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("bench: python3-matplotlib missing, no chart")
    sys.exit(0)
fig, ax = plt.subplots(figsize=(10, max(3, 0.3 * len(ratios))))
names = [m for m, _, _ in ratios]
xs = [r for _, r, _ in ratios]
colors = ["tab:green" if (r >= 1 / 1.05 if hb else r <= 1.05) else "tab:red" for _, r, hb in ratios]
ax.barh(names, xs, color=colors)
ax.axvline(1.0, color="black", linewidth=0.8)
ax.set_xscale("log")
ax.set_xlabel(f"{new_label} / {ref_label} (median; time & memory: lower is better, MiB/s & IOPS: higher is better)")
ax.invert_yaxis()
fig.tight_layout()
fig.savefig(f"{out}/ratios.png", dpi=100)
print(f"bench: chart in {out}/ratios.png")
