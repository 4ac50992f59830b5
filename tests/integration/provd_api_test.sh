#!/usr/bin/env bash
# provd's REST API (provisioning/api.c) against the harness PostgreSQL: the
# schema applied at start, the bearer token, every route of
# provisioning/openapi.json and its error cases (problem+json), ETag and
# If-Match, a NOTIFY on vocal_changes for a PATCH, and a password stored as
# the three HA1s only.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=SCRIPTDIR/../harness/provd.sh
. "$HERE/../harness/provd.sh"

provd_setup

# --- start-up: -n, a bad token hash, an unreachable database ---
out="$("$PROVD" -n -f "$CONF" 2>&1)"
assert_eq "configuration OK" "$out" "provd -n accepts the test configuration"
sed 's/^api.token_sha256 = .*/api.token_sha256 = abc/' "$CONF" >"$HARNESS_DIR/bad.conf"
rc=0; out="$("$PROVD" -f "$HARNESS_DIR/bad.conf" 2>&1)" || rc=$?
assert_eq 1 "$rc" "a malformed api.token_sha256: refuses to start"
assert_contains "$out" "api.token_sha256: must be 64 hex digits" "a malformed api.token_sha256: says why"
sed "s/^migrations = .*/migrations = \"\/nonexistent\"/" "$CONF" >"$HARNESS_DIR/bad.conf"
rc=0; out="$("$PROVD" -f "$HARNESS_DIR/bad.conf" 2>&1)" || rc=$?
assert_eq 1 "$rc" "a missing migrations directory: refuses to start"
assert_contains "$out" "schema migrations from /nonexistent" "a missing migrations directory: says why"

provd_start "$CONF" "$HARNESS_DIR/provd.log"
up() { curl -s -o /dev/null "$BASE/api/v1/openapi.json"; }
assert_eq "$(find "$ROOT/provisioning/sql" -name '[0-9]*.sql' | wc -l)" \
    "$(app_sql -c "SELECT count(*) FROM schema_migrations")" "provd applied every migration at start"
assert_contains "$(cat "$HARNESS_DIR/provd.log")" "schema: applied 001_core.sql" "the log names each migration applied"


# --- the bearer token ---
CODE="$(curl -s -o "$HARNESS_DIR/body" -D "$HARNESS_DIR/hdrs" -w '%{http_code}' "$BASE/api/v1/domains")"
BODY="$(cat "$HARNESS_DIR/body")"; HDRS="$(tr -d '\r' <"$HARNESS_DIR/hdrs")"
expect_problem 401 "no Authorization"
assert_contains "$(header WWW-Authenticate)" "Bearer" "401 says Bearer"
CODE="$(curl -s -o "$HARNESS_DIR/body" -w '%{http_code}' -H "Authorization: Bearer ${TOKEN}x" "$BASE/api/v1/domains")"
assert_eq 401 "$CODE" "a wrong token: 401"
CODE="$(curl -s -o "$HARNESS_DIR/body" -w '%{http_code}' -H "Authorization: Basic $TOKEN" "$BASE/api/v1/domains")"
assert_eq 401 "$CODE" "another scheme: 401"
CODE="$(curl -s -o "$HARNESS_DIR/body" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{"name": "nope.example"}' "$BASE/api/v1/domains")"
assert_eq 401 "$CODE" "a POST without a token: 401"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM domains")" "a POST without a token changes nothing"

# --- routing ---
api GET /api/v1/nothing
expect_problem 404 "an unknown path"
api GET /api/v1/domains/0
expect_problem 404 "id 0 matches no route"
api GET /api/v1/domains/
expect_problem 404 "a trailing slash"
api GET /api/v1/domains/1/
expect_problem 404 "an id with a trailing slash"
api GET /api/v1/domains/99999999999999999999
expect_problem 404 "an id that does not fit 64 bits"
api GET /api/v1/domains/1x
expect_problem 404 "an id with a letter"
CODE="$(curl -s -I -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/domains")"
assert_eq 200 "$CODE" "HEAD of a collection: 200"
api PUT /api/v1/domains
expect_problem 405 "PUT on a collection"
assert_eq "GET, POST" "$(header Allow)" "405 lists the allowed methods"

