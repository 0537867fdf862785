# shellcheck shell=bash
# Helpers shared by the lab's scripts: paths, quiet/verbose logging, timing,
# and the map from a missing tool to the Debian package that provides it.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${PTLAB_BUILD:-$TOP/build}
# shellcheck disable=SC2034 # used by the scripts that source this file
SRC=$BUILD/linux
V=${V:-0}

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

# The Debian package of a program the lab runs (configs/tool-packages), or "?".
tool_package() {
	awk -v p="$1" '$1 == p { print $2; found = 1 } END { if (!found) print "?" }' "$TOP/configs/tool-packages"
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

# Debian's PostgreSQL programs (make lava-up's database), of the one major version installed.
pg_bin() {
	local bins=(/usr/lib/postgresql/*/bin)
	[ -d "${bins[-1]}" ] || die "PostgreSQL is not installed: install Debian package postgresql"
	echo "${bins[-1]}"
}

need_file() {
	[ -e "$1" ] || die "$1 not found: install Debian package $2 (or run 'make deps')"
}

# The geometries: configs/geometry/<name>.config.
fragment_names() { # dir
	local f
	for f in "$TOP/configs/$1"/*.config; do
		basename "$f" .config
	done
}

# ccache hashes paths relative to the clone and not the working folder, so a
# clone elsewhere (CI's) hits the cache another clone filled.
export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=1
