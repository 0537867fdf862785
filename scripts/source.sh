#!/bin/bash
# make source: build/linux as a git tree. pristine = the untouched Debian
# tarball; series-base = pristine + patches/6.1/base (the pre-series arm64
# code rebuilt on 6.1); series-head = series-base + patches/6.1/series.
# Commit identities and dates are fixed, so every machine gets the same ids.
# Each stage is resumable: a finished stage is kept, an interrupted one redone.
# It ends by naming the Debian version it used and comparing it with the one
# the series was last verified on (patches/6.1/verified.json).
#   --record      make this tree the verified base (after verifying it)
#   --check-base  only that comparison, README's quoted ids too; exit 0 same,
#                 3 Debian moved the base, 1 otherwise
set -eu
. "$(dirname "$0")/lib.sh"

TARBALL=${LINUX_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
BASE_PATCHES=$TOP/patches/6.1/base
SERIES_PATCHES=$TOP/patches/6.1/series
STATE=$SRC/.git/ptlab-source
# The Debian version and commit ids the series was last verified on.
RECORD=${PTLAB_BASE_RECORD:-$TOP/patches/6.1/verified.json}
PACKAGE=linux-source-6.1

export GIT_COMMITTER_NAME="ptlock-lab" GIT_COMMITTER_EMAIL="ptlock-lab@localhost"

need_file "$TARBALL" linux-source-6.1
need_tool git xz

lgit() { git -C "$SRC" "$@"; }

patches_hash() {
	cat "$@" | sha256sum | cut -c1-16
}

state_get() { # key
	if [ -f "$STATE" ]; then sed -n "s/^$1=//p" "$STATE"; fi
}

state_set() { # key value
	local tmp=$STATE.tmp
	{
		if [ -f "$STATE" ]; then grep -v "^$1=" "$STATE" || true; fi
		echo "$1=$2"
	} >"$tmp"
	mv "$tmp" "$STATE"
}

extract_pristine() {
	local tmp=$BUILD/linux.partial version pkg date
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar -xf "$TARBALL" -C "$tmp" --strip-components=1
	version=$(make -s -C "$tmp" kernelversion 2>/dev/null || echo 6.1)
	pkg=$(dpkg-query -W -f='${Version}' "$PACKAGE" 2>/dev/null || echo unknown)
	date=$(date -u -d "@$(stat -c %Y "$TARBALL")" '+%Y-%m-%dT%H:%M:%SZ')
	git -C "$tmp" init -q
	# Debian's top-level .gitignore ignores everything ("/*"): force.
	git -C "$tmp" add -A -f
	GIT_AUTHOR_NAME="Debian Kernel Team" GIT_AUTHOR_EMAIL="debian-kernel@lists.debian.org" \
		GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" \
		git -C "$tmp" commit -q -m "Linux $version (Debian linux-source-6.1 $pkg)" \
		-m "The untouched contents of $(basename "$TARBALL")."
	git -C "$tmp" tag pristine
	rm -rf "$SRC"
	mv "$tmp" "$SRC"
	state_set tarball "$(stat -c '%s-%Y' "$TARBALL")"
	state_set version "$pkg"
}

# Say which Debian base this tree is, and whether it is the recorded one
# (ptlab base-check: 3 when Debian moved it, which is news, not an error).
# --record: make this tree the verified base.
report_base() {
	local args version tag rc=0
	need_ptlab
	version=$(state_get version)
	# A tree from before the version was kept: its tarball is the installed one.
	[ -n "$version" ] || version=$(dpkg-query -W -f='${Version}' "$PACKAGE")
	args=(--record "$RECORD" --package "$PACKAGE" --version "$version")
	for tag in pristine series-base series-head; do
		args+=("--$tag" "$(lgit rev-parse "$tag^{commit}")")
	done
	case ${1:-} in
	--record) args+=(--write) ;;
	--check-base) args+=(--readme "$TOP/README.md") ;;
	esac
	"$PTLAB" base-check "${args[@]}" >&2 || rc=$?
	[ "${1:-}" = --check-base ] && exit "$rc"
	[ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
}

# git am one directory of patches with the lab's committer (ptlab am: a
# patch that does not apply names itself and its files).
apply_patches() { # dir
	"$PTLAB" am --repo "$SRC" "$1"/*.patch
}

main() {
	mkdir -p "$BUILD"
	if [ ! -d "$SRC/.git" ] || ! lgit rev-parse -q --verify pristine >/dev/null ||
		[ "$(state_get tarball)" != "$(stat -c '%s-%Y' "$TARBALL")" ]; then
		run_step "source: unpacking $(basename "$TARBALL") into build/linux (pristine)" \
			"$BUILD/logs/source-extract.log" extract_pristine
	fi

	if [ -f "$SRC/.git/BISECT_LOG" ]; then
		die "a bisection is in progress in $SRC; finish it ('git -C $SRC bisect reset') first"
	fi
	if [ -d "$SRC/.git/rebase-apply" ]; then
		log "source: aborting an interrupted git am"
		lgit am --abort >/dev/null 2>&1 || true
	fi

	local base_hash series_hash
	base_hash=$(patches_hash "$BASE_PATCHES"/*.patch)
	series_hash=$(patches_hash "$BASE_PATCHES"/*.patch "$SERIES_PATCHES"/*.patch)

	if [ "$(state_get series)" = "$series_hash" ] && lgit rev-parse -q --verify series-head >/dev/null; then
		report_base "$@"
		return 0
	fi
	if [ -n "$(lgit status --porcelain --untracked-files=no)" ]; then
		die "build/linux has local changes; commit or stash them before 'make source' re-applies the patches"
	fi

	local start
	need_ptlab
	start=$(date +%s)
	if [ "$(state_get base)" != "$base_hash" ] || ! lgit rev-parse -q --verify series-base >/dev/null; then
		printf 'source: applying %s ... ' "patches/6.1/base" >&2
		lgit checkout -q --detach pristine
		apply_patches "$BASE_PATCHES"
		lgit tag -f series-base >/dev/null
		state_set base "$base_hash"
		log "done"
	fi
	printf 'source: applying %s ... ' "patches/6.1/series" >&2
	lgit checkout -q --detach series-base
	apply_patches "$SERIES_PATCHES"
	lgit tag -f series-head >/dev/null
	state_set series "$series_hash"
	log "done in $(elapsed "$start")"
	lgit log --oneline pristine..series-head >&2
	report_base "$@"
}

main "$@"
