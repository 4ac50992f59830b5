#!/usr/bin/env bash
# provd's web accounts (provisioning/session.c, auth.c) against the harness
# PostgreSQL: provd --create-admin, logins (right, wrong, unknown, locked,
# throttled per address), the session cookie's attributes, CSRF and Origin
# checks, idle and absolute expiry, logout, what a subscriber's session may
# and may not do (another subscriber's rows are 404, the carrier's 403),
# accounts managed by an administrator, the audit log, and Argon2id hashes
# in the database.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../harness/provd.sh
. "$HERE/../harness/provd.sh"

# the per-address block has its own provd below; here it stays out of the way
provd_setup "login.address_failures = 1000"

# --- provd --create-admin: the password from standard input, stored hashed ---
ADMIN_PW="admin-pw-$RANDOM-$RANDOM"
out="$(printf '%s\n' "$ADMIN_PW" | "$PROVD" -f "$CONF" --create-admin Admin 2>&1)" || fail "--create-admin: $out"
assert_contains "$out" "account Admin: password set" "provd --create-admin creates the account"
out="$(printf 'short\n' | "$PROVD" -f "$CONF" --create-admin other 2>&1)" && fail "--create-admin took a short password"
assert_contains "$out" "at least 10 characters" "provd --create-admin: the password policy"
assert_eq 1 "$(app_sql -c "SELECT count(*) FROM accounts WHERE role = 'admin'")" "one administrator"
rc=0; out="$("$PROVD" -f "$CONF" --create-login x 2>&1)" || rc=$?
assert_eq 1 "$rc" "--create-login without --subscriber: usage"

provd_start "$CONF" "$HARNESS_DIR/provd.log"
up() { curl -s -o /dev/null "$BASE/api/v1/openapi.json"; }

# login JAR LOGIN PASSWORD: a fresh cookie jar; CSRF gets the token
login() {
    rm -f "$HARNESS_DIR/$1.jar"
    provd_req "$1" POST /api/v1/session "$(jq -cn --arg l "$2" --arg p "$3" '{login: $l, password: $p}')"
    CSRF="$(jq -r '.csrf_token // empty' <<<"$BODY")"
}
cookie_of() { awk '$6 == "vocal_session" { print $7 }' "$HARNESS_DIR/$1.jar"; }

# --- the carrier's data, by the token ---
provd_req - POST /api/v1/domains '{"name": "auth.example"}'
D1="$(jf .id)"
provd_req - POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"2000\", \"display_name\": \"Alice\"}"
S1="$(jf .id)"
provd_req - POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"2001\", \"display_name\": \"Bob\"}"
S2="$(jf .id)"
[[ -n "$S1" && -n "$S2" && "$S1" != null ]] || fail "could not create the subscribers: $BODY"

# --- no credentials ---
provd_req "" GET /api/v1/session
expect_problem 401 "GET /session without a cookie"
provd_req "" GET /api/v1/domains
expect_problem 401 "a route without credentials"
provd_req "" GET /api/v1/accounts
expect_problem 401 "accounts without credentials"
provd_req "" GET "/api/v1/subscribers/$S1" "" "Cookie: vocal_session=$(printf '%064d' 0)"
expect_problem 401 "a cookie naming no session"

# --- logging in as the administrator ---
login admin admin "$ADMIN_PW"
assert_eq 200 "$CODE" "the administrator logs in (the login is case-insensitive)"
assert_eq "Admin" "$(jf .account.login)" "the session names the account"
assert_eq "admin" "$(jf .account.role)" "role admin"
assert_eq null "$(jf .account.subscriber_id)" "an administrator has no subscriber"
[[ "$CSRF" =~ ^[0-9a-f]{64}$ ]] || fail "csrf_token: $CSRF"
ok "a CSRF token of 256 bits"
ADMIN_CSRF="$CSRF"
SC="$(header Set-Cookie)"
[[ "$SC" =~ ^vocal_session=[0-9a-f]{64}\;\ Path=/\;\ HttpOnly\;\ SameSite=Strict$ ]] || fail "Set-Cookie: $SC"
ok "Set-Cookie: vocal_session, Path=/, HttpOnly, SameSite=Strict (no Secure without TLS)"
SID="$(cookie_of admin)"
assert_eq 1 "$(app_sql -c "SELECT count(*) FROM sessions WHERE id_sha256 = encode(sha256('$SID'::bytea), 'hex')")" \
    "the database holds the session id's SHA-256..."
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM sessions WHERE id_sha256 = '$SID' OR csrf_token = '$SID'")" "...not the id"
provd_req admin GET /api/v1/session
assert_eq 200 "$CODE" "GET /session with the cookie"
assert_eq "$ADMIN_CSRF" "$(jf .csrf_token)" "GET /session: the same CSRF token"
provd_req admin GET /api/v1/domains
assert_eq 200 "$CODE" "an administrator's session reads domains"
provd_req - GET /api/v1/session
expect_problem 401 "the token has no session"

