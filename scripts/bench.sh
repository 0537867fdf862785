#!/bin/bash
# make bench [CONFIG=4k-48]: page-fault throughput and page-table lock contention of
# series-base against series-head, same config, same guest CPUs and memory, in one
# invocation. Boots alternate (base, head, base, head, ...) so that the drift of this noisy
# machine falls on both steps alike:
#   ROUNDS boots per step of the `bench` flavour (no lock or VM debugging): throughput;
#   LOCKSTAT_ROUNDS boots per step of the `lockstat` flavour (LOCK_STAT only): contention
#   counts from /proc/lock_stat (lockdep's hooks distort timing, so no throughput from there).
# Each boot runs the bench plan (ptlab-stress bench). ptlab bench-report turns the console
# logs into a table (median, min, max per thread count, head/base ratios), JSON and a gnuplot
# PNG: build/results/bench-<config>.{txt,json,png}; the runs and the plot's data and script in
# build/results/bench-<config>/.
# Knobs (default): BASE (series-base) HEAD (series-head) ROUNDS (3) LOCKSTAT_ROUNDS (1; 0: no
#   contention runs) SMP (the host's CPUs) MEM (MiB, the machine's for the page size) BENCH_REPS (5)
#   BENCH_WARMUP (1) BENCH_SECONDS (per repetition: 1, 3 on 64K) BENCH_THREADS (1,2,4,... up
#   to SMP) BENCH_LAYOUTS (thp-private,thp-shared,pte-private,pte-shared) BENCH_ACCESS
#   (write,read).
set -eu
. "$(dirname "$0")/lib.sh"

need_ptlab
# CONFIG as ptlab reads it: defaulted, and refused when no geometry has that name.
CONFIG=$("$PTLAB" layout config)
export CONFIG
BASE=${BASE:-series-base}
HEAD=${HEAD:-series-head}
ROUNDS=${ROUNDS:-3}
LOCKSTAT_ROUNDS=${LOCKSTAT_ROUNDS:-1}
# The guest gets a vCPU per host CPU: QEMU runs one TCG thread per vCPU (MTTCG).
SMP=${SMP:-$(nproc)}
BENCH_REPS=${BENCH_REPS:-5}
BENCH_WARMUP=${BENCH_WARMUP:-1}
# A 64K-page THP fault clears 512 MiB: longer repetitions there. The page
# size is the geometry fragment's.
case $("$PTLAB" geometry --get page_size_name "$TOP/configs/geometry/$CONFIG.config") in
64K) BENCH_SECONDS=${BENCH_SECONDS:-3} ;;
*) BENCH_SECONDS=${BENCH_SECONDS:-1} ;;
esac
BENCH_THREADS=${BENCH_THREADS:-}
BENCH_LAYOUTS=${BENCH_LAYOUTS:-}
BENCH_ACCESS=${BENCH_ACCESS:-write,read}
FLAVOURS=bench
[ "$LOCKSTAT_ROUNDS" = 0 ] || FLAVOURS+=" lockstat"

# The knobs, checked here rather than by the guest's ptlab-stress after a boot.
check_uint ROUNDS "$ROUNDS" 1
check_uint LOCKSTAT_ROUNDS "$LOCKSTAT_ROUNDS" 0
check_uint SMP "$SMP" 1
check_uint BENCH_REPS "$BENCH_REPS" 1
check_uint BENCH_WARMUP "$BENCH_WARMUP" 0
[ "$BENCH_REPS" -le 1000 ] || die "BENCH_REPS must be at most 1000, not $BENCH_REPS"
[ "$BENCH_WARMUP" -le 100 ] || die "BENCH_WARMUP must be at most 100, not $BENCH_WARMUP"
[[ $BENCH_SECONDS =~ ^[0-9]+(\.[0-9]+)?$ && ! $BENCH_SECONDS =~ ^0+(\.0*)?$ ]] ||
	die "BENCH_SECONDS must be a positive number of seconds (1, 0.5), not '$BENCH_SECONDS'"
