# SPDX-License-Identifier: GPL-2.0
# make series BOOT_EACH=1, inside the guest: one step of the exported
# series booted.  Reports the cases of the KUnit suites the step has, then
# runs the main job (run.sh: p2pmem published, the verdict, an O_DIRECT
# copy through p2pmem), which steps before the core switch do on
# upstream's core.
. /opt/p2p/guest/lib.sh
FAILED=0
kunit_results
sh /opt/p2p/guest/run.sh || FAILED=1
exit $FAILED
