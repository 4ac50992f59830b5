#!/usr/bin/env bash
# provd's bulk import of subscribers (POST /api/v1/subscribers/import,
# provisioning/import.c and csv.c) against the harness PostgreSQL: a good
# file, per-row errors (the field tables of POST /subscribers, unknown
# domains, duplicates in the file and in the table) with the file's row
# numbers, all-or-nothing and ?partial=true, the content type, the header's
# columns, passwords stored as the three HA1s only, one audit entry, a
# 10,000-row file, and subscriber searches that match '%' and '_' as typed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../harness/provd.sh
. "$HERE/../harness/provd.sh"

provd_setup
provd_start "$CONF" "$HARNESS_DIR/provd.log"

# csv FILE [QUERY [CONTENT-TYPE]]: POST the file; CODE, BODY, HDRS
csv() {
    : >"$HARNESS_DIR/body"
    CODE="$(curl -s -o "$HARNESS_DIR/body" -D "$HARNESS_DIR/hdrs" -w '%{http_code}' \
        -H "Authorization: Bearer $TOKEN" -H "Content-Type: ${3:-text/csv}" \
        --data-binary "@$1" "$BASE/api/v1/subscribers/import${2:+?$2}")"
    BODY="$(cat "$HARNESS_DIR/body")"
    HDRS="$(tr -d '\r' <"$HARNESS_DIR/hdrs")"
}
count() { app_sql -c "SELECT count(*) FROM subscribers"; }

api POST /api/v1/domains '{"name": "imp.example", "realm": "Imp Realm"}'
D1="$(jf .id)"
api POST /api/v1/domains '{"name": "other.example"}'
api POST /api/v1/subscribers "{\"domain_id\": $D1, \"user_part\": \"taken\"}"
assert_eq 201 "$CODE" "set-up: a subscriber that exists"

# --- a good file ---
F="$HARNESS_DIR/f.csv"
printf 'user_part,domain,display_name,password,auth_kind\r\n5000,imp.example,"Doe, Jane",s3cret-5000,digest\r\n5001,other.example,"Say ""hi""",,ip\r\n\r\n5002,imp.example,,,\r\n' >"$F"
csv "$F"
assert_eq 200 "$CODE" "import a good file: 200"
assert_eq "3 3 0 0" "$(jf '"\(.rows) \(.created) \(.refused) \(.errors | length)"')" "three rows, three created"
assert_eq "Doe, Jane|digest|5001|Say \"hi\"|ip" \
    "$(app_sql -c "SELECT (SELECT display_name || '|' || auth_kind FROM subscribers WHERE user_part = '5000') || '|5001|' ||
        (SELECT display_name || '|' || auth_kind FROM subscribers WHERE user_part = '5001')")" \
    "quoted fields with commas and doubled quotes; auth_kind as given"
assert_eq "digest" "$(app_sql -c "SELECT auth_kind FROM subscribers WHERE user_part = '5002'")" "an empty auth_kind is digest"
want_md5="$(printf '%s' "5000:Imp Realm:s3cret-5000" | openssl dgst -md5 -r | cut -d' ' -f1)"
want_256="$(printf '%s' "5000:Imp Realm:s3cret-5000" | openssl dgst -sha256 -r | cut -d' ' -f1)"
want_512="$(printf '%s' "5000:Imp Realm:s3cret-5000" | openssl dgst -sha512-256 -r | cut -d' ' -f1)"
assert_eq "$want_md5|$want_256|$want_512" \
    "$(app_sql -c "SELECT ha1_md5, ha1_sha256, ha1_sha512_256 FROM subscribers WHERE user_part = '5000'")" \
    "a password is stored as its three HA1s over the domain's realm"
assert_eq "||" "$(app_sql -c "SELECT ha1_md5, ha1_sha256, ha1_sha512_256 FROM subscribers WHERE user_part = '5001'")" \
    "an empty password: none set"
app_sql -c "SELECT row_to_json(s)::text FROM subscribers s" | grep -qF "s3cret-5000" && fail "the password is stored"
app_sql -c "SELECT summary::text FROM audit_log" | grep -qF "s3cret" && fail "the password is in the audit log"
ok "the password is in no row and no audit entry"
assert_eq 1 "$(app_sql -c "SELECT count(*) FROM audit_log WHERE path = '/api/v1/subscribers/import'")" "one audit entry for the import"
assert_eq '{"import": {"rows": 3, "created": 3, "refused": 0}}' \
    "$(app_sql -c "SELECT summary::text FROM audit_log WHERE path = '/api/v1/subscribers/import'")" "...with the counts"

# --- the whole file refused: content type, header, CSV syntax ---
n0="$(count)"
csv "$F" "" "application/json"
expect_problem 415 "a JSON content type" "text/csv"
printf 'user_part,domain,colour\n1,imp.example,red\n' >"$F"
csv "$F"
expect_problem 400 "an unknown column" "colour"
printf 'user_part,display_name\n1,x\n' >"$F"
csv "$F"
expect_problem 400 "no domain column" "no domain column"
printf 'user_part,domain,user_part\n1,imp.example,2\n' >"$F"
csv "$F"
expect_problem 400 "a column twice" "user_part twice"
printf 'user_part,domain\n"1,imp.example\n' >"$F"
csv "$F"
expect_problem 400 "an unterminated quote" "record 2"
printf 'user_part,domain\n1"x,imp.example\n' >"$F"
csv "$F"
expect_problem 400 "a quote inside an unquoted field" "a quote inside an unquoted field"
: >"$F"
csv "$F"
expect_problem 400 "an empty body" "no header row"
csv "$F" "partial=maybe"
expect_problem 400 "partial=maybe" "partial:"
assert_eq "$n0" "$(count)" "refused files write nothing"

