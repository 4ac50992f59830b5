#!/usr/bin/env bash
# provd's feature subscriptions (provisioning/features.c) against the
# harness PostgreSQL: the feature kinds, a subscriber's subscriptions (list,
# get, PUT to create and replace with If-Match, DELETE), settings refused
# per kind with feature/settings.c's message (a raw cpl script compiled at
# upload), the group's kind and the domain's default group, what a
# subscriber's session may change (user_enabled and settings of what the
# carrier offers and did not lock), a raw cpl beside carrier-locked
# features (accepted; the locked part of the script route), the generated
# script route, a NOTIFY per change and the audit rows.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../harness/provd.sh
. "$HERE/../harness/provd.sh"

provd_setup "login.address_failures = 1000"
provd_start "$CONF" "$HARNESS_DIR/provd.log"


# --- the carrier's data ---
provd_req - POST /api/v1/domains '{"name": "feat.example"}'
D1="$(jf .id)"
provd_req - POST /api/v1/server-groups '{"name": "features-1", "kind": "feature"}'
G1="$(jf .id)"
provd_req - POST /api/v1/server-groups '{"name": "features-2", "kind": "feature"}'
G2="$(jf .id)"
provd_req - POST /api/v1/server-groups '{"name": "edge", "kind": "marshal_ua"}'
GM="$(jf .id)"
provd_req - POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"3000\"}"
S1="$(jf .id)"
provd_req - POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"3001\"}"
S2="$(jf .id)"
[[ "$S1" =~ ^[0-9]+$ && "$S2" =~ ^[0-9]+$ && "$G1" =~ ^[0-9]+$ ]] || fail "set-up: $BODY"

# --- feature kinds ---
provd_req - GET /api/v1/feature-kinds
assert_eq 200 "$CODE" "GET /feature-kinds"
assert_eq "call_return call_blocking cpl caller_id_blocking call_screening time_of_day forward_all forward_busy forward_no_answer voicemail" \
    "$(jf '[.items[].name] | join(" ")')" "feature kinds in position order"
assert_eq "calling 20" "$(jf '.items[] | select(.name == "call_blocking") | "\(.side) \(.position)"')" "a kind's side and position"

# --- listener for NOTIFY ---
provd_listen listener

# --- creating: group, defaults, settings ---
F="/api/v1/subscribers/$S1/features"
provd_req - GET "$F"
assert_eq '200 []' "$CODE $(jf '.items | tojson')" "no subscriptions yet"
provd_req - PUT "$F/forward_all" '{"user_enabled": true, "settings": {"target": "4000"}}'
expect_problem 400 "no group_id and no domain default" "no default feature group"
provd_req - PUT "$F/forward_all" "{\"group_id\": $GM, \"settings\": {\"target\": \"4000\"}}"
expect_problem 422 "a group of another kind" "group_id: server group $GM is of kind marshal_ua, not feature"
provd_req - PUT "$F/forward_all" '{"group_id": 999999, "settings": {"target": "4000"}}'
expect_problem 422 "a group that does not exist" "group_id: no server group"
provd_req - PUT "$F/forward_all" "{\"group_id\": $G1}"
assert_eq "201 {} true false" "$CODE $(jf '.settings | tojson') $(jf .admin_enabled) $(jf .user_enabled)" \
    "the carrier offers forward_all before anyone chose its target"