# --- domains ---
api GET /api/v1/domains
assert_eq 200 "$CODE" "empty domain list: 200"
assert_eq '{"items":[],"next":null}' "$(jq -c . <<<"$BODY")" "empty domain list: no items, no next"
api POST /api/v1/domains '{"name": "example.com"}'
assert_eq 201 "$CODE" "create a domain: 201"
D1="$(jf .id)"
assert_eq "/api/v1/domains/$D1" "$(header Location)" "create: Location"
assert_eq "example.com" "$(jf .realm)" "realm defaults to the name"
assert_eq true "$(jf .enabled)" "enabled by default"
ETAG_CREATED="$(header ETag)"
[[ "$ETAG_CREATED" =~ ^\"[0-9]+\.[0-9]+\"$ ]] || fail "create: ETag ($ETAG_CREATED)"
api POST /api/v1/domains '{"name": "example.com"}'
expect_problem 409 "a duplicate domain name" "already exists"
api POST /api/v1/domains '{"name": "b.example", "realm": "B realm", "enabled": false}'
assert_eq 201 "$CODE" "create a second domain with realm and enabled"
D2="$(jf .id)"
CODE="$(curl -s -o "$HARNESS_DIR/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: text/plain' --data-binary '{"name": "t.example"}' "$BASE/api/v1/domains")"
assert_eq 415 "$CODE" "a body that is not application/json: 415"
api POST /api/v1/domains '{"name": "t.example"}' 'Content-Type: application/json; charset=utf-8'
assert_eq 201 "$CODE" "application/json with a charset parameter is accepted"
api GET "/api/v1/domains/$(jf .id)"
api DELETE "/api/v1/domains/$(jf .id)" "" "If-Match: $(header ETag)"
assert_eq 204 "$CODE" "a DELETE with If-Match and no body"
api POST /api/v1/domains '{"name": '
expect_problem 400 "malformed JSON" "line 1"
api POST /api/v1/domains '[1]'
expect_problem 400 "a body that is not an object"
api POST /api/v1/domains '{"name": 5}'
expect_problem 422 "a number for name" "name: must be a string"
api POST /api/v1/domains '{"name": "Upper.Example"}'
expect_problem 422 "an upper-case domain name" "name: must be a lower-case DNS name"
api POST /api/v1/domains "{\"name\": \"$(printf 'a%.0s' {1..300})\"}"
expect_problem 422 "a name too long" "name: too long"
api POST /api/v1/domains '{"name": "c.example", "realm": "a\"b"}'
expect_problem 422 "a realm with a quote" "realm:"
api POST /api/v1/domains '{"name": "c.example", "enabled": "yes"}'
expect_problem 422 "a string for enabled" "enabled: must be true or false"
api POST /api/v1/domains '{"name": "c.example", "colour": "red"}'
expect_problem 422 "an unknown field" "colour: not a field"
api POST /api/v1/domains '{"name": "c.example", "name": "d.example"}'
expect_problem 400 "a duplicated member"
api POST /api/v1/domains '{}'
expect_problem 422 "no name" "name: required"
api POST /api/v1/domains "{\"name\": \"x.example\", \"realm\": \"$(head -c 70000 /dev/zero | tr '\0' a)\"}"
expect_problem 413 "a body over 64 KiB"

api GET "/api/v1/domains/$D1"
assert_eq 200 "$CODE" "get a domain: 200"
ETAG="$(header ETag)"
assert_eq "$ETAG_CREATED" "$ETAG" "GET gives the ETag of the create"
assert_eq "example.com" "$(jf .name)" "get a domain: its name"
api GET "/api/v1/domains/$D1" "" "If-None-Match: $ETAG"
assert_eq "304 $ETAG" "$CODE $(header ETag)" "If-None-Match with the current ETag: 304 with the ETag"
assert_eq "" "$BODY" "304: no body"
api GET "/api/v1/domains/$D1" "" "If-None-Match: W/\"1.1\", W/$ETAG"
assert_eq 304 "$CODE" "If-None-Match compares weakly, in a list"
api GET "/api/v1/domains/$D1" "" 'If-None-Match: "1.1"'
assert_eq 200 "$CODE" "If-None-Match with another ETag: 200"
api GET /api/v1/domains/999999
expect_problem 404 "a missing domain" "no domain with id 999999"

api PATCH "/api/v1/domains/$D1" '{"realm": "Example Realm"}'
expect_problem 428 "PATCH without If-Match" "If-Match"
api PATCH "/api/v1/domains/$D1" '{"realm": "Example Realm"}' 'If-Match: "1.1"'
expect_problem 412 "PATCH with a stale ETag"
api PATCH "/api/v1/domains/$D1" '{"name": "other.example"}' "If-Match: $ETAG"
expect_problem 422 "PATCH of the name" "name: cannot change"
api PATCH "/api/v1/domains/$D1" '{}' "If-Match: $ETAG"
expect_problem 422 "an empty PATCH" "at least one"
api PATCH /api/v1/domains/999999 '{"enabled": false}' "If-Match: $ETAG"
expect_problem 404 "PATCH of a missing domain"
api PATCH "/api/v1/domains/$D1" '{"realm": "Example Realm"}' "If-Match: W/$ETAG"
expect_problem 412 "a weak ETag never matches (strong comparison)"
api PATCH "/api/v1/domains/$D1" '{"realm": "Example Realm"}' "If-Match: \"1.1\", $ETAG"
assert_eq 200 "$CODE" "PATCH with a list of ETags, one current: 200"
assert_eq "Example Realm" "$(jf .realm)" "PATCH changed the realm"
NEW_ETAG="$(header ETag)"
[[ "$NEW_ETAG" != "$ETAG" ]] || fail "PATCH gives a new ETag"
ok "PATCH gives a new ETag"
api PATCH "/api/v1/domains/$D1" '{"enabled": false}' "If-Match: $ETAG"
expect_problem 412 "the old ETag after a change"
api PATCH "/api/v1/domains/$D1" '{"realm": "Example Realm"}' "If-Match: *"
assert_eq 200 "$CODE" "If-Match: * matches any version"

api GET "/api/v1/domains?limit=1"
assert_eq "1 $D1" "$(jf '.items | length') $(jf .next)" "limit=1: one item, next is its id"
api GET "/api/v1/domains?limit=1&after=$D1"
assert_eq "$D2" "$(jf '.items[0].id')" "after=: the next page"
api GET "/api/v1/domains?limit=0"
expect_problem 400 "limit=0" "limit: must be an integer"
api GET "/api/v1/domains?after=x"
expect_problem 400 "after=x" "after: must be an integer"

# --- subscribers ---
api POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"alice\", \"display_name\": \"Alice Ä\"}"
assert_eq 201 "$CODE" "create a subscriber: 201"
S1="$(jf .id)"
assert_eq "/api/v1/subscribers/$S1" "$(header Location)" "create a subscriber: Location"
assert_eq "digest false" "$(jf .auth_kind) $(jf .has_password)" "defaults: digest, no password yet"
api POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"alice\"}"
expect_problem 409 "a duplicate user in a domain" "already exists"
api POST /api/v1/subscribers "{\"domain_id\": $D2, \"user_part\": \"alice\"}"
assert_eq 201 "$CODE" "the same user in another domain"
S2="$(jf .id)"
api POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"bob\", \"auth_kind\": \"ip\"}"
assert_eq 201 "$CODE" "a third subscriber"
S3="$(jf .id)"
api POST /api/v1/subscribers '{"domain_id": 999999, "user_part": "zed"}'
expect_problem 422 "an unknown domain_id" "domain_id"
api POST /api/v1/subscribers "{\"domain_id\": \"$D1\", \"user_part\": \"zed\"}"
expect_problem 422 "a string for domain_id" "domain_id: must be a positive integer"
api POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"a b\"}"
expect_problem 422 "a blank in user_part" "user_part:"
api POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"zed\", \"auth_kind\": \"magic\"}"
expect_problem 422 "an unknown auth_kind" "auth_kind: must be one of"
api POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"zed\", \"display_name\": \"$(printf 'x%.0s' {1..129})\"}"
expect_problem 422 "a display_name too long" "display_name: too long"
api POST /api/v1/subscribers "{\"domain_id\": $D1}"
expect_problem 422 "no user_part" "user_part: required"

api GET "/api/v1/subscribers/$S1"
assert_eq 200 "$CODE" "get a subscriber: 200"
assert_eq "Alice Ä" "$(jf .display_name)" "UTF-8 display name kept"
SETAG="$(header ETag)"
api GET /api/v1/subscribers/999999
expect_problem 404 "a missing subscriber"
api GET "/api/v1/subscribers?domain=$D1"
assert_eq "$S1 $S3" "$(jf '[.items[].id] | join(" ")')" "?domain= filters"
api GET "/api/v1/subscribers?q=ALI"
assert_eq "$S1 $S2" "$(jf '[.items[].id] | join(" ")')" "?q= matches user_part case-insensitively"
api GET "/api/v1/subscribers?q=%25"
assert_eq 0 "$(jf '.items | length')" "?q=% is text, not a wildcard"
api GET "/api/v1/subscribers?limit=2"
assert_eq "2 $S2" "$(jf '.items | length') $(jf .next)" "limit=2: next is the last id"
api GET "/api/v1/subscribers?limit=2&after=$S2"
assert_eq "$S3 null" "$(jf '.items[0].id') $(jf .next)" "the last page: next is null"
api GET "/api/v1/subscribers?domain=abc"
expect_problem 400 "?domain=abc" "domain: must be an integer"

# A PATCH notifies vocal_changes (a listener session fed through a fifo).
provd_listen listener
api PATCH "/api/v1/subscribers/$S1" '{"display_name": "Alice A."}'
expect_problem 428 "subscriber PATCH without If-Match"
api PATCH "/api/v1/subscribers/$S1" '{"display_name": "Alice A."}' 'If-Match: "0.0"'
expect_problem 412 "subscriber PATCH with a stale ETag"
api PATCH "/api/v1/subscribers/$S1" '{"user_part": "eve"}' "If-Match: $SETAG"
expect_problem 422 "PATCH of user_part" "user_part: cannot change"
api PATCH "/api/v1/subscribers/$S1" '{"enabled": 1}' "If-Match: $SETAG"
expect_problem 422 "PATCH with a number for enabled" "enabled: must be true or false"
api PATCH "/api/v1/subscribers/$S1" '{"display_name": "Alice A.", "enabled": false}' "If-Match: $SETAG"
assert_eq 200 "$CODE" "subscriber PATCH: 200"
assert_eq "Alice A. false" "$(jf .display_name) $(jf .enabled)" "subscriber PATCH: changed"
provd_listen_end
assert_contains "$(cat "$HARNESS_DIR/listener.out")" \
    "{\"table\" : \"subscribers\", \"op\" : \"UPDATE\", \"id\" : $S1, \"domain_id\" : $D1}" \
    "a subscriber PATCH sends a NOTIFY on vocal_changes"

# --- password: the three HA1s, never the password ---
PASSWORD='s3cret pass:wörd'
api PUT "/api/v1/subscribers/$S1/password" "$(jq -cn --arg p "$PASSWORD" '{password: $p}')"
assert_eq 204 "$CODE" "set a password: 204"
realm="Example Realm"
want_md5="$(printf '%s' "alice:$realm:$PASSWORD" | openssl dgst -md5 -r | cut -d' ' -f1)"
want_256="$(printf '%s' "alice:$realm:$PASSWORD" | openssl dgst -sha256 -r | cut -d' ' -f1)"
want_512="$(printf '%s' "alice:$realm:$PASSWORD" | openssl dgst -sha512-256 -r | cut -d' ' -f1)"
assert_eq "$want_md5|$want_256|$want_512" \
    "$(app_sql -c "SELECT ha1_md5, ha1_sha256, ha1_sha512_256 FROM subscribers WHERE id = $S1")" \
    "the HA1s equal openssl's MD5, SHA-256 and SHA-512/256 of user:realm:password"
# (web accounts keep an Argon2id hash, accounts.password_hash, which
# provd_auth_test.sh checks; no other column is about passwords)
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM information_schema.columns
    WHERE table_schema = 'public' AND column_name ILIKE '%pass%'
    AND (table_name, column_name) <> ('accounts', 'password_hash')")" "no column holds a password"
app_sql -c "SELECT row_to_json(s)::text FROM subscribers s" | grep -qF "$PASSWORD" && fail "the password is stored"
ok "the password is in no subscriber row"
api GET "/api/v1/subscribers/$S1"
assert_eq "true null" "$(jf .has_password) $(jf .ha1_md5)" "has_password is shown, the HA1s are not"
api PUT /api/v1/subscribers/999999/password '{"password": "x"}'
expect_problem 404 "password of a missing subscriber"
api PUT "/api/v1/subscribers/$S1/password" '{"password": ""}'
expect_problem 422 "an empty password" "password: must not be empty"
api PUT "/api/v1/subscribers/$S1/password" '{"password": 5}'
expect_problem 422 "a number for password" "password: must be a string"
api PUT "/api/v1/subscribers/$S1/password" '{"pass": "x"}'
expect_problem 422 "a misspelt member" "only password"
api PUT "/api/v1/subscribers/$S1/password" '{"password": "a\u0000b"}'
expect_problem 400 "a NUL in the password (refused by the parser)" "NUL"

# --- aliases and DIDs of a subscriber ---
api POST "/api/v1/subscribers/$S1/aliases" '{"user_part": "al.ice"}'
assert_eq 201 "$CODE" "create an alias: 201"
A1="$(jf .id)"
assert_eq "$D1 $S1 al.ice" "$(jf .domain_id) $(jf .subscriber_id) $(jf .user_part)" "an alias defaults to the subscriber's domain"
assert_eq "/api/v1/subscribers/$S1/aliases/$A1" "$(header Location)" "create an alias: Location"
api POST "/api/v1/subscribers/$S1/aliases" "{\"user_part\": \"alice2\", \"domain_id\": $D2}"
assert_eq "201 $D2" "$CODE $(jf .domain_id)" "an alias in another hosted domain"
A2="$(jf .id)"
api POST "/api/v1/subscribers/$S3/aliases" '{"user_part": "al.ice"}'
expect_problem 409 "a duplicate alias (domain, user_part)" "already exists"
api POST "/api/v1/subscribers/$S1/aliases" '{"user_part": "x", "domain_id": 999999}'
expect_problem 422 "an alias in an unknown domain" "domain_id"
api POST "/api/v1/subscribers/$S1/aliases" '{"user_part": "a b"}'
expect_problem 422 "an alias with a blank" "user_part:"
api POST "/api/v1/subscribers/$S1/aliases" '{"user_part": 7}'
expect_problem 422 "a number for an alias" "user_part: must be a string"
api POST "/api/v1/subscribers/$S1/aliases" "{\"user_part\": \"$(printf 'a%.0s' {1..65})\"}"
expect_problem 422 "an alias too long" "user_part: too long"
api POST "/api/v1/subscribers/$S1/aliases" '{"user_part": "x", "domain_id": "1"}'
expect_problem 422 "a string for an alias's domain_id" "domain_id: must be a positive integer"
api POST "/api/v1/subscribers/$S1/aliases" '{"domain_id": 1}'
expect_problem 422 "an alias without user_part" "user_part: required"
api POST "/api/v1/subscribers/$S1/aliases" '{"user_part": "x", "colour": 1}'
expect_problem 422 "an unknown alias field" "colour: not a field"
api POST "/api/v1/subscribers/$S1/aliases" '{"user_part": '
expect_problem 400 "an alias of malformed JSON" "line 1"
api POST /api/v1/subscribers/999999/aliases '{"user_part": "nobody"}'
expect_problem 404 "an alias of a missing subscriber" "no subscriber with id 999999"
api GET "/api/v1/subscribers/$S1/aliases"
assert_eq "$A1 $A2 null" "$(jf '[.items[].id] | join(" ")') $(jf .next)" "list a subscriber's aliases"
api GET "/api/v1/subscribers/$S1/aliases?limit=1"
assert_eq "$A1 $A1" "$(jf '.items[0].id') $(jf .next)" "aliases: limit=1 pages"
api GET "/api/v1/subscribers/$S1/aliases?limit=1&after=$A1"
assert_eq "$A2" "$(jf '.items[0].id')" "aliases: after= gives the next page"
api GET "/api/v1/subscribers/$S3/aliases"
assert_eq 0 "$(jf '.items | length')" "another subscriber's aliases are not listed"
api GET /api/v1/subscribers/999999/aliases
expect_problem 404 "aliases of a missing subscriber"
api GET "/api/v1/subscribers/$S1/aliases?limit=x"
expect_problem 400 "aliases: limit=x" "limit:"
CODE="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/subscribers/$S1/aliases")"
assert_eq 401 "$CODE" "aliases without a token: 401"
CODE="$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$BASE/api/v1/subscribers/$S1/aliases/$A1")"
assert_eq 401 "$CODE" "an alias DELETE without a token: 401"
api DELETE "/api/v1/subscribers/$S3/aliases/$A1"
expect_problem 404 "deleting an alias through another subscriber" "has no alias"
assert_eq 1 "$(app_sql -c "SELECT count(*) FROM aliases WHERE id = $A1")" "...leaves the alias"
api DELETE "/api/v1/subscribers/$S1/aliases/$A1"
assert_eq 204 "$CODE" "delete an alias: 204"
api DELETE "/api/v1/subscribers/$S1/aliases/$A1"
expect_problem 404 "deleting the alias again"
api DELETE "/api/v1/subscribers/$S1/aliases/$A2"
assert_eq 204 "$CODE" "delete the alias in the other domain (it would keep that domain in use)"