# --- per-row errors: all or nothing, then partial ---
cat >"$F" <<'CSV'
user_part,domain,display_name,auth_kind
6000,imp.example,Good one,
6001,imp.example,Good two,
a b,imp.example,,
6003,nowhere.example,,
6004,imp.example,,magic
6001,imp.example,duplicate in the file,
taken,imp.example,duplicate in the table,
6007,Bad_Domain,,
6008,imp.example
6009,imp.example,Good three,
CSV
csv "$F"
expect_problem 422 "a file with bad rows" "nothing was written"
assert_eq "4:user_part 5:domain 6:auth_kind 7:user_part 8:user_part 9:domain 10:" \
    "$(jf '[.errors[] | "\(.row):\(.field)"] | join(" ")')" "every bad row, by the file's row numbers (header = 1)"
assert_contains "$(jf '.errors[] | select(.row == 7) | .detail')" "as row 3" "a duplicate in the file names the first row"
assert_contains "$(jf '.errors[] | select(.row == 8) | .detail')" "already exists" "a duplicate in the table"
assert_contains "$(jf '.errors[] | select(.row == 6) | .detail')" "must be one of none, ip, digest" "the field table's message"
assert_contains "$(jf '.errors[] | select(.row == 10) | .detail')" "2 fields, the header has 4" "a row with too few fields"
assert_eq "$n0" "$(count)" "all or nothing: nothing written"
csv "$F" "partial=true"
assert_eq 200 "$CODE" "?partial=true: 200"
assert_eq "10 3 7 7" "$(jf '"\(.rows) \(.created) \(.refused) \(.errors | length)"')" "partial: the good rows written, the bad ones reported"
assert_eq "6000 6001 6009" "$(app_sql -c "SELECT string_agg(user_part, ' ' ORDER BY user_part) FROM subscribers WHERE user_part LIKE '60%'")" \
    "partial: exactly the good rows"
assert_eq '{"import": {"rows": 10, "created": 3, "refused": 7}}' \
    "$(app_sql -c "SELECT summary::text FROM audit_log WHERE path LIKE '/api/v1/subscribers/import%' ORDER BY id DESC LIMIT 1")" \
    "the partial import's audit entry"
csv "$F" "partial=true"
assert_eq "0 10" "$(jf '"\(.created) \(.refused)"')" "importing the same file again: every row a duplicate"

# --- 10,000 rows ---
{
    echo "user_part,domain,display_name,password"
    for i in $(seq 100000 109999); do echo "$i,imp.example,Bulk $i,pw-$i"; done
} >"$F"
n0="$(count)"
t0=$(date +%s.%N)
csv "$F"
t1=$(date +%s.%N)
assert_eq "200 10000 10000" "$CODE $(jf .rows) $(jf .created)" "a 10,000-row import"
assert_eq "$((n0 + 10000))" "$(count)" "...10,000 rows more"
want="$(printf '%s' "109999:Imp Realm:pw-109999" | openssl dgst -md5 -r | cut -d' ' -f1)"
assert_eq "$want" "$(app_sql -c "SELECT ha1_md5 FROM subscribers WHERE user_part = '109999'")" "...the last row's HA1"
echo "# 10,000 rows imported in $(echo "$t1 - $t0" | bc) s"
csv "$F"
expect_problem 422 "the same 10,000 rows again" "10000 errors"
assert_eq 1000 "$(jf '.errors | length')" "at most 1000 errors are listed"
{
    echo "user_part,domain,auth_kind"
    echo "z0,nowhere.example,digest"
    for i in $(seq 1 1500); do echo "z$i,imp.example,magic"; done
} >"$F"
csv "$F"
expect_problem 422 "1501 bad rows, by two checks" "1501 errors in 1501 of 1501 rows"
assert_eq "1000 2 1001" "$(jf '"\(.errors | length) \(.errors[0].row) \(.errors[999].row)"')" \
    "the first 1000 errors by row, whichever check found them"
assert_eq "domain" "$(jf '.errors[0].field')" "...the domain of row 2 first"
api POST /api/v1/subscribers/import '{}'
expect_problem 415 "a JSON body on the import route"

# --- a subscriber search matches what is typed, '%' and '_' included ---
for u in 'a%bb' 'a_b' 'axb'; do
    api POST /api/v1/subscribers "$(jq -cn --argjson d "$D1" --arg u "$u" '{domain_id: $d, user_part: $u}')"
done
api POST /api/v1/subscribers "$(jq -cn --argjson d "$D1" '{domain_id: $d, user_part: "percent", display_name: "100% sure_x"}')"
api POST /api/v1/subscribers "$(jq -cn --argjson d "$D1" '{domain_id: $d, user_part: "bsl", display_name: "back\\slash"}')"
search() { api GET "/api/v1/subscribers?q=$1"; jf '[.items[] | .user_part] | join(" ")'; }
assert_eq "a%bb" "$(search 'a%25b')" "q=a%b matches only the '%'"
assert_eq "a_b" "$(search 'a_b')" "q=a_b matches only the '_'"
assert_eq "a%bb" "$(search 'A%25B')" "case-insensitive, as before"
assert_eq "percent" "$(search '0%25%20sure_')" "display_name: '%' and '_' literally"
assert_eq "" "$(search '%25%25')" "q=%% matches nothing"
assert_eq "bsl" "$(search 'k%5Cs')" "a backslash matched as typed"
assert_eq "" "$(search 'ks')" "...and not as an escape"

kill -TERM "$PROVD_PID"
rc=0; wait "$PROVD_PID" || rc=$?
assert_eq 0 "$rc" "provd exits 0 on SIGTERM"
