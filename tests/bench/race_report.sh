#!/usr/bin/env bash
# Prints the table of the issue 4 race from the raw outputs that
# platform_race.sh left in DIR (default build/bench/race): kamailio.txt and
# vocal.txt (summaries of the peer's run.sh) and mem.env (the memory runs).
# Run it alone to print the table of an earlier race again.
#
#   race_report.sh [DIR]
set -euo pipefail
dir=${1:-build/bench/race}
for f in kamailio.txt vocal.txt mem.env; do
	[[ -s $dir/$f ]] || { echo "race_report: no $dir/$f" >&2; exit 1; }
done
# shellcheck disable=SC1091
. "$dir/mem.env"

# figures FILE KEY: "sustained us_per_op" from a run.sh summary, whose
# line "KEY ... sustained: N" is followed by the step line of that rate
# (with its CPU % of one core of server and database). When no 10 s run
# passed, the rate of the best 5 s step, marked "(5s)".
figures() {
	awk -v key="$2" '
		found == 1 {
			r = 0; s = 0; d = 0
			if (match($0, /rate +[0-9]+\/s/)) { x = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", x); r = x }
			if (match($0, /srv +[0-9]+/)) { x = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", x); s = x }
			if (match($0, /db +[0-9]+/)) { x = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", x); d = x }
			if (r > 0) printf "%s %.0f\n", ($0 ~ /NOT CONFIRMED/) ? r "(5s)" : sus, (s + d) * 10000 / r
			else print "0 0"
			exit
		}
		index($0, key) == 1 && /sustained:/ { sus = $NF; found = 1 }
	' "$1"
}
read -r k_reg_mem k_reg_mem_us <<<"$(figures "$dir/kamailio.txt" "REGISTER/s (mem)")" || true
read -r k_reg_db k_reg_db_us <<<"$(figures "$dir/kamailio.txt" "REGISTER/s (db)")" || true
read -r k_call k_call_us <<<"$(figures "$dir/kamailio.txt" "calls/s (mem")" || true
read -r v_reg_rate v_reg_us <<<"$(figures "$dir/vocal.txt" "REGISTER/s (ext)")" || true
read -r v_call v_call_us <<<"$(figures "$dir/vocal.txt" "calls/s (ext")" || true

per100k() { awk -v a="$1" -v b="$2" -v n="$mem_bindings" 'BEGIN { printf "%.1f", (b - a) / 1024 * 100000 / n }'; }
k_mem=$(per100k "$k_pss0" "$k_pss1")
v_mem=$(per100k $((r_pss0 + u_pss0)) $((r_pss1 + u_pss1)))
r_mem=$(per100k "$r_pss0" "$r_pss1")
u_mem=$(per100k "$u_pss0" "$u_pss1")

row() { # LABEL KAMAILIO VOCAL higher|lower (is better)
	awk -v l="$1" -v k="$2" -v v="$3" -v dir="$4" 'BEGIN {
		if (k + 0 > 0 && v + 0 > 0) {
			r = v / k
			verdict = (r == 1) ? "same" : ((dir == "higher") == (r > 1) ? "better" : "worse")
			printf "%-44s | %10s | %10s | %5.2f %s\n", l, k, v, r, verdict
		} else
			printf "%-44s | %10s | %10s | -\n", l, k, v
	}'
}

echo "# issue 4 race, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs shared with the load generator"
echo "# Kamailio $(kamailio -v 2>/dev/null | awk 'NR == 1 { print $3 }') (peer run.sh, 4 UDP workers) vs vocal $version (marshald + redirectd), same PostgreSQL options"
echo "# sustained: a passing 10 s run under the peer's rules ('(5s)': none passed, the best 5 s step);"
echo "# CPU per operation at that rate, server processes + PostgreSQL, from /proc"
echo "# (a REGISTER = 401 round + authenticated REGISTER; a call = INVITE/407/ACK/INVITE/100/180/200/ACK/BYE/200)"
printf '%-44s | %10s | %10s | %s\n' "" Kamailio vocal "vocal/Kamailio"
echo "---------------------------------------------+------------+------------+---------------"
row "REGISTER with auth/s (vocal writes to PG)" "${k_reg_db:-0}" "${v_reg_rate:-0}" higher
row "  ... vs Kamailio's usrloc in memory" "${k_reg_mem:-0}" "${v_reg_rate:-0}" higher
row "calls/s (INVITE+auth, 180, 200, ACK, BYE)" "${k_call:-0}" "${v_call:-0}" higher
row "CPU us per REGISTER, Kamailio writing to PG" "${k_reg_db_us:-0}" "${v_reg_us:-0}" lower
row "  ... vs Kamailio's usrloc in memory" "${k_reg_mem_us:-0}" "${v_reg_us:-0}" lower
row "CPU us per call" "${k_call_us:-0}" "${v_call_us:-0}" lower
row "MiB resident per 100,000 bindings (PSS)" "$k_mem" "$r_mem" lower
row "  ... vocal incl. marshald" "$k_mem" "$v_mem" lower
echo "# memory: $mem_bindings bindings ($n_users users x $per_user contacts) at $mem_rate/s, PSS after minus before, per 100,000:"
echo "#   Kamailio 6 s after (it answers REGISTER statelessly; the bindings live in its shm), vocal 66 s"
echo "#   after, once the REGISTER transactions (32 s) are gone and the daemons' 30 s trim has run;"
echo "#   6 s after, with the transactions alive: redirectd ${r_pss6:-?} kB, marshald ${u_pss6:-?} kB"
echo "#   Kamailio: PSS $k_pss0 -> $k_pss1 kB, shm in use $k_shm0 -> $k_shm1 kB, ${k_contacts:-?} contacts; $k_reg"
echo "#   vocal: redirectd PSS $r_pss0 -> $r_pss1 kB; marshald PSS $u_pss0 -> $u_pss1 kB ($u_mem MiB per 100,000);"
echo "#          $v_rows bindings in PostgreSQL; $v_reg"
echo "# raw outputs: $dir (kamailio.*, vocal.*, mem-*, daemon logs); the race took $elapsed s"
