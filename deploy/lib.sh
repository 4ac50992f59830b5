# shellcheck shell=bash
# Shared by deploy/run.sh and deploy/stop.sh: the all-in-one PostgreSQL
# cluster. It lives in var/pgdata and runs as user postgres (PostgreSQL
# refuses root). When user postgres cannot reach the checkout (a home
# directory with mode 700, say), the data goes to /var/lib/vocal/ instead and
# var/pgdata links to it.

VOCAL_VAR=${VOCAL_VAR:-$top/var} # where the cluster and the demo passwords live
VOCAL_PG_PORT=${VOCAL_PG_PORT:-5432}
PG_BINDIR=/usr/lib/postgresql/15/bin

die() {
	echo "vocal: $*" >&2
	exit 1
}

as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		(cd / && "$@")
	fi
}

pg_cluster_paths() {
	mkdir -p "$VOCAL_VAR"
	VOCAL_PG_DATA="$VOCAL_VAR/pgdata"
	if [ ! -e "$VOCAL_PG_DATA" ] && [ "$(id -u)" -eq 0 ] &&
		! runuser -u postgres -- test -x "$VOCAL_VAR"; then
		local alt
		alt="/var/lib/vocal/$(echo "$top" | sha256sum | cut -c1-12)/pgdata"
		mkdir -p "$alt"
		ln -s "$alt" "$VOCAL_PG_DATA"
	fi
	local base
	base=$(dirname "$(readlink -f "$VOCAL_PG_DATA")")
	VOCAL_PG_SOCK="$base/pgsock"
	VOCAL_PG_LOG="$base/postgres.log"
}

pg_cluster_running() {
	as_postgres "$PG_BINDIR/pg_ctl" -D "$VOCAL_PG_DATA" status >/dev/null 2>&1
}

pg_cluster_start() {
	[ -x "$PG_BINDIR/postgres" ] || die "PostgreSQL 15 server not found in $PG_BINDIR (run: bash deploy/install-deps.sh)"
	pg_cluster_paths
	local data
	data=$(readlink -f "$VOCAL_PG_DATA")
	mkdir -p "$data" "$VOCAL_PG_SOCK"
	touch "$VOCAL_PG_LOG"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$data" "$VOCAL_PG_SOCK" "$VOCAL_PG_LOG"
		chmod 700 "$data"
		chmod 711 "$VOCAL_VAR"
	fi
	if [ ! -e "$data/PG_VERSION" ]; then
		echo "vocal: creating PostgreSQL cluster in $data"
		# The superuser gets a random password nobody needs: local admin is
		# by peer authentication; daemons log in as vocal.
		local pwfile="$VOCAL_PG_SOCK/pwfile"
		head -c 24 /dev/urandom | base64 >"$pwfile"
		[ "$(id -u)" -ne 0 ] || chown postgres "$pwfile"
		as_postgres "$PG_BINDIR/initdb" -D "$data" -U postgres --auth-local=peer \
			--auth-host=scram-sha-256 --pwfile="$pwfile" --encoding=UTF8 \
			--locale=C >"$VOCAL_VAR/initdb.log" 2>&1 ||
			die "initdb failed; see $VOCAL_VAR/initdb.log"
		rm -f "$pwfile"
	fi
	if pg_cluster_running; then
		echo "vocal: PostgreSQL already running"
	else
		if ss -Htln "sport = :$VOCAL_PG_PORT" | grep -q .; then
			die "port $VOCAL_PG_PORT is taken (another PostgreSQL?); set VOCAL_PG_PORT=N"
		fi
		as_postgres "$PG_BINDIR/pg_ctl" -D "$data" -l "$VOCAL_PG_LOG" -w -t 60 \
			-o "-p $VOCAL_PG_PORT -h 127.0.0.1 -k $VOCAL_PG_SOCK" start >/dev/null ||
			die "PostgreSQL did not start; see $VOCAL_PG_LOG"
	fi
	local psql=("$PG_BINDIR/psql" -X -q -h "$VOCAL_PG_SOCK" -p "$VOCAL_PG_PORT" -U postgres)
	if ! as_postgres "${psql[@]}" -d postgres -tAc "select 1 from pg_roles where rolname='vocal'" | grep -q 1; then
		as_postgres "${psql[@]}" -d postgres -c "CREATE ROLE vocal LOGIN PASSWORD 'vocal'" \
			-c "CREATE DATABASE vocal OWNER vocal" >/dev/null ||
			die "could not create the vocal role and database"
	fi
	PG_VERSION_STR=$(cat "$data/PG_VERSION")
}