# --- CSRF and Origin ---
provd_req admin POST /api/v1/domains '{"name": "csrf.example"}'
expect_problem 403 "a cookie POST without X-CSRF-Token" "send X-CSRF-Token with the csrf_token of the session"
# the right token with its last digit changed
[[ "${ADMIN_CSRF: -1}" == 0 ]] && WRONG_CSRF="${ADMIN_CSRF%?}1" || WRONG_CSRF="${ADMIN_CSRF%?}0"
provd_req admin POST /api/v1/domains '{"name": "csrf.example"}' "X-CSRF-Token: $WRONG_CSRF"
expect_problem 403 "a cookie POST with a wrong X-CSRF-Token" "send X-CSRF-Token with the csrf_token of the session"
provd_req admin POST /api/v1/domains '{"name": "csrf.example"}' "X-CSRF-Token: x"
expect_problem 403 "a cookie POST with a short X-CSRF-Token"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM domains WHERE name = 'csrf.example'")" "refused changes change nothing"
provd_req admin POST /api/v1/domains '{"name": "csrf.example"}' "X-CSRF-Token: $ADMIN_CSRF" "Origin: http://evil.example"
expect_problem 403 "the right token from another Origin" "Origin"
provd_req admin POST /api/v1/domains '{"name": "csrf.example"}' "X-CSRF-Token: $ADMIN_CSRF" "Origin: null"
expect_problem 403 "Origin null"
provd_req admin POST /api/v1/domains '{"name": "csrf.example"}' "X-CSRF-Token: $ADMIN_CSRF" "Origin: http://127.0.0.1:$PORT"
assert_eq 201 "$CODE" "the right token from provd's own Origin: 201"
D2="$(jf .id)"
provd_req admin DELETE "/api/v1/domains/$D2" "" "If-Match: *"
expect_problem 403 "a cookie DELETE without X-CSRF-Token"
provd_req admin DELETE "/api/v1/domains/$D2" "" "If-Match: *" "X-CSRF-Token: $ADMIN_CSRF"
assert_eq 204 "$CODE" "a cookie DELETE with X-CSRF-Token: 204"
provd_req - POST /api/v1/domains '{"name": "token.example"}' "Origin: http://evil.example"
assert_eq 201 "$CODE" "the bearer token needs no CSRF token (scripts)"

# --- accounts, by an administrator ---
ALICE_PW="alice-web-$RANDOM$RANDOM"
provd_req admin POST /api/v1/accounts "{\"login\": \"alice\", \"password\": \"$ALICE_PW\", \"role\": \"subscriber\", \"subscriber_id\": $S1}" \
    "X-CSRF-Token: $ADMIN_CSRF"
assert_eq 201 "$CODE" "an administrator creates a subscriber's login"
ALICE="$(jf .id)"
assert_eq "/api/v1/accounts/$ALICE" "$(header Location)" "create: Location"
assert_eq "null" "$(jf '.password // .password_hash // null')" "no password nor hash in the answer"
provd_req - POST /api/v1/accounts "{\"login\": \"ALICE\", \"password\": \"0123456789\", \"role\": \"admin\"}"
expect_problem 409 "a login that differs only in case" "already exists"
provd_req - POST /api/v1/accounts '{"login": "carol", "password": "012345678", "role": "admin"}'
expect_problem 422 "a password of 9 characters" "at least 10 characters"
provd_req - POST /api/v1/accounts "{\"login\": \"carol\", \"password\": \"$(head -c 1025 /dev/zero | tr '\0' x)\", \"role\": \"admin\"}"
expect_problem 422 "a password of 1025 bytes" "at most 1024 bytes"
provd_req - POST /api/v1/accounts '{"login": "carol", "password": "0123456789", "role": "subscriber"}'
expect_problem 422 "role subscriber without subscriber_id" "subscriber_id"
provd_req - POST /api/v1/accounts "{\"login\": \"carol\", \"password\": \"0123456789\", \"role\": \"admin\", \"subscriber_id\": $S1}"
expect_problem 422 "an administrator with a subscriber_id" "subscriber_id"
provd_req - POST /api/v1/accounts '{"login": "carol", "password": "0123456789", "role": "root"}'
expect_problem 422 "an unknown role" "role"
provd_req - POST /api/v1/accounts '{"login": "a b", "password": "0123456789", "role": "admin"}'
expect_problem 422 "a login with a blank" "login"
provd_req - POST /api/v1/accounts '{"login": "carol", "password": "0123456789", "role": "subscriber", "subscriber_id": 999999}'
expect_problem 422 "a subscriber that does not exist"
BOB_PW="bob-web-pass-$RANDOM"
provd_req - POST /api/v1/accounts "{\"login\": \"bob\", \"password\": \"$BOB_PW\", \"role\": \"subscriber\", \"subscriber_id\": $S2}"
assert_eq 201 "$CODE" "the token creates a login too"
BOB="$(jf .id)"
provd_req - GET "/api/v1/accounts?subscriber=$S2"
assert_eq "bob" "$(jf '.items[0].login')" "accounts filtered by subscriber"
assert_eq 1 "$(jf '.items | length')" "one login for that subscriber"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM accounts WHERE password_hash NOT LIKE '\$argon2id\$v=19\$%'")" \
    "every password hash in the database is \$argon2id\$"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM audit_log WHERE summary::text LIKE '%$ALICE_PW%' OR summary::text LIKE '%$ADMIN_PW%'")" \
    "no password in the audit log"

