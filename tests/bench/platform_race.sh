#!/usr/bin/env bash
# The side-by-side benchmark of issue 4: the Kamailio 5.6 reference of
# /work/shared/peer/kamailio (registrar + digest auth on PostgreSQL +
# record-routing stateful proxy) against our platform (redirectd + a
# user-agent marshald on a private PostgreSQL), with the same SIPp
# scenarios, the same users and the same pass/fail rules, on this machine.
#
#   platform_race.sh            (make bench-race; make bench runs it last)
#
# 1. the peer's run.sh as is (its own PostgreSQL and Kamailio): sustained
#    REGISTER/s with usrloc in memory and written through, calls/s;
# 2. our platform seeded with the same users (N_USERS users user1000..,
#    password secret, domain = realm bench.local), and the peer's run.sh
#    again with TARGET = the UA marshal, SERVER_PIDS = marshald + redirectd,
#    DB_PIDS = the postmaster (run.sh registers the callees towards its SIPp
#    UAS itself before the call search);
# 3. resident memory per 100,000 bindings: MEM_BINDINGS registrations
#    (N_USERS users x MEM_BINDINGS/N_USERS contacts each, <= 10 = our
#    registrar.max_contacts) at MEM_RATE/s against a fresh Kamailio (usrloc
#    in memory) and against fresh daemons of ours; PSS summed over the
#    processes (Kamailio's shared memory counted once) before and after;
# 4. one table: Kamailio, vocal, vocal/Kamailio per row.
#
# The PostgreSQL of our platform runs with the peer's options (its
# defaults plus max_connections=200 shared_buffers=128MB, fsync on), not
# with the test harness's fsync=off.
#
# Raw outputs: build/bench/race/ (both run.sh logs and summaries, the
# memory runs, the daemons' logs); the table: build/bench/race.txt.
# Knobs (environment): PEER_DIR, N_USERS, MEM_BINDINGS, MEM_RATE,
# SEARCH_BUDGET_S (per search, passed to run.sh; default 85 as there), KAM_MODES
# ("mem db"), SKIP_KAMAILIO=1 (reuse build/bench/race/kamailio.txt),
# KEEP_TMP=1.
# A benchmark, never a test: figures vary by +/- 20 % from run to run here.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
. tests/harness/platform.sh
harness_init

: "${PEER_DIR:=/work/shared/peer/kamailio}"
: "${N_USERS:=10000}"
: "${USER_START:=1000}"
: "${MEM_BINDINGS:=100000}"
: "${MEM_RATE:=2000}"
: "${SEARCH_BUDGET_S:=85}"
: "${KAM_MODES:=mem db}"
: "${SKIP_KAMAILIO:=0}"
export SEARCH_BUDGET_S
DOMAIN=bench.local
PASSWORD=secret
out=$root/build/bench/race
t_start=$(date +%s)

log() { printf '%s race: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (the peer's run.sh starts PostgreSQL as user postgres)"
[[ -x "$PEER_DIR/run.sh" ]] || die "no peer benchmark in $PEER_DIR"
for c in sipp kamailio kamcmd sipsak; do
	command -v "$c" >/dev/null || die "missing $c (apt-get install sip-tester kamailio kamailio-postgres-modules sipsak)"
done
[[ -f /usr/share/kamailio/postgres/auth_db-create.sql ]] || die "apt-get install kamailio-postgres-modules"
[[ -x bin/redirectd && -x bin/marshald && -x bin/vocal-migrate ]] || die "make all first"
mkdir -p "$out"
per_user=$(((MEM_BINDINGS + N_USERS - 1) / N_USERS))
((per_user <= 10)) || die "MEM_BINDINGS/N_USERS must be <= 10 (registrar.max_contacts)"

# ---- 1. the Kamailio reference -------------------------------------------
if [[ $SKIP_KAMAILIO == 1 && -s $out/kamailio.txt ]]; then
	log "reusing $out/kamailio.txt"