api POST "/api/v1/subscribers/$S1/dids" '{"number": "+4930123456"}'
assert_eq 201 "$CODE" "create a DID: 201"
N1="$(jf .id)"
assert_eq "+4930123456 $S1" "$(jf .number) $(jf .subscriber_id)" "create a DID: number and subscriber"
assert_eq "/api/v1/subscribers/$S1/dids/$N1" "$(header Location)" "create a DID: Location"
api POST "/api/v1/subscribers/$S3/dids" '{"number": "+4930123456"}'
expect_problem 409 "a DID another subscriber has" "already exists"
for bad in '4930123456' '+0301234' '+1' '+1234567890123456' '+49 30 1234' '+49301x'; do
    api POST "/api/v1/subscribers/$S1/dids" "{\"number\": \"$bad\"}"
    expect_problem 422 "DID '$bad'" "number:"
done
api POST "/api/v1/subscribers/$S1/dids" '{"number": 4930123456}'
expect_problem 422 "a number for a DID" "number: must be a string"
api POST "/api/v1/subscribers/$S1/dids" '{}'
expect_problem 422 "a DID without number" "number: required"
api POST "/api/v1/subscribers/$S1/dids" '{"number": "+15551234567", "type": "x"}'
expect_problem 422 "an unknown DID field" "type: not a field"
api POST "/api/v1/subscribers/$S1/dids" '{"number"'
expect_problem 400 "a DID of malformed JSON"
api POST /api/v1/subscribers/999999/dids '{"number": "+15551234567"}'
expect_problem 404 "a DID of a missing subscriber"
api POST "/api/v1/subscribers/$S3/dids" '{"number": "+15551234567"}'
N2="$(jf .id)"
api GET "/api/v1/subscribers/$S1/dids"
assert_eq "$N1 null" "$(jf '[.items[].id] | join(" ")') $(jf .next)" "list a subscriber's DIDs (not another's)"
api GET /api/v1/subscribers/999999/dids
expect_problem 404 "DIDs of a missing subscriber"
CODE="$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{"number": "+15550000000"}' "$BASE/api/v1/subscribers/$S1/dids")"
assert_eq 401 "$CODE" "a DID POST without a token: 401"
api DELETE "/api/v1/subscribers/$S1/dids/$N2"
expect_problem 404 "deleting another subscriber's DID" "has no DID"
api DELETE "/api/v1/subscribers/$S3/dids/$N2"
assert_eq 204 "$CODE" "delete a DID: 204"
api DELETE "/api/v1/subscribers/$S3/dids/$N2"
expect_problem 404 "deleting the DID again"