# --- wrong password, unknown login: the same answer, similar time ---
login x alice "wrong-password-1"
expect_problem 401 "a wrong password" "wrong login or password"
WRONG_BODY="$BODY"; WRONG_T="$TIME"
login x nobody-here "wrong-password-1"
expect_problem 401 "an unknown login"
assert_eq "$WRONG_BODY" "$BODY" "an unknown login: the same problem as a wrong password"
awk -v a="$WRONG_T" -v b="$TIME" 'BEGIN { exit !(b > a / 4 && a > b / 4) }' ||
    fail "an unknown login took ${TIME}s, a wrong password ${WRONG_T}s"
ok "an unknown login takes about as long as a wrong password (${TIME}s, ${WRONG_T}s)"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "login failed: wrong password for alice (from 127.0.0.1)" "a failure is logged with the address"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "login failed: no account nobody-here (from 127.0.0.1)" "an unknown login is logged"
provd_req "" POST /api/v1/session '{"login": "alice"}'
expect_problem 422 "a login without a password" "password: required"
provd_req "" POST /api/v1/session '{"login": "alice", "password": "x", "remember": true}'
expect_problem 422 "an unknown member of a login"
provd_req "" POST /api/v1/session '{"login": '
expect_problem 400 "malformed JSON login"
provd_req "" POST /api/v1/session '{"login": "alice", "password": "x"}' "Origin: http://evil.example"
expect_problem 403 "a login from another Origin"

