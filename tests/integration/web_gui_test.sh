#!/usr/bin/env bash
# The web GUI (web/, served by provd's provisioning/static.c) against the
# harness PostgreSQL: first the static serving itself with curl (types,
# security headers, validators, no way out of web.root: "..", encoded or
# not, dot files, symbolic links), then the GUI end to end in headless
# Debian chromium driven by playwright-core (tests/web/gui.test.mjs, node's
# test runner): an administrator creates and edits a subscriber, sets its
# SIP password, a display name holding markup shows as text, a forged
# cross-site POST is refused, a subscriber sees and changes only their own
# data, logout; features: the carrier offers forwarding and locks call
# blocking for a subscriber it creates, who sets forward on no answer on a
# phone-sized page (the subscriber_features row and the NOTIFY on
# vocal_changes checked with psql), cannot change the locked one (disabled,
# and 403 from the API), sees a 422 beside its field and a 412 reload, and
# settings holding markup show as text. Screenshots of the main pages at 1280x800 and 390x844 go to
# build/web-screenshots/ (or $WEB_SCREENSHOTS) for a person to look at.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/../harness/provd.sh
. "$HERE/../harness/provd.sh"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[[ -x "$CHROMIUM" ]] || fail "$CHROMIUM missing (make deps installs Debian's chromium)"
command -v node >/dev/null || fail "node missing (make deps)"
WEBTEST="$ROOT/tests/web"
if [[ ! -f "$WEBTEST/node_modules/playwright-core/package.json" ]]; then
    (cd "$WEBTEST" && npm ci --no-audit --no-fund >&2) || fail "npm ci in tests/web failed (make deps)"
fi

harness_init
# The GUI from a copy of web/ with traps beside it: a symbolic link out of
# the root, one inside it, a dot file, a directory without an index.
WWW="$HARNESS_DIR/www"
cp -R "$ROOT/web" "$WWW"
printf 'secret\n' >"$HARNESS_DIR/outside.txt"
ln -s "$HARNESS_DIR/outside.txt" "$WWW/outside.txt"
ln -s "$HARNESS_DIR" "$WWW/up"
ln -s index.html "$WWW/inside.html"
printf 'hidden\n' >"$WWW/.hidden"
mkdir "$WWW/empty"

provd_setup "web.root = \"$WWW\""

sed "s|^web.root = .*|web.root = \"$HARNESS_DIR/nonexistent\"|" "$CONF" >"$HARNESS_DIR/bad.conf"
rc=0; out="$("$PROVD" -f "$HARNESS_DIR/bad.conf" 2>&1)" || rc=$?
assert_eq 1 "$rc" "a web.root that does not exist: refuses to start"
assert_contains "$out" "web.root $HARNESS_DIR/nonexistent" "a web.root that does not exist: says which"

provd_start "$CONF" "$HARNESS_DIR/provd.log"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "web GUI at http://127.0.0.1:$PORT/" "the log gives the GUI's address"

# get PATH [CURL-ARGS...]: CODE, BODY, HDRS
get() {
    local path="$1"
    shift
    : >"$HARNESS_DIR/body"
    CODE="$(curl -s --path-as-is -o "$HARNESS_DIR/body" -D "$HARNESS_DIR/hdrs" -w '%{http_code}' "$@" "$BASE$path")"
    BODY="$(cat "$HARNESS_DIR/body")"
    HDRS="$(tr -d '\r' <"$HARNESS_DIR/hdrs")"
}
CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
security_headers() {
    assert_eq "$CSP" "$(header Content-Security-Policy)" "$1: Content-Security-Policy"
    assert_eq nosniff "$(header X-Content-Type-Options)" "$1: X-Content-Type-Options"
    assert_eq no-referrer "$(header Referrer-Policy)" "$1: Referrer-Policy"
}