# --- registrations: the registrar's bindings, read-only, one can be removed ---
binding() { # subscriber contact [extra columns=values]: the new binding's id
    app_sql -c "INSERT INTO location_bindings (subscriber_id, contact, q, expires, expires_at, call_id, cseq,
        path, user_agent, received) VALUES ($1, '$2', 0.5, 3600, now() + interval '1 hour', 'cid-$RANDOM', 1,
        '{\"<sip:edge.example;lr>\"}', 'Phone/1.0', 'udp:192.0.2.1:5060') RETURNING id"
}
B1="$(binding "$S1" "sip:alice@192.0.2.1:5060")"
B2="$(binding "$S1" "sip:alice@192.0.2.2:5060")"
B3="$(binding "$S3" "sip:bob@192.0.2.3:5060")"
api GET "/api/v1/subscribers/$S1/registrations"
assert_eq 200 "$CODE" "list registrations: 200"
assert_eq "$B1 $B2 null" "$(jf '[.items[].id] | join(" ")') $(jf .next)" "list a subscriber's registrations (not another's)"
assert_eq "sip:alice@192.0.2.1:5060|0.5|Phone/1.0|udp:192.0.2.1:5060|<sip:edge.example;lr>" \
    "$(jf '.items[0] | "\(.contact)|\(.q)|\(.user_agent)|\(.received)|\(.path[0])"')" \
    "a registration: contact, q, user_agent, received, path"
[[ "$(jf '.items[0].expires_at')" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] || fail "a registration: expires_at ($BODY)"
ok "a registration: expires_at is a timestamp"
# every subscriber's bindings at once, for the carrier's registrations page
aor() { app_sql -c "SELECT s.user_part || '@' || d.name FROM subscribers s JOIN domains d ON d.id = s.domain_id WHERE s.id = $1"; }
api GET /api/v1/registrations
assert_eq 200 "$CODE" "list every registration: 200"
assert_eq "$B1:$S1:$(aor "$S1") $B2:$S1:$(aor "$S1") $B3:$S3:$(aor "$S3")" \
    "$(jf '[.items[] | "\(.id):\(.subscriber_id):\(.aor)"] | join(" ")')" "every registration with its subscriber and AOR"
api GET "/api/v1/registrations?subscriber=$S3"
assert_eq "$B3" "$(jf '[.items[].id] | join(" ")')" "registrations ?subscriber="
D3="$(app_sql -c "SELECT domain_id FROM subscribers WHERE id = $S3")"
api GET "/api/v1/registrations?domain=$D3&limit=1"
assert_eq "$(app_sql -c "SELECT min(b.id) FROM location_bindings b JOIN subscribers s ON s.id = b.subscriber_id WHERE s.domain_id = $D3")" \
    "$(jf '.items[0].id')" "registrations ?domain= (first page of one)"
api GET "/api/v1/registrations?subscriber=x"
expect_problem 400 "registrations ?subscriber=x" "subscriber"
CODE="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/registrations")"
assert_eq 401 "$CODE" "every registration without a token: 401"

# the dashboard's counts: exact, and an expired binding is no registration
app_sql -c "INSERT INTO location_bindings (subscriber_id, contact, q, expires, expires_at, call_id, cseq)
    VALUES ($S3, 'sip:old@192.0.2.4', 1, 60, now() - interval '1 minute', 'cid-old', 1)" >/dev/null
api GET /api/v1/stats
assert_eq 200 "$CODE" "stats: 200"
assert_eq "$(app_sql -c "SELECT count(*) || ' ' || count(*) FILTER (WHERE enabled) FROM subscribers") 3 2" \
    "$(jf '"\(.subscribers.total) \(.subscribers.enabled) \(.registrations.bindings) \(.registrations.subscribers)"')" \
    "stats: subscribers (total, enabled) and live registrations (bindings, subscribers)"
for t in domains server_groups servers dial_plans accounts; do
    assert_eq "$(app_sql -c "SELECT count(*) FROM $t")" "$(jf ".$t")" "stats: $t"
done
app_sql -c "DELETE FROM location_bindings WHERE call_id = 'cid-old'" >/dev/null
CODE="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/stats")"
assert_eq 401 "$CODE" "stats without a token: 401"