csv_check() { # name value valid...: every comma-separated word of value is one of valid
	local name=$1 value=$2 w
	shift 2
	[[ -n $value && $value != *,,* && $value != ,* && $value != *, ]] ||
		die "$name must be a comma-separated list of: $*; not '$value'"
	for w in ${value//,/ }; do
		[[ " $* " == *" $w "* ]] || die "$name: unknown '$w'; valid: $*"
	done
}
if [ -n "$BENCH_THREADS" ]; then
	[[ $BENCH_THREADS =~ ^[0-9]+(,[0-9]+)*$ ]] ||
		die "BENCH_THREADS must be thread counts separated by commas (1,2), not '$BENCH_THREADS'"
	for t in ${BENCH_THREADS//,/ }; do
		{ [ "$t" -ge 1 ] && [ "$t" -le "$SMP" ]; } ||
			die "BENCH_THREADS: $t is not between 1 and the guest's $SMP CPUs (SMP=$SMP)"
	done
fi
[ -z "$BENCH_LAYOUTS" ] ||
	csv_check BENCH_LAYOUTS "$BENCH_LAYOUTS" thp-private thp-shared pte-private pte-shared
csv_check BENCH_ACCESS "$BENCH_ACCESS" write read

[ -d "$SRC/.git" ] || die "build/linux does not exist: run 'make source' first"
step_name() { STEP=$1 "$PTLAB" layout step-name; }
base_name=$(step_name "$BASE")
head_name=$(step_name "$HEAD")
[ "$(git -C "$SRC" rev-parse "$BASE^{commit}")" != "$(git -C "$SRC" rev-parse "$HEAD^{commit}")" ] ||
	die "BASE=$BASE and HEAD=$HEAD are the same commit"
command -v gnuplot >/dev/null 2>&1 ||
	die "'gnuplot' not found: install Debian package gnuplot-nox (or run 'make deps')"

RESULTS=$BUILD/results
OUTDIR=$RESULTS/bench-$CONFIG
T0=$(date +%s)

# ptlab kernel returns at once, with no checkout, for a kernel already built
# for these fragments at this commit: the same kernels serve every make bench.
for flavour in $FLAVOURS; do
	for step in "$BASE" "$HEAD"; do
		FLAVOUR=$flavour STEP=$step "$PTLAB" kernel >/dev/null
	done
done
"$TOP/scripts/stress.sh"
"$TOP/scripts/rootfs.sh" >/dev/null

args="ptlab.bench_reps=$BENCH_REPS ptlab.bench_warmup=$BENCH_WARMUP ptlab.bench_seconds=$BENCH_SECONDS"
args+=" ptlab.bench_access=$BENCH_ACCESS"
[ -n "$BENCH_THREADS" ] && args+=" ptlab.bench_threads=$BENCH_THREADS"
[ -n "$BENCH_LAYOUTS" ] && args+=" ptlab.bench_layouts=$BENCH_LAYOUTS"

# The guest's time limit: boot, then every cell's repetitions with room for slow ones.
n_threads=$(echo "${BENCH_THREADS:-$(seq -s, 1 "$SMP")}" | tr ',' '\n' | grep -c .)
n_layouts=$(echo "${BENCH_LAYOUTS:-a,b,c,d}" | tr ',' '\n' | grep -c .)
n_access=$(echo "$BENCH_ACCESS" | tr ',' '\n' | grep -c .)
cells=$((n_threads * n_layouts * n_access))
secs=${BENCH_SECONDS%.*}
[ "${secs:-0}" -ge 1 ] || secs=1
timeout=$((600 + cells * (BENCH_REPS + BENCH_WARMUP) * (secs * 3 + 5)))

rm -rf "$OUTDIR"
mkdir -p "$OUTDIR/runs"
index=$OUTDIR/index.tsv
: >"$index"

boot() { # role flavour round step
	local role=$1 flavour=$2 round=$3 step=$4 name dir rc=0 start load
	name=$role-$(step_name "$step")-$round
	start=$(date +%s)
	load=$(cut -d' ' -f1 /proc/loadavg)
	printf 'bench %s: %-11s %-12s round %s ... ' "$CONFIG" "$role" "$(step_name "$step")" "$round" >&2
	export FLAVOUR=$flavour STEP=$step PLANS=bench SMP TIMEOUT=$timeout PREBUILT=1 PTLAB_ARGS=$args V=0
	"$PTLAB" run >"$OUTDIR/runs/$name.out" 2>&1 || rc=$?
	dir=$("$PTLAB" layout run-dir)
	mkdir -p "$OUTDIR/runs/$name"
	cp -p "$dir"/console.log "$dir"/qemu.stderr "$dir"/guest.json "$dir"/result.* "$OUTDIR/runs/$name/" 2>/dev/null || true
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$CONFIG" "$(step_name "$step")" "$flavour" \
		"$role" "$round" "runs/$name" "$("$PTLAB" layout kernel-dir)" "$load" >>"$index"
	if [ "$rc" = 0 ]; then
		log "pass ($(elapsed "$start"), host load $load before)"
	else
		log "FAIL ($(elapsed "$start")): $OUTDIR/runs/$name.out"
	fi
}

log "bench $CONFIG: $BASE vs $HEAD, guest $SMP CPUs; $ROUNDS throughput + $LOCKSTAT_ROUNDS lock_stat boots per step, $BENCH_REPS reps of ${BENCH_SECONDS}s per cell"
for round in $(seq 1 "$ROUNDS"); do
	for step in "$BASE" "$HEAD"; do
		boot throughput bench "$round" "$step"
	done
done
for round in $(seq 1 "$LOCKSTAT_ROUNDS"); do
	for step in "$BASE" "$HEAD"; do
		boot contention lockstat "$round" "$step"
	done
done

rc=0
rm -f "$OUTDIR/plot.gp"
"$PTLAB" bench-report "$index" --base "$base_name" --head "$head_name" \
	--json "$RESULTS/bench-$CONFIG.json" --plot-data "$OUTDIR/plot.dat" \
	--gnuplot "$OUTDIR/plot.gp" --png "$RESULTS/bench-$CONFIG.png" >"$RESULTS/bench-$CONFIG.txt" || rc=$?
cat "$RESULTS/bench-$CONFIG.txt"
if [ -f "$OUTDIR/plot.gp" ]; then
	gnuplot "$OUTDIR/plot.gp" 2>"$OUTDIR/gnuplot.log" || {
		cat "$OUTDIR/gnuplot.log" >&2
		die "gnuplot failed on $OUTDIR/plot.gp"
	}
else
	rm -f "$RESULTS/bench-$CONFIG.png"
	log "bench $CONFIG: no throughput measured, no plot"
fi
log "bench $CONFIG: done in $(elapsed "$T0"); table build/results/bench-$CONFIG.txt, JSON build/results/bench-$CONFIG.json, plot build/results/bench-$CONFIG.png"
exit "$rc"
