#!/bin/bash
# make rootfs: the guest's initramfs (build/rootfs/base.cpio.gz): Debian's
# arm64 busybox-static, /init, the KTAP helpers and the test plans (and the
# stress tool once built). Rebuilt only when an input changed. The cpio is
# written by the kernel's own gen_init_cpio, so /dev/console needs no root.
set -eu
. "$(dirname "$0")/lib.sh"

ROOTFS=$BUILD/rootfs
OUTPUT=$ROOTFS/base.cpio.gz
BUSYBOX=$BUILD/busybox/bin/busybox
STRESS=$BUILD/stress-aarch64/ptlab-stress
GEN_INIT_CPIO=$BUILD/tools/gen_init_cpio

[ -x "$BUSYBOX" ] || die "$BUSYBOX missing: run 'make deps' (it downloads busybox-static:arm64)"
[ -f "$SRC/usr/gen_init_cpio.c" ] || die "build/linux missing: run 'make source' first"
need_tool gcc gzip

inputs() {
	echo "$BUSYBOX" "$SRC/usr/gen_init_cpio.c" "$0"
	find "$TOP/rootfs" -type f
	[ -x "$STRESS" ] && echo "$STRESS"
	true
}

up_to_date() {
	local f
	[ -f "$OUTPUT" ] || return 1
	for f in $(inputs); do
		[ "$f" -nt "$OUTPUT" ] && return 1
	done
	return 0
}

file_list() {
	local d p
	for d in /bin /sbin /usr /usr/bin /usr/sbin /dev /proc /sys /tmp /lib /lib/modules /ptlab /plans /root; do
		echo "dir $d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "file /bin/busybox $BUSYBOX 0755 0 0"
	echo "slink /bin/sh busybox 0777 0 0"
	echo "file /init $TOP/rootfs/init 0755 0 0"
	echo "file /ptlab/plan.sh $TOP/rootfs/lib/plan.sh 0644 0 0"
	for p in "$TOP"/rootfs/plans/*.plan; do
		echo "file /plans/$(basename "$p") $p 0644 0 0"
	done
	if [ -x "$STRESS" ]; then
		echo "file /usr/bin/ptlab-stress $STRESS 0755 0 0"
	fi
}

build() {
	mkdir -p "$ROOTFS" "$(dirname "$GEN_INIT_CPIO")"
	if [ ! -x "$GEN_INIT_CPIO" ] || [ "$SRC/usr/gen_init_cpio.c" -nt "$GEN_INIT_CPIO" ]; then
		gcc -O2 -o "$GEN_INIT_CPIO" "$SRC/usr/gen_init_cpio.c"
	fi
	file_list >"$ROOTFS/files.txt"
	"$GEN_INIT_CPIO" -t 1552348620 "$ROOTFS/files.txt" | gzip -n -6 >"$OUTPUT.tmp"
	mv "$OUTPUT.tmp" "$OUTPUT"
}

if up_to_date; then
	[ "$V" = 1 ] && log "rootfs: $OUTPUT is up to date"
else
	run_step "rootfs: building build/rootfs/base.cpio.gz" "$ROOTFS/build.log" build
fi
echo "$OUTPUT"
