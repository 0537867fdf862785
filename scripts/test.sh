#!/bin/bash
# make test: everything CI checks, as one KTAP stream summarised by
# `ptlab summarize`, ending with "N passed, N failed".
#   host: harness unit and command-line tests, lint, patch provenance, the
#         source tree's invariants and its Debian base, the config matrix at
#         each step;
#   guest: the fresh-machine check (make deps and a boot in a clean Debian
#         root), kernels built and booted at series-head and series-base, and
#         the harness's own failure modes (QEMU refusing to start, panic, hang,
#         WARN with all-ok KTAP).
# --host-only stops after the host checks (make check); --full (make
# test-full) boots every config, not only 4k-48 and 64k-48.
set -eu
. "$(dirname "$0")/lib.sh"

HOST_ONLY=0 FULL=0
case ${1:-} in
--host-only) HOST_ONLY=1 ;;
--full) FULL=1 ;;
esac
# Its own folder: make bench and make matrix results in build/results stay.
RESULTS=$BUILD/results/test
export PTLAB=${PTLAB:-$BUILD/harness/ptlab}
# The full guest plan at series-head; series-base gets boot and audit.
GUEST_PLANS="boot audit thp efi kvm stress"

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
KTAP=$RESULTS/checks.ktap
N=0
T0=$(date +%s)

# check NAME CMD...: one top-level result; its output becomes diagnostics.
# CMD exits 0 (pass), 4 (skip: its last output line is the reason, as
# kselftest's exit 4) or anything else (fail).
check() {
	local name=$1 start out rc=0
	shift
	N=$((N + 1))
	start=$(date +%s)
	printf '%-58s ' "$name" >&2
	out=$("$@" 2>&1) || rc=$?
	{
		printf '%s\n' "$out" | tail -n 40 | sed 's/^/# /'
		echo "# time=$(($(date +%s) - start))"
		case $rc in
		0) echo "ok $N $name" ;;
		4) echo "ok $N $name # SKIP $(printf '%s\n' "$out" | tail -n 1)" ;;
		*) echo "not ok $N $name" ;;
		esac
	} >>"$KTAP"
	if [ "$rc" -eq 0 ]; then log "ok ($(elapsed "$start"))"; elif [ "$rc" -eq 4 ]; then
		log "SKIP ($(printf '%s\n' "$out" | tail -n 1))"
	else
		log "FAILED ($(elapsed "$start"))"
		printf '%s\n' "$out" | tail -n 15 | sed 's/^/    /' >&2
	fi
	return 0
}

# A guest run whose own verdict is the result (its KTAP is nested in).
guest_run() { # name, then VAR=value... for ptlab run
	local name=$1 dir
	shift
	N=$((N + 1))
	log "-- $name"
	env "$@" "$PTLAB" run >"$RESULTS/run-$N.out" 2>&1 || true
	tail -n 3 "$RESULTS/run-$N.out" | sed 's/^/    /' >&2
	dir=$(env "$@" "$PTLAB" layout run-dir)
	if [ -n "$dir" ] && [ -f "$dir/result.ktap" ]; then
		# The run's block joins this stream: drop its own header and plan,
		# and renumber its result.
		sed -e '/^KTAP version/d; /^1\.\./d' -e "s/^\(not \)\?ok [0-9]* /\1ok $N /" \
			"$dir/result.ktap" >>"$KTAP"
	else
		{ sed 's/^/# /' "$RESULTS/run-$N.out" | tail -n 30; echo "not ok $N $name"; } >>"$KTAP"
	fi
}

# A harness self-test: the run must FAIL, for the given reason.
expect_failure() { # name reason pattern-in-report VAR=value...
	local name=$1 reason=$2 pattern=$3 dir got
	shift 3
	env "$@" "$PTLAB" run >"$RESULTS/$name.out" 2>&1 && {
		echo "the run passed; it should have failed with '$reason'"
		return 1
	}
	dir=$(env "$@" "$PTLAB" layout run-dir)
	[ -f "$dir/result.json" ] || { tail -n 20 "$RESULTS/$name.out"; return 1; }
	got=$("$PTLAB" result-get "$dir/result.json" reason)
	echo "verdict: $got"
	case $got in
	"$reason"*) ;;
	*) echo "expected a failure for '$reason'"; return 1 ;;
	esac
	# The report must show what happened, not just the reason.
	grep -q -- "$pattern" "$RESULTS/$name.out" || { echo "report lacks '$pattern'"; return 1; }
}