pg_cluster_stop() {
	pg_cluster_paths
	if [ -e "$VOCAL_PG_DATA/PG_VERSION" ] && pg_cluster_running; then
		as_postgres "$PG_BINDIR/pg_ctl" -D "$(readlink -f "$VOCAL_PG_DATA")" -m fast -w stop >/dev/null
		echo "vocal: PostgreSQL stopped"
	else
		echo "vocal: nothing running"
	fi
}

# The demo domain and subscribers of the all-in-one set-up. Passwords are
# made once, at random, and kept only in var/demo-subscribers.txt (mode
# 600) so that make run can show them; the database gets HA1 digests, as
# for every subscriber (RFC 7616: MD5, SHA-256, SHA-512-256).
VOCAL_DEMO_DOMAIN=vocal.test
VOCAL_DEMO_USERS="1000 1001 1002 1003"

ha1() { # ha1 ALG USER REALM PASSWORD: lower-case hex
	printf '%s:%s:%s' "$2" "$3" "$4" | openssl dgst "-$1" -r | cut -d' ' -f1
}

demo_seed() {
	local creds="$VOCAL_VAR/demo-subscribers.txt" user pw
	if [ ! -s "$creds" ]; then
		(
			umask 077
			for user in $VOCAL_DEMO_USERS; do
				pw=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 12)
				echo "$user $pw"
			done >"$creds"
		)
	fi
	local psql=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$VOCAL_PG_SOCK" -p "$VOCAL_PG_PORT"
		-U postgres -d vocal)
	while read -r user pw; do
		# psql variables (:'name') quote the values: nothing is pasted into SQL
		as_postgres "${psql[@]}" -v domain="$VOCAL_DEMO_DOMAIN" -v user="$user" \
			-v md5="$(ha1 md5 "$user" "$VOCAL_DEMO_DOMAIN" "$pw")" \
			-v sha256="$(ha1 sha256 "$user" "$VOCAL_DEMO_DOMAIN" "$pw")" \
			-v sha512_256="$(ha1 sha512-256 "$user" "$VOCAL_DEMO_DOMAIN" "$pw")" <<'SQL' ||
INSERT INTO domains (name, realm) VALUES (:'domain', :'domain') ON CONFLICT (name) DO NOTHING;
INSERT INTO subscribers (domain_id, user_part, display_name, ha1_md5, ha1_sha256, ha1_sha512_256)
	SELECT id, :'user', 'Demo ' || :'user', :'md5', :'sha256', :'sha512_256'
	FROM domains WHERE name = :'domain'
	ON CONFLICT (domain_id, user_part) DO UPDATE
	SET ha1_md5 = EXCLUDED.ha1_md5, ha1_sha256 = EXCLUDED.ha1_sha256,
	    ha1_sha512_256 = EXCLUDED.ha1_sha512_256;
SQL
			die "could not seed the demo subscriber $user"
	done <"$creds"
}

demo_print() {
	local user pw
	echo "  demo subscribers (domain ${VOCAL_DEMO_DOMAIN}, digest realm ${VOCAL_DEMO_DOMAIN}; passwords in var/demo-subscribers.txt):"
	while read -r user pw; do
		echo "    sip:${user}@${VOCAL_DEMO_DOMAIN}  password ${pw}"
	done <"$VOCAL_VAR/demo-subscribers.txt"
}
