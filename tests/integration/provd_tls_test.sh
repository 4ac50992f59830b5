#!/usr/bin/env bash
# provd over HTTPS (tls.cert, tls.key; provisioning/tls.c, http.c) with a
# test CA made by openssl: provd -n checks the pair; a key that is not the
# certificate's, a key others may read, an expired certificate and half a
# pair refuse start, saying why; the API, the bearer token and a login over
# https (the cookie Secure, Strict-Transport-Security, the Origin check
# with https://); plain HTTP on the port and TLS 1.0/1.1 refused, 1.2 and
# 1.3 served (only 1.3 with tls.min_version = 1.3); SIGHUP serves a renewed
# certificate (its serial, seen by openssl s_client) and keeps the old one
# when the new pair is bad.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/../harness/provd.sh
. "$HERE/../harness/provd.sh"

# web.root: the GUI for an ASan build too (build/asan/bin has no web/ beside)
provd_setup "web.root = \"$ROOT/web\""
provd_tls_certs
provd_tls_cert_for server 0x1001 365
provd_tls_cert_for other 0x1002 365
provd_tls_cert_for soon 0x1003 10
provd_tls_cert_for expired 0x1004 -1
T="$PROVD_TLS"
PLAIN_CONF="$CONF"
CONF="$HARNESS_DIR/provd-tls.conf"
# conf_with CERT KEY [LINE...]: the test configuration with that pair
conf_with() {
    local cert="$1" key="$2"
    shift 2
    cat "$PLAIN_CONF"
    echo "tls.cert = \"$cert\""
    echo "tls.key = \"$key\""
    local line
    for line in "$@"; do echo "$line"; done
}
conf_with "$T/server.pem" "$T/server.key" >"$CONF"

# --- provd -n and start-up refusals ---
out="$("$PROVD" -n -f "$CONF" 2>&1)"
assert_eq "configuration OK" "$out" "provd -n accepts a good certificate and key"
out="$("$PROVD" -v -f "$CONF" 2>&1)"
assert_contains "$out" "tls.min_version = 1.2" "provd -v shows tls.min_version (default 1.2)"
assert_contains "$out" "tls.key = \"$T/server.key\"" "provd -v shows tls.key"

conf_with "$T/soon.pem" "$T/soon.key" >"$HARNESS_DIR/soon.conf"
out="$("$PROVD" -n -f "$HARNESS_DIR/soon.conf" 2>&1)"
assert_contains "$out" "within 30 days" "provd -n warns of a certificate expiring soon"
assert_contains "$out" "configuration OK" "... and accepts it"

# refused NAME CONF MESSAGE: provd -n and a start both exit 1 saying MESSAGE
refused() {
    local rc=0 out
    out="$("$PROVD" -n -f "$2" 2>&1)" || rc=$?
    assert_eq 1 "$rc" "$1: provd -n exits 1"
    assert_contains "$out" "$3" "$1: provd -n says why"
    rc=0
    out="$(timeout 20 "$PROVD" -f "$2" 2>&1)" || rc=$?
    assert_eq 1 "$rc" "$1: provd refuses to start"
    assert_contains "$out" "$3" "$1: says why at start"
}
conf_with "$T/server.pem" "$T/other.key" >"$HARNESS_DIR/bad.conf"
refused "a key that is not the certificate's" "$HARNESS_DIR/bad.conf" \
    "tls.key $T/other.key is not the key of the certificate"
cp "$T/server.key" "$T/loose.key"
chmod 644 "$T/loose.key"
conf_with "$T/server.pem" "$T/loose.key" >"$HARNESS_DIR/bad.conf"
refused "a key others may read" "$HARNESS_DIR/bad.conf" "permissions 0644 are too open"
chmod 640 "$T/loose.key"
refused "a key its group may read" "$HARNESS_DIR/bad.conf" "permissions 0640 are too open"
conf_with "$T/expired.pem" "$T/expired.key" >"$HARNESS_DIR/bad.conf"
refused "an expired certificate" "$HARNESS_DIR/bad.conf" "the certificate expired on"
{ cat "$PLAIN_CONF"; echo "tls.cert = \"$T/server.pem\""; } >"$HARNESS_DIR/bad.conf"
refused "tls.cert without tls.key" "$HARNESS_DIR/bad.conf" "tls.cert and tls.key go together"
conf_with "$T/server.pem" "$T/missing.key" >"$HARNESS_DIR/bad.conf"
refused "a missing key file" "$HARNESS_DIR/bad.conf" "tls.key $T/missing.key: No such file"
conf_with "$T/server.key" "$T/server.key" >"$HARNESS_DIR/bad.conf"
refused "a key as the certificate" "$HARNESS_DIR/bad.conf" "not a PEM certificate"