# --- a subscriber's session ---
login alice alice "$ALICE_PW"
assert_eq 200 "$CODE" "a subscriber logs in"
assert_eq subscriber "$(jf .account.role)" "role subscriber"
assert_eq "$S1" "$(jf .account.subscriber_id)" "the session names the subscriber"
AC="$CSRF"
provd_req alice GET "/api/v1/subscribers/$S1"
assert_eq 200 "$CODE" "a subscriber reads their own subscriber"
ETAG="$(header ETag)"
provd_req alice GET "/api/v1/subscribers/$S2"
expect_problem 404 "a subscriber reads another subscriber: 404" "no subscriber with id $S2"
NOT_OURS="$BODY"
provd_req alice GET "/api/v1/subscribers/999999"
assert_eq 404 "$CODE" "a subscriber reads a missing subscriber: 404"
assert_eq "${NOT_OURS//$S2/X}" "${BODY//999999/X}" "another's and a missing subscriber look the same"
provd_req alice PATCH "/api/v1/subscribers/$S2" '{"display_name": "Mallory"}' "If-Match: *" "X-CSRF-Token: $AC"
expect_problem 404 "a subscriber changes another subscriber: 404"
provd_req alice PUT "/api/v1/subscribers/$S2/password" '{"password": "sip-secret"}' "X-CSRF-Token: $AC"
expect_problem 404 "a subscriber sets another's SIP password: 404"
provd_req alice GET "/api/v1/subscribers/$S2/registrations"
expect_problem 404 "a subscriber reads another's registrations: 404"
assert_eq "Bob" "$(app_sql -c "SELECT display_name FROM subscribers WHERE id = $S2")" "another subscriber unchanged"
provd_req alice PATCH "/api/v1/subscribers/$S1" '{"display_name": "Alice Liddell"}' "If-Match: $ETAG"
expect_problem 403 "a subscriber's PATCH without X-CSRF-Token" "CSRF"
provd_req alice PATCH "/api/v1/subscribers/$S1" '{"display_name": "Alice Liddell"}' "If-Match: $ETAG" "X-CSRF-Token: $AC"
assert_eq 200 "$CODE" "a subscriber changes their own display name"
assert_eq "Alice Liddell" "$(app_sql -c "SELECT display_name FROM subscribers WHERE id = $S1")" "...stored"
provd_req alice PATCH "/api/v1/subscribers/$S1" '{"enabled": false}' "If-Match: *" "X-CSRF-Token: $AC"
expect_problem 403 "a subscriber enables or disables themselves" "only display_name"
provd_req alice PATCH "/api/v1/subscribers/$S1" '{"display_name": "A", "auth_kind": "none"}' "If-Match: *" "X-CSRF-Token: $AC"
expect_problem 403 "a subscriber changes auth_kind"
assert_eq "digest|t" "$(app_sql -c "SELECT auth_kind, enabled FROM subscribers WHERE id = $S1")" "...unchanged"
provd_req alice PUT "/api/v1/subscribers/$S1/password" '{"password": "new-sip-secret"}' "X-CSRF-Token: $AC"
assert_eq 204 "$CODE" "a subscriber sets their own SIP password"
want="$(printf '2000:auth.example:new-sip-secret' | md5sum | cut -c1-32)"
assert_eq "$want" "$(app_sql -c "SELECT ha1_md5 FROM subscribers WHERE id = $S1")" "...stored as its HA1"
for p in aliases dids registrations; do
    provd_req alice GET "/api/v1/subscribers/$S1/$p"
    assert_eq 200 "$CODE" "a subscriber reads their own $p"
done
B1="$(app_sql -c "INSERT INTO location_bindings (subscriber_id, contact, expires, expires_at, call_id, cseq)
    VALUES ($S1, 'sip:2000@192.0.2.1', 3600, now() + interval '1 hour', 'c1', 1) RETURNING id")"
B2="$(app_sql -c "INSERT INTO location_bindings (subscriber_id, contact, expires, expires_at, call_id, cseq)
    VALUES ($S2, 'sip:2001@192.0.2.2', 3600, now() + interval '1 hour', 'c2', 1) RETURNING id")"
provd_req alice DELETE "/api/v1/subscribers/$S2/registrations/$B2" "" "X-CSRF-Token: $AC"
expect_problem 404 "a subscriber deletes another's binding: 404"
provd_req alice DELETE "/api/v1/subscribers/$S1/registrations/$B2" "" "X-CSRF-Token: $AC"
expect_problem 404 "a subscriber deletes another's binding under their own id: 404"
provd_req alice DELETE "/api/v1/subscribers/$S1/registrations/$B1" "" "X-CSRF-Token: $AC"
assert_eq 204 "$CODE" "a subscriber deletes their own binding"
assert_eq "$B2" "$(app_sql -c "SELECT string_agg(id::text, ' ') FROM location_bindings")" "only that binding is gone"
for r in "GET /api/v1/domains" "GET /api/v1/subscribers" "GET /api/v1/accounts" "GET /api/v1/audit" \
    "GET /api/v1/server-groups" "GET /api/v1/dial-plans" "GET /api/v1/accounts/$ALICE" \
    "POST /api/v1/domains" "POST /api/v1/subscribers" "DELETE /api/v1/subscribers/$S1" \
    "POST /api/v1/subscribers/$S1/aliases" "POST /api/v1/subscribers/$S1/dids" \
    "PUT /api/v1/accounts/$ALICE/password" "PATCH /api/v1/accounts/$ALICE"; do
    provd_req alice ${r% *} "${r#* }" '{}' "X-CSRF-Token: $AC" "If-Match: *"
    expect_problem 403 "a subscriber: $r"
done
assert_eq 2 "$(app_sql -c "SELECT count(*) FROM subscribers")" "a subscriber created nothing"

