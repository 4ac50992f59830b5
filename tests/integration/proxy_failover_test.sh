#!/usr/bin/env bash
# RFC 3263 server location and failover in the proxy core, with real DNS
# and real user agents: a dnsmasq serving a zone written here (its ports are
# picked at run time), a testproxy that locates next hops by name through it
# (--dns) with short transaction timers (--t1 50: Timer B is 3.2 s), and
# SIPp callers and callees, all on 127.0.0.1.
#
#  a. NAPTR -> SRV -> A to a callee: the call completes.
#  b. SRV priority 10 is a port where nothing listens: after Timer B the
#     proxy tries priority 20, which answers; the call completes.
#  c. priority 10 answers 503: the proxy tries priority 20 with a new
#     transaction; the call completes and the caller never sees the 503.
#  d. priority 10 silent, priority 20 answers 503: the caller gets an error
#     final response (500: a proxy does not relay 503, RFC 3261 16.7).
#  e. a name that does not exist: 404, at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/dns.sh
. tests/harness/dns.sh
# shellcheck source=tests/harness/sipp.sh
. tests/harness/sipp.sh
# shellcheck source=tests/harness/testproxy.sh
. tests/harness/testproxy.sh
harness_init

SCEN=tests/integration/sipp
H=127.0.0.1

# ---- the zone: every SIP address is 127.0.0.1, on ports picked now ------
PPORT=$(harness_free_port udp)  # the proxy
A=$(harness_free_port udp)      # a: the callee
B_DEAD=$(harness_free_port udp) # b: nothing listens here
B=$(harness_free_port udp)      # b: the callee
C_503=$(harness_free_port udp)  # c: answers 503
C=$(harness_free_port udp)      # c: the callee
D_DEAD=$(harness_free_port udp) # d: nothing listens here
D_503=$(harness_free_port udp)  # d: answers 503

ZONE=$HARNESS_DIR/fail-zone.conf
cat >"$ZONE" <<EOF
local=/fail.test/
host-record=host.fail.test,$H
# a: the whole chain (the proxy listens on UDP only: SIP+D2U)
naptr-record=a.fail.test,10,50,s,SIP+D2U,,_sip._udp.a.fail.test
srv-host=_sip._udp.a.fail.test,host.fail.test,$A,10,0
# b, c, d: no NAPTR; SRV by priority
srv-host=_sip._udp.b.fail.test,host.fail.test,$B_DEAD,10,0
srv-host=_sip._udp.b.fail.test,host.fail.test,$B,20,0
srv-host=_sip._udp.c.fail.test,host.fail.test,$C_503,10,0
srv-host=_sip._udp.c.fail.test,host.fail.test,$C,20,0
srv-host=_sip._udp.d.fail.test,host.fail.test,$D_DEAD,10,0
srv-host=_sip._udp.d.fail.test,host.fail.test,$D_503,20,0
EOF
dns_start "$ZONE"

# ---- the proxy ----------------------------------------------------------
testproxy_start proxy "udp:$H:$PPORT" --t1 50 --dns "$H:$DNS_PORT" \
    --target "fo_a=sip:alice@a.fail.test" \
    --target "fo_b=sip:bob@b.fail.test" \
    --target "fo_c=sip:carol@c.fail.test" \
    --target "fo_d=sip:dave@d.fail.test" \
    --target "fo_e=sip:eve@nosuch.fail.test"

# elapsed_ms START_USEC: milliseconds since START_USEC
elapsed_ms() { echo $((($(_harness_now_usec) - $1) / 1000)); }
# The caller saw no 5xx at all (the messages it received, SIPp's trace).
no_5xx_seen() {
    ! grep -Eq '^SIP/2\.0 5[0-9][0-9] ' "$(sipp_msg "$1")"
}

reject503=$(sipp_template $SCEN/uas_reject.xml.in STATUS=503 "REASON=Service Unavailable" \
    "EXTRA=Retry-After: 10")

# a. NAPTR -> SRV -> A
t0=$(_harness_now_usec)
sipp_bg a-uas $SCEN/uas_answer.xml "$H:$A"
sipp_run a-uac $SCEN/uac_call.xml "$H:$PPORT" fo_a
sipp_wait a-uas
ok "a: NAPTR -> SRV -> A to the callee, the call completes ($(elapsed_ms "$t0") ms)"

# b. priority 10 silent (Timer B, 64*T1 = 3.2 s), priority 20 answers
t0=$(_harness_now_usec)
sipp_bg b-uas $SCEN/uas_answer.xml "$H:$B"
sipp_run b-uac $SCEN/uac_call.xml "$H:$PPORT" fo_b
sipp_wait b-uas
ms=$(elapsed_ms "$t0")
((ms < 8000)) || fail "b: the failover took $ms ms"
ok "b: priority 10 timed out, priority 20 took the call ($ms ms)"

# c. priority 10 answers 503, priority 20 answers: no 503 reaches the caller
t0=$(_harness_now_usec)
sipp_bg c-503 "$reject503" "$H:$C_503"
sipp_bg c-uas $SCEN/uas_answer.xml "$H:$C"
sipp_run c-uac $SCEN/uac_call.xml "$H:$PPORT" fo_c
sipp_wait c-503
sipp_wait c-uas
no_5xx_seen c-uac || {
    sipp_show_logs c-uac
    fail "c: the caller saw a 5xx"
}
ok "c: 503 from priority 10, priority 20 took the call, the caller saw no 503 ($(elapsed_ms "$t0") ms)"

# d. priority 10 silent, priority 20 answers 503: an error, not a hang
t0=$(_harness_now_usec)
sipp_bg d-503 "$reject503" "$H:$D_503"
expect500=$(sipp_template $SCEN/uac_expect.xml.in STATUS=500 MAXFWD=70)
sipp_run d-uac "$expect500" "$H:$PPORT" fo_d
sipp_wait d-503
ms=$(elapsed_ms "$t0")
((ms < 8000)) || fail "d: the answer took $ms ms"
ok "d: every address failed, the caller got 500 ($ms ms)"

# e. no such name
t0=$(_harness_now_usec)
expect404=$(sipp_template $SCEN/uac_expect.xml.in STATUS=404 MAXFWD=70)
sipp_run e-uac "$expect404" "$H:$PPORT" fo_e
ok "e: a name that does not exist: 404 ($(elapsed_ms "$t0") ms)"

testproxy_stop proxy
grep -q 'failovers=3 ' "$(testproxy_log proxy)" ||
    fail "the proxy counted other failovers: $(grep failovers= "$(testproxy_log proxy)")"
ok "testproxy exited cleanly after 3 failovers"
