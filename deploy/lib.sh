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

# ---- web logins (provd's accounts) ---------------------------------------
# A carrier administrator, login admin, and a web login per demo subscriber
# (NUMBER@vocal.test). Passwords are made once, at random, and kept only in
# var/admin-password and var/demo-web-logins.txt (mode 600) so that make
# run can show them; the database holds Argon2id hashes (provd
# --create-admin / --create-login read the password on standard input). An
# account that exists is left alone, so a password changed in the GUI stays.
VOCAL_ADMIN_LOGIN=admin

random_password() { head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16; }

web_accounts_seed() {
	local psql=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$VOCAL_PG_SOCK" -p "$VOCAL_PG_PORT"
		-U postgres -d vocal) conf="$VOCAL_VAR/etc/provd.conf" logins="$VOCAL_VAR/demo-web-logins.txt"
	local user login pw id out
	[ -s "$VOCAL_VAR/admin-password" ] || (umask 077 && random_password >"$VOCAL_VAR/admin-password")
	# psql variables (:'name') quote the values: nothing is pasted into SQL
	if [ -z "$(as_postgres "${psql[@]}" -v login="$VOCAL_ADMIN_LOGIN" \
		<<<"SELECT 1 FROM accounts WHERE lower(login) = lower(:'login')")" ]; then
		out=$(bin/provd -f "$conf" --create-admin "$VOCAL_ADMIN_LOGIN" <"$VOCAL_VAR/admin-password" 2>&1) ||
			die "could not create the administrator's login: $out"
	fi
	if [ ! -s "$logins" ]; then
		(
			umask 077
			for user in $VOCAL_DEMO_USERS; do
				echo "${user}@${VOCAL_DEMO_DOMAIN} $(random_password)"
			done >"$logins"
		)
	fi
	while read -r login pw; do
		[ -z "$(as_postgres "${psql[@]}" -v login="$login" \
			<<<"SELECT 1 FROM accounts WHERE lower(login) = lower(:'login')")" ] || continue
		id=$(as_postgres "${psql[@]}" -v user="${login%@*}" -v domain="${login#*@}" <<<"SELECT s.id FROM subscribers s
			JOIN domains d ON d.id = s.domain_id WHERE s.user_part = :'user' AND d.name = :'domain'")
		[ -n "$id" ] || die "no demo subscriber $login"
		out=$(printf '%s\n' "$pw" | bin/provd -f "$conf" --create-login "$login" --subscriber "$id" 2>&1) ||
			die "could not create the web login $login: $out"
	done <"$logins"
}

web_accounts_print() {
	local login pw
	read -r login pw <"$VOCAL_VAR/demo-web-logins.txt"
	echo "    log in to the GUI (or POST /api/v1/session) as the carrier administrator:"
	echo "      ${VOCAL_ADMIN_LOGIN}  password $(cat "$VOCAL_VAR/admin-password")   (kept in $VOCAL_VAR/admin-password)"
	echo "    or as a demo subscriber: ${login}  password ${pw}   (all four in $VOCAL_VAR/demo-web-logins.txt)"
}

# ---- the SIP daemons of the all-in-one set-up ------------------------------
# redirectd on 127.0.0.1:5070, the user-agent marshal on 127.0.0.1:5060 (UDP
# and TCP), the gateway marshal on 127.0.0.1:5065 (UDP) in front of a PSTN
# gateway expected at 127.0.0.1:5090. Configs are written to var/etc (edit
# them there; a new make run keeps them), logs go to var/log, pid files to
# var/run.
# (-D would detach too, but then logs go to syslog, which a container may
# not have.)
VOCAL_SIP_HOST=127.0.0.1
VOCAL_UA_PORT=${VOCAL_UA_PORT:-5060}
VOCAL_GW_PORT=${VOCAL_GW_PORT:-5065}
VOCAL_REDIRECT_PORT=${VOCAL_REDIRECT_PORT:-5070}
VOCAL_GATEWAY=${VOCAL_GATEWAY:-127.0.0.1:5090}
VOCAL_PROVD_PORT=${VOCAL_PROVD_PORT:-8080}
VOCAL_FEATURE_PORT=${VOCAL_FEATURE_PORT:-5080}
# the demo's voicemail system: subscriber 1003 plays it (register a phone as
# 1003 to take the calls that go to voicemail)
VOCAL_VOICEMAIL=${VOCAL_VOICEMAIL:-sip:1003@vocal.test}
# start order: provd applies the schema; featured after redirectd
VOCAL_DAEMONS="provd redirect feature ua gw"

