#!/bin/bash
# make bisect GOOD=<rev> BAD=<rev> CONFIG=<name> PLANS=<plans> [SERIES=<dir>]:
# git bisect run in build/linux, each step built and booted by
# scripts/bisect-step.sh (0 good, 1 bad, 125 skip when it does not build).
# SERIES: a directory of patches (git am-able) applied on series-base instead
# of ours; GOOD defaults to series-base, BAD to the last applied patch.
# Prints the first bad commit, its subject and the failing tests, and leaves
# build/linux checked out as it found it.
set -eu
. "$(dirname "$0")/lib.sh"

PLANS=${PLANS:-${PLAN:-boot}}
check_plan_names "$PLANS"
SERIES=${SERIES:-}
GOOD=${GOOD:-}
BAD=${BAD:-}
check_config_name "$CONFIG"
[ -d "$SRC/.git" ] || die "build/linux does not exist: run 'make source' first"
[ -f "$SRC/.git/BISECT_LOG" ] && die "a bisection is already in progress in $SRC ('git -C $SRC bisect reset')"
[ -z "$(git -C "$SRC" status --porcelain --untracked-files=no)" ] ||
	die "build/linux has local changes; commit or stash them first"

orig=$(git -C "$SRC" rev-parse HEAD)
restore() { git -C "$SRC" checkout -q --detach "$orig"; }

if [ -n "$SERIES" ]; then
	[ -d "$SERIES" ] || die "SERIES=$SERIES is not a directory of patches"
	git -C "$SRC" checkout -q --detach series-base
	for p in "$SERIES"/*.patch; do
		[ -f "$p" ] || die "no *.patch in $SERIES"
		am_patch "$SRC" "$p" || { restore; die "SERIES patch $p does not apply on series-base"; }
	done
	GOOD=${GOOD:-series-base}
	BAD=${BAD:-$(git -C "$SRC" rev-parse HEAD)}
	log "bisect: SERIES applied on series-base: $(git -C "$SRC" rev-list --count series-base..HEAD) commits, last $(git -C "$SRC" rev-parse --short HEAD)"
fi
if [ -z "$GOOD" ] || [ -z "$BAD" ]; then die "GOOD=<rev> and BAD=<rev> are required (or SERIES=<dir>)"; fi
good=$(resolve_step "$GOOD")
bad=$(resolve_step "$BAD")
git -C "$SRC" merge-base --is-ancestor "$good" "$bad" || die "GOOD ($GOOD) is not an ancestor of BAD ($BAD)"

# Once for the whole bisection; each step then builds only its kernel.
"$TOP/scripts/stress.sh"
"$TOP/scripts/rootfs.sh" >/dev/null
log "bisect: $CONFIG, plans '$PLANS', $(git -C "$SRC" rev-list --count "$good..$bad") commits between GOOD and BAD"
start=$(date +%s)
rc=0
git -C "$SRC" bisect start "$bad" "$good" >/dev/null
CONFIG=$CONFIG PLANS=$PLANS git -C "$SRC" bisect run "$TOP/scripts/bisect-step.sh" \
	>"$BUILD/logs/bisect.log" 2>&1 || rc=$?
first=$(git -C "$SRC" rev-parse -q --verify refs/bisect/bad || true)
steps=$(git -C "$SRC" bisect log | grep -E '^git bisect (good|bad|skip)' | sed 's/^git bisect //' | tr '\n' ';')
git -C "$SRC" bisect reset "$orig" >/dev/null 2>&1 || restore

log "bisect: done in $(elapsed "$start"); steps: $steps"
if [ "$rc" -ne 0 ] || [ -z "$first" ] || ! grep -q 'is the first bad commit' "$BUILD/logs/bisect.log"; then
	tail -n 20 "$BUILD/logs/bisect.log" >&2
	die "bisect did not find a first bad commit (exit $rc); log: $BUILD/logs/bisect.log"
fi
run=$BUILD/runs/$CONFIG-${FLAVOUR:-debug}/$(step_dirname "$first")/$(echo "$PLANS" | tr ' ,' '+')
# git bisect takes BAD's badness on trust; when BAD is the answer it was
# never run, so run it now to show what fails there.
if [ ! -f "$run/result.json" ]; then
	log "bisect: running the first bad commit itself to show what fails"
	CONFIG=$CONFIG PLANS=$PLANS STEP=$first "$TOP/scripts/run.sh" >"$BUILD/logs/bisect-first-bad.log" 2>&1 &&
		log "bisect: warning: $first passes when run again: the failure may be intermittent"
	restore
fi
echo "first bad commit: $(git -C "$SRC" log -1 --format='%h %s (%an)' "$first")"
if [ -f "$run/result.json" ]; then
	echo "verdict: $("$PTLAB" result-get "$run/result.json" verdict)"
	echo "failing tests: $("$PTLAB" result-get "$run/result.json" failing-tests)"
	echo "first splat: $("$PTLAB" result-get "$run/result.json" first-splat)"
	echo "console log: $run/console.log"
fi
