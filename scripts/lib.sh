# shellcheck shell=bash
# Helpers shared by the lab's scripts: paths, quiet/verbose logging, timing,
# and the map from a missing tool to the Debian package that provides it.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PTLAB_BUILD:-$TOP/build}
SRC=$BUILD/linux
OUT=$BUILD/out
V=${V:-0}

# The defaults of the knobs every target shares, for scripts run without
# make (the Makefile states the same three for `make help`).
CONFIG=${CONFIG:-4k-48}
STEP=${STEP:-series-head}
FLAVOUR=${FLAVOUR:-debug}
export CONFIG STEP FLAVOUR

log() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# run_step "what" LOG cmd...: run a long step quietly (full output in LOG),
# print "what ... done in 1m02s"; on failure, show the log's last lines.
# The command runs in a subshell with set -e, so a function's first failing
# command fails the step (not only its last one).
run_step() {
	local what=$1 logf=$2 start rc
	shift 2
	start=$(date +%s)
	mkdir -p "$(dirname "$logf")"
	if [ "$V" = 1 ]; then
		log "== $what"
		set +e
		(set -e; "$@") 2>&1 | tee "$logf"
		rc=${PIPESTATUS[0]}
		set -e
	else
		printf '%s ... ' "$what" >&2
		set +e
		(set -e; "$@") >"$logf" 2>&1
		rc=$?
		set -e
	fi
	if [ "$rc" -ne 0 ]; then
		[ "$V" = 1 ] || log "FAILED"
		log "---- last 30 lines of $logf"
		tail -n 30 "$logf" >&2
		log "----"
		die "$what failed (exit $rc); full log: $logf"
	fi
	if [ "$V" = 1 ]; then
		log "== $what: done in $(elapsed "$start")"
	else
		log "done in $(elapsed "$start")"
	fi
}

elapsed() {
	local s=$(($(date +%s) - $1))
	if [ "$s" -ge 60 ]; then
		printf '%dm%02ds' $((s / 60)) $((s % 60))
	else
		printf '%ds' "$s"
	fi
}

# Debian package for each external tool the lab runs.
tool_package() {
	case $1 in
	aarch64-linux-gnu-gcc) echo gcc-aarch64-linux-gnu ;;
	aarch64-linux-gnu-g++) echo g++-aarch64-linux-gnu ;;
	qemu-system-aarch64) echo qemu-system-arm ;;
	ccache | flex | bison | bc | cpio | git | cmake | make | gzip | rsync | shellcheck | mmdebstrap | tar | perl) echo "$1" ;;
	gnuplot) echo gnuplot-nox ;;
	unshare | flock) echo util-linux ;;
	chroot | sha256sum) echo coreutils ;;
	clang-format) echo clang-format ;;
	depmod) echo kmod ;;
	xz) echo xz-utils ;;
	gcc | g++) echo "$1" ;;
	*) echo "?" ;;
	esac
}

need_tool() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 ||
			die "'$t' not found: install Debian package $(tool_package "$t") (or run 'make deps')"
	done
}

# The host tool, built by `make harness`; the Makefile exports PTLAB.
need_ptlab() {
	[ -x "${PTLAB:-}" ] || die "PTLAB must point to the built harness tool (make harness)"
}

need_file() {
	[ -e "$1" ] || die "$1 not found: install Debian package $2 (or run 'make deps')"
}