daemon_bin() {
	case $1 in redirect) echo redirectd ;; provd) echo provd ;; feature) echo featured ;; *) echo marshald ;; esac
}

daemon_conf_write() {
	local etc="$VOCAL_VAR/etc" db="postgresql://vocal:vocal@127.0.0.1:${VOCAL_PG_PORT}/vocal"
	mkdir -p "$etc"
	# the key that signs the feature-hop parameter (vocal-hop), shared by
	# redirectd and featured: made once, kept in var/feature-secret (mode
	# 600); each one's config holds the value, so those are 600 too
	[ -s "$VOCAL_VAR/feature-secret" ] || (umask 077 && openssl rand -hex 32 >"$VOCAL_VAR/feature-secret")
	local feature_secret
	feature_secret=$(tr -d '\n' <"$VOCAL_VAR/feature-secret")
	[ -e "$etc/redirect.conf" ] || (umask 077 && cat >"$etc/redirect.conf") <<CONF
# redirectd: registrar, location service, router (bin/redirectd -v lists every key)
listen = ${VOCAL_SIP_HOST}:${VOCAL_REDIRECT_PORT}
instance = redirect-1
dial_plan = default
[db]
conninfo = "$db"
[features]
secret = $feature_secret
CONF
	# a redirect.conf of an earlier run, from before feature routing
	if ! grep -q '^\[features\]' "$etc/redirect.conf"; then
		chmod 600 "$etc/redirect.conf"
		printf '[features]\nsecret = %s\n' "$feature_secret" >>"$etc/redirect.conf"
	fi
	[ -e "$etc/feature.conf" ] || cat >"$etc/feature.conf" <<CONF
# featured: the feature server, runs subscribers' features (bin/featured -v lists every key)
listen = ${VOCAL_SIP_HOST}:${VOCAL_FEATURE_PORT}
redirect = ${VOCAL_SIP_HOST}:${VOCAL_REDIRECT_PORT}
[features]
# the feature-hop key redirectd signs with (made once by make run)
secret_file = "$VOCAL_VAR/feature-secret"
voicemail = "$VOCAL_VOICEMAIL"
[db]
conninfo = "$db"
CONF
	[ -e "$etc/ua.conf" ] || cat >"$etc/ua.conf" <<CONF
# the user-agent marshal: phones register and call here (bin/marshald -v lists every key)
kind = ua
listen = ${VOCAL_SIP_HOST}:${VOCAL_UA_PORT}
transports = udp tcp
redirect = ${VOCAL_SIP_HOST}:${VOCAL_REDIRECT_PORT}
trusted_peers = ${VOCAL_SIP_HOST}:${VOCAL_GW_PORT}
# MD5 alone: SIPp, sipsak and baresip 1.0 answer nothing else. Offer
# "sha-256 md5" when the phones know RFC 8760.
auth.algorithms = md5
[db]
conninfo = "$db"
CONF
	# the API's bearer token: made once, kept in var/api-token (mode 600);
	# provd's config holds only its SHA-256
	[ -s "$VOCAL_VAR/api-token" ] || (umask 077 && openssl rand -hex 32 >"$VOCAL_VAR/api-token")
	[ -e "$etc/provd.conf" ] || cat >"$etc/provd.conf" <<CONF
# provd: the provisioning server, JSON API under /api/v1 (bin/provd -v lists every key)
listen = 127.0.0.1:${VOCAL_PROVD_PORT}
migrations = "$top/provisioning/sql"
api.token_sha256 = $(tr -d '\n' <"$VOCAL_VAR/api-token" | sha256sum | cut -c1-64)
[db]
conninfo = "$db"
CONF
	[ -e "$etc/gw.conf" ] || cat >"$etc/gw.conf" <<CONF
# the gateway marshal: the PSTN gateway's edge (bin/marshald -v lists every key)
kind = gateway
listen = ${VOCAL_SIP_HOST}:${VOCAL_GW_PORT}
transports = udp
redirect = ${VOCAL_SIP_HOST}:${VOCAL_REDIRECT_PORT}
trusted_peers = ${VOCAL_SIP_HOST}:${VOCAL_UA_PORT}
gateway = ${VOCAL_GATEWAY}
[db]
conninfo = "$db"
CONF
	return 0
}

