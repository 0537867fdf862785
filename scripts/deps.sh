#!/bin/bash
# make deps: install every build and run dependency from Debian's packages,
# and fetch the guest's arm64 packages into build/ (never installed over the
# host's).
# Idempotent: does nothing when everything is present. Not root: prints the
# exact commands to run instead.
set -eu
. "$(dirname "$0")/lib.sh"

PACKAGES=(
	# kernel source and build
	linux-source-6.1 git xz-utils make gcc-aarch64-linux-gnu flex bison bc
	libssl-dev libelf-dev cpio kmod ccache rsync perl
	# guest: emulator and UEFI firmware
	qemu-system-arm qemu-efi-aarch64
	# userspace: host harness and the static aarch64 stress tool
	g++ g++-aarch64-linux-gnu cmake libgtest-dev nlohmann-json3-dev libcli11-dev
	# ENGINE=lava: LAVA's jobs and logs are YAML (lava-up installs LAVA itself)
	libyaml-cpp-dev
	# lint (checkpatch.pl is perl)
	shellcheck clang-format
	# make test: the fresh-machine check builds a clean Debian root
	mmdebstrap
	# make bench: the plot
	gnuplot-nox
	# make bisect SERIES=<thread mbox>: b4 am picks the newest version, offline
	b4
)

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
	done
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		log "not root; run this and then 'make deps' again:"
		log "  sudo $*"
		exit 1
	fi
}

install_packages() {
	local missing
	mapfile -t missing < <(missing_packages)
	if [ "${#missing[@]}" -eq 0 ]; then
		log "deps: all ${#PACKAGES[@]} Debian packages present"
		return 0
	fi
	log "deps: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		log "not root; run this and then 'make deps' again:"
		log "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$BUILD/logs/apt-install.log" 2>&1 || {
		# The package lists may be stale or missing on a fresh machine.
		DEBIAN_FRONTEND=noninteractive apt-get update >"$BUILD/logs/apt-update.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >"$BUILD/logs/apt-install.log" 2>&1 ||
			{ tail -n 20 "$BUILD/logs/apt-install.log" >&2; die "apt-get install failed; log: $BUILD/logs/apt-install.log"; }
	}
}

# Guest user space from Debian's arm64 packages, downloaded and unpacked under
# build/ (installing them would replace the host's own): busybox-static for
# the initramfs; for the upstream selftests, bash-static (the vm scripts) and
# the static libraries some tests link (libnuma, libcap, liburing).
ARM64_PACKAGES=(busybox-static bash-static libnuma-dev libcap-dev liburing-dev)

enable_arm64() {
	dpkg --print-foreign-architectures | grep -qx arm64 && return 0
	log "deps: enabling the arm64 architecture in dpkg to download arm64 packages"
	as_root dpkg --add-architecture arm64
	as_root apt-get update >"$BUILD/logs/apt-update.log" 2>&1
}

# fetch_arm64 PACKAGE DIR: PACKAGE:arm64 unpacked into DIR (once).
fetch_arm64() {
	local pkg=$1 dir=$2 deb
	[ -f "$dir/.ptlab-$pkg" ] && return 0
	mkdir -p "$BUILD/deps" "$dir"
	deb=$(find "$BUILD/deps" -name "${pkg}_*_arm64.deb" | head -n 1)
	if [ -z "$deb" ]; then
		log "deps: downloading $pkg:arm64"
		(cd "$BUILD/deps" && apt-get download "$pkg:arm64" >/dev/null 2>&1) || {
			as_root apt-get update >"$BUILD/logs/apt-update.log" 2>&1
			(cd "$BUILD/deps" && apt-get download "$pkg:arm64")
		}
	fi
	deb=$(find "$BUILD/deps" -name "${pkg}_*_arm64.deb" | head -n 1)
	[ -n "$deb" ] || die "$pkg:arm64 could not be downloaded"
	dpkg-deb -x "$deb" "$dir"
	touch "$dir/.ptlab-$pkg"
	log "deps: $(basename "$deb") unpacked in ${dir#"$BUILD"/}"
}

fetch_guest_packages() {
	local pkg
	enable_arm64
	fetch_arm64 busybox-static "$BUILD/busybox"
	for pkg in "${ARM64_PACKAGES[@]:1}"; do
		fetch_arm64 "$pkg" "$BUILD/arm64"
	done
}

mkdir -p "$BUILD/logs"
install_packages
fetch_guest_packages