api GET "/api/v1/subscribers/$S1/registrations?limit=1"
assert_eq "1 $B1" "$(jf '.items | length') $(jf .next)" "registrations: limit=1 pages"
api GET "/api/v1/subscribers/$S1/registrations?after=-1"
expect_problem 400 "registrations: after=-1" "after:"
api GET /api/v1/subscribers/999999/registrations
expect_problem 404 "registrations of a missing subscriber"
api POST "/api/v1/subscribers/$S1/registrations" '{"contact": "sip:x@192.0.2.9"}'
expect_problem 405 "registrations are read-only: POST"
CODE="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/subscribers/$S1/registrations")"
assert_eq 401 "$CODE" "registrations without a token: 401"
CODE="$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$BASE/api/v1/subscribers/$S1/registrations/$B1")"
assert_eq 401 "$CODE" "a registration DELETE without a token: 401"
api DELETE "/api/v1/subscribers/$S1/registrations/$B3"
expect_problem 404 "deleting another subscriber's binding" "has no registration"
assert_eq 1 "$(app_sql -c "SELECT count(*) FROM location_bindings WHERE id = $B3")" "...leaves the binding"
api DELETE "/api/v1/subscribers/$S1/registrations/$B1"
assert_eq 204 "$CODE" "delete a registration: 204"
assert_eq "$B2" "$(app_sql -c "SELECT string_agg(id::text, ' ') FROM location_bindings WHERE subscriber_id = $S1")" \
    "the binding's row is gone, the other stays"
api DELETE "/api/v1/subscribers/$S1/registrations/$B1"
expect_problem 404 "deleting the registration again"

# --- server groups and servers ---
api GET /api/v1/server-groups
assert_eq '200 {"items":[],"next":null}' "$CODE $(jq -c . <<<"$BODY")" "empty server group list"
api POST /api/v1/server-groups '{"name": "edge-1", "kind": "marshal_ua", "description": "the edge"}'
assert_eq 201 "$CODE" "create a server group: 201"
G1="$(jf .id)"
GETAG="$(header ETag)"
assert_eq "/api/v1/server-groups/$G1" "$(header Location)" "create a server group: Location"
assert_eq "edge-1 marshal_ua the edge" "$(jf .name) $(jf .kind) $(jf .description)" "create a server group: fields"
api POST /api/v1/server-groups '{"name": "redir", "kind": "redirect"}'
assert_eq "201 " "$CODE $(jf .description)" "a second group; description defaults to ''"
G2="$(jf .id)"
api POST /api/v1/server-groups '{"name": "edge-1", "kind": "redirect"}'
expect_problem 409 "a duplicate group name" "already exists"
api POST /api/v1/server-groups '{"name": "x", "kind": "proxy"}'
expect_problem 422 "an unknown kind" "kind: must be one of"
api POST /api/v1/server-groups '{"name": "x", "kind": 3}'
expect_problem 422 "a number for kind" "kind:"
api POST /api/v1/server-groups '{"name": "-x", "kind": "cdr"}'
expect_problem 422 "a group name starting with '-'" "name:"
api POST /api/v1/server-groups "{\"name\": \"$(printf 'g%.0s' {1..64})\", \"kind\": \"cdr\"}"
expect_problem 422 "a group name too long" "name: too long"
api POST /api/v1/server-groups "{\"name\": \"x\", \"kind\": \"cdr\", \"description\": \"$(printf 'd%.0s' {1..1025})\"}"
expect_problem 422 "a description too long" "description: too long"
api POST /api/v1/server-groups '{"kind": "cdr"}'
expect_problem 422 "a group without name" "name: required"
api POST /api/v1/server-groups '{"name": "x"}'
expect_problem 422 "a group without kind" "kind: required"
api POST /api/v1/server-groups '{"name": "x", "kind": "cdr", "size": 1}'
expect_problem 422 "an unknown group field" "size: not a field"
api POST /api/v1/server-groups '{"name": "x",'
expect_problem 400 "a group of malformed JSON" "line 1"
CODE="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/server-groups")"
assert_eq 401 "$CODE" "server groups without a token: 401"
api GET "/api/v1/server-groups/$G1"
assert_eq "200 $GETAG" "$CODE $(header ETag)" "get a server group: 200 and the create's ETag"
api GET "/api/v1/server-groups/$G1" "" "If-None-Match: $GETAG"
assert_eq 304 "$CODE" "a server group: If-None-Match 304"
api GET /api/v1/server-groups/999999
expect_problem 404 "a missing server group"
api GET "/api/v1/server-groups?kind=redirect"
assert_eq "$G2" "$(jf '[.items[].id] | join(" ")')" "?kind= filters the groups"
api GET "/api/v1/server-groups?kind=proxy"
expect_problem 400 "?kind=proxy" "kind:"
api GET "/api/v1/server-groups?limit=1"
assert_eq "1 $G1" "$(jf '.items | length') $(jf .next)" "server groups: limit=1 pages"
api PATCH "/api/v1/server-groups/$G1" '{"description": "edge A"}'
expect_problem 428 "group PATCH without If-Match"
api PATCH "/api/v1/server-groups/$G1" '{"description": "edge A"}' 'If-Match: "1.1"'
expect_problem 412 "group PATCH with a stale ETag"
api PATCH "/api/v1/server-groups/$G1" '{"kind": "redirect"}' "If-Match: $GETAG"
expect_problem 422 "group PATCH of kind" "kind: cannot change"
api PATCH "/api/v1/server-groups/$G1" '{}' "If-Match: $GETAG"
expect_problem 422 "an empty group PATCH" "at least one"
api PATCH "/api/v1/server-groups/$G1" '{"name": "redir"}' "If-Match: $GETAG"
expect_problem 409 "renaming a group to a taken name" "already exists"
api PATCH /api/v1/server-groups/999999 '{"name": "zz"}' 'If-Match: *'
expect_problem 404 "PATCH of a missing group" "no server group with id 999999"
api PATCH "/api/v1/server-groups/$G1" '{"name": "edge-A", "description": "edge A"}' "If-Match: $GETAG"
assert_eq "200 edge-A edge A" "$CODE $(jf .name) $(jf .description)" "group PATCH: 200, changed"
GETAG2="$(header ETag)"
[[ "$GETAG2" != "$GETAG" ]] || fail "group PATCH gives a new ETag"
ok "group PATCH gives a new ETag"

