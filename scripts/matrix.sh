#!/bin/bash
# make matrix [CONFIGS="..."] [MATRIX_PLANS="..."] [MATRIX_STRESS_SECONDS=10]:
# every step of the series (series-base, then after each of the four patches)
# on every config: build, boot, run the plans. Prints the step x config table
# (ptlab matrix) and writes build/results/matrix.{json,xml}. Builds reuse
# ccache and each config's output folders (a new step's folder is seeded from
# the config's last build), so a second run only boots. Each stress workload
# runs MATRIX_STRESS_SECONDS per cell: 20 cells at make test's 30 s would take
# an hour more.
set -eu
. "$(dirname "$0")/lib.sh"

CONFIGS=${CONFIGS:-$(fragment_names geometry | tr '\n' ' ')}
MATRIX_PLANS=${MATRIX_PLANS:-boot audit thp efi kvm}
check_plan_names "$MATRIX_PLANS"
MATRIX_STRESS_SECONDS=${MATRIX_STRESS_SECONDS:-10}
check_uint MATRIX_STRESS_SECONDS "$MATRIX_STRESS_SECONDS" 0
RESULTS=$BUILD/results
need_ptlab
[ -d "$SRC/.git" ] || die "build/linux does not exist: run 'make source' first"

steps=(series-base)
mapfile -t -O 1 steps < <(git -C "$SRC" rev-list --reverse series-base..series-head)
[ "${#steps[@]}" = 5 ] || die "expected series-base and 4 patches, found ${#steps[@]} steps"

mkdir -p "$RESULTS"
index=$RESULTS/matrix.tsv
: >"$index"
T0=$(date +%s)
for i in "${!steps[@]}"; do
	step=${steps[$i]}
	label=series-base
	[ "$i" -gt 0 ] && label="$i/4 $(git -C "$SRC" log -1 --format=%h "$step")"
	for config in $CONFIGS; do
		check_config_name "$config"
		start=$(date +%s)
		if ! CONFIG=$config STEP=$step "$TOP/scripts/kernel.sh" >/dev/null; then
			printf '%s\t%s\tbuild failed\t\t%s\n' "$label" "$config" "$(($(date +%s) - start))" >>"$index"
			continue
		fi
		CONFIG=$config STEP=$step PLANS=$MATRIX_PLANS \
			PTLAB_ARGS="ptlab.stress_seconds=$MATRIX_STRESS_SECONDS${PTLAB_ARGS:+ $PTLAB_ARGS}" \
			"$TOP/scripts/run.sh" >/dev/null 2>&1 || true
		run=$BUILD/runs/$config-$FLAVOUR/$(step_dirname "$step")/$(echo "$MATRIX_PLANS" | tr ' ,' '+')
		if [ -f "$run/result.json" ]; then
			printf '%s\t%s\tran\t%s\t%s\n' "$label" "$config" "$run/result.json" "$(($(date +%s) - start))" >>"$index"
		else
			printf '%s\t%s\tboot failed\t\t%s\n' "$label" "$config" "$(($(date +%s) - start))" >>"$index"
		fi
		log "matrix: $label x $config: $(tail -n 1 "$index" | cut -f 3) in $(elapsed "$start")"
	done
done
log "matrix: $(( ${#steps[@]} * $(echo "$CONFIGS" | wc -w) )) cells in $(elapsed "$T0")"
"$PTLAB" matrix "$index" --json "$RESULTS/matrix.json" --junit "$RESULTS/matrix.xml"