# --- one's own web password ---
provd_req alice PUT /api/v1/session/password "{\"current_password\": \"wrong-one-xx\", \"new_password\": \"0123456789a\"}" "X-CSRF-Token: $AC"
expect_problem 403 "a wrong current password" "current_password is wrong"
provd_req alice PUT /api/v1/session/password "{\"current_password\": \"$ALICE_PW\", \"new_password\": \"short\"}" "X-CSRF-Token: $AC"
expect_problem 422 "a new password of 5 characters" "at least 10 characters"
login alice2 alice "$ALICE_PW"
assert_eq 200 "$CODE" "a second session of the same account"
ALICE_PW2="alice-second-$RANDOM$RANDOM"
provd_req alice PUT /api/v1/session/password "{\"current_password\": \"$ALICE_PW\", \"new_password\": \"$ALICE_PW2\"}" "X-CSRF-Token: $AC"
assert_eq 204 "$CODE" "a subscriber changes their own web password"
provd_req alice GET /api/v1/session
assert_eq 200 "$CODE" "the session that changed it stays"
provd_req alice2 GET /api/v1/session
expect_problem 401 "the account's other sessions end"
login x alice "$ALICE_PW"
assert_eq 401 "$CODE" "the old password no longer works"
login alice2 alice "$ALICE_PW2"
assert_eq 200 "$CODE" "the new password works"

# --- logout ---
provd_req alice DELETE /api/v1/session
expect_problem 403 "logout without X-CSRF-Token"
SID="$(cookie_of alice)"
provd_req alice DELETE /api/v1/session "" "X-CSRF-Token: $AC"
assert_eq 204 "$CODE" "logout: 204"
assert_contains "$(header Set-Cookie)" "vocal_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" "logout clears the cookie"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM sessions WHERE id_sha256 = encode(sha256('$SID'::bytea), 'hex')")" "logout deletes the session"
provd_req "" GET /api/v1/session "" "Cookie: vocal_session=$SID"
expect_problem 401 "the old cookie after logout"
provd_req "" DELETE /api/v1/session
assert_eq 204 "$CODE" "logout without a session: 204 all the same"

# --- expiry: idle, and absolute ---
login exp alice "$ALICE_PW2"
SID="$(cookie_of exp)"
app_sql -c "UPDATE sessions SET last_seen_at = now() - interval '31 minutes' WHERE id_sha256 = encode(sha256('$SID'::bytea), 'hex')"
provd_req exp GET /api/v1/session
expect_problem 401 "a session idle longer than session.idle_timeout"
login exp alice "$ALICE_PW2"
SID="$(cookie_of exp)"
app_sql -c "UPDATE sessions SET last_seen_at = now() - interval '29 minutes' WHERE id_sha256 = encode(sha256('$SID'::bytea), 'hex')"
provd_req exp GET /api/v1/session
assert_eq 200 "$CODE" "a session idle less than session.idle_timeout lives..."
assert_eq t "$(app_sql -c "SELECT last_seen_at > now() - interval '1 minute' FROM sessions WHERE id_sha256 = encode(sha256('$SID'::bytea), 'hex')")" \
    "...and its use moves last_seen_at"
app_sql -c "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id_sha256 = encode(sha256('$SID'::bytea), 'hex')"
provd_req exp GET /api/v1/session
expect_problem 401 "a session past session.lifetime"

# --- disabling an account stops its sessions ---
login bob bob "$BOB_PW"
assert_eq 200 "$CODE" "bob logs in"
provd_req - GET "/api/v1/accounts/$BOB"
provd_req - PATCH "/api/v1/accounts/$BOB" '{"enabled": false}' "If-Match: $(header ETag)"
assert_eq 200 "$CODE" "an administrator disables an account"
assert_eq false "$(jf .enabled)" "...enabled false"
provd_req bob GET "/api/v1/subscribers/$S2"
expect_problem 401 "a disabled account's session no longer works"
login x bob "$BOB_PW"
expect_problem 401 "a disabled account cannot log in"
provd_req - PATCH "/api/v1/accounts/$BOB" '{"role": "admin"}' "If-Match: *"
expect_problem 422 "an account's role cannot change" "role: cannot change"
provd_req - PATCH "/api/v1/accounts/$BOB" '{"enabled": true}' "If-Match: *"
assert_eq 200 "$CODE" "enabled again"

# --- lockout: 5 failures of an account lock it (429), even for the right password ---
assert_eq 1 "$(app_sql -c "SELECT failed_logins FROM accounts WHERE id = $BOB")" "a disabled account's login counts as a failure"
app_sql -c "UPDATE accounts SET failed_logins = 0, first_failed_at = NULL WHERE id = $BOB"