# --- static files ---
get /
assert_eq 200 "$CODE" "/ serves index.html"
assert_eq "text/html; charset=utf-8" "$(header Content-Type)" "/ is text/html"
cmp -s "$HARNESS_DIR/body" "$WWW/index.html" || fail "/ is not index.html"
security_headers "/"
assert_eq no-cache "$(header Cache-Control)" "/: Cache-Control no-cache"
ETAG="$(header ETag)"
[[ "$ETAG" =~ ^\"[0-9a-f]+-[0-9a-f]+\"$ ]] || fail "/: ETag $ETAG"
ok "/: a strong ETag"
[[ -n "$(header Last-Modified)" ]] || fail "/: no Last-Modified"
ok "/: Last-Modified"
get / -H "If-None-Match: $ETAG"
assert_eq 304 "$CODE" "If-None-Match with the ETag: 304"
assert_eq "" "$BODY" "304 has no body"
security_headers "304"
get / -H "If-None-Match: \"other\""
assert_eq 200 "$CODE" "If-None-Match with another ETag: 200"
get / -H "If-Modified-Since: $(curl -s -I "$BASE/" | tr -d '\r' | sed -n 's/^Last-Modified: //Ip')"
assert_eq 304 "$CODE" "If-Modified-Since the Last-Modified: 304"
get /index.html
assert_eq 200 "$CODE" "/index.html"
get /js/app.js
assert_eq 200 "$CODE" "/js/app.js"
assert_eq "text/javascript; charset=utf-8" "$(header Content-Type)" "a module is text/javascript"
get /css/app.css
assert_eq "text/css; charset=utf-8" "$(header Content-Type)" "a stylesheet is text/css"
CODE="$(curl -s -I -o "$HARNESS_DIR/hdrs" -w '%{http_code}' "$BASE/js/app.js")"
HDRS="$(tr -d '\r' <"$HARNESS_DIR/hdrs")"
assert_eq 200 "$CODE" "HEAD of a file: 200"
assert_eq "$(stat -c %s "$WWW/js/app.js")" "$(header Content-Length)" "HEAD gives the file's length"
get /index.html -X POST -d x=1
assert_eq 405 "$CODE" "POST to a file: 405"
assert_eq "GET, HEAD" "$(header Allow)" "405 lists GET, HEAD"
security_headers "405"
get /inside.html
assert_eq 200 "$CODE" "a symbolic link that stays inside the root is served"

# --- no way out of the root ---
for path in /../../../../etc/passwd /js/../../provisioning/http.c /%2e%2e/%2e%2e/etc/passwd \
    /js/%2E%2E/%2E%2E/Makefile /%2e%2e%2f%2e%2e%2fetc%2fpasswd /..%2f..%2fetc/passwd \
    /%252e%252e/etc/passwd '/js/..%5c..%5cMakefile' /.hidden /js/./app.js /js//app.js \
    /outside.txt /up/outside.txt /up/provd.conf /empty /empty/ /js /nonexistent.html \
    '/index.html%20'; do
    get "$path"
    assert_eq 404 "$CODE" "GET $path: 404"
    [[ "$BODY" != *secret* && "$BODY" != *root:* ]] || fail "GET $path leaked a file"
    security_headers "404 of $path"
done

# libmicrohttpd decodes %00 into the end of the path: what is served and
# its type go by the name before it
get /index.html%00.js
assert_eq "text/html; charset=utf-8" "$(header Content-Type)" "/index.html%00.js is index.html, as text/html"

# --- the API keeps its own rules, and the headers ---
get /api/v1/domains
assert_eq 401 "$CODE" "/api/v1 without credentials: 401, not a file"
security_headers "an API answer"
get /api
assert_eq 401 "$CODE" "/api itself belongs to the API"
get /api/v1/domains -H "Authorization: Bearer $TOKEN"
assert_eq 200 "$CODE" "/api/v1 with the token: 200"
security_headers "an API 200"

# --- the GUI's code builds no markup from strings ---
if grep -rEn '\.(inner|outer)HTML *[+]?=|insertAdjacentHTML|document\.write|[^.a-z]eval\(|new Function' "$ROOT/web/js"; then
    fail "web/js builds markup or code from strings (see above)"
fi
ok "web/js assigns no innerHTML/outerHTML, has no insertAdjacentHTML, document.write or eval"

# --- the GUI in headless chromium ---
# A subscriber with a registered phone, and another one, for the
# subscriber's own view (made here: the GUI test creates its own too).
DOMAIN_ID=$(app_sql -c "INSERT INTO domains (name, realm) VALUES ('gui.test', 'gui.test') RETURNING id")
OWN_ID=$(app_sql -c "INSERT INTO subscribers (domain_id, user_part, display_name) VALUES ($DOMAIN_ID, '2001', 'Alice Own') RETURNING id")
OTHER_ID=$(app_sql -c "INSERT INTO subscribers (domain_id, user_part, display_name) VALUES ($DOMAIN_ID, '2002', 'Bob Other') RETURNING id")
for s in "$OWN_ID" "$OTHER_ID"; do
    app_sql -c "INSERT INTO location_bindings (subscriber_id, contact, expires, expires_at, call_id, cseq, user_agent, received)
        VALUES ($s, 'sip:$s@192.0.2.10:5062', 3600, now() + interval '1 hour', 'gui-$s', 1, 'TestPhone/$s', 'udp:192.0.2.10:5062')"
done

mkdir -p "${WEB_SCREENSHOTS:=$ROOT/build/web-screenshots}"
rc=0
(cd "$WEBTEST" && BASE="$BASE" TOKEN="$TOKEN" CHROMIUM="$CHROMIUM" DB_URI="$VOCAL_DB_URI" PSQL="$PG_BINDIR/psql" \
    OWN_ID="$OWN_ID" OTHER_ID="$OTHER_ID" DOMAIN_ID="$DOMAIN_ID" SCREENSHOTS="$WEB_SCREENSHOTS" \
    node --test --test-reporter=spec --test-concurrency=1 gui.test.mjs) || rc=$?
if [[ $rc -ne 0 ]]; then
    tail -n 40 "$HARNESS_DIR/provd.log" >&2
    fail "the GUI tests in chromium (exit $rc)"
fi
ok "the GUI tests in chromium"
