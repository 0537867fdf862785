#!/bin/bash
# make lava-up: a LAVA instance on this machine from Debian's packages, without systemd:
# PostgreSQL (its own cluster in build/lava/pg), the migrations, an admin and its token,
# lava-server's web service (gunicorn), scheduler and publisher, one lava-worker, and
# LAVA_DEVICES qemu devices on it. Everything listens on 127.0.0.1 only, lives in build/lava
# (the token and passwords too, mode 0600, never committed), and is started in the
# background with its PID in build/lava/pids: make lava-down stops exactly that.
# Idempotent: what exists is kept, what runs is left running.
set -eu
. "$(dirname "$0")/lib.sh"

need_ptlab
LAVA=$("$PTLAB" layout lava)
CLIENT=$("$PTLAB" layout lava-client)
PORT=${LAVA_PORT:-8000}
PUBLISHER_PORT=$((PORT + 1))
PG_PORT=${LAVA_PG_PORT:-5433}
DEVICES=${LAVA_DEVICES:-2}
WORKER=ptlab-worker
PACKAGES=(lava-server lava-dispatcher lavacli postgresql ipxe-qemu)

[ "$(id -u)" -eq 0 ] || die "make lava-up needs root: lava-worker runs its jobs as root (tmpfs, QEMU) and PostgreSQL runs as the postgres user"
case $DEVICES in '' | *[!0-9]*) die "LAVA_DEVICES must be a number, not '$DEVICES'" ;; esac

install_packages() {
	local p missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	log "lava: installing ${missing[*]}"
	# lava-server's postinst finds no running PostgreSQL and leaves the database to us.
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
		>"$LAVA/log/apt-install.log" 2>&1 || {
		DEBIAN_FRONTEND=noninteractive apt-get update >"$LAVA/log/apt-update.log" 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
			>"$LAVA/log/apt-install.log" 2>&1
	} || die "apt-get install ${missing[*]} failed; see $LAVA/log/apt-install.log"
}

secret() { head -c 30 /dev/urandom | base64 | tr -d '/+='; }

# The settings lava-server reads from its environment (lava_server/settings/prod.py), so
# nothing under /etc/lava-server changes. The database password is kept on its own for the
# role PostgreSQL is given.
write_env() {
	[ -f "$LAVA/env" ] && return 0
	umask 077
	secret >"$LAVA/db-password"
	cat >"$LAVA/env" <<-EOF
		DATABASE_URL=postgres://lavaserver:$(cat "$LAVA/db-password")@127.0.0.1:$PG_PORT/lavaserver
		SECRET_KEY=$(secret)
		ALLOWED_HOSTS=127.0.0.1,localhost
		LAVA_SETTINGS_MEDIA_ROOT=$LAVA/media
		LAVA_SETTINGS_DEVICES_PATH=$LAVA/devices
	EOF
	umask 022
}

pg() { runuser -u postgres -- "$@"; }

start_postgres() {
	local bin
	bin=$(pg_bin)
	install -d -o postgres -m 700 "$LAVA/pg" "$LAVA/pg/run"
	if [ ! -f "$LAVA/pg/data/PG_VERSION" ]; then
		pg "$bin/initdb" -D "$LAVA/pg/data" -U postgres --auth-local=peer \
			--auth-host=scram-sha-256 >"$LAVA/log/initdb.log" 2>&1 ||
			die "initdb failed; see $LAVA/log/initdb.log"
	fi
	if ! pg "$bin/pg_ctl" -D "$LAVA/pg/data" status >/dev/null 2>&1; then
		pg "$bin/pg_ctl" -D "$LAVA/pg/data" -l "$LAVA/pg/postgres.log" -w \
			-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $LAVA/pg/run" start >/dev/null ||
			die "PostgreSQL did not start; see $LAVA/pg/postgres.log"
	fi
	local password
	password=$(cat "$LAVA/db-password")
	pg psql -h "$LAVA/pg/run" -p "$PG_PORT" -q -v ON_ERROR_STOP=1 >/dev/null <<-EOF
		SELECT 'CREATE ROLE lavaserver LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lavaserver')\gexec
		ALTER ROLE lavaserver PASSWORD '$password';
		SELECT 'CREATE DATABASE lavaserver OWNER lavaserver ENCODING ''UTF-8'' LC_COLLATE ''C.UTF-8'' LC_CTYPE ''C.UTF-8'' TEMPLATE template0' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'lavaserver')\gexec
	EOF
}