# a feature group's on_failure, and a domain's default feature group
assert_eq "fail" "$(jf .on_failure)" "on_failure defaults to fail"
api POST /api/v1/server-groups '{"name": "features-1", "kind": "feature", "on_failure": "skip"}'
assert_eq "201 skip" "$CODE $(jf .on_failure)" "a feature group that skips its hop"
GF="$(jf .id)"
api PATCH "/api/v1/server-groups/$GF" '{"on_failure": "fail"}' "If-Match: *"
assert_eq "200 fail" "$CODE $(jf .on_failure)" "on_failure changed"
api PATCH "/api/v1/server-groups/$GF" '{"on_failure": "retry"}' "If-Match: *"
expect_problem 422 "on_failure retry" "on_failure: must be one of fail, skip"
api GET "/api/v1/domains/$D1"
assert_eq "null" "$(jf .feature_group_id)" "a domain has no default feature group"
api PATCH "/api/v1/domains/$D1" "{\"feature_group_id\": $GF}" "If-Match: *"
assert_eq "200 $GF" "$CODE $(jf .feature_group_id)" "a domain's default feature group"
assert_eq "$GF" "$(app_sql -c "SELECT feature_group_id FROM domains WHERE id = $D1")" "...stored"
api PATCH "/api/v1/domains/$D1" "{\"feature_group_id\": $G1}" "If-Match: *"
expect_problem 422 "a marshal group as a domain's feature group" "server group $G1 is of kind marshal_ua, not feature"
api PATCH "/api/v1/domains/$D1" '{"feature_group_id": 999999}' "If-Match: *"
expect_problem 422 "a missing group as a domain's feature group" "999999"
api PATCH "/api/v1/domains/$D1" '{"feature_group_id": "x"}' "If-Match: *"
expect_problem 422 "a feature_group_id of text" "feature_group_id: must be a positive integer"
api PATCH "/api/v1/domains/$D1" '{"feature_group_id": null}' "If-Match: *"
assert_eq "200 null" "$CODE $(jf .feature_group_id)" "null removes the default"
api PATCH "/api/v1/domains/$D1" '{"realm": null}' "If-Match: *"
expect_problem 422 "null only where a member may be none" "realm:"
api DELETE "/api/v1/server-groups/$GF" "" "If-Match: *"
assert_eq 204 "$CODE" "the feature group deleted"

api POST "/api/v1/server-groups/$G1/servers" '{"host": "192.0.2.10"}'
assert_eq 201 "$CODE" "create a server: 201"
V1="$(jf .id)"
VETAG="$(header ETag)"
assert_eq "/api/v1/servers/$V1" "$(header Location)" "create a server: Location"
assert_eq "$G1 5060 udp 0 1 true" "$(jf '"\(.group_id) \(.port) \(.transport) \(.priority) \(.weight) \(.enabled)"')" \
    "server defaults: 5060 udp 0 1 enabled"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "edge2.example.com", "port": 5061, "transport": "tls", "priority": 10, "weight": 5, "enabled": false}'
assert_eq "201 edge2.example.com 5061 tls 10 5 false" "$CODE $(jf '"\(.host) \(.port) \(.transport) \(.priority) \(.weight) \(.enabled)"')" \
    "create a server with every field"
V2="$(jf .id)"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "2001:db8::1", "transport": "tcp"}'
assert_eq 201 "$CODE" "a server at an IPv6 literal"
V3="$(jf .id)"
api POST "/api/v1/server-groups/$G2/servers" '{"host": "192.0.2.10"}'
expect_problem 409 "a duplicate host, port, transport" "already exists"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "[2001:db8::1]"}'
expect_problem 422 "a bracketed IPv6 host" "host:"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "-bad.example"}'
expect_problem 422 "a host starting with '-'" "host:"
api POST "/api/v1/server-groups/$G1/servers" "{\"host\": \"$(printf 'h%.0s' {1..254})\"}"
expect_problem 422 "a host too long" "host: too long"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "a.example", "port": 0}'
expect_problem 422 "port 0" "port: must be an integer from 1 to 65535"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "a.example", "port": "5060"}'
expect_problem 422 "a string for port" "port:"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "a.example", "weight": 65536}'
expect_problem 422 "weight 65536" "weight:"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "a.example", "transport": "http"}'
expect_problem 422 "an unknown transport" "transport: must be one of"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "a.example", "group_id": 1}'
expect_problem 422 "group_id in a server body" "group_id:"
api POST "/api/v1/server-groups/$G1/servers" '{"port": 5060}'
expect_problem 422 "a server without host" "host: required"
api POST "/api/v1/server-groups/$G1/servers" '{"host": "a.example",}'
expect_problem 400 "a server of malformed JSON"
api POST /api/v1/server-groups/999999/servers '{"host": "a.example"}'
expect_problem 404 "a server in a missing group" "no server group"
api GET "/api/v1/server-groups/$G1/servers"
assert_eq "$V1 $V2 $V3 null" "$(jf '[.items[].id] | join(" ")') $(jf .next)" "list a group's servers"
api GET "/api/v1/server-groups/$G2/servers"
assert_eq 0 "$(jf '.items | length')" "another group's servers are not listed"
api GET "/api/v1/server-groups/$G1/servers?limit=2"
assert_eq "2 $V2" "$(jf '.items | length') $(jf .next)" "servers: limit=2 pages"
api GET /api/v1/server-groups/999999/servers
expect_problem 404 "servers of a missing group"
CODE="$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/json' \
    -H 'If-Match: *' --data-binary '{"port": 1}' "$BASE/api/v1/servers/$V1")"
assert_eq 401 "$CODE" "a server PATCH without a token: 401"
api GET "/api/v1/servers/$V1"
assert_eq "200 $VETAG" "$CODE $(header ETag)" "get a server: 200 and the create's ETag"
api PATCH "/api/v1/servers/$V1" '{"port": 5080}'
expect_problem 428 "server PATCH without If-Match"
api PATCH "/api/v1/servers/$V1" '{"port": 5080}' 'If-Match: "2.2"'
expect_problem 412 "server PATCH with a stale ETag"
api PATCH "/api/v1/servers/$V1" '{"group_id": '"$G2"'}' "If-Match: $VETAG"
expect_problem 422 "server PATCH of group_id" "group_id:"
api PATCH "/api/v1/servers/$V1" '{"priority": -1}' "If-Match: $VETAG"
expect_problem 422 "a negative priority" "priority:"
api PATCH "/api/v1/servers/$V1" '{"enabled": "no"}' "If-Match: $VETAG"
expect_problem 422 "a string for enabled" "enabled:"
api PATCH "/api/v1/servers/$V1" '{}' "If-Match: $VETAG"
expect_problem 422 "an empty server PATCH" "at least one"
api PATCH "/api/v1/servers/$V1" '{"host": "edge2.example.com", "port": 5061, "transport": "tls"}' "If-Match: $VETAG"
expect_problem 409 "a server PATCH onto a taken host, port, transport" "already exists"
api PATCH /api/v1/servers/999999 '{"port": 5080}' 'If-Match: *'
expect_problem 404 "PATCH of a missing server"
api PATCH "/api/v1/servers/$V1" '{"port": 5080, "weight": 0, "enabled": false}' "If-Match: $VETAG"
assert_eq "200 5080 0 false 192.0.2.10" "$CODE $(jf .port) $(jf .weight) $(jf .enabled) $(jf .host)" "server PATCH: 200, changed, the rest kept"
VETAG2="$(header ETag)"
api DELETE "/api/v1/servers/$V1" "" "If-Match: $VETAG"
expect_problem 412 "server DELETE with the old ETag"
api DELETE "/api/v1/servers/$V1"
expect_problem 428 "server DELETE without If-Match"