provd_req - PUT "$F/forward_all" '{"user_enabled": true}' "If-Match: $(header ETag)"
expect_problem 422 "switched on without settings" "forward_all.target"
assert_eq f "$(app_sql -c "SELECT user_enabled FROM subscriber_features WHERE subscriber_id = $S1 AND feature = 'forward_all'")" "...and stays off"
provd_req - DELETE "$F/forward_all" "" "If-Match: *"
assert_eq 204 "$CODE" "(the offer withdrawn again)"
provd_req - PUT "$F/forward_all" "{\"group_id\": $G1, \"settings\": {\"target\": \"a b\"}}"
expect_problem 422 "a bad target" "forward_all.target"
provd_req - PUT "$F/forward_no_answer" "{\"group_id\": $G1, \"settings\": {\"target\": \"4000\", \"ring_time\": 2}}"
expect_problem 422 "a ring_time out of range" "forward_no_answer.ring_time"
provd_req - PUT "$F/call_blocking" "{\"group_id\": $G1, \"settings\": {\"prefixes\": [\"+1900\"], \"colour\": 1}}"
expect_problem 422 "an unknown settings field" 'call_blocking: unknown field "colour"'
provd_req - PUT "$F/time_of_day" "{\"group_id\": $G1, \"settings\": {\"tzid\": \"Mars/Olympus\", \"periods\": [{\"days\": [\"MO\"], \"start\": \"09:00\", \"end\": \"17:00\"}], \"target\": \"5000\"}}"
expect_problem 422 "an unknown time zone" "time_of_day.tzid"
provd_req - PUT "$F/call_screening" "{\"group_id\": $G1, \"settings\": {\"callers\": \"anonymous\"}}"
expect_problem 422 "callers not an array" "call_screening.callers"
provd_req - PUT "$F/cpl" "{\"group_id\": $G1, \"settings\": {\"script\": \"<cpl xmlns=\\\"urn:ietf:params:xml:ns:cpl\\\">\\n<incoming>\\n<proxy timeout=\\\"x\\\"/>\\n</incoming></cpl>\"}}"
expect_problem 422 "a raw cpl script that does not compile" "cpl.script: line 3"
assert_contains "$(jf .detail)" "Element '{urn:ietf:params:xml:ns:cpl}proxy', attribute 'timeout'" "...naming the element"
provd_req - PUT "$F/forward_all" "{\"group_id\": $G1, \"settings\": [1]}"
expect_problem 422 "settings not an object" "settings: must be a JSON object"
provd_req - PUT "$F/forward_all" "{\"group_id\": $G1, \"feature\": \"x\"}"
expect_problem 422 "feature in the body" "feature: given by the path"
provd_req - PUT "$F/no_such_thing" "{\"group_id\": $G1}"
expect_problem 404 "an unknown feature" "no feature named no_such_thing"
provd_req - PUT "/api/v1/subscribers/999999/features/forward_all" "{\"group_id\": $G1, \"settings\": {\"target\": \"4000\"}}"
expect_problem 404 "a missing subscriber" "no subscriber with id 999999"
provd_req - PUT "$F/forward_all" "{\"group_id\": $G1, \"settings\": {\"target\": \"4000\"}}" 'If-Match: "1.1"'
expect_problem 412 "If-Match on a subscription that does not exist"
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM subscriber_features")" "refused PUTs wrote nothing"

app_sql -c "UPDATE domains SET feature_group_id = $G1 WHERE id = $D1"
provd_req - PUT "$F/forward_all" '{"settings": {"target": "4000"}}'
assert_eq 201 "$CODE" "create a subscription: 201"
assert_eq "/api/v1/subscribers/$S1/features/forward_all" "$(header Location)" "create: Location"
assert_eq "$G1 true false false false called 4000" \
    "$(jf '"\(.group_id) \(.admin_enabled) \(.user_enabled) \(.locked) \(.active) \(.side) \(.settings.target)"')" \
    "defaults: the domain's group, offered, not switched on, not locked"