manage() { lava-server manage "$@"; }

# The admin, its API token, the worker, the device type and the devices: each only once.
populate() {
	manage migrate --noinput >"$LAVA/log/migrate.log" 2>&1 || die "migrations failed; see $LAVA/log/migrate.log"
	if ! manage users list 2>/dev/null | grep -qw admin; then
		umask 077
		secret >"$LAVA/admin-password"
		umask 022
		manage users add admin --superuser --staff --passwd "$(cat "$LAVA/admin-password")" >/dev/null
	fi
	if [ ! -s "$CLIENT" ]; then
		local token
		token=$(secret)
		manage tokens add --user admin --description ptlab --secret "$token" >/dev/null
		install -d -m 700 "$(dirname "$CLIENT")"
		umask 077
		printf 'default:\n  uri: http://127.0.0.1:%s/RPC2\n  username: admin\n  token: %s\n' \
			"$PORT" "$token" >"$CLIENT"
		umask 022
	fi
	manage workers list 2>/dev/null | grep -qw "$WORKER" || manage workers add "$WORKER" >/dev/null
	manage device-types list 2>/dev/null | grep -qw qemu || manage device-types add qemu >/dev/null
	local i name
	mkdir -p "$LAVA/devices"
	for i in $(seq 1 "$DEVICES"); do
		name=$(printf 'qemu-%02d' "$i")
		printf "{%% extends 'qemu.jinja2' %%}\n{%% set mac_addr = '52:54:00:12:34:%02x' %%}\n" \
			"$i" >"$LAVA/devices/$name.jinja2"
		manage devices list 2>/dev/null | grep -qw "$name" ||
			manage devices add --device-type qemu --worker "$WORKER" "$name" >/dev/null
	done
}

running() { [ -f "$LAVA/pids/$1.pid" ] && kill -0 "$(cat "$LAVA/pids/$1.pid")" 2>/dev/null; }

# start NAME COMMAND...: in its own session, output in log/NAME.out, PID in pids/NAME.pid.
start() {
	local name=$1
	shift
	running "$name" && return 0
	setsid "$@" >"$LAVA/log/$name.out" 2>&1 </dev/null &
	echo $! >"$LAVA/pids/$name.pid"
}

start_services() {
	mkdir -p "$LAVA/pids" "$LAVA/media" "$LAVA/worker"
	start gunicorn gunicorn3 lava_server.wsgi --log-level INFO --log-file "$LAVA/log/gunicorn.log" \
		--worker-class eventlet --workers 2 --bind "127.0.0.1:$PORT"
	start scheduler lava-server manage lava-scheduler --level INFO \
		--log-file "$LAVA/log/lava-scheduler.log"
	start publisher lava-server manage lava-publisher --level INFO \
		--log-file "$LAVA/log/lava-publisher.log" --host 127.0.0.1 --port "$PUBLISHER_PORT"
	umask 077
	manage workers details "$WORKER" | sed -n 's/^token *: //p' >"$LAVA/worker-token"
	umask 022
	start worker lava-worker --name "$WORKER" --url "http://127.0.0.1:$PORT/" \
		--token-file "$LAVA/worker-token" --worker-dir "$LAVA/worker" \
		--log-file "$LAVA/log/lava-worker.log" --level INFO
}

start_time=$(date +%s)
mkdir -p "$LAVA/log"
install_packages
write_env
set -a
# shellcheck source=/dev/null
. "$LAVA/env"
set +a
start_postgres
populate
start_services
"$PTLAB" lava-status --wait 60 || die "LAVA did not answer; see $LAVA/log/"
log "lava: up in $(elapsed "$start_time") at http://127.0.0.1:$PORT/"
log "  web UI: user admin, password in $LAVA/admin-password (from another machine:"
log "  ssh -L $PORT:127.0.0.1:$PORT <this host>, then the same URL there)"
log "  'make matrix ENGINE=lava' submits to it; 'make lava-down' stops it"