# --- disabling the subscriber (not the account) stops its web logins too ---
login bob bob "$BOB_PW"
assert_eq 200 "$CODE" "bob logs in"
provd_req - PATCH "/api/v1/subscribers/$S2" '{"enabled": false}' "If-Match: *"
assert_eq 200 "$CODE" "an administrator disables bob's subscriber"
provd_req bob GET "/api/v1/subscribers/$S2"
expect_problem 401 "the session of a disabled subscriber's account no longer works"
login x bob "$BOB_PW"
expect_problem 401 "a disabled subscriber's account cannot log in" "wrong login or password"
provd_req - PATCH "/api/v1/subscribers/$S2" '{"enabled": true}' "If-Match: *"
assert_eq 200 "$CODE" "the subscriber enabled again"
login bob bob "$BOB_PW"
assert_eq 200 "$CODE" "...and bob logs in again"
app_sql -c "UPDATE accounts SET failed_logins = 0, first_failed_at = NULL WHERE id = $BOB"
for i in 1 2 3 4 5; do
    login x bob "bad-password-$i"
    assert_eq 401 "$CODE" "bob: wrong password $i: 401"
done
assert_eq t "$(app_sql -c "SELECT locked_until > now() FROM accounts WHERE id = $BOB")" "the fifth failure locks the account"
login x bob "$BOB_PW"
expect_problem 429 "the right password of a locked account" "try again in"
RA="$(header Retry-After)"
[[ "$RA" =~ ^[0-9]+$ && "$RA" -ge 1 && "$RA" -le 60 ]] || fail "Retry-After: $RA"
ok "a locked account: Retry-After ($RA s, within login.lock_time)"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "the account is locked now" "the lockout is logged"
provd_req - PUT "/api/v1/accounts/$BOB/password" "{\"password\": \"$BOB_PW\"}"
assert_eq 204 "$CODE" "an administrator sets the password again..."
login bob bob "$BOB_PW"
assert_eq 200 "$CODE" "...which unlocks the account"
assert_eq "0|0|" "$(app_sql -c "SELECT failed_logins, lockouts, locked_until FROM accounts WHERE id = $BOB")" \
    "a successful login clears the counters"
app_sql -c "UPDATE accounts SET lockouts = 3 WHERE id = $BOB"
for i in 1 2 3 4 5; do login x bob "bad-password-$i"; done
assert_eq t "$(app_sql -c "SELECT locked_until - now() > interval '7 minutes' FROM accounts WHERE id = $BOB")" \
    "each lockout lasts twice as long as the one before (the fourth: 8 minutes)"
# a login that is no account is throttled the same way
for i in 1 2 3 4 5; do login x ghost "bad-password-$i"; done
login x ghost "bad-password-6"
expect_problem 429 "a sixth failure of a login that is no account" "try again in"

# --- the audit log ---
provd_req - GET "/api/v1/audit?resource=domains"
assert_eq 200 "$CODE" "GET /audit"
assert_eq "admin|Admin|POST|/api/v1/domains|csrf.example" \
    "$(jq -r --arg a "$(app_sql -c "SELECT id FROM accounts WHERE login = 'Admin'")" \
        '[.items[] | select(.method == "POST" and .account_id == ($a | tonumber))][0] | "admin|\(.actor)|\(.method)|\(.path)|\(.summary.name)"' <<<"$BODY")" \
    "an administrator's create: who (account and login), what, the values"
