#!/bin/bash
# Boot one guest: qemu.sh --kernel IMAGE --initrd CPIO --append ARGS
#   --log FILE [--timeout SECONDS] [--smp N] [--mem MIB] [--shell]
# The console goes to FILE (and to the terminal with V=1). A guest that
# does not print the end marker within the timeout is killed. The run's
# result comes from the console log (ptlab check-log), never from QEMU's
# exit code; this script records what it saw in FILE.meta.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/qemu-arm64.conf"

kernel='' initrd='' append='' logf='' timeout=600 smp=$QEMU_SMP mem=$QEMU_MEM_4K shell=0
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift 2 ;;
	--initrd) initrd=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--log) logf=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--shell) shell=1; shift ;;
	*) die "qemu.sh: unknown option $1" ;;
	esac
done
[ -f "$kernel" ] || die "qemu.sh: kernel image '$kernel' not found"
[ -f "$initrd" ] || die "qemu.sh: initramfs '$initrd' not found"
need_tool "$QEMU_BINARY"
need_file "$QEMU_FIRMWARE" "$QEMU_FIRMWARE_PACKAGE"

args=(-machine "$QEMU_MACHINE" -cpu "$QEMU_CPU" -smp "$smp" -m "$mem"
	-bios "$QEMU_FIRMWARE" -kernel "$kernel" -initrd "$initrd"
	-append "$QEMU_KERNEL_CMDLINE $append" -no-reboot)

if [ "$shell" = 1 ]; then
	exec "$QEMU_BINARY" "${args[@]}" -nographic
fi

[ -n "$logf" ] || die "qemu.sh: --log is required"
mkdir -p "$(dirname "$logf")"
: >"$logf"
"$QEMU_BINARY" "${args[@]}" -display none -monitor none -serial stdio \
	</dev/null >"$logf" 2>&1 &
qemu=$!
tailer=
if [ "$V" = 1 ]; then
	tail -n +1 -f "$logf" &
	tailer=$!
fi

start=$(date +%s.%N)
now() { awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }
timed_out=0 first_ktap='' ended=''
while kill -0 "$qemu" 2>/dev/null; do
	if [ -z "$first_ktap" ] && grep -q '^KTAP version 1' "$logf"; then
		first_ktap=$(now)
	fi
	if [ -z "$ended" ] && grep -q '^PTLAB-END' "$logf"; then
		ended=$(now)
	fi
	# After the end marker the guest powers off; give it a few seconds.
	if [ -n "$ended" ] && awk -v a="$(now)" -v b="$ended" 'BEGIN { exit !(a - b > 15) }'; then
		kill "$qemu" 2>/dev/null || true
		break
	fi
	if awk -v a="$(now)" -v t="$timeout" 'BEGIN { exit !(a > t) }'; then
		timed_out=1
		kill "$qemu" 2>/dev/null || true
		break
	fi
	sleep 0.2
done
rc=0
wait "$qemu" 2>/dev/null || rc=$?
[ -n "$tailer" ] && kill "$tailer" 2>/dev/null
{
	echo "timed_out=$timed_out"
	echo "qemu_exit=$rc"
	echo "wall_seconds=$(now)"
	echo "boot_to_first_ktap_seconds=${first_ktap:--}"
} >"$logf.meta"
exit 0