# Named configs are the page-size/VA geometries in configs/geometry/;
# flavours (debug, bench) in configs/flavour/ are merged on top.
fragment_names() { # dir
	local f
	for f in "$TOP/configs/$1"/*.config; do
		basename "$f" .config
	done
}

check_config_name() {
	[ -f "$TOP/configs/geometry/$1.config" ] ||
		die "unknown CONFIG '$1'; valid names: $(fragment_names geometry | tr '\n' ' ')"
}

check_flavour_name() {
	[ -f "$TOP/configs/flavour/$1.config" ] ||
		die "unknown FLAVOUR '$1'; valid names: $(fragment_names flavour | tr '\n' ' ')"
}

# Plans are rootfs/plans/<name>.plan; PLANS may separate them by spaces or
# commas. Checked on the host, before anything builds or boots.
check_plan_names() { # plans
	local p
	for p in $(echo "$1" | tr ',' ' '); do
		[ -f "$TOP/rootfs/plans/$p.plan" ] ||
			die "unknown plan '$p'; valid plans: $(basename -s .plan "$TOP"/rootfs/plans/*.plan | tr '\n' ' ')"
	done
}

# check_uint NAME VALUE MIN: a make knob that must be a whole number, checked
# on the host rather than by the guest after a boot.
check_uint() {
	case $2 in
	'' | *[!0-9]* | 0?*) die "$1 must be a whole number, not '$2'" ;;
	esac
	[ "$2" -ge "$3" ] || die "$1 must be at least $3, not $2"
}

# Merged in this order, a later fragment overriding an earlier one: the
# geometry comes last so it can turn off what its page-table layout cannot
# build (see configs/geometry/64k-42.config).
config_fragments() { # config flavour
	echo "$TOP/configs/base.config $TOP/configs/flavour/$2.config $TOP/configs/geometry/$1.config"
}

# A step is any revision of build/linux; outputs are named after it: its
# name when it is a plain tag or branch name, else a tag that points at the
# same commit (so a bisection reuses series-head's build), else its sha.
step_dirname() {
	local tag
	case $1 in
	*[!A-Za-z0-9._-]* | HEAD | [0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*)
		tag=$(git -C "$SRC" tag --points-at "$1^{commit}" 2>/dev/null | grep -E '^(pristine|series-(base|head))$' | head -n 1)
		if [ -n "$tag" ]; then echo "$tag"; else git -C "$SRC" rev-parse --short=12 "$1^{commit}"; fi
		;;
	*) echo "$1" ;;
	esac
}

resolve_step() {
	git -C "$SRC" rev-parse --verify -q "$1^{commit}" ||
		die "unknown STEP '$1' in $SRC; tags: $(git -C "$SRC" tag | tr '\n' ' ')"
}

kernel_outdir() { # config flavour step
	echo "$OUT/$1-$2/$(step_dirname "$3")"
}

# write_promises CONFIG STEP DIR: DIR/expect.json (what CONFIG at STEP
# promises, for the host's judgement) and DIR/rules (the audit module's
# per-table rules), from the geometry fragment, configs/expectations.json and
# the series patches STEP contains (a tree equal to series-head, such as
# pristine, contains them all).
write_promises() {
	local subjects rc=0
	subjects=$(mktemp)
	if git -C "$SRC" merge-base --is-ancestor series-base "$2" 2>/dev/null; then
		git -C "$SRC" log --format=%s "series-base..$2" >"$subjects"
	elif git -C "$SRC" diff --quiet "$2" series-head 2>/dev/null; then
		git -C "$SRC" log --format=%s series-base..series-head >"$subjects"
	else
		rm -f "$subjects"
		die "STEP $2 is neither on the series (a descendant of series-base) nor equal to series-head"
	fi
	"$PTLAB" expect --data "$TOP/configs/expectations.json" --geometry "$TOP/configs/geometry/$1.config" \
		--subjects "$subjects" --json-out "$3/expect.json" --rules-out "$3/rules" || rc=$?
	rm -f "$subjects"
	return "$rc"
}

# ccache hashes paths relative to the clone and not the working folder, so a
# clone elsewhere (CI's) hits the cache another clone filled.
export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=1

# shellcheck disable=SC2034 # used by the scripts that source this file
KMAKE_ARGS=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
	"CC=ccache aarch64-linux-gnu-gcc"
	KBUILD_BUILD_USER=ptlab KBUILD_BUILD_HOST=ptlab
	KBUILD_BUILD_TIMESTAMP=2019-03-12)

# am_patch REPO PATCH: git am one patch with the lab's fixed committer; a
# patch with nothing left to change becomes an empty commit (git 2.39's am
# cannot record one). On failure: abort, and name the patch and the files.
am_patch() {
	local repo=$1 p=$2 out files
	out=$(GIT_COMMITTER_NAME=ptlock-lab GIT_COMMITTER_EMAIL=ptlock-lab@localhost \
		git -C "$repo" am -q --keep-cr --committer-date-is-author-date "$p" 2>&1) && return 0
	git -C "$repo" am --abort >/dev/null 2>&1 || true
	if printf '%s' "$out" | grep -q 'No valid patches in input' && commit_empty_patch "$repo" "$p"; then
		return 0
	fi
	printf '%s\n' "$out" >&2
	files=$(printf '%s\n' "$out" | sed -n 's/^error: patch failed: //p; s/^error: \(.*\): does not exist in index/\1 (missing)/p' | sort -u | tr '\n' ' ')
	log "error: patch ${p#"$TOP"/} does not apply on $(git -C "$repo" describe --tags --always HEAD): ${files:-see git am output above}"
	return 1
}

commit_empty_patch() { # repo patch
	local dir info subject date
	dir=$(mktemp -d)
	info=$(git mailinfo "$dir/msg" "$dir/diff" <"$2")
	if grep -q '^diff --git' "$dir/diff"; then
		rm -rf "$dir"
		return 1
	fi
	subject=$(printf '%s\n' "$info" | sed -n 's/^Subject: //p')
	date=$(printf '%s\n' "$info" | sed -n 's/^Date: //p')
	{ printf '%s\n\n' "$subject"; cat "$dir/msg"; } >"$dir/message"
	GIT_AUTHOR_NAME=$(printf '%s\n' "$info" | sed -n 's/^Author: //p') \
		GIT_AUTHOR_EMAIL=$(printf '%s\n' "$info" | sed -n 's/^Email: //p') \
		GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
		GIT_COMMITTER_NAME=ptlock-lab GIT_COMMITTER_EMAIL=ptlock-lab@localhost \
		git -C "$1" commit -q --allow-empty --cleanup=whitespace -F "$dir/message"
	rm -rf "$dir"
}
