#!/bin/bash
# scripts/stress.sh [--test [GTEST_JSON]]: build the stress tool ptlab-stress (stress/) with
# CMake, twice: cross-compiled and static for the aarch64 guest into build/stress-aarch64/
# (rootfs.sh packs it into the initramfs as /usr/bin/ptlab-stress), and natively with its
# GoogleTest unit tests into build/stress-host/. Quiet: full logs in build/logs/stress-*.log
# (V=1 shows them). A build is skipped when nothing under stress/ changed since the last one.
# --test also runs the host unit tests: exit status 1 when one fails, gtest's JSON report
# written to GTEST_JSON when given.
set -eu
. "$(dirname "$0")/lib.sh"

TEST=0
GTEST_JSON=
case ${1:-} in
--test)
	TEST=1
	GTEST_JSON=${2:-}
	;;
"") ;;
-h | --help)
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*) die "usage: scripts/stress.sh [--test [GTEST_JSON]]" ;;
esac

need_tool cmake make g++ aarch64-linux-gnu-g++ ccache
need_file /usr/include/CLI/CLI.hpp libcli11-dev
need_file /usr/include/nlohmann/json.hpp nlohmann-json3-dev
need_file /usr/include/gtest/gtest.h libgtest-dev

STRESS=$TOP/stress
CROSS=$BUILD/stress-aarch64
HOST=$BUILD/stress-host
LOGS=$BUILD/logs
STAMP=.ptlab-built

# up_to_date DIR BINARY: BINARY exists and no file under stress/ or ktap/ (nor this script) is newer
# than DIR's last successful build.
up_to_date() {
	[ -x "$1/$2" ] && [ -f "$1/$STAMP" ] || return 1
	[ -z "$(find "$STRESS" "$TOP/ktap" "$TOP/scripts/stress.sh" -path "$STRESS/build" -prune -o \
		-newer "$1/$STAMP" -print -quit)" ]
}

build_cross() {
	cmake -S "$STRESS" -B "$CROSS" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
		-DCMAKE_TOOLCHAIN_FILE="$STRESS/cmake/aarch64-linux-gnu.cmake" &&
		cmake --build "$CROSS" -j2 &&
		touch "$CROSS/$STAMP"
}

build_host() {
	cmake -S "$STRESS" -B "$HOST" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache &&
		cmake --build "$HOST" -j2 &&
		touch "$HOST/$STAMP"
}

if up_to_date "$CROSS" ptlab-stress; then
	[ "$V" = 1 ] && log "stress: build/stress-aarch64/ptlab-stress is up to date"
else
	run_step "stress: building build/stress-aarch64/ptlab-stress (aarch64, static)" \
		"$LOGS/stress-aarch64.log" build_cross
fi
if up_to_date "$HOST" ptlab-stress-tests; then
	[ "$V" = 1 ] && log "stress: build/stress-host is up to date"
else
	run_step "stress: building build/stress-host (host tool and unit tests)" \
		"$LOGS/stress-host.log" build_host
fi

[ "$TEST" = 1 ] || exit 0

args=()
[ -n "$GTEST_JSON" ] && args+=("--gtest_output=json:$GTEST_JSON")
out=$LOGS/stress-unit-tests.log
if "$HOST/ptlab-stress-tests" "${args[@]}" >"$out" 2>&1; then
	log "stress: unit tests: $(grep -E '^\[  PASSED  \]' "$out" | sed 's/^.*\] *//;s/\.$//') passed"
else
	grep -E '^\[  FAILED  \]|Failure$' "$out" | sort -u >&2 || true
	log "stress: unit tests FAILED; full log: $out"
	exit 1
fi
