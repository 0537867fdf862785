#!/bin/bash
# make kernel CONFIG=<name> [STEP=<rev>] [FLAVOUR=debug]: configure and build
# Image and modules of build/linux at STEP, out of tree, one output folder
# per config, flavour and step (build/out/<config>-<flavour>/<step>), a new
# one seeded from the last built, with ccache. Prints the output folder on
# stdout.
set -eu
. "$(dirname "$0")/lib.sh"

CONFIG=${CONFIG:-4k-48}
STEP=${STEP:-series-head}
FLAVOUR=${FLAVOUR:-debug}
# NO_CHECKOUT=1: build whatever build/linux has checked out (git bisect run).
NO_CHECKOUT=${NO_CHECKOUT:-0}
# MODULE_OPTIONAL=1: a step the lab's module does not build against is
# still built and booted (a bisection), its audit plan then fails.
MODULE_OPTIONAL=${MODULE_OPTIONAL:-0}
# KERNEL_TARGETS=config: stop after .config (and its check).
KERNEL_TARGETS=${KERNEL_TARGETS:-all}

check_config_name "$CONFIG"
check_flavour_name "$FLAVOUR"
need_tool aarch64-linux-gnu-gcc ccache flex bison bc make depmod
[ -d "$SRC/.git" ] || die "build/linux does not exist: run 'make source' first"

kmake() { # outdir args...
	local o=$1
	shift
	make -C "$SRC" O="$o" "${KMAKE_ARGS[@]}" "$@"
}

checkout_step() {
	local sha
	sha=$(resolve_step "$STEP")
	[ "$(git -C "$SRC" rev-parse HEAD)" = "$sha" ] && return 0
	[ -f "$SRC/.git/BISECT_LOG" ] &&
		die "a bisection is in progress in $SRC; 'git -C $SRC bisect reset' first"
	[ -z "$(git -C "$SRC" status --porcelain --untracked-files=no)" ] ||
		die "build/linux has local changes; commit or stash them before building another STEP"
	git -C "$SRC" checkout -q --detach "$sha"
}

# Regenerate .config only when its inputs changed (fragments, Kconfig at
# this commit), so an unchanged build is a no-op for Kbuild.
configure() { # outdir
	local o=$1 key frags
	read -r -a frags <<<"$(config_fragments "$CONFIG" "$FLAVOUR")"
	key=$(cat "${frags[@]}" | sha256sum | cut -c1-16)-$(git -C "$SRC" rev-parse HEAD)
	if [ -f "$o/.config" ] && [ "$(cat "$o/.ptlab-config-key" 2>/dev/null)" = "$key" ]; then
		return 0
	fi
	mkdir -p "$o"
	[ -f "$o/.config" ] && cp -p "$o/.config" "$o/.config.prev"
	kmake "$o" tinyconfig >/dev/null
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$o" "$o/.config" "${frags[@]}" >/dev/null
	kmake "$o" olddefconfig >/dev/null
	if [ -f "$o/.config.prev" ] && cmp -s "$o/.config" "$o/.config.prev"; then
		mv "$o/.config.prev" "$o/.config"
	else
		rm -f "$o/.config.prev"
	fi
	# An option Kconfig dropped silently (unmet dependency) is an error.
	"$PTLAB" config-check --config "$o/.config" "${frags[@]}" ||
		die "$CONFIG-$FLAVOUR at $(step_dirname "$STEP"): the options above are not set as the fragments ask"
	echo "$key" >"$o/.ptlab-config-key"
}

# A folder never built starts as a copy of the built folder of this config
# and flavour whose .config is closest to its own (ptlab closest-config; the
# newest of equals), so Kbuild rebuilds only what differs: every file git
# changed since that build was rewritten by a checkout and is newer than its
# objects, and every option that differs is seen by syncconfig. Seconds per
# step instead of minutes, unless the .configs differ in an option half the
# tree depends on (4/4's split PMD lock changes struct page).
seed_outdir() { # outdir
	local o=$1 stamp candidates=() closest
	[ -e "$o/.ptlab-built" ] || [ -e "$o/vmlinux" ] && return 0
	while read -r stamp; do
		[ "$(dirname "$stamp")" = "$o" ] || candidates+=("$(dirname "$stamp")/.config")
	done < <(find "$(dirname "$o")" -mindepth 2 -maxdepth 2 -name .ptlab-built -printf '%T@ %p\n' 2>/dev/null |
		sort -rn | cut -d' ' -f2-)
	[ "${#candidates[@]}" -gt 0 ] || return 0
	closest=$("$PTLAB" closest-config --config "$o/.config" "${candidates[@]}")
	log "kernel: new output folder $(basename "$o"), seeded from $(basename "$(dirname "${closest%%$'\t'*}")") (${closest##*$'\t'} options differ)"
	rsync -a --exclude /ptlab-module --exclude /.ptlab-built --exclude '/*.log' \
		--exclude /.config --exclude /.ptlab-config-key "$(dirname "${closest%%$'\t'*}")/" "$o/"
}

# .ptlab-built marks a complete build, the only kind worth seeding from.
build() { # outdir
	rm -f "$1/.ptlab-built"
	kmake "$1" -j"$(nproc)" Image modules
	touch "$1/.ptlab-built"
}

# The lab's module (module/) is built against this very output. Kbuild puts
# an external module's objects next to its sources, so each output gets its
# own copy of module/.
build_module() { # outdir
	local m=$1/ptlab-module
	mkdir -p "$m/src"
	# A failed build must not leave the previous .ko to be booted.
	find "$m/src" -name '*.ko' -delete
	rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
		--exclude '*.mod*' --exclude 'Module.symvers' --exclude 'modules.order' \
		"$TOP/module/" "$m/src/"
	kmake "$1" M="$m/src" -j"$(nproc)" modules
}

have_module() {
	[ -n "$(find "$TOP/module" -name '*.c' -print -quit 2>/dev/null)" ]
}

main() {
	local o lockfd
	need_ptlab
	exec {lockfd}>"$BUILD/linux.lock"
	if ! flock -n "$lockfd"; then
		log "kernel: another build holds build/linux.lock; waiting"
		flock "$lockfd"
	fi
	[ "$NO_CHECKOUT" = 1 ] || checkout_step
	o=$(kernel_outdir "$CONFIG" "$FLAVOUR" "$STEP")
	mkdir -p "$o"
	local what
	what="kernel $CONFIG-$FLAVOUR @ $(step_dirname "$STEP")"
	run_step "$what: configure" "$o/configure.log" configure "$o"
	if [ "$KERNEL_TARGETS" = config ]; then
		echo "$o"
		return 0
	fi
	seed_outdir "$o"
	run_step "$what: build Image + modules" "$o/build.log" build "$o"
	[ -f "$o/arch/arm64/boot/Image" ] || die "$o/arch/arm64/boot/Image missing after the build"
	if have_module; then
		if [ "$MODULE_OPTIONAL" = 1 ]; then
			(run_step "$what: build module/" "$o/module.log" build_module "$o") ||
				log "kernel: module/ does not build against this step; going on without it"
		else
			run_step "$what: build module/" "$o/module.log" build_module "$o"
		fi
	fi
	echo "$o"
}

main "$@"