# daemons_stop: SIGTERM each daemon with a pid file (they drain), wait.
daemons_stop() {
	local name pidf pid i
	for name in gw ua feature redirect provd; do
		pidf="$VOCAL_VAR/run/$name.pid"
		[ -s "$pidf" ] || continue
		pid=$(cat "$pidf")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for i in $(seq 1 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
			echo "vocal: $(daemon_bin "$name") ($name) stopped"
		fi
		rm -f "$pidf"
	done
}

# daemon_serves NAME PORT: the SIP daemons answer OPTIONS; provd answers
# HTTP (401 without the token).
daemon_serves() {
	if [ "$1" = provd ]; then
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/api/v1/openapi.json")" = 401 ]
	else
		sipsak -s "sip:${VOCAL_SIP_HOST}:$2" -H "$VOCAL_SIP_HOST" >/dev/null 2>&1
	fi
}

# daemons_start: (re)start every daemon in its own session, logging to
# var/log/NAME.log, and wait until each serves.
daemons_start() {
	local name bin port pid i
	mkdir -p "$VOCAL_VAR/run" "$VOCAL_VAR/log"
	daemons_stop >/dev/null
	for name in $VOCAL_DAEMONS; do
		bin=$(daemon_bin "$name")
		port=$(daemon_port "$name")
		if ss -Hltun "sport = :$port" | grep -q .; then
			die "port $port is taken (another server?); set VOCAL_$(echo "$name" | tr a-z A-Z)_PORT=N"
		fi
		setsid "$top/bin/$bin" -f "$VOCAL_VAR/etc/$name.conf" -p "$VOCAL_VAR/run/$name.pid" \
			</dev/null >>"$VOCAL_VAR/log/$name.log" 2>&1 &
		pid=$!
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			daemon_serves "$name" "$port" && break
			sleep 0.1
		done
		if ! kill -0 "$pid" 2>/dev/null || [ "$i" -eq 100 ]; then
			tail -n 20 "$VOCAL_VAR/log/$name.log" >&2
			die "$bin ($name) did not start; see $VOCAL_VAR/log/$name.log"
		fi
	done
}

daemon_port() {
	case $1 in
	redirect) echo "$VOCAL_REDIRECT_PORT" ;; ua) echo "$VOCAL_UA_PORT" ;;
	gw) echo "$VOCAL_GW_PORT" ;; provd) echo "$VOCAL_PROVD_PORT" ;;
	feature) echo "$VOCAL_FEATURE_PORT" ;;
	esac
}

# The demo's servers, groups and dial plan (numbers to the gateway marshal).
demo_seed_routing() {
	local psql=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$VOCAL_PG_SOCK" -p "$VOCAL_PG_PORT"
		-U postgres -d vocal)
	as_postgres "${psql[@]}" -v host="$VOCAL_SIP_HOST" -v ua="$VOCAL_UA_PORT" -v gw="$VOCAL_GW_PORT" \
		-v redirect="$VOCAL_REDIRECT_PORT" -v feature="$VOCAL_FEATURE_PORT" <<'SQL' >/dev/null ||