api DELETE "/api/v1/server-groups/$G1" "" "If-Match: $GETAG2"
expect_problem 409 "deleting a group that has servers" "still in use"
api DELETE "/api/v1/server-groups/$G1" "" "If-Match: $GETAG"
expect_problem 412 "group DELETE with a stale ETag"
app_sql -c "UPDATE subscribers SET marshal_group_id = $G2 WHERE id = $S3"
api GET "/api/v1/server-groups/$G2"
api DELETE "/api/v1/server-groups/$G2" "" "If-Match: $(header ETag)"
expect_problem 409 "deleting a group a subscriber is served by" "still in use"
app_sql -c "UPDATE subscribers SET marshal_group_id = NULL WHERE id = $S3"
api DELETE "/api/v1/servers/$V1" "" "If-Match: $VETAG2"
assert_eq 204 "$CODE" "delete a server: 204"
api DELETE "/api/v1/servers/$V1" "" "If-Match: *"
expect_problem 404 "deleting the server again"
for v in "$V2" "$V3"; do api DELETE "/api/v1/servers/$v" "" "If-Match: *"; done
assert_eq 204 "$CODE" "delete the group's other servers"
api DELETE "/api/v1/server-groups/$G1" "" "If-Match: $GETAG2"
assert_eq 204 "$CODE" "delete the emptied group: 204"
api GET "/api/v1/server-groups/$G1"
expect_problem 404 "the deleted group is gone"

# --- dial plans and entries ---
api POST /api/v1/dial-plans '{"name": "national", "description": "0 to +49"}'
assert_eq 201 "$CODE" "create a dial plan: 201"
P1="$(jf .id)"
PETAG="$(header ETag)"
assert_eq "/api/v1/dial-plans/$P1" "$(header Location)" "create a dial plan: Location"
api POST /api/v1/dial-plans '{"name": "national"}'
expect_problem 409 "a duplicate dial plan name" "already exists"
api POST /api/v1/dial-plans '{"name": "a b"}'
expect_problem 422 "a dial plan name with a blank" "name:"
api POST /api/v1/dial-plans '{"name": ["x"]}'
expect_problem 422 "an array for a dial plan name" "name: must be a string"
api POST /api/v1/dial-plans "{\"name\": \"$(printf 'p%.0s' {1..64})\"}"
expect_problem 422 "a dial plan name too long" "name: too long"
api POST /api/v1/dial-plans '{"description": "x"}'
expect_problem 422 "a dial plan without name" "name: required"
api POST /api/v1/dial-plans '{"name": "x", "entries": []}'
expect_problem 422 "an unknown dial plan field" "entries: not a field"
api POST /api/v1/dial-plans '{"name": "x"'
expect_problem 400 "a dial plan of malformed JSON"
CODE="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/dial-plans")"
assert_eq 401 "$CODE" "dial plans without a token: 401"
api GET /api/v1/dial-plans
assert_eq "$P1 null" "$(jf '[.items[].id] | join(" ")') $(jf .next)" "list the dial plans"
api GET "/api/v1/dial-plans/$P1"
assert_eq "200 $PETAG national" "$CODE $(header ETag) $(jf .name)" "get a dial plan: 200, its ETag"
api GET /api/v1/dial-plans/999999
expect_problem 404 "a missing dial plan"
api PATCH "/api/v1/dial-plans/$P1" '{"description": "x"}'
expect_problem 428 "dial plan PATCH without If-Match"
api PATCH "/api/v1/dial-plans/$P1" '{"description": "x"}' 'If-Match: "3.3"'
expect_problem 412 "dial plan PATCH with a stale ETag"
api PATCH "/api/v1/dial-plans/$P1" '{"description": "national numbers"}' "If-Match: $PETAG"
assert_eq "200 national numbers" "$CODE $(jf .description)" "dial plan PATCH: 200, changed"
PETAG2="$(header ETag)"

api POST "/api/v1/dial-plans/$P1/entries" '{"position": 10, "pattern": "^0([1-9][0-9]+)$", "contact_template": "sip:+49\\1@gw.example"}'
assert_eq 201 "$CODE" "create a dial plan entry: 201"
E1="$(jf .id)"
EETAG="$(header ETag)"
assert_eq "/api/v1/dial-plan-entries/$E1" "$(header Location)" "create an entry: Location"
assert_eq '10 ^0([1-9][0-9]+)$ sip:+49\1@gw.example' "$(jf '"\(.position) \(.pattern) \(.contact_template)"')" "an entry's fields as given"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 20, "pattern": "^(1[0-9]{2})$", "contact_template": "tel:\\1"}'
assert_eq 201 "$CODE" "a second entry"
E2="$(jf .id)"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 10, "pattern": "x", "contact_template": "sip:x@y"}'
expect_problem 409 "a duplicate position" "already exists"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 30, "pattern": "([0-9]", "contact_template": "sip:x@y"}'
expect_problem 422 "a pattern that does not compile" "pattern: not a POSIX extended regular expression:"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 30, "pattern": "a{2,1}", "contact_template": "sip:x@y"}'
expect_problem 422 "a bad repetition" "pattern: not a POSIX"
api POST "/api/v1/dial-plans/$P1/entries" "{\"position\": 30, \"pattern\": \"W$(printf '+%.0s' {1..60})(a|b\", \"contact_template\": \"sip:x@y\"}"
expect_problem 422 "stacked repetitions (glibc regcomp would exhaust memory)" "pattern: too costly to compile"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 30, "pattern": "", "contact_template": "sip:x@y"}'
expect_problem 422 "an empty pattern" "pattern:"
api POST "/api/v1/dial-plans/$P1/entries" "{\"position\": 30, \"pattern\": \"$(printf 'a%.0s' {1..1025})\", \"contact_template\": \"sip:x@y\"}"
expect_problem 422 "a pattern too long" "pattern:"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 30, "pattern": "x", "contact_template": "http://x"}'
expect_problem 422 "a contact_template of another scheme" "contact_template:"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 30, "pattern": "x", "contact_template": "sip:a b"}'
expect_problem 422 "a contact_template with a blank" "contact_template:"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": -1, "pattern": "x", "contact_template": "sip:x@y"}'
expect_problem 422 "a negative position" "position:"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": "1", "pattern": "x", "contact_template": "sip:x@y"}'
expect_problem 422 "a string for position" "position:"
api POST "/api/v1/dial-plans/$P1/entries" '{"pattern": "x", "contact_template": "sip:x@y"}'
expect_problem 422 "an entry without position" "position: required"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 1, "pattern": "x", "contact_template": "sip:x@y", "dial_plan_id": 1}'
expect_problem 422 "dial_plan_id in an entry body" "dial_plan_id:"
api POST "/api/v1/dial-plans/$P1/entries" '{"position": 1,'
expect_problem 400 "an entry of malformed JSON"
api POST /api/v1/dial-plans/999999/entries '{"position": 1, "pattern": "x", "contact_template": "sip:x@y"}'
expect_problem 404 "an entry of a missing dial plan" "no dial plan"
api GET "/api/v1/dial-plans/$P1/entries"
assert_eq "$E1 $E2 null" "$(jf '[.items[].id] | join(" ")') $(jf .next)" "list a plan's entries"
api GET "/api/v1/dial-plans/$P1/entries?limit=1"
assert_eq "1 $E1" "$(jf '.items | length') $(jf .next)" "entries: limit=1 pages"
api GET /api/v1/dial-plans/999999/entries
expect_problem 404 "entries of a missing plan"
CODE="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/v1/dial-plan-entries/$E1")"
assert_eq 401 "$CODE" "an entry without a token: 401"
api GET "/api/v1/dial-plan-entries/$E1"
assert_eq "200 $EETAG" "$CODE $(header ETag)" "get an entry: 200, the create's ETag"
api PATCH "/api/v1/dial-plan-entries/$E1" '{"pattern": "("}' "If-Match: $EETAG"
expect_problem 422 "an entry PATCH with a pattern that does not compile" "pattern: not a POSIX"
api PATCH "/api/v1/dial-plan-entries/$E1" '{"position": 20}' "If-Match: $EETAG"
expect_problem 409 "an entry PATCH onto a taken position" "already exists"
api PATCH "/api/v1/dial-plan-entries/$E1" '{"position": 5}'
expect_problem 428 "entry PATCH without If-Match"
api PATCH "/api/v1/dial-plan-entries/$E1" '{"position": 5}' 'If-Match: "4.4"'
expect_problem 412 "entry PATCH with a stale ETag"
api PATCH "/api/v1/dial-plan-entries/$E1" '{"position": 5, "pattern": "^00([1-9][0-9]+)$"}' "If-Match: $EETAG"
assert_eq '200 5 ^00([1-9][0-9]+)$ sip:+49\1@gw.example' "$CODE $(jf '"\(.position) \(.pattern) \(.contact_template)"')" "entry PATCH: 200, changed, the rest kept"
api PATCH /api/v1/dial-plan-entries/999999 '{"position": 5}' 'If-Match: *'
expect_problem 404 "PATCH of a missing entry" "no dial plan entry with id 999999"
api DELETE "/api/v1/dial-plan-entries/$E1" "" "If-Match: $EETAG"
expect_problem 412 "entry DELETE with the old ETag"
api DELETE "/api/v1/dial-plan-entries/$E1" "" "If-Match: *"
assert_eq 204 "$CODE" "delete an entry: 204"
api GET "/api/v1/dial-plan-entries/$E1"
expect_problem 404 "the deleted entry is gone"
api DELETE "/api/v1/dial-plans/$P1" "" "If-Match: $PETAG"
expect_problem 412 "dial plan DELETE with a stale ETag"
api DELETE "/api/v1/dial-plans/$P1" "" "If-Match: $PETAG2"
assert_eq 204 "$CODE" "delete a dial plan: 204"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM dial_plan_entries WHERE id = $E2")" "its entries went with it"