FA_ETAG="$(header ETag)"
[[ "$FA_ETAG" =~ ^\"[0-9]+\.[0-9]+\"$ ]] || fail "ETag: $FA_ETAG"
provd_req - PUT "$F/forward_all" '{"user_enabled": true}'
expect_problem 428 "replace without If-Match" "If-Match"
provd_req - PUT "$F/forward_all" '{"user_enabled": true}' 'If-Match: "1.1"'
expect_problem 412 "replace with a stale ETag"
provd_req - PUT "$F/forward_all" "{\"user_enabled\": true, \"group_id\": $G2}" "If-Match: $FA_ETAG"
assert_eq "200 true $G2 4000" "$CODE $(jf .active) $(jf .group_id) $(jf .settings.target)" "replace: 200, settings kept when left out"
FA_ETAG2="$(header ETag)"
[[ "$FA_ETAG2" != "$FA_ETAG" ]] || fail "a replace gives a new ETag"
ok "a replace gives a new ETag"
provd_req - GET "$F/forward_all"
assert_eq "200 $FA_ETAG2" "$CODE $(header ETag)" "GET one: its ETag"
provd_req - GET "$F/voicemail"
expect_problem 404 "a subscription that does not exist" "has no voicemail subscription"
provd_req - GET "$F/nothing"
expect_problem 404 "GET of an unknown feature" "no feature named nothing"
provd_req - PUT "$F/voicemail" '{"user_enabled": true, "settings": {"uri": "sip:vm@vm.feat.example"}}'
assert_eq 201 "$CODE" "a second subscription"
provd_req - GET "$F"
assert_eq "forward_all voicemail" "$(jf '[.items[].feature] | join(" ")')" "the list, in position order"
assert_eq "$FA_ETAG2" "\"$(jf '.items[0].etag' | tr -d '"')\"" "the list gives each item's ETag"
provd_req - GET /api/v1/subscribers/999999/features
expect_problem 404 "features of a missing subscriber"

# --- the script route ---
provd_req - GET "$F/forward_all/script"
assert_eq 200 "$CODE" "the called side's script: 200"
assert_eq "application/xml" "$(header Content-Type)" "the script is application/xml"
assert_contains "$BODY" '<location url="sip:4000@feat.example">' "forward_all's target as a URI of the domain"
provd_req - GET "$F/forward_all/script?side=calling"
expect_problem 400 "a side the feature is not on" "called side only"
provd_req - GET "$F/forward_all/script?side=up"
expect_problem 400 "a side that is none" "calling or called"
provd_req - GET "$F/call_blocking/script"
expect_problem 404 "the script of a feature not subscribed"

# --- NOTIFY and audit ---
provd_listen_end
assert_contains "$(cat "$HARNESS_DIR/listener.out")" "\"table\" : \"subscriber_features\", \"op\" : \"INSERT\"" \
    "a feature create sends a NOTIFY"
assert_contains "$(cat "$HARNESS_DIR/listener.out")" "\"table\" : \"subscriber_features\", \"op\" : \"UPDATE\"" \
    "a feature replace sends a NOTIFY"
assert_contains "$(cat "$HARNESS_DIR/listener.out")" "\"subscriber_id\" : $S1" "the NOTIFY names the subscriber"
provd_req - GET "/api/v1/audit?resource=subscriber_features"
assert_eq "PUT DELETE PUT PUT PUT" "$(jf '[.items[].method] | join(" ")')" "every accepted change is audited (the withdrawn offer too), no refused one"
assert_eq "4000" "$(jf '.items[2].summary.settings.target')" "the audit summary keeps the settings given"

# --- a subscriber's session ---
ALICE_PW="alice-feat-$RANDOM$RANDOM"
provd_req - POST /api/v1/accounts "{\"login\": \"alice\", \"password\": \"$ALICE_PW\", \"role\": \"subscriber\", \"subscriber_id\": $S1}"
assert_eq 201 "$CODE" "a web login for the subscriber"
rm -f "$HARNESS_DIR/alice.jar"
provd_req alice POST /api/v1/session "{\"login\": \"alice\", \"password\": \"$ALICE_PW\"}"
AC="$(jf .csrf_token)"
provd_req alice GET /api/v1/feature-kinds
assert_eq 200 "$CODE" "a subscriber reads the feature kinds"
provd_req alice GET "$F"
assert_eq "200 2" "$CODE $(jf '.items | length')" "a subscriber lists their subscriptions"
provd_req alice GET "/api/v1/subscribers/$S2/features"
expect_problem 404 "a subscriber lists another's" "no subscriber with id $S2"
provd_req alice GET "/api/v1/subscribers/$S2/features/forward_all"
expect_problem 404 "a subscriber reads another's subscription"
provd_req alice GET "$F/forward_all"
ET="$(header ETag)"
provd_req alice PUT "$F/forward_all" '{"user_enabled": false, "settings": {"target": "4001"}}' "If-Match: $ET" "X-CSRF-Token: $AC"
assert_eq "200 false 4001" "$CODE $(jf .user_enabled) $(jf .settings.target)" "a subscriber switches and sets their own"
ET="$(header ETag)"
provd_req alice PUT "$F/forward_all" "{\"user_enabled\": true, \"group_id\": $G2, \"admin_enabled\": true, \"locked\": false}" "If-Match: $ET" "X-CSRF-Token: $AC"
assert_eq 200 "$CODE" "a subscriber may send the carrier's members unchanged"
ET="$(header ETag)"
for m in "\"admin_enabled\": false" "\"locked\": true" "\"group_id\": $G1"; do
    provd_req alice PUT "$F/forward_all" "{$m}" "If-Match: $ET" "X-CSRF-Token: $AC"
    f="${m%%:*}"; f="${f//\"/}"
    expect_problem 403 "a subscriber changes $f" "may not change $f"
done
provd_req alice PUT "$F/forward_all" '{"settings": {"target": "a b"}}' "If-Match: $ET" "X-CSRF-Token: $AC"
expect_problem 422 "a subscriber's bad settings" "forward_all.target"
provd_req alice PUT "$F/call_blocking" '{"user_enabled": true, "settings": {"prefixes": ["1"]}}' "X-CSRF-Token: $AC"
expect_problem 403 "a subscriber creates a subscription" "may not subscribe"
provd_req alice PUT "/api/v1/subscribers/$S2/features/forward_all" '{"user_enabled": true}' "If-Match: *" "X-CSRF-Token: $AC"
expect_problem 404 "a subscriber changes another's"
provd_req alice DELETE "$F/voicemail" "" "If-Match: *" "X-CSRF-Token: $AC"
expect_problem 403 "a subscriber deletes their own subscription"
provd_req alice DELETE "/api/v1/subscribers/$S2/features/voicemail" "" "If-Match: *" "X-CSRF-Token: $AC"
expect_problem 404 "a subscriber deletes another's"
provd_req alice PUT "$F/forward_all" '{"user_enabled": false}' "If-Match: $ET"
expect_problem 403 "a subscriber's PUT without the CSRF token" "CSRF"

# locked and not offered
provd_req - GET "$F/voicemail"
provd_req - PUT "$F/voicemail" '{"locked": true}' "If-Match: $(header ETag)"
assert_eq "200 true" "$CODE $(jf .locked)" "the carrier locks a subscription"
provd_req alice PUT "$F/voicemail" '{"user_enabled": false}' "If-Match: *" "X-CSRF-Token: $AC"
expect_problem 403 "a subscriber changes a locked one" "locked by the carrier"
provd_req - PUT "$F/voicemail" '{"locked": false, "admin_enabled": false}' "If-Match: *"
provd_req alice PUT "$F/voicemail" '{"user_enabled": true}' "If-Match: *" "X-CSRF-Token: $AC"
expect_problem 403 "a subscriber switches on one the carrier does not offer" "not offered by the carrier"
assert_eq "f|f" "$(app_sql -c "SELECT locked, admin_enabled FROM subscriber_features WHERE subscriber_id = $S1 AND feature = 'voicemail'")" \
    "the refused changes left the row as the carrier set it"
assert_eq "alice" "$(app_sql -c "SELECT actor FROM audit_log WHERE resource = 'subscriber_features' AND actor <> 'token' LIMIT 1")" \
    "a subscriber's change is audited under their login"

# --- raw cpl beside carrier-locked features: accepted, the locked part runs first ---
OUTGOING='<cpl xmlns="urn:ietf:params:xml:ns:cpl"><outgoing><location url="sip:9@feat.example"><proxy/></location></outgoing></cpl>'
INCOMING='<cpl xmlns="urn:ietf:params:xml:ns:cpl"><incoming><location url="sip:9@feat.example"><proxy/></location></incoming></cpl>'
cplbody() { jq -cn --arg s "$1" --argjson u "$2" '{user_enabled: $u, settings: {script: $s}}'; }
provd_req - PUT "$F/call_blocking" '{"user_enabled": true, "locked": true, "settings": {"prefixes": ["+1900"]}}'
assert_eq 201 "$CODE" "a carrier-locked call_blocking"
provd_req - PUT "$F/cpl" "$(cplbody "$OUTGOING" true)"
assert_eq "201 true" "$CODE $(jf .active)" "an active cpl with an outgoing action beside locked call_blocking: accepted (no 409)"
CPL_ETAG="$(header ETag)"
provd_req - GET "$F/call_blocking/script"
assert_eq 200 "$CODE" "the calling hop's script..."
assert_contains "$BODY" "sip:9@feat.example" "...is the subscriber's own outgoing script"
provd_req - GET "$F/call_blocking/script?part=locked"
assert_eq 200 "$CODE" "the calling hop's locked part..."
assert_contains "$BODY" 'subdomain-of="1900"' "...is the carrier's blocking, which featured runs first"
[[ "$BODY" != *"feat.example"* ]] || fail "the locked part carries nothing of the subscriber's script"
ok "the locked part has nothing of the subscriber's script"
provd_req - GET "$F/call_blocking/script?part=all"
expect_problem 400 "an unknown part" "part: must be hop or locked"
provd_req - PUT "$F/cpl" "$(cplbody "$INCOMING" true)" "If-Match: $CPL_ETAG"
assert_eq 200 "$CODE" "the cpl replaced by an incoming-only script"
CPL_ETAG="$(header ETag)"
provd_req - GET "$F/call_blocking/script?part=locked"
assert_eq 204 "$CODE" "no outgoing script: no locked part on the calling side (the hop's generated script has the blocking)"
provd_req - PUT "$F/call_screening" '{"user_enabled": true, "locked": true, "settings": {"callers": ["anonymous"]}}'
assert_eq 201 "$CODE" "a locked call_screening after an active incoming cpl: accepted"
provd_req - GET "$F/cpl/script?side=called&part=locked"
assert_eq 200 "$CODE" "the called hop's locked part..."
assert_contains "$BODY" "anonymous" "...is the carrier's screening"
provd_req - GET "$F/cpl/script?side=called"
assert_contains "$BODY" "sip:9@feat.example" "the called hop's script is the subscriber's own"
provd_req - GET "$F/call_screening"
provd_req - PUT "$F/call_screening" '{"locked": false}' "If-Match: $(header ETag)"
assert_eq "200 false" "$CODE $(jf .locked)" "the screening unlocked"
provd_req - GET "$F/cpl/script?side=called&part=locked"
assert_eq 204 "$CODE" "unlocked, the screening is the subscriber's: the raw script replaces it, no locked part"
provd_req - PUT "$F/cpl" '{"user_enabled": false}' "If-Match: $CPL_ETAG"
assert_eq "200 false" "$CODE $(jf .active)" "the cpl switched off"

# the generated script of the calling side: call_blocking
provd_req - GET "$F/call_blocking/script"
assert_eq 200 "$CODE" "call_blocking's script"
assert_contains "$BODY" '<address-switch field="destination" subfield="tel">' "call_blocking as an address-switch on the destination"
assert_contains "$BODY" 'subdomain-of="1900"' "the prefix (its digits)"
provd_req - GET "$F/cpl/script"
expect_problem 400 "the script of a both-sided feature without side" "side=calling or side=called"
provd_req - GET "$F/cpl/script?side=called"
assert_eq 200 "$CODE" "the called side, cpl inactive: the generated script"
assert_contains "$BODY" "anonymous" "...with the screening"
provd_req - PUT "$F/call_blocking" '{"user_enabled": false}' "If-Match: *"
provd_req - GET "$F/call_blocking/script"
assert_eq 204 "$CODE" "a calling side with nothing active: 204, no script"

# --- deletes ---
provd_req - DELETE "$F/voicemail"
expect_problem 428 "DELETE without If-Match"
provd_req - DELETE "$F/voicemail" "" 'If-Match: "1.1"'
expect_problem 412 "DELETE with a stale ETag"
provd_req - DELETE "$F/voicemail" "" "If-Match: *"
assert_eq 204 "$CODE" "delete a subscription"
provd_req - DELETE "$F/voicemail" "" "If-Match: *"
expect_problem 404 "deleting it again"
assert_eq 1 "$(app_sql -c "SELECT count(*) FROM audit_log WHERE resource = 'subscriber_features' AND method = 'DELETE' AND path LIKE '%/voicemail'")" \
    "the delete is audited"
provd_req - DELETE "/api/v1/subscribers/$S1" "" "If-Match: *"
assert_eq 204 "$CODE" "deleting the subscriber..."
assert_eq 0 "$(app_sql -c "SELECT count(*) FROM subscriber_features WHERE subscriber_id = $S1")" "...deletes its subscriptions"

kill -TERM "$PROVD_PID"
rc=0; wait "$PROVD_PID" || rc=$?
assert_eq 0 "$rc" "provd exits 0 on SIGTERM"
