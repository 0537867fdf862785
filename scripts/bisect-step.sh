#!/bin/bash
# One step of `git bisect run` (scripts/bisect.sh): build the checked-out
# commit and run the plans. Exit 0 good, 1 bad, 125 skip (does not build),
# 128 abort (the lab itself is broken: no harness, no QEMU).
set -u
. "$(dirname "$0")/lib.sh"

sha=$(git -C "$SRC" rev-parse HEAD)
[ -x "${PTLAB:-}" ] || { log "bisect-step: PTLAB not built"; exit 128; }
command -v qemu-system-aarch64 >/dev/null || { log "bisect-step: qemu-system-aarch64 missing"; exit 128; }

log "== bisect step $(git -C "$SRC" log -1 --format='%h %s' HEAD)"
if ! NO_CHECKOUT=1 MODULE_OPTIONAL=1 STEP=$sha "$TOP/scripts/kernel.sh" >/dev/null; then
	log "bisect-step: $sha does not build: skip"
	exit 125
fi
# Built just now, and bisect.sh built the stress tool and initramfs: boot it as it is.
if PREBUILT=1 STEP=$sha "$TOP/scripts/run.sh"; then
	exit 0
fi
exit 1
