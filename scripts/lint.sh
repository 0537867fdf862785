#!/bin/bash
# make lint: shellcheck for every script (bash on the host, busybox sh in
# the guest), clang-format for the C++ sources, checkpatch for the module
# and for the C programs make test builds for the guest.
set -eu
. "$(dirname "$0")/lib.sh"
need_tool shellcheck clang-format

fail=0
cd "$TOP"
shellcheck -x scripts/*.sh .ci/run || fail=1
shellcheck -x -s sh rootfs/init rootfs/lib/plan.sh rootfs/plans/*.plan || fail=1

mapfile -t cxx < <(find harness stress ktap -name build -prune -o \( -name '*.cpp' -o -name '*.hpp' \) -print 2>/dev/null)
if [ "${#cxx[@]}" -gt 0 ]; then
	clang-format --dry-run --Werror "${cxx[@]}" || fail=1
fi

if [ -d module ] && [ -n "$(find module -name '*.[ch]' -print -quit)" ]; then
	[ -x "$SRC/scripts/checkpatch.pl" ] || die "checkpatch.pl missing: run 'make source' first"
	"$SRC/scripts/checkpatch.pl" --strict --no-tree --quiet -f module/*.[ch] tests/exec/*.c || fail=1
fi

[ "$fail" = 0 ] && echo "lint: shellcheck, clang-format and checkpatch clean"
exit "$fail"
