#!/usr/bin/env bash
# README command one: `make run` on this machine starts the private
# PostgreSQL, applies the schema, seeds the demo subscribers (HA1s only),
# starts redirectd, featured and the two marshals, and prints what runs
# (the demo's features too); a demo
# subscriber registers with the printed password; a second run is
# harmless; `make stop` stops it all. Run in a private VOCAL_VAR on free
# ports, so a developer's own var/ and a running platform are untouched.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
harness_init

export VOCAL_VAR=$HARNESS_DIR/var
VOCAL_PG_PORT=$(harness_free_port tcp)
VOCAL_UA_PORT=$(harness_free_port both)
VOCAL_GW_PORT=$(harness_free_port udp)
VOCAL_REDIRECT_PORT=$(harness_free_port both)
VOCAL_PROVD_PORT=$(harness_free_port tcp)
VOCAL_FEATURE_PORT=$(harness_free_port udp)
export VOCAL_PG_PORT VOCAL_UA_PORT VOCAL_GW_PORT VOCAL_REDIRECT_PORT VOCAL_PROVD_PORT VOCAL_FEATURE_PORT
harness_on_exit make --no-print-directory stop

out=$(make --no-print-directory run 2>&1) || fail "make run failed: $out"
COUNT=$(find provisioning/sql -name '[0-9]*.sql' | wc -l)
LATEST=$(find provisioning/sql -name '[0-9]*.sql' -printf '%f\n' | sed 's/_.*//' | sort -n | tail -1 | sed 's/^0*//')
assert_contains "$out" "schema version $LATEST ($COUNT applied now)" "first run applies the schema"
assert_contains "$out" "sip:127.0.0.1:$VOCAL_UA_PORT (udp, tcp)" "the user-agent marshal's address printed"
for name in provd redirect feature ua gw; do
    pid=$(cat "$VOCAL_VAR/run/$name.pid" 2>/dev/null) || fail "no pid file for $name"
    harness_pid_alive "$pid" || fail "$name is not running"
done
ok "provd, redirectd, featured and both marshals run"
assert_contains "$out" "sip:127.0.0.1:$VOCAL_FEATURE_PORT (udp)" "featured's address printed"
assert_contains "$out" "sip:1001@vocal.test voicemail" "the demo's voicemail feature printed"
assert_contains "$out" "sip:1002@vocal.test call_screening" "the demo's screening feature printed"
assert_contains "$(cat "$VOCAL_VAR/log/feature.log")" "features loaded: 2 subscribers" "featured loaded the demo's features"
assert_contains "$out" "http://127.0.0.1:$VOCAL_PROVD_PORT/api/v1" "the API's address printed"
assert_contains "$out" "web GUI  http://127.0.0.1:$VOCAL_PROVD_PORT/" "the GUI's address printed"
assert_contains "$(curl -s "http://127.0.0.1:$VOCAL_PROVD_PORT/")" '<script type="module" src="/js/app.js">' \
    "provd serves the GUI from web/ (web.root found next to bin/provd)"
token=$(cat "$VOCAL_VAR/api-token")
assert_eq 600 "$(stat -c %a "$VOCAL_VAR/api-token")" "the API token readable by root only"
assert_contains "$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$VOCAL_PROVD_PORT/api/v1/subscribers")" \
    '"user_part"' "the API answers with the printed token and lists the demo subscribers"
secret=$(cat "$VOCAL_VAR/feature-secret")
[[ $secret =~ ^[0-9a-f]{64}$ ]] || fail "var/feature-secret is not 64 hex digits"
assert_eq 600 "$(stat -c %a "$VOCAL_VAR/feature-secret")" "the feature secret readable by root only"
assert_eq "features.secret = \"$secret\"" "$(bin/redirectd -v -f "$VOCAL_VAR/etc/redirect.conf" | grep '^features.secret')" \
    "redirectd's config has the generated feature secret"
