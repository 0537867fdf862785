#!/bin/bash
# make harness: configure and build the host tool (build/harness/ptlab) and
# its GoogleTest unit tests with CMake. Quiet unless V=1.
set -eu
. "$(dirname "$0")/lib.sh"

need_tool cmake g++ ccache
dir=$BUILD/harness
build() {
	cmake -S "$TOP/harness" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
	cmake --build "$dir" -j"$(nproc)"
}
if [ -x "$dir/ptlab" ] && [ -z "$(find "$TOP/harness" "$TOP/ktap" -newer "$dir/ptlab" -type f -print -quit)" ]; then
	exit 0
fi
run_step "harness: building build/harness/ptlab" "$BUILD/logs/harness.log" build
