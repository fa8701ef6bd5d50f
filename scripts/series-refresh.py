#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Carry an edit of linux/ into the hold-back diffs of kernel/series/.

A step of kernel/series.map may add a file and then take part of it out
again ("-kernel/series/X.diff", patch -R), for a later step to put back.
X.diff is made against the file as it is in linux/, so editing that file
can leave X.diff no longer applying in reverse.  After such an edit, run

    scripts/series-refresh.py [REV]

Where the diffs still come out of the files, nothing changes.  Otherwise
it takes the files as they were at REV (default HEAD), which the diffs
must fit, and the earlier versions the held diffs made of them, merges the edit into each earlier
version (git merge-file; where an edit touches lines a diff holds back,
they stay held back), and rewrites the diffs.  Then check the result with
make series BUILD_EACH=1.
"""
import os
import re
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAP = os.path.join(TOP, "kernel", "series.map")


def held_diffs():
    """The held diffs, per step, in the order the step takes them out."""
    steps = []
    for line in open(MAP):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        held = [p[1:] for p in line.split()[1:] if p.startswith("-kernel/")]
        if held:
            steps.append(held)
    return steps


def diff_files(path):
    """The part of a diff for each file (tree path) it touches, in order."""
    parts = re.split(r"^(?=--- a/)", open(path).read(), flags=re.M)
    return [(re.search(r"^\+\+\+ b/(\S+)", p, re.M).group(1), p)
            for p in parts if p]


def git_show(rev, path):
    return subprocess.run(["git", "-C", TOP, "show", "%s:%s" % (rev, path)],
                          check=True, capture_output=True, text=True).stdout


def unpatch(text, diff, name, quiet=False):
    """text with diff (the part for tree file name) taken out again."""
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, os.path.dirname(name)), exist_ok=True)
        with open(os.path.join(d, name), "w") as fh:
            fh.write(text)
        subprocess.run(["patch", "-s", "-R", "-F0", "-p1", "-d", d,
                        "--no-backup-if-mismatch", "-r", "-"], input=diff,
                       text=True, check=True,
                       capture_output=quiet)
        return open(os.path.join(d, name)).read()


def merge(ours, base, theirs):
    """theirs' change from base, applied to ours; conflicts keep ours."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for n, t in (("ours", ours), ("base", base), ("theirs", theirs)):
            paths.append(os.path.join(d, n))
            with open(paths[-1], "w") as fh:
                fh.write(t)
        r = subprocess.run(["git", "merge-file", "-p", "--ours"] + paths,
                           capture_output=True, text=True)
        if r.returncode < 0:
            sys.exit("series-refresh: git merge-file failed")
        return r.stdout, r.returncode


def unified(old, new, name):
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "a"), os.path.join(d, "b")
        open(a, "w").write(old)
        open(b, "w").write(new)
        r = subprocess.run(["diff", "-u", "--label", "a/" + name, "--label",
                            "b/" + name, a, b], capture_output=True, text=True)
        if r.returncode > 1:
            sys.exit("series-refresh: diff failed")
        return r.stdout


def takes_out(held, text):
    """Whether the diffs still come out of the files as they are."""
    try:
        for d in held:
            for n, part in diff_files(os.path.join(TOP, d)):
                text[n] = unpatch(text[n], part, n, quiet=True)
    except subprocess.CalledProcessError:
        return False
    return True


def main():
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    for held in held_diffs():
        # Versions of every file the step's diffs touch: before the edit
        # (at rev) and after it (the working tree), taken out diff by diff.
        names = {n for d in held for n, _ in diff_files(os.path.join(TOP, d))}
        new = {n: open(os.path.join(TOP, "linux", n)).read() for n in names}
        if takes_out(held, dict(new)):
            continue
        old = {n: git_show(rev, "linux/" + n) for n in names}
        for d in held:
            path = os.path.join(TOP, d)
            out = []
            for n, part in diff_files(path):
                old_early = unpatch(old[n], part, n)
                new_early, conflicts = merge(old_early, old[n], new[n])
                if conflicts:
                    print("series-refresh: %s: %d conflict(s) in %s kept "
                          "held back" % (d, conflicts, n))
                out.append(unified(new_early, new[n], n))
                old[n], new[n] = old_early, new_early
            text = "".join(out)
            if text != open(path).read():
                open(path, "w").write(text)
                print("series-refresh: rewrote %s" % d)


if __name__ == "__main__":
    main()