else
	log "Kamailio reference: $PEER_DIR/run.sh (MODES='$KAM_MODES', SEARCH_BUDGET_S=$SEARCH_BUDGET_S)"
	(cd / && MODES=$KAM_MODES N_USERS=$N_USERS SUMMARY_FILE=$out/kamailio.txt \
		"$PEER_DIR/run.sh") >"$out/kamailio.log" 2>&1 || {
		tail -20 "$out/kamailio.log" >&2
		die "the Kamailio reference failed (log: $out/kamailio.log)"
	}
fi

# ---- PostgreSQL with the peer's options, for both memory runs and ours ---
PG_SERVER_ARGS="-c max_connections=200 -c shared_buffers=128MB"
pg_start || die "postgres did not start"
log "postgres pid $PG_PID on 127.0.0.1:$PGPORT"
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -U postgres -d postgres \
	-c "CREATE ROLE kamailio LOGIN PASSWORD 'kamailiorw'" -c "CREATE DATABASE kamailio OWNER kamailio" >/dev/null
for f in standard auth_db usrloc; do
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -U kamailio -d kamailio \
		-f "/usr/share/kamailio/postgres/$f-create.sql" >/dev/null
done
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -U kamailio -d kamailio >/dev/null <<SQL
INSERT INTO subscriber (username, domain, password, ha1, ha1b)
SELECT 'user' || n, '$DOMAIN', '$PASSWORD', md5('user' || n || ':$DOMAIN:$PASSWORD'),
       md5('user' || n || '@$DOMAIN:$DOMAIN:$PASSWORD')
FROM generate_series($USER_START, $USER_START + $N_USERS - 1) AS n;
SQL

# Ours: schema, one domain, the UA marshal's group, the users in one statement.
bin/vocal-migrate -d "$VOCAL_DB_URI" -s provisioning/sql >/dev/null || die "migration failed"
REDIRECT_PORT=$(harness_free_port both)
UA_PORT=$(harness_free_port both)
platform_sql >/dev/null <<SQL
INSERT INTO domains (name, realm) VALUES ('$DOMAIN', '$DOMAIN');
INSERT INTO server_groups (name, kind) VALUES ('ua', 'marshal_ua'), ('redirect', 'redirect');
INSERT INTO servers (group_id, host, port) SELECT id, '127.0.0.1', $UA_PORT FROM server_groups WHERE name = 'ua';
INSERT INTO servers (group_id, host, port) SELECT id, '127.0.0.1', $REDIRECT_PORT FROM server_groups WHERE name = 'redirect';
INSERT INTO subscribers (domain_id, user_part, ha1_md5, ha1_sha256, marshal_group_id)
SELECT d.id, 'user' || n, md5('user' || n || ':$DOMAIN:$PASSWORD'),
       encode(sha256(convert_to('user' || n || ':$DOMAIN:$PASSWORD', 'UTF8')), 'hex'), g.id
FROM domains d, server_groups g, generate_series($USER_START, $USER_START + $N_USERS - 1) AS n
WHERE d.name = '$DOMAIN' AND g.name = 'ua';
ANALYZE subscribers;
SQL
log "$(platform_sql -c 'SELECT count(*) FROM subscribers') subscribers user$USER_START.. in $DOMAIN"