series_subjects_match() {
	"$PTLAB" patch-check --upstream "$TOP/patches/upstream-v4" \
		--series "$TOP/patches/6.1/series" --base "$TOP/patches/6.1/base"
}

tree_log() {
	local authors
	git -C "$SRC" log --format='%h %an: %s' pristine..series-head
	[ "$(git -C "$SRC" rev-list --count pristine..series-base)" = 3 ] || { echo "series-base is not 3 commits over pristine"; return 1; }
	[ "$(git -C "$SRC" rev-list --count series-base..series-head)" = 4 ] || { echo "series-head is not 4 commits over series-base"; return 1; }
	authors=$(git -C "$SRC" log --format='%an <%ae>' series-base..series-head | sort -u)
	[ "$authors" = "Yu Zhao <yuzhao@google.com>" ] || { echo "series authors: $authors"; return 1; }
}

# The tree is the recorded Debian base (patches/6.1/verified.json), and
# README quotes its ids; Debian having moved on is a SKIP that says so.
base_is_recorded() {
	local rc=0
	"$TOP/scripts/source.sh" --check-base || rc=$?
	case $rc in
	0) return 0 ;;
	3) echo "Debian's base moved: see the BASE DRIFT line above"; return 4 ;;
	*) return 1 ;;
	esac
}

# make source on a tree whose Debian version is not the recorded one says
# so (a faked record).
drift_is_reported() {
	local record=$RESULTS/faked-base-record.json out
	sed 's/"version": "[^"]*"/"version": "6.1.0-0+faked"/' "$TOP/patches/6.1/verified.json" >"$record"
	out=$(PTLAB_BASE_RECORD=$record "$TOP/scripts/source.sh" 2>&1) || { printf '%s\n' "$out"; return 1; }
	printf '%s\n' "$out"
	printf '%s\n' "$out" | grep -q '^source: BASE DRIFT: Debian serves linux-source-6.1 .*; the series was last verified on 6.1.0-0+faked\.'
}

# A machine description QEMU rejects: the verdict carries QEMU's own words.
qemu_cannot_start() {
	sed 's/"machine": "virt,/"machine": "virt,no-such-option=on,/' \
		"$TOP/configs/machine/arm64.json" >"$RESULTS/machine-bad.json"
	expect_failure qemu-bad-option "QEMU failed to start" "Property 'virt-[0-9.-]*machine.no-such-option' not found" \
		CONFIG=4k-48 STEP=series-head PLANS=boot PTLAB_MACHINE="$RESULTS/machine-bad.json"
}

# Bad knobs are refused on the host, naming what is valid, before any build.
knobs_refused() { # VAR=value expected-message
	local out
	out=$(env "$1" "$PTLAB" run 2>&1) && { echo "$1 was accepted"; return 1; }
	printf '%s\n' "$out"
	printf '%s\n' "$out" | grep -q -- "$2" || { echo "no '$2'"; return 1; }
	! printf '%s\n' "$out" | grep -q '^kernel '
}

pristine_equals_head() {
	git -C "$SRC" diff --stat pristine series-head
	git -C "$SRC" diff --quiet pristine series-head
}

# The .config of CONFIG at STEP has the geometry and split PMD lock the step
# promises (the host's judgement, as in every run).
config_keeps_promises() { # config step
	local o
	o=$(CONFIG=$1 STEP=$2 "$PTLAB" kernel --config-only 2>&1 | tail -n 1)
	[ -f "$o/.config" ] || { echo "$o"; return 1; }
	"$PTLAB" config-promises --expect "$o/expect.json" --kconfig "$o/.config"
}

