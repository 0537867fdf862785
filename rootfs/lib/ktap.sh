# shellcheck shell=sh
# KTAP output for the guest's test plans (busybox sh). A plan sources this,
# calls ktap_plan N, then one ktap_* per test, then ktap_done. /init nests
# the plan's block under its own result line.

KTAP_N=0
KTAP_FAILED=0
KTAP_PLANNED=0

ktap_plan() {
	KTAP_PLANNED=$1
	echo "KTAP version 1"
	echo "1..$1"
}

ktap_diag() {
	echo "# $*"
}

ktap_ok() { # name [diagnostic]
	KTAP_N=$((KTAP_N + 1))
	[ -n "${2:-}" ] && echo "# $1: $2"
	echo "ok $KTAP_N $1"
}

ktap_fail() { # name [diagnostic]
	KTAP_N=$((KTAP_N + 1))
	KTAP_FAILED=$((KTAP_FAILED + 1))
	[ -n "${2:-}" ] && echo "# $1: $2"
	echo "not ok $KTAP_N $1"
}

ktap_skip() { # name reason
	KTAP_N=$((KTAP_N + 1))
	echo "ok $KTAP_N $1 # SKIP $2"
}

# ktap_fact SOURCE "k=v k=v": what the guest sees, for the host to judge
# against the step's promises (harness/include/ptlab/promises.hpp).
ktap_fact() {
	echo "# ptlab-fact $1 $2"
}

# ktap_check name "expected" "found": ok when equal, else not ok with both.
ktap_check() {
	if [ "$2" = "$3" ]; then
		ktap_ok "$1" "$3"
	else
		ktap_fail "$1" "expected $2, found $3"
	fi
}

# The whole plan cannot run here: say why in the stream, and let /init
# report a SKIP (exit 4, as kselftest's).
ktap_skip_all() { # reason
	echo "1..0 # SKIP $1"
	exit 4
}

ktap_done() {
	[ "$KTAP_N" -eq "$KTAP_PLANNED" ] ||
		echo "# plan said $KTAP_PLANNED tests, ran $KTAP_N"
	[ "$KTAP_FAILED" -eq 0 ] && [ "$KTAP_N" -eq "$KTAP_PLANNED" ]
}

# Kernel command-line value of ptlab.<key>, empty when absent.
cmdline_get() {
	read -r cmdline </proc/cmdline
	for kv in $cmdline; do
		case $kv in
		"ptlab.$1="*) echo "${kv#*=}" ;;
		esac
	done
}

# Value of <key> in a "k:v,k:v" list.
kv_get() { # list key
	echo "$1" | tr ',' '\n' | sed -n "s/^$2://p"
}

count_entries() { # dir
	find "$1" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

uptime_s() {
	cut -d' ' -f1 /proc/uptime
}

# stress_plan WORKLOAD: the whole plan of a ptlab-stress workload. The tool's
# KTAP is the plan's (a SKIP carries its reason), its exit status the plan's
# (0 pass, 1 fail, 4 skip). The tool reads ptlab.seed= and
# ptlab.stress_seconds= from the kernel command line and owns the defaults.
stress_plan() {
	command -v ptlab-stress >/dev/null 2>&1 ||
		ktap_skip_all "ptlab-stress is not in this initramfs: run scripts/stress.sh, then rebuild the rootfs"
	exec ptlab-stress "$1" --knobs-from /proc/cmdline
}