mkdir -p "$HARNESS_DIR/platform"
harness_on_exit _platform_stop_all # platform_start would register it; we start the daemons alone
cat >"$HARNESS_DIR/platform/redirect.conf" <<EOF
listen = 127.0.0.1:$REDIRECT_PORT
transports = udp
instance = redirect-bench
[db]
conninfo = "$VOCAL_DB_URI"
EOF
cat >"$HARNESS_DIR/platform/ua.conf" <<EOF
kind = ua
listen = 127.0.0.1:$UA_PORT
transports = udp
redirect = 127.0.0.1:$REDIRECT_PORT
auth.algorithms = md5
[db]
conninfo = "$VOCAL_DB_URI"
EOF
cp "$HARNESS_DIR"/platform/*.conf "$out/"

# ---- helpers ------------------------------------------------------------
with_children() { local p; for p in "$@"; do echo "$p"; ps -o pid= --ppid "$p" || true; done; }
pss_kb() { # PSS summed over the pids and their children, kB
	local s=0 p v
	for p in $(with_children "$@"); do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# users x contacts: user;password;127.0.0.1:port, port 20000 + k per contact
mem_csv=$HARNESS_DIR/bindings.csv
{
	echo SEQUENTIAL
	awk -v n="$N_USERS" -v s="$USER_START" -v k="$per_user" -v total="$MEM_BINDINGS" -v pw="$PASSWORD" \
		'BEGIN { for (j = 0; j < k; j++) for (i = 0; i < n && j * n + i < total; i++)
			printf "user%d;%s;127.0.0.1:%d\n", s + i, pw, 20000 + j }'
} >"$mem_csv"

# register_bindings NAME TARGET: MEM_BINDINGS authenticated REGISTERs at MEM_RATE
register_bindings() {
	local name=$1 target=$2 port rc=0
	port=$(harness_free_port udp)
	(cd "$HARNESS_DIR" && sipp -sf "$PEER_DIR/register.xml" -inf "$mem_csv" -key domain "$DOMAIN" \
		-i 127.0.0.1 -p "$port" -m "$MEM_BINDINGS" -r "$MEM_RATE" -rp 1000 -l $((MEM_RATE * 5 + 100)) \
		-nostdin -timeout $((MEM_BINDINGS / MEM_RATE * 3 + 30))s -recv_timeout 5000 \
		-trace_stat -stf "$out/mem-$name.csv" -trace_err -error_file "$out/mem-$name.err" \
		"$target") >"$out/mem-$name.out" 2>&1 || rc=$?
	awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
		{ ok = $c["SuccessfulCall(C)"]; fl = $c["FailedCall(C)"]; re = $c["Retransmissions(C)"] }
		END { printf "%d ok, %d failed, %d retransmissions", ok, fl, re }' "$out/mem-$name.csv"
	return $rc
}

# ---- 3a. Kamailio's memory per binding ----------------------------------
kam_port=$(harness_free_port udp)
kctl="unix:$HARNESS_DIR/kam.ctl"
mkdir -p "$HARNESS_DIR/kam"
kamailio -f "$PEER_DIR/kamailio.cfg" -DD -E -l "udp:127.0.0.1:$kam_port" -n 4 -m 512 -M 8 \
	-Y "$HARNESS_DIR/kam" -P "$HARNESS_DIR/kam/kamailio.pid" \
	-A "DBURL=\"postgres://kamailio:kamailiorw@127.0.0.1:$PGPORT/kamailio\"" -A "CTLSOCK=\"$kctl\"" \
	>"$out/mem-kamailio.log" 2>&1 &
kam_pid=$!
harness_on_exit harness_kill_pid "$kam_pid"
kam_up() { kamcmd -s "$kctl" core.uptime >/dev/null 2>&1; }
harness_wait_for "kamailio" 10 kam_up || die "kamailio did not start"
kam_shm() { kamcmd -s "$kctl" core.shmmem 2>/dev/null | awk '/real_used:/ { print int($2 / 1024) }'; }
sleep 1
k_pss0=$(pss_kb "$kam_pid") k_shm0=$(kam_shm)
log "Kamailio (usrloc in memory) idle: PSS sum $k_pss0 kB, shm in use $k_shm0 kB; registering $MEM_BINDINGS bindings at $MEM_RATE/s"
k_reg=$(register_bindings kamailio "127.0.0.1:$kam_port") || log "some registrations failed: $k_reg"
sleep 6 # tm's wait timer (REGISTER is answered statelessly, but to be sure)
k_pss1=$(pss_kb "$kam_pid") k_shm1=$(kam_shm)
k_contacts=$(kamcmd -s "$kctl" stats.get_statistics usrloc: 2>/dev/null | awk '/location.contacts/ { print $NF }')
log "Kamailio: $k_reg; $k_contacts contacts; PSS sum $k_pss1 kB, shm in use $k_shm1 kB"
harness_kill_pid "$kam_pid"

# ---- 3b. ours -------------------------------------------------------------
platform_start_daemon redirect || die "redirectd did not start"
platform_start_daemon ua || die "marshald did not start"
r_pid=${_PLATFORM_PIDS[redirect]} u_pid=${_PLATFORM_PIDS[ua]}
sleep 1
r_pss0=$(pss_kb "$r_pid") u_pss0=$(pss_kb "$u_pid") r_rss0=$(rss_kb "$r_pid") u_rss0=$(rss_kb "$u_pid")
log "vocal idle: redirectd PSS $r_pss0 kB (RSS $r_rss0), marshald PSS $u_pss0 kB (RSS $u_rss0); registering $MEM_BINDINGS bindings"
v_reg=$(register_bindings vocal "127.0.0.1:$UA_PORT") || log "some registrations failed: $v_reg"
sleep 6
r_pss6=$(pss_kb "$r_pid") u_pss6=$(pss_kb "$u_pid")
log "vocal 6 s after, REGISTER transactions still in their 32 s tail: redirectd PSS $r_pss6 kB, marshald PSS $u_pss6 kB"
# what the bindings themselves cost: once the transactions (Timer J,
# 32 s) are gone and the daemons' 30 s trim has run
sleep 60
r_pss1=$(pss_kb "$r_pid") u_pss1=$(pss_kb "$u_pid") r_rss1=$(rss_kb "$r_pid") u_rss1=$(rss_kb "$u_pid")
v_rows=$(platform_sql -c 'SELECT count(*) FROM location_bindings')
log "vocal: $v_reg; $v_rows bindings in PostgreSQL; redirectd PSS $r_pss1 kB (RSS $r_rss1), marshald PSS $u_pss1 kB (RSS $u_rss1)"

# the race starts from fresh daemons and no bindings, like Kamailio's
platform_stop_daemon ua
platform_stop_daemon redirect
platform_sql -c 'DELETE FROM location_bindings' >/dev/null
platform_start_daemon redirect || die "redirectd did not restart"
platform_start_daemon ua || die "marshald did not restart"
r_pid=${_PLATFORM_PIDS[redirect]} u_pid=${_PLATFORM_PIDS[ua]}

# ---- 2. the same searches against ours ----------------------------------
log "vocal: $PEER_DIR/run.sh with TARGET=127.0.0.1:$UA_PORT"
(cd / && TARGET=127.0.0.1:$UA_PORT DOMAIN=$DOMAIN USER_PREFIX=user USER_START=$USER_START \
	N_USERS=$N_USERS PASSWORD=$PASSWORD SERVER_PIDS="$u_pid $r_pid" DB_PIDS=$PG_PID \
	SUMMARY_FILE=$out/vocal.txt KEEP_TMP=${KEEP_TMP:-0} "$PEER_DIR/run.sh") >"$out/vocal.log" 2>&1 || {
	tail -20 "$out/vocal.log" >&2
	log "the run against vocal failed (log: $out/vocal.log)"
}
for n in redirect ua; do cp "$(platform_log "$n")" "$out/$n.log"; done

# ---- 4. the table ---------------------------------------------------------
{
	printf '%s=%q\n' elapsed $(($(date +%s) - t_start)) mem_bindings "$MEM_BINDINGS" mem_rate "$MEM_RATE" \
		n_users "$N_USERS" per_user "$per_user" version "$(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
		k_pss0 "$k_pss0" k_pss1 "$k_pss1" k_shm0 "$k_shm0" k_shm1 "$k_shm1" k_contacts "$k_contacts" k_reg "$k_reg" \
		r_pss0 "$r_pss0" r_pss1 "$r_pss1" u_pss0 "$u_pss0" u_pss1 "$u_pss1" r_pss6 "$r_pss6" u_pss6 "$u_pss6" v_rows "$v_rows" v_reg "$v_reg"
} >"$out/mem.env"
bash tests/bench/race_report.sh "$out" | tee "$root/build/bench/race.txt"
