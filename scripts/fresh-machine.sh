#!/bin/bash
# make fresh-check (and make test): does `make deps` install everything the
# lab runs? A clean Debian 12 root (mmdebstrap, minbase, from this machine's
# apt sources) gets a copy of the lab; inside it, as root, `make deps` runs,
# then the host tool, the stress tool and the initramfs are built, and an
# already-built 4k-48 kernel (build/out, from make kernel) is booted with the
# root's own QEMU and firmware through `ptlab run`, expecting the boot plan to
# pass. Nothing of the host's installed packages is visible in there.
#
# Cached under build/fresh/: the bare root (base-<key>.tar) and the root
# after `make deps` (deps-<key>.tar, keyed by scripts/deps.sh, which holds
# the package list); every run starts from a fresh copy of the latter.
# FRESH_REBUILD=1 drops both caches.
set -eu
. "$(dirname "$0")/lib.sh"

FRESH=$BUILD/fresh
SUITE=bookworm
CONFIG=4k-48 FLAVOUR=debug STEP=series-head
export CONFIG FLAVOUR STEP
ROOT=$FRESH/root

# The inner half runs in a private mount namespace (unshare -m): the bind
# mounts vanish with it, however it ends.
if [ "${1:-}" = --in-namespace ]; then
	shift
	mount -t proc proc "$ROOT/proc"
	mount --rbind /dev "$ROOT/dev"
	mount -t sysfs sysfs "$ROOT/sys"
	mkdir -p "$ROOT/lab/build/linux"
	# The tree is read, never written: ptlab asks git what STEP contains.
	mount --bind -o ro "$SRC" "$ROOT/lab/build/linux"
	# The host's compiler cache, so the builds in there cost seconds; a
	# missing header or library still fails them (ccache checks every
	# include, and links are never cached).
	mkdir -p "$ROOT/root/.cache/ccache"
	mount --bind "$CCACHE_HOST_DIR" "$ROOT/root/.cache/ccache"
	exec chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 TERM=dumb CI="${CI:-}" /bin/bash -c "$1"
fi

need_tool mmdebstrap tar unshare chroot ccache
need_ptlab
[ "$(id -u)" = 0 ] || die "the fresh-machine check needs root (chroot, mounts)"
kernel_out=$("$PTLAB" layout kernel-dir)

sources() {
	local f
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		[ -s "$f" ] && { echo "$f"; return 0; }
	done
	die "no Debian apt sources on this machine (/etc/apt/sources.list.d/debian.sources)"
}

base_key() {
	{ echo "$SUITE minbase make"; mmdebstrap --version; cat "$(sources)"; } | sha256sum | cut -c1-16
}

deps_key() {
	{ base_key; cat "$TOP/scripts/deps.sh"; } | sha256sum | cut -c1-16
}

# A root that holds nothing but the lab's files, as a fresh clone would.
copy_lab() {
	mkdir -p "$ROOT/lab"
	tar -C "$TOP" --exclude=./build --exclude=./.git --exclude=./harness/build \
		--exclude=./stress/build -cf - . | tar -C "$ROOT/lab" -xf -
}

inside() { # command
	local cache
	cache=$(ccache -k cache_dir)
	mkdir -p "$cache"
	CCACHE_HOST_DIR=$cache unshare --mount --propagation private "$0" --in-namespace "$1"
}

make_base() {
	local tar=$1
	rm -f "$FRESH"/base-*.tar
	# make is the one package a minimal Debian lacks to run `make deps`:
	# README says to install it first.
	rm -rf "$FRESH/base.partial.tar"
	mmdebstrap --variant=minbase --mode=root --include=make "$SUITE" "$FRESH/base.partial.tar" "$(sources)"
	mv "$FRESH/base.partial.tar" "$tar"
}

make_deps_root() {
	local tar=$1
	rm -rf "$ROOT" "$FRESH"/deps-*.tar
	mkdir -p "$ROOT"
	tar -C "$ROOT" -xf "$FRESH/base-$(base_key).tar"
	copy_lab
	inside 'cd /lab && make deps'
	tar -C "$ROOT" --exclude=./lab --exclude="./var/cache/apt/archives/*.deb" -cf "$FRESH/deps.partial.tar" .
	mv "$FRESH/deps.partial.tar" "$tar"
}

fresh_root() {
	rm -rf "$ROOT"
	mkdir -p "$ROOT"
	tar -C "$ROOT" -xf "$FRESH/deps-$(deps_key).tar"
	copy_lab
	# The kernel under test, as make kernel left it: Image, its .config (facts
	# the host judges) and the lab's module.
	local o=$ROOT/lab/build/${kernel_out#"$BUILD/"}
	mkdir -p "$o/arch/arm64/boot" "$o/ptlab-module/src"
	cp "$kernel_out/arch/arm64/boot/Image" "$o/arch/arm64/boot/"
	cp "$kernel_out/.config" "$o/"
	find "$kernel_out/ptlab-module/src" -name '*.ko' -exec cp {} "$o/ptlab-module/src/" \;
}

main() {
	mkdir -p "$FRESH"
	[ "${FRESH_REBUILD:-0}" = 1 ] && rm -f "$FRESH"/*.tar
	local base deps
	base=$FRESH/base-$(base_key).tar
	deps=$FRESH/deps-$(deps_key).tar
	[ -f "$base" ] || run_step "fresh: a clean Debian $SUITE root (mmdebstrap minbase)" \
		"$FRESH/base.log" make_base "$base"
	[ -f "$deps" ] || run_step "fresh: make deps in it (package list changed or first run)" \
		"$FRESH/deps.log" make_deps_root "$deps"
	[ -f "$kernel_out/arch/arm64/boot/Image" ] ||
		die "$kernel_out/arch/arm64/boot/Image is not built: run 'make kernel CONFIG=$CONFIG' first"
	run_step "fresh: a new copy of that root with the lab in it" "$FRESH/copy.log" fresh_root
	run_step "fresh: make deps again (idempotent)" "$FRESH/deps-again.log" \
		inside 'cd /lab && make deps'
	run_step "fresh: build the host tool, the stress tool and the initramfs" "$FRESH/build.log" \
		inside 'cd /lab && scripts/harness.sh && scripts/stress.sh && scripts/rootfs.sh'
	run_step "fresh: boot $CONFIG @ $STEP with the root's QEMU and firmware" "$FRESH/boot.log" \
		inside "cd /lab && PREBUILT=1 CONFIG=$CONFIG STEP=$STEP PLANS=boot build/harness/ptlab run"
	tail -n 4 "$FRESH/boot.log"
}

main "$@"
