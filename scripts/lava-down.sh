#!/bin/bash
# make lava-down: stop what make lava-up started, by the PIDs it recorded (build/lava/pids and
# PostgreSQL's own postmaster.pid), and nothing else. The database and the job logs stay for
# the next make lava-up.
set -eu
. "$(dirname "$0")/lib.sh"

need_ptlab
LAVA=$("$PTLAB" layout lava)

stop() {
	local name=$1 pid
	[ -f "$LAVA/pids/$name.pid" ] || return 0
	pid=$(cat "$LAVA/pids/$name.pid")
	if kill -0 "$pid" 2>/dev/null; then
		# Each service was started in its own session: its children (gunicorn's workers,
		# a job's lava-run and QEMU) go with it.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
		timeout 20 tail --pid="$pid" -f /dev/null || kill -KILL -- "-$pid" 2>/dev/null || true
		log "lava: stopped $name (pid $pid)"
	fi
	rm -f "$LAVA/pids/$name.pid"
}

for name in worker scheduler publisher gunicorn; do
	stop "$name"
done
if [ -f "$LAVA/pg/data/postmaster.pid" ]; then
	runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$LAVA/pg/data" -m fast -w stop >/dev/null
	log "lava: stopped PostgreSQL"
fi
