# shellcheck shell=sh
# What /init and the plans share (busybox sh). The guest writes no KTAP of its
# own here: each plan is a subcommand of ptlab-stress, which writes its KTAP
# through the lab's one writer; /init only indents it under the plan's result,
# which is the plan's exit status (0 pass, 4 skip, else fail). The host parses
# and judges it all.

# Kernel command-line value of ptlab.<key>, empty when absent.
cmdline_get() {
	read -r cmdline </proc/cmdline
	for kv in $cmdline; do
		case $kv in
		"ptlab.$1="*) echo "${kv#*=}" ;;
		esac
	done
}

uptime_s() {
	cut -d' ' -f1 /proc/uptime
}

# stress_plan SUBCOMMAND [OPTION...]: the whole plan is ptlab-stress's
# SUBCOMMAND, its KTAP the plan's and its exit status the plan's. The tool
# reads its ptlab.* knobs from the kernel command line and owns the defaults.
stress_plan() {
	if ! command -v ptlab-stress >/dev/null 2>&1; then
		echo "1..0 # SKIP ptlab-stress is not in this initramfs: run scripts/stress.sh, then rebuild the rootfs"
		exit 4
	fi
	exec ptlab-stress "$@" --knobs-from /proc/cmdline
}