# --- deletes ---
api GET "/api/v1/domains/$D2"
DETAG="$(header ETag)"
api DELETE "/api/v1/domains/$D2" "" "If-Match: $DETAG"
expect_problem 409 "deleting a domain that has subscribers" "still in use"
api DELETE "/api/v1/subscribers/$S2"
expect_problem 428 "DELETE without If-Match"
api DELETE "/api/v1/subscribers/$S2" "" 'If-Match: "9.9"'
expect_problem 412 "DELETE with a stale ETag"
api GET "/api/v1/subscribers/$S2"
api DELETE "/api/v1/subscribers/$S2" "" "If-Match: $(header ETag)"
assert_eq 204 "$CODE" "delete a subscriber: 204"
api GET "/api/v1/subscribers/$S2"
expect_problem 404 "the deleted subscriber is gone"
api DELETE "/api/v1/subscribers/$S2" "" "If-Match: *"
expect_problem 404 "deleting it again"
api DELETE "/api/v1/domains/$D2" "" "If-Match: $DETAG"
assert_eq 204 "$CODE" "delete the emptied domain: 204"
api DELETE "/api/v1/domains/$D2" "" "If-Match: $DETAG"
expect_problem 404 "deleting the domain again"

# --- every route of openapi.json is served (the unit test test_provd_routes
# holds the document and the route table to each other) ---
api GET /api/v1/openapi.json
assert_eq 200 "$CODE" "GET /api/v1/openapi.json"
cmp -s <(jq -S . <<<"$BODY") <(jq -S . "$ROOT/provisioning/openapi.json") || fail "served document differs from provisioning/openapi.json"
ok "the served document is provisioning/openapi.json"
assert_eq "3.1.0" "$(jf .openapi)" "OpenAPI 3.1"
n=0
while read -r method path; do
    api "${method^^}" "$(sed -E 's/\{[a-z_]+\}/999999/g' <<<"$path")" '{}' 'If-Match: "0.0"'
    if [[ "$CODE" == 405 || "$(jf .detail 2>/dev/null)" == "no such resource" ]]; then
        fail "$method $path is in openapi.json but not served ($CODE)"
    fi
    n=$((n + 1))
done < <(jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | select(. != "parameters") | "\(.) \($p)"' \
    "$ROOT/provisioning/openapi.json")
assert_eq 65 "$n" "every one of the 65 operations of openapi.json is served"

# --- the database goes away and comes back: 503, then served again ---
api POST /api/v1/tokens '{"name": "db-down"}'
NAMED="$(jf .token)"
pg_stop
api GET "/api/v1/subscribers/$S1"
expect_problem 503 "the database is down" "try again later"
saved="$TOKEN"; TOKEN="$NAMED"
api GET "/api/v1/subscribers/$S1"
TOKEN="$saved"
expect_problem 503 "a named token while the database is down: 503, not 401" "cannot check the token"
pg_restart
api GET "/api/v1/subscribers/$S1"
[[ "$CODE" == 200 ]] || { echo "$BODY"; cat "$HARNESS_DIR/provd.log"; }
assert_eq 200 "$CODE" "served again once the database is back (sessions reconnect)"

# --- concurrent requests on every pool thread ---
pids=()
for i in $(seq 1 24); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' --data-binary "{\"domain_id\": $D1, \"user_part\": \"u$i\"}" \
        "$BASE/api/v1/subscribers" >"$HARNESS_DIR/par.$i" &
    pids+=($!)
done
wait "${pids[@]}"
assert_eq 24 "$(cat "$HARNESS_DIR"/par.* | grep -c '^201$')" "24 concurrent creates: all 201"
assert_eq 24 "$(app_sql -c "SELECT count(*) FROM subscribers WHERE user_part ~ '^u[0-9]+$'")" "24 concurrent creates: 24 rows"

# --- detached (-D) with a pid file, as make run starts it ---
PORT2=$(harness_free_port tcp)
sed "s/^listen = .*/listen = 127.0.0.1:$PORT2/" "$CONF" >"$HARNESS_DIR/provd2.conf"
"$PROVD" -D -p "$HARNESS_DIR/provd2.pid" -f "$HARNESS_DIR/provd2.conf"
PID2="$(cat "$HARNESS_DIR/provd2.pid")"
harness_on_exit harness_kill_pid "$PID2"
CODE="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT2/api/v1/domains")"
assert_eq 200 "$CODE" "provd -D: serving once the starting command returns"
kill -TERM "$PID2"
harness_wait_for "provd -D to exit" 10 bash -c "! kill -0 $PID2 2>/dev/null"
[[ ! -e "$HARNESS_DIR/provd2.pid" ]] || fail "pid file left behind"
ok "provd -D: SIGTERM stops it and removes the pid file"

# --- SIGTERM stops it cleanly ---
kill -TERM "$PROVD_PID"
rc=0; wait "$PROVD_PID" || rc=$?
assert_eq 0 "$rc" "provd exits 0 on SIGTERM"