build_kernel() { # config step
	CONFIG=$1 STEP=$2 "$PTLAB" kernel
}

# A throwaway change (tests/patches/, never in patches/): pgd_pgtable_alloc()
# without the PMD ctor. The audit must fail and name efi_mm's PMD tables.
audit_names_pages_without_ctor() {
	local orig sha out dir
	orig=$(git -C "$SRC" rev-parse HEAD)
	git -C "$SRC" checkout -q --detach series-head
	"$PTLAB" am --repo "$SRC" "$TOP/tests/patches/audit-drop-pmd-ctor-pgd_pgtable_alloc.patch" || { git -C "$SRC" checkout -q --detach "$orig"; return 1; }
	sha=$(git -C "$SRC" rev-parse HEAD)
	git -C "$SRC" checkout -q --detach "$orig"
	echo "throwaway commit $sha: $(git -C "$SRC" log -1 --format=%s "$sha")"
	out=$(CONFIG=4k-48 STEP=$sha PLANS=audit "$PTLAB" run 2>&1) && {
		echo "the audit passed on a kernel whose efi_mm PMD tables have no ctor"
		return 1
	}
	dir=$(CONFIG=4k-48 STEP=$sha PLANS=audit "$PTLAB" layout run-dir)
	printf '%s\n' "$out" | grep -E 'verdict|efi_mm' | head -n 8
	# Both of efi_mm's PMD tables, named by the range they map.
	grep -q 'efi_mm.pmd: level=pmd .* va=0x0-0x3fffffff found=none required=table+ptl' "$dir/console.log" &&
		grep -q 'efi_mm.pmd: level=pmd .* va=0x80000000-0xbfffffff found=none required=table+ptl' "$dir/console.log" &&
		[ "$("$PTLAB" result-get "$dir/result.json" reason)" = "test failures" ] &&
		# The run put the tree back where it was: not on the broken commit.
		[ "$(git -C "$SRC" rev-parse HEAD)" = "$orig" ]
}

