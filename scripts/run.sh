#!/bin/bash
# make run / make shell: build what is missing, boot CONFIG at STEP, run
# PLANS in the guest; ptlab run-guest starts QEMU (the machine is data:
# configs/machine/arm64.json), streams the console and judges it.
# Results land in build/runs/<config>-<flavour>/<step>/<plans>/.
set -eu
. "$(dirname "$0")/lib.sh"

CONFIG=${CONFIG:-4k-48}
STEP=${STEP:-series-head}
FLAVOUR=${FLAVOUR:-debug}
PLANS=${PLANS:-boot}
TIMEOUT=${TIMEOUT:-900}
SMP=${SMP:-}
MEM=${MEM:-}
# PTLAB_MACHINE: another machine description (the tests' broken one).
MACHINE=${PTLAB_MACHINE:-$TOP/configs/machine/arm64.json}
ALLOW=${ALLOW:-}
# Extra kernel command-line words for the plans (ptlab.bench_reps=5 ...).
PTLAB_ARGS=${PTLAB_ARGS:-}
SHELL_MODE=0
[ "${1:-}" = --shell ] && SHELL_MODE=1

check_config_name "$CONFIG"
check_plan_names "$PLANS"
# Knobs are checked before anything builds.
check_uint TIMEOUT "$TIMEOUT" 1
[ -z "$SMP" ] || check_uint SMP "$SMP" 1
[ -z "$MEM" ] || check_uint MEM "$MEM" 256
need_ptlab

# PREBUILT=1 (make bench, a bisection step): boot the kernel, stress tool and initramfs as they are built, with
# no checkout of build/linux: alternating steps would otherwise relink every kernel each time.
if [ "${PREBUILT:-0}" = 1 ]; then
	kernel_out=$(kernel_outdir "$CONFIG" "$FLAVOUR" "$STEP")
	base_initrd=$BUILD/rootfs/base.cpio.gz
	{ [ -f "$kernel_out/arch/arm64/boot/Image" ] && [ -f "$base_initrd" ]; } ||
		die "PREBUILT=1: $kernel_out/arch/arm64/boot/Image or $base_initrd is not built"
else
	kernel_out=$("$TOP/scripts/kernel.sh")
	"$TOP/scripts/stress.sh"
	base_initrd=$("$TOP/scripts/rootfs.sh")
fi

# The lab's module is built per kernel: it rides in a second cpio archive
# appended to the base one (the kernel unpacks both).
initrd=$base_initrd
if ko=$(find "$kernel_out/ptlab-module/src" -name '*.ko' 2>/dev/null | head -n 1) && [ -n "$ko" ]; then
	initrd=$kernel_out/initramfs.cpio.gz
	if [ ! -f "$initrd" ] || [ "$ko" -nt "$initrd" ] || [ "$base_initrd" -nt "$initrd" ]; then
		printf 'dir /lib 0755 0 0\ndir /lib/modules 0755 0 0\nfile /lib/modules/%s %s 0644 0 0\n' \
			"$(basename "$ko")" "$ko" >"$kernel_out/initramfs-module.txt"
		{
			cat "$base_initrd"
			"$BUILD/tools/gen_init_cpio" -t 1552348620 "$kernel_out/initramfs-module.txt" | gzip -n
		} >"$initrd.tmp"
		mv "$initrd.tmp" "$initrd"
	fi
fi

# What this config at this step promises, from configs/expectations.json
# and the series patches STEP contains (a tree equal to series-head, such
# as pristine, contains them all).
subjects=$(mktemp)
trap 'rm -f "$subjects"' EXIT
if git -C "$SRC" merge-base --is-ancestor series-base "$STEP" 2>/dev/null; then
	git -C "$SRC" log --format=%s "series-base..$STEP" >"$subjects"
elif git -C "$SRC" diff --quiet "$STEP" series-head 2>/dev/null; then
	git -C "$SRC" log --format=%s series-base..series-head >"$subjects"
else
	die "STEP $STEP is neither on the series (a descendant of series-base) nor equal to series-head"
fi
expect=$("$PTLAB" expect --data "$TOP/configs/expectations.json" --config "$CONFIG" --subjects "$subjects")
rm -f "$subjects"
trap - EXIT
step_name=$(step_dirname "$STEP")
append="ptlab.plans=$(echo "$PLANS" | tr ' ' ',') ptlab.config=$CONFIG ptlab.step=$step_name ptlab.expect=$expect${PTLAB_ARGS:+ $PTLAB_ARGS}"

guest=(--machine "$MACHINE" --geometry "$TOP/configs/geometry/$CONFIG.config"
	--kernel "$kernel_out/arch/arm64/boot/Image" --initrd "$initrd")
[ -n "$SMP" ] && guest+=(--smp "$SMP")
[ -n "$MEM" ] && guest+=(--mem "$MEM")

if [ "$SHELL_MODE" = 1 ]; then
	log "shell: $CONFIG-$FLAVOUR @ $step_name"
	exec "$PTLAB" run-guest "${guest[@]}" --append "$append ptlab.shell=1" --shell
fi

rundir=$BUILD/runs/$CONFIG-$FLAVOUR/$step_name/$(echo "$PLANS" | tr ' ,' '+')
guest+=(--append "$append" --run-dir "$rundir" --timeout "$TIMEOUT"
	--label "$PLANS@$CONFIG-$FLAVOUR/$step_name")
for kind in $ALLOW; do guest+=(--allow "$kind"); done
[ "$V" = 1 ] && guest+=(--live)
log "boot $CONFIG-$FLAVOUR @ $step_name: plans $PLANS"
exec "$PTLAB" run-guest "${guest[@]}"