assert_eq "token" "$(jf '[.items[] | select(.summary.name == "token.example")][0].actor')" "the token's changes name the token"
assert_eq 1 "$(jf "[.items[] | select(.method == \"DELETE\" and .resource_id == $D2)] | length")" "a delete is audited"
provd_req - GET "/api/v1/audit?resource=subscribers&resource_id=$S1"
assert_eq "alice" "$(jf '[.items[] | select(.method == "PATCH")][0].actor')" "a subscriber's own change names them"
assert_eq "Alice Liddell" "$(jf '[.items[] | select(.method == "PATCH")][0].summary.display_name')" "...with the values given"
assert_eq '{"password":"set"}' "$(jf '[.items[] | select(.method == "PUT")][0].summary' | jq -c .)" "a SIP password change: no password"
provd_req - GET "/api/v1/audit?resource=accounts&resource_id=$ALICE"
assert_eq "POST PUT" "$(jf '[.items[].method] | unique | join(" ")')" "accounts: the create and the password change audited"
assert_eq "null" "$(jf '[.items[] | select(.method == "POST")][0].summary.password')" "an account's create: no password in the summary"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM audit_log WHERE summary::text ~ '(alice-web|alice-second|new-sip-secret|bob-web)'")" \
    "no password anywhere in the audit log"
provd_req - GET "/api/v1/audit?resource=Robert');DROP"
expect_problem 400 "a bad resource filter"
n_before="$(app_sql -c "SELECT count(*) FROM audit_log")"
provd_req - POST /api/v1/domains '{"name": "auth.example"}'
assert_eq 409 "$CODE" "a refused change..."
assert_eq "$n_before" "$(app_sql -c "SELECT count(*) FROM audit_log")" "...writes no audit entry"
provd_req - GET "/api/v1/audit?limit=2"
assert_eq 2 "$(jf '.items | length')" "audit: keyset paging (limit)"
NEXT="$(jf .next)"
provd_req - GET "/api/v1/audit?limit=2&after=$NEXT"
[[ "$(jf '.items[0].id')" -gt "$NEXT" ]] || fail "audit: after"
ok "audit: keyset paging (after)"

# --- deleting a subscriber deletes its login ---
provd_req - DELETE "/api/v1/subscribers/$S2" "" "If-Match: *"
assert_eq 204 "$CODE" "delete a subscriber"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM accounts WHERE id = $BOB")" "its web login goes with it"
provd_req bob GET /api/v1/session
expect_problem 401 "and its sessions"

# --- named API tokens for scripts: made once, stored hashed, named in the audit log, revoked ---
login tadm admin "$ADMIN_PW"
TCSRF="$CSRF"
provd_req tadm POST /api/v1/tokens '{"name": "billing-sync", "valid_days": 30}' "X-CSRF-Token: $TCSRF"
assert_eq 201 "$CODE" "an administrator makes an API token"
T1="$(jf .token)"; T1ID="$(jf .id)"; T1TAG="$(header ETag)"
[[ "$T1" =~ ^vocal_[0-9a-f]{64}$ ]] || fail "the token: $T1"
ok "the token is vocal_ and 256 random bits in hex"
assert_eq "billing-sync Admin true" "$(jf '"\(.name) \(.created_by_login) \(.enabled)"')" "name, maker, enabled"
assert_eq "/api/v1/tokens/$T1ID" "$(header Location)" "Location names it"
assert_eq t "$(app_sql -c "SELECT expires_at BETWEEN now() + interval '29 days' AND now() + interval '31 days' FROM api_tokens WHERE id = $T1ID")" "valid_days: expires in 30 days"
assert_eq "$(printf '%s' "$T1" | sha256sum | cut -d' ' -f1)" "$(app_sql -c "SELECT token_sha256 FROM api_tokens WHERE id = $T1ID")" "only the token's SHA-256 is stored"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM api_tokens t, audit_log a WHERE position('$T1' IN t::text) > 0 OR position('$T1' IN a::text) > 0")" "the token is nowhere in the database"
provd_req tadm GET "/api/v1/tokens/$T1ID"
assert_eq "200 null" "$CODE $(jf .token)" "reading a token never shows it again"
tok() { # TOKEN METHOD PATH [BODY]: as a script with that token
    local t="$1"; shift
    local saved="$TOKEN"; TOKEN="$t"; provd_req - "$@"; TOKEN="$saved"
}
tok "$T1" GET "/api/v1/subscribers/$S1"
assert_eq 200 "$CODE" "a script reads with the named token"
tok "$T1" POST /api/v1/domains '{"name": "token-made.example"}'
assert_eq 201 "$CODE" "...and writes, with no CSRF token (not a browser)"
TD="$(jf .id)"
assert_eq "token:billing-sync " "$(app_sql -c "SELECT actor || ' ' || coalesce(account_id::text, '') FROM audit_log WHERE resource = 'domains' AND resource_id = $TD")" \
    "the audit log names the token"
provd_req - DELETE "/api/v1/domains/$TD" "" "If-Match: *"
assert_eq "token" "$(app_sql -c "SELECT actor FROM audit_log WHERE resource = 'domains' AND resource_id = $TD AND method = 'DELETE'")" \
    "the configured token is still 'token'"
assert_eq t "$(app_sql -c "SELECT last_used_at > now() - interval '1 minute' FROM api_tokens WHERE id = $T1ID")" "last_used_at moves"
provd_req tadm GET "/api/v1/tokens/$T1ID"
assert_eq "$T1TAG" "$(header ETag)" "...and using the token leaves its ETag"
tok "vocal_$(printf '%064d' 0)" GET "/api/v1/subscribers/$S1"
expect_problem 401 "a token that was never made"
provd_req tadm POST /api/v1/tokens '{"name": "Billing-Sync"}' "X-CSRF-Token: $TCSRF"
expect_problem 409 "a second token of the same name (case-insensitively)"
provd_req tadm POST /api/v1/tokens '{"name": "-x"}' "X-CSRF-Token: $TCSRF"
expect_problem 422 "a token name that is no name" "name:"
provd_req tadm POST /api/v1/tokens '{"name": "x", "token": "vocal_mine"}' "X-CSRF-Token: $TCSRF"
expect_problem 422 "a token cannot be chosen" "token:"
provd_req tadm POST /api/v1/tokens '{"name": "x", "valid_days": 0}' "X-CSRF-Token: $TCSRF"
expect_problem 422 "valid_days 0" "valid_days:"
provd_req tadm POST /api/v1/tokens '{"name": "nocsrf"}'
expect_problem 403 "a session makes no token without its CSRF token"
login tsub alice "$ALICE_PW2"
provd_req tsub POST /api/v1/tokens '{"name": "mine"}' "X-CSRF-Token: $CSRF"
expect_problem 403 "a subscriber makes no token"
provd_req tsub GET /api/v1/tokens
expect_problem 403 "a subscriber lists no tokens"
tok "$T1" POST /api/v1/tokens '{"name": "made-by-a-token"}'
assert_eq "201 token:billing-sync null" "$CODE $(jf .created_by_login) $(jf .created_by)" "a token may make a token (it acts as an administrator)"
T2="$(jf .token)"; T2ID="$(jf .id)"
provd_req tadm GET /api/v1/tokens
assert_eq "$T1ID $T2ID" "$(jf '[.items[].id] | join(" ")')" "the list"
assert_eq 0 "$(jf '[.items[] | select(has("token") or has("token_sha256"))] | length')" "...shows no token or hash"
# revocation: disabled, expired, deleted
provd_req tadm PATCH "/api/v1/tokens/$T1ID" '{"enabled": false}' "If-Match: $T1TAG" "X-CSRF-Token: $TCSRF"
assert_eq "200 false" "$CODE $(jf .enabled)" "a token disabled (If-Match)"
tok "$T1" GET "/api/v1/subscribers/$S1"
expect_problem 401 "a disabled token is refused at once"
provd_req tadm PATCH "/api/v1/tokens/$T1ID" '{"name": "renamed"}' "If-Match: *" "X-CSRF-Token: $TCSRF"
expect_problem 422 "a token's name cannot change" "name: cannot change"
app_sql -c "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $T2ID"
tok "$T2" GET "/api/v1/subscribers/$S1"
expect_problem 401 "an expired token"
app_sql -c "UPDATE api_tokens SET expires_at = NULL WHERE id = $T2ID"
tok "$T2" GET "/api/v1/subscribers/$S1"
assert_eq 200 "$CODE" "(not expired again)"
provd_req tadm DELETE "/api/v1/tokens/$T2ID" "" "If-Match: *" "X-CSRF-Token: $TCSRF"
assert_eq 204 "$CODE" "a token deleted"
tok "$T2" GET "/api/v1/subscribers/$S1"
expect_problem 401 "a deleted token"

# --- per address: a second provd that blocks after 3 failures, Secure cookies ---
PORT2=$(harness_free_port tcp)
sed -e "s/^listen = .*/listen = 127.0.0.1:$PORT2/" -e 's/^login.address_failures = .*/login.address_failures = 3/' "$CONF" >"$HARNESS_DIR/provd2.conf"
echo "session.cookie_secure = yes" >>"$HARNESS_DIR/provd2.conf"
FIRST_PID=$PROVD_PID
provd_start "$HARNESS_DIR/provd2.conf" "$HARNESS_DIR/provd2.log"
PID2=$PROVD_PID
PROVD_PID=$FIRST_PID
login sec alice "$ALICE_PW2"
assert_eq 200 "$CODE" "the second provd shares the accounts"
assert_contains "$(header Set-Cookie)" "SameSite=Strict; Secure" "session.cookie_secure: Secure"
for i in 1 2 3; do login x "someone$i" "bad-password"; done
login x alice "$ALICE_PW2"
expect_problem 429 "the right password from an address with 3 failures" "from this address"
[[ "$(header Retry-After)" =~ ^[0-9]+$ ]] || fail "no Retry-After"
ok "a blocked address: Retry-After"
BASE="http://127.0.0.1:$PORT"
login x alice "$ALICE_PW2"
assert_eq 200 "$CODE" "the first provd's count is its own"

# --- ends cleanly ---
kill -TERM "$PID2"
kill -TERM "$PROVD_PID"
rc=0; wait "$PROVD_PID" || rc=$?
assert_eq 0 "$rc" "provd exits 0 on SIGTERM"