# A throwaway broken series: our four patches and a fifth (tests/patches/)
# that drops the PMD dtor from __pmd_free_tlb(), so every PMD table freed on
# exit still carries PageTable (Bad page state) and its page->ptl (a leak).
# make bisect must name the fifth.
bisect_names_broken_commit() {
	local dir out
	dir=$(mktemp -d)
	cp "$TOP"/patches/6.1/series/*.patch "$dir/"
	cp "$TOP/tests/patches/bisect-drop-pmd-dtor-__pmd_free_tlb.patch" "$dir/0005-broken.patch"
	out=$(SERIES=$dir CONFIG=4k-48 PLANS=boot "$PTLAB" bisect 2>&1) || {
		printf '%s\n' "$out"
		rm -rf "$dir"
		return 1
	}
	rm -rf "$dir"
	printf '%s\n' "$out"
	printf '%s\n' "$out" | grep -q '^first bad commit: [0-9a-f]* arm64: tlb: drop the PMD dtor from __pmd_free_tlb()' &&
		printf '%s\n' "$out" | grep -q '^verdict: splat' &&
		[ "$(git -C "$SRC" rev-parse HEAD)" = "$(cat "$RESULTS/head-before-bisect")" ]
}

log "== host checks"
check "harness builds" "$TOP/scripts/harness.sh"
"$BUILD/harness/ptlab_tests" --gtest_output="json:$RESULTS/harness-unit-tests.json" >"$RESULTS/harness-unit-tests.out" 2>&1 || true
log "harness unit tests: $(tail -n 1 "$RESULTS/harness-unit-tests.out")"
check "harness: command-line tests (ctest cli.*)" \
	ctest --test-dir "$BUILD/harness" -R '^cli\.' --output-on-failure
check "stress tool builds (aarch64 static, and host unit tests)" "$TOP/scripts/stress.sh" --test "$RESULTS/stress-unit-tests.json"
check "patches: provenance and port notes" series_subjects_match
check "source: make source builds build/linux" "$TOP/scripts/source.sh"
# After make source: checkpatch.pl comes from build/linux.
check "lint (shellcheck, clang-format, checkpatch)" "$TOP/scripts/lint.sh"
check "source: 3 baseline commits, then 4 by Yu Zhao" tree_log
check "source: git diff pristine series-head is empty" pristine_equals_head
check "run: an unknown plan is refused before anything builds" \
	knobs_refused "PLANS=boot no-such-plan" "unknown plan 'no-such-plan'; valid plans: .*boot"
check "run: TIMEOUT=abc is refused before anything builds" \
	knobs_refused TIMEOUT=abc "TIMEOUT must be a whole number, not 'abc'"
check "source: the recorded Debian base, its ids quoted in README" base_is_recorded
check "source: make source names a Debian base that moved (faked record)" drift_is_reported
# Every geometry at both ends of the series; one whose PMD is folded (no PMD
# table to own a lock) at every step, since no step may turn the lock on.
for c in $(fragment_names geometry); do
	steps="series-base series-head"
	[ "$("$PTLAB" geometry --get split_pmd_possible "$TOP/configs/geometry/$c.config")" = no ] &&
		steps="series-base series-head~3 series-head~2 series-head~1 series-head"
	for step in $steps; do
		check "config: $c @ $step keeps the step's promises" config_keeps_promises "$c" "$step"
	done
done

if [ "$HOST_ONLY" = 0 ]; then
	log "== kernels and guests"
	check "kernel: 4k-48 @ series-head builds" build_kernel 4k-48 series-head
	check "kernel: 64k-48 @ series-head builds" build_kernel 64k-48 series-head
	check "fresh machine: make deps, builds and a boot in a clean Debian 12 root" \
		"$TOP/scripts/fresh-machine.sh"
	check "harness: QEMU that cannot start fails with QEMU's own message" qemu_cannot_start
	guest_run "4k-48 @ series-head" CONFIG=4k-48 STEP=series-head PLANS="$GUEST_PLANS"
	guest_run "64k-48 @ series-head" CONFIG=64k-48 STEP=series-head PLANS="$GUEST_PLANS"
	for c in 4k-48 64k-48; do
		guest_run "$c @ series-head under fault injection" CONFIG=$c STEP=series-head PLANS=faults ALLOW=alloc_failure
	done
	check "harness: a panicking guest fails with the panic excerpt" \
		expect_failure selftest-panic panic "sysrq triggered crash" CONFIG=4k-48 STEP=series-head PLANS=selftest-panic
	check "harness: a hung guest fails at the timeout with its last lines" \
		expect_failure selftest-hang timeout "hanging now" CONFIG=4k-48 STEP=series-head PLANS=selftest-hang TIMEOUT=60
	check "harness: a WARN_ON fails the run although KTAP says ok" \
		expect_failure selftest-warn splat "WARNING:" CONFIG=4k-48 STEP=series-head PLANS=selftest-warn
	check "kernel: 4k-48 @ series-base builds" build_kernel 4k-48 series-base
	guest_run "4k-48 @ series-base" CONFIG=4k-48 STEP=series-base PLANS="boot audit"
	if [ "$FULL" = 1 ]; then
		for c in 4k-39 64k-42; do
			check "kernel: $c @ series-head builds" build_kernel "$c" series-head
			guest_run "$c @ series-head" CONFIG=$c STEP=series-head PLANS="$GUEST_PLANS"
		done
	fi
	check "audit: names efi_mm's PMD tables when pgd_pgtable_alloc() skips their ctor" \
		audit_names_pages_without_ctor
	git -C "$SRC" rev-parse HEAD >"$RESULTS/head-before-bisect"
	check "bisect: names the broken fifth patch of a throwaway series" bisect_names_broken_commit
fi

log "== summary (make test took $(elapsed "$T0"))"
"$PTLAB" summarize "$KTAP" "$RESULTS/harness-unit-tests.json" "$RESULTS/stress-unit-tests.json" \
	--json "$RESULTS/summary.json" --junit "$RESULTS/summary.xml"