# --- serving over HTTPS ---
provd_start "$CONF" "$HARNESS_DIR/provd.log"
PORT="${BASE##*:}"
assert_eq "https://127.0.0.1:$PORT" "$BASE" "the harness talks https"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "provisioning API on https://127.0.0.1:$PORT/api/v1" \
    "the log gives the API's https address"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "web GUI at https://127.0.0.1:$PORT/" \
    "the log gives the GUI's https address"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "serial 1001" "the log names the certificate served"

# get PATH [CURL ARGS...]: CODE, BODY, HDRS over https, trusting the test CA
get() {
    local path="$1"
    shift
    : >"$HARNESS_DIR/body"
    CODE="$(curl -s --cacert "$PROVD_CA" -o "$HARNESS_DIR/body" -D "$HARNESS_DIR/hdrs" \
        -w '%{http_code}' "$@" "$BASE$path")" || CODE="curl failed"
    BODY="$(cat "$HARNESS_DIR/body")"
    HDRS="$(tr -d '\r' <"$HARNESS_DIR/hdrs")"
}

AUTH="Authorization: Bearer $TOKEN"
get /api/v1/openapi.json -H "$AUTH"
assert_eq 200 "$CODE" "GET /api/v1/openapi.json with the bearer token over https: 200"
assert_eq "max-age=31536000" "$(header Strict-Transport-Security)" "Strict-Transport-Security on API answers"
get /api/v1/domains
assert_eq 401 "$CODE" "no token over https: 401"
assert_eq "max-age=31536000" "$(header Strict-Transport-Security)" "Strict-Transport-Security on errors"
get /api/v1/domains -H "$AUTH"
assert_eq 200 "$CODE" "the bearer token over https: 200"
get /
assert_eq 200 "$CODE" "the GUI's index over https: 200"
assert_eq "max-age=31536000" "$(header Strict-Transport-Security)" "Strict-Transport-Security on the GUI's files"

# a login: the cookie is Secure without session.cookie_secure
ADMIN_PW="admin-pw-$RANDOM-$RANDOM"
printf '%s\n' "$ADMIN_PW" | "$PROVD" -f "$CONF" --create-admin admin >/dev/null 2>&1 ||
    fail "--create-admin with a TLS configuration"
get /api/v1/session -c "$HARNESS_DIR/jar" -H 'Content-Type: application/json' \
    --data-binary "$(jq -cn --arg p "$ADMIN_PW" '{login: "admin", password: $p}')"
assert_eq 200 "$CODE" "a login over https: 200"
cookie="$(header Set-Cookie)"
assert_contains "$cookie" "vocal_session=" "the login sets the session cookie"
assert_contains "$cookie" "; Secure" "the cookie is Secure over https"
CSRF="$(jq -r .csrf_token <<<"$BODY")"
get /api/v1/domains -b "$HARNESS_DIR/jar" -H 'Content-Type: application/json' \
    -H "X-CSRF-Token: $CSRF" -H "Origin: https://127.0.0.1:$PORT" --data-binary '{"name": "tls.example"}'
assert_eq 201 "$CODE" "a change from Origin https://HOST (the session, its CSRF token): 201"
get /api/v1/domains -b "$HARNESS_DIR/jar" -H 'Content-Type: application/json' \
    -H "X-CSRF-Token: $CSRF" -H "Origin: https://evil.example" --data-binary '{"name": "evil.example"}'
assert_eq 403 "$CODE" "a change from another Origin: 403"

# --- what is not served ---
rc=0
out="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/openapi.json" 2>&1)" || rc=$?
[[ $rc -ne 0 && "$out" == 000 ]] || fail "plain HTTP on the TLS port was answered ($out, curl $rc)"
ok "plain HTTP on the TLS port gets no answer (curl $rc)"
# curl's OpenSSL refuses TLS 1.0/1.1 itself at its default security level:
# SECLEVEL=0 lets it offer them, so that the refusal is provd's
rc=0
curl -s -o /dev/null --cacert "$PROVD_CA" --tlsv1.0 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' \
    "$BASE/api/v1/openapi.json" || rc=$?
[[ $rc -ne 0 ]] || fail "TLS 1.1 was accepted"
ok "TLS 1.0 and 1.1 are refused (curl $rc)"
rc=0
openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$PROVD_CA" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
    </dev/null >"$HARNESS_DIR/s_client" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "openssl s_client -tls1_1 connected"
