#!/bin/bash
# make run / make shell: build what is missing, boot CONFIG at STEP, run
# PLANS in the guest; ptlab run-guest starts QEMU (the machine is data:
# configs/machine/arm64.json), streams the console and judges it.
# Results land in build/runs/<config>-<flavour>/<step>/<plans>/.
set -eu
. "$(dirname "$0")/lib.sh"

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
	{ [ -f "$kernel_out/arch/arm64/boot/Image" ] && [ -f "$kernel_out/.config" ] && [ -f "$base_initrd" ]; } ||
		die "PREBUILT=1: $kernel_out/arch/arm64/boot/Image, its .config or $base_initrd is not built"
else
	kernel_out=$("$TOP/scripts/kernel.sh")
	"$TOP/scripts/stress.sh"
	base_initrd=$("$TOP/scripts/rootfs.sh")
fi

# What this config at this step promises (see write_promises in lib.sh).
write_promises "$CONFIG" "$STEP" "$kernel_out"

# The per-kernel archive, appended to the base one (the kernel unpacks both):
# the module's rules, and the lab's module when it was built for this kernel.
initrd=$kernel_out/initramfs.cpio.gz
{
	printf 'dir /ptlab 0755 0 0\nfile /ptlab/rules %s 0644 0 0\n' "$kernel_out/rules"
	if ko=$(find "$kernel_out/ptlab-module/src" -name '*.ko' 2>/dev/null | head -n 1) && [ -n "$ko" ]; then
		printf 'dir /lib 0755 0 0\ndir /lib/modules 0755 0 0\nfile /lib/modules/%s %s 0644 0 0\n' \
			"$(basename "$ko")" "$ko"
	fi
} >"$kernel_out/initramfs-kernel.txt.$$"
{
	cat "$base_initrd"
	"$BUILD/tools/gen_init_cpio" -t 1552348620 "$kernel_out/initramfs-kernel.txt.$$" | gzip -n
} >"$initrd.tmp.$$"
rm -f "$kernel_out/initramfs-kernel.txt.$$"
mv "$initrd.tmp.$$" "$initrd"
step_name=$(step_dirname "$STEP")
append="ptlab.plans=$(echo "$PLANS" | tr ' ' ',') ptlab.config=$CONFIG ptlab.step=$step_name${PTLAB_ARGS:+ $PTLAB_ARGS}"

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
	--expect "$kernel_out/expect.json" --kconfig "$kernel_out/.config"
	--label "$PLANS@$CONFIG-$FLAVOUR/$step_name")
for kind in $ALLOW; do guest+=(--allow "$kind"); done
[ "$V" = 1 ] && guest+=(--live)
log "boot $CONFIG-$FLAVOUR @ $step_name: plans $PLANS"
exec "$PTLAB" run-guest "${guest[@]}"