assert_eq 600 "$(stat -c %a "$VOCAL_VAR/etc/redirect.conf")" "redirect.conf (it holds the secret) readable by root only"
first_redirect_pid=$(cat "$VOCAL_VAR/run/redirect.pid")
assert_contains "$out" "sip:1000@vocal.test  password " "demo subscriber printed"
pw=$(awk '$1 == 1000 { print $2 }' "$VOCAL_VAR/demo-subscribers.txt")
[ -n "$pw" ] || fail "no demo password kept"
assert_eq 600 "$(stat -c %a "$VOCAL_VAR/demo-subscribers.txt")" "demo passwords readable by root only"
# the carrier administrator's web login, and the demo subscribers'
admin_pw=$(cat "$VOCAL_VAR/admin-password")
[ "${#admin_pw}" -ge 10 ] || fail "administrator's password too short: $admin_pw"
assert_eq 600 "$(stat -c %a "$VOCAL_VAR/admin-password")" "the administrator's password readable by root only"
assert_contains "$out" "admin  password $admin_pw" "the administrator's login and password printed"
read -r web_login web_pw <"$VOCAL_VAR/demo-web-logins.txt"
assert_contains "$out" "$web_login  password $web_pw" "a demo subscriber's web login printed"
assert_eq 600 "$(stat -c %a "$VOCAL_VAR/demo-web-logins.txt")" "demo web passwords readable by root only"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "{\"login\": \"admin\", \"password\": \"$admin_pw\"}" "http://127.0.0.1:$VOCAL_PROVD_PORT/api/v1/session")
assert_eq 200 "$code" "the printed administrator's password logs in"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "{\"login\": \"$web_login\", \"password\": \"$web_pw\"}" "http://127.0.0.1:$VOCAL_PROVD_PORT/api/v1/session")
assert_eq 200 "$code" "the printed subscriber's web password logs in"

# a redirect.conf from before feature routing: the second run adds the secret
sed -i '/^\[features\]/,$d' "$VOCAL_VAR/etc/redirect.conf"
out2=$(make --no-print-directory run 2>&1) || fail "second make run failed: $out2"
assert_eq "features.secret = \"$secret\"" "$(bin/redirectd -v -f "$VOCAL_VAR/etc/redirect.conf" | grep '^features.secret')" \
    "a redirect.conf without the feature secret gets it on the next run"
assert_eq "$secret" "$(cat "$VOCAL_VAR/feature-secret")" "the feature secret is made once"
assert_contains "$out2" "schema version $LATEST (0 applied now)" "second run applies nothing"
[[ "$(cat "$VOCAL_VAR/run/redirect.pid")" != "$first_redirect_pid" ]] || fail "daemons not restarted"
harness_pid_alive "$first_redirect_pid" && fail "the first redirectd still runs"
ok "second run restarted the daemons on the new build, once each"
assert_contains "$out2" "sip:1000@vocal.test  password $pw" "second run shows the same password"
assert_contains "$out2" "admin  password $admin_pw" "second run shows the same administrator's password"

q() { PGPASSWORD=vocal psql -X -At -h 127.0.0.1 -p "$VOCAL_PG_PORT" -U vocal -d vocal -c "$1"; }
assert_eq "5|0" "$(q "select count(*), count(*) filter (where password_hash not like '\$argon2id\$%') from accounts")" \
    "an administrator and four subscribers' web logins, Argon2id hashes only"
assert_eq 4 "$(q "select count(*) from subscribers s join domains d on d.id = s.domain_id where d.name = 'vocal.test'")" "four demo subscribers"
want=$(printf '1000:vocal.test:%s' "$pw" | openssl dgst -md5 -r | cut -d' ' -f1)
assert_eq "$want" "$(q "select ha1_md5 from subscribers where user_part = '1000'")" "MD5 HA1 of the printed password"
assert_eq 64 "$(q "select length(ha1_sha512_256) from subscribers where user_part = '1000'")" "SHA-512-256 HA1 stored"
[ -z "$(q "select 1 from information_schema.columns where table_schema = 'public' and column_name ilike '%password%'
    and (table_name, column_name) <> ('accounts', 'password_hash')")" ] ||
    fail "a password column exists"
ok "no password column anywhere (web accounts keep Argon2id hashes only)"

# a demo subscriber registers with the printed password
. tests/harness/sipp.sh
C=$(harness_free_port both)
reg=$(sipp_template tests/integration/sipp/platform/register.xml.in USER=1000 "PASSWORD=$pw" \
    "CONTACT=127.0.0.1:$C" EXPIRES=60 EXPECT=200)
sipp_run demo-reg "$reg" "127.0.0.1:$VOCAL_UA_PORT" x
assert_eq 1 "$(q "select count(*) from location_bindings")" "the demo subscriber registered through make run's platform"

make --no-print-directory stop >/dev/null
for name in provd redirect feature ua gw; do
    [[ ! -e "$VOCAL_VAR/run/$name.pid" ]] || fail "$name pid file left"
done
ok "make stop stopped the daemons"
if PGPASSWORD=vocal psql -X -h 127.0.0.1 -p "$VOCAL_PG_PORT" -U vocal -d vocal -c 'select 1' >/dev/null 2>&1; then
    fail "PostgreSQL still answers after make stop"
fi
ok "make stop stopped it"