INSERT INTO server_groups (name, kind) VALUES ('ua-marshals', 'marshal_ua'),
	('gateway-marshals', 'marshal_gateway'), ('redirect-servers', 'redirect'),
	('features', 'feature')
	ON CONFLICT (name) DO NOTHING;
INSERT INTO servers (group_id, host, port) SELECT id, :'host', :'feature'::int FROM server_groups
	WHERE name = 'features' ON CONFLICT DO NOTHING;
UPDATE domains SET feature_group_id = (SELECT id FROM server_groups WHERE name = 'features')
	WHERE name = 'vocal.test' AND feature_group_id IS NULL;
-- the demo's features (a new run keeps what was changed since): 1001
-- sends calls it does not answer in 20 s to voicemail, 1002 refuses
-- anonymous callers
INSERT INTO subscriber_features (subscriber_id, feature, user_enabled, group_id, settings)
	SELECT s.id, 'voicemail', true, g.id, '{"on_no_answer": true, "on_busy": true, "ring_time": 20}'
	FROM subscribers s JOIN domains d ON d.id = s.domain_id, server_groups g
	WHERE d.name = 'vocal.test' AND s.user_part = '1001' AND g.name = 'features'
	ON CONFLICT (subscriber_id, feature) DO NOTHING;
INSERT INTO subscriber_features (subscriber_id, feature, user_enabled, group_id, settings)
	SELECT s.id, 'call_screening', true, g.id, '{"callers": ["anonymous"], "action": "reject"}'
	FROM subscribers s JOIN domains d ON d.id = s.domain_id, server_groups g
	WHERE d.name = 'vocal.test' AND s.user_part = '1002' AND g.name = 'features'
	ON CONFLICT (subscriber_id, feature) DO NOTHING;
INSERT INTO servers (group_id, host, port) SELECT id, :'host', :'ua'::int FROM server_groups
	WHERE name = 'ua-marshals' ON CONFLICT DO NOTHING;
INSERT INTO servers (group_id, host, port) SELECT id, :'host', :'gw'::int FROM server_groups
	WHERE name = 'gateway-marshals' ON CONFLICT DO NOTHING;
INSERT INTO servers (group_id, host, port) SELECT id, :'host', :'redirect'::int FROM server_groups
	WHERE name = 'redirect-servers' ON CONFLICT DO NOTHING;
UPDATE subscribers SET marshal_group_id = (SELECT id FROM server_groups WHERE name = 'ua-marshals')
	WHERE marshal_group_id IS NULL;
INSERT INTO dids (subscriber_id, number) SELECT s.id, '+15550001000' FROM subscribers s
	JOIN domains d ON d.id = s.domain_id WHERE d.name = 'vocal.test' AND s.user_part = '1000'
	ON CONFLICT DO NOTHING;
INSERT INTO dial_plans (name, description) VALUES ('default',
	'North American numbers to the PSTN gateway') ON CONFLICT (name) DO NOTHING;
INSERT INTO dial_plan_entries (dial_plan_id, position, pattern, contact_template)
	SELECT id, 10, '^\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$', 'sip:+1\1@' || :'host' || ':' || :'gw'
	FROM dial_plans p WHERE name = 'default'
	AND NOT EXISTS (SELECT 1 FROM dial_plan_entries e WHERE e.dial_plan_id = p.id);
SQL
		die "could not seed the demo routing"
}

# demo_print_features: the demo subscribers' active features, one a line.
demo_print_features() {
	local psql=("$PG_BINDIR/psql" -X -q -At -F ' ' -h "$VOCAL_PG_SOCK" -p "$VOCAL_PG_PORT" -U postgres -d vocal)
	echo "  demo features (featured, group features; change them in subscriber_features or with provd):"
	as_postgres "${psql[@]}" -c "SELECT '    sip:' || s.user_part || '@' || d.name, f.feature, f.settings::text
		FROM subscriber_features f JOIN subscribers s ON s.id = f.subscriber_id
		JOIN domains d ON d.id = s.domain_id WHERE f.admin_enabled AND f.user_enabled
		ORDER BY s.user_part, f.feature"
}