ok "openssl s_client -tls1_1 is refused"
get /api/v1/openapi.json -H "$AUTH" --tlsv1.2 --tls-max 1.2
assert_eq 200 "$CODE" "TLS 1.2: 200"
get /api/v1/openapi.json -H "$AUTH" --tlsv1.3
assert_eq 200 "$CODE" "TLS 1.3: 200"

# --- SIGHUP: a renewed certificate at the same paths ---
# served_serial: the serial of the certificate provd sends now
served_serial() {
    openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$PROVD_CA" </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
assert_eq 1001 "$(served_serial)" "openssl s_client sees the first certificate"
provd_tls_cert_for renewed 0x2002 365
cp "$T/renewed.pem" "$T/server.pem"
cp "$T/renewed.key" "$T/server.key"
# a request in flight across the reload: its body sent slowly (about 3 s)
{ printf '{"name": "slow.example"'; printf '%3000s' ''; printf '}'; } >"$HARNESS_DIR/slow.json"
curl -s --cacert "$PROVD_CA" -o /dev/null -w '%{http_code}' --limit-rate 1000 -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' --data-binary @"$HARNESS_DIR/slow.json" \
    "$BASE/api/v1/domains" >"$HARNESS_DIR/slow.code" 2>&1 &
SLOW=$!
sleep 0.5
kill -HUP "$PROVD_PID"
harness_wait_for "the renewed certificate" 10 bash -c "[[ \$(grep -c 'now serving' '$HARNESS_DIR/provd.log') -ge 1 ]]" ||
    { cat "$HARNESS_DIR/provd.log" >&2; fail "no reload logged"; }
assert_eq 2002 "$(served_serial)" "after SIGHUP, the renewed certificate is served"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "TLS: now serving CN=renewed (serial 2002" "the log names the new certificate"
get /api/v1/domains -H "Authorization: Bearer $TOKEN"
assert_eq 200 "$CODE" "the API after the reload: 200"
get /api/v1/session -b "$HARNESS_DIR/jar"
assert_eq 200 "$CODE" "the session survives the reload"
wait "$SLOW" || true
assert_eq 201 "$(cat "$HARNESS_DIR/slow.code")" "a request in flight during the reload is answered (old pool)"
kill -0 "$PROVD_PID" 2>/dev/null || fail "provd died on SIGHUP"

# a bad new pair (the key is not the certificate's): the old one stays
cp "$T/other.key" "$T/server.key"
kill -HUP "$PROVD_PID"
harness_wait_for "the refused reload" 10 grep -q 'still serving the certificate loaded before' "$HARNESS_DIR/provd.log" ||
    { cat "$HARNESS_DIR/provd.log" >&2; fail "no refusal logged"; }
assert_eq 2002 "$(served_serial)" "a bad pair on SIGHUP: the certificate before is still served"
get /api/v1/domains -H "Authorization: Bearer $TOKEN"
assert_eq 200 "$CODE" "the API after a refused reload: 200"

# other keys need a restart; the certificate is still reloaded
cp "$T/renewed.key" "$T/server.key"
sed -i 's/^threads = .*//' "$CONF"
echo "threads = 2" >>"$CONF"
kill -HUP "$PROVD_PID"
harness_wait_for "the restart warning" 10 grep -q 'threads changed: provd needs a restart' "$HARNESS_DIR/provd.log" ||
    { cat "$HARNESS_DIR/provd.log" >&2; fail "no restart warning"; }
get /api/v1/openapi.json -H "$AUTH"
assert_eq 200 "$CODE" "still serving after a reload with other changes"

# --- tls.min_version = 1.3: TLS 1.2 refused too ---
PORT13=$(harness_free_port tcp)
conf_with "$T/renewed.pem" "$T/renewed.key" "tls.min_version = 1.3" |
    sed "s/^listen = .*/listen = 127.0.0.1:$PORT13/" >"$HARNESS_DIR/tls13.conf"
provd_start "$HARNESS_DIR/tls13.conf" "$HARNESS_DIR/provd13.log"
assert_contains "$(cat "$HARNESS_DIR/provd13.log")" "TLS 1.3 and later only" "tls.min_version = 1.3: logged"
rc=0
curl -s -o /dev/null --cacert "$PROVD_CA" --tlsv1.2 --tls-max 1.2 "$BASE/api/v1/openapi.json" || rc=$?
[[ $rc -ne 0 ]] || fail "tls.min_version = 1.3 served TLS 1.2"
ok "tls.min_version = 1.3: TLS 1.2 refused (curl $rc)"
get /api/v1/openapi.json -H "$AUTH" --tlsv1.3
assert_eq 200 "$CODE" "tls.min_version = 1.3: TLS 1.3 served"
