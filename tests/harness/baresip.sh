# shellcheck shell=bash
# Headless baresip softphones for integration tests, beside SIPp: a real
# user agent with its own registration, digest and dialog handling.
#
#   . tests/harness/baresip.sh
#   harness_init
#   baresip_start alice alice secret vocal.test "127.0.0.1:$PROXY" regint=60
#   baresip_start bob bob pw vocal.test "127.0.0.1:$PROXY" auto-answer regint=0
#   baresip_wait_event alice REGISTER_OK
#   baresip_cmd alice dial sip:bob@vocal.test
#   baresip_wait_event bob CALL_ESTABLISHED
#   baresip_wait_event alice CALL_ESTABLISHED
#   baresip_cmd alice hangup
#   baresip_wait_event alice CALL_CLOSED
#   baresip_stop alice            # or let the test's exit stop it
#
# baresip_start NAME USER PASSWORD DOMAIN PROXY_HOSTPORT [OPTION...]
#   One user agent NAME with one account, sip:USER@DOMAIN, whose requests
#   all go to the outbound proxy PROXY_HOSTPORT (HOST:PORT, IPv6 host in
#   brackets). The password must not hold ';' or '"'. OPTIONs:
#     auto-answer    answer incoming calls at once (answermode=auto)
#     tcp | udp      transport to the proxy (default udp)
#     regint=S       REGISTER with this expiry in seconds; 0: never register
#                    (default 600)
#   It listens on a free loopback port (UDP and TCP; baresip_sip_port
#   NAME tells it) and returns once its control connection is up.
#
# baresip_cmd NAME COMMAND [PARAMS...]
#   Runs one baresip command (the menu module's long commands: dial URI,
#   hangup, accept, reginfo, listcalls...) and prints its output. Fails the
#   test when baresip does not answer within 5 s; returns 1 when baresip
#   answers that the command failed.
#
# baresip_wait NAME REGEX [TIMEOUT_S]
#   Waits (default 10 s) for a line matching the extended REGEX in NAME's
#   control messages or, failing that, in its log, looking in each only
#   past the line the previous wait for NAME matched there, so that
#   consecutive waits follow events in order. Fails the test, with the
#   files shown, on timeout. baresip_wait_event NAME TYPE [TIMEOUT_S] waits
#   for a control event: REGISTER_OK, REGISTER_FAIL, CALL_INCOMING (not
#   sent when baresip answers by itself), CALL_RINGING, CALL_PROGRESS,
#   CALL_ESTABLISHED, CALL_CLOSED (its "param" is the reason)...
#   Waits and commands keep state: call them in the test's own shell, not
#   in $(...).
#
# baresip_stop NAME: stops NAME, unregistering if it registered: baresip
#   waits for the answer, so a stop with nobody left to answer the
#   un-REGISTER takes BARESIP_STOP_GRACE seconds (default 3) before a
#   second SIGTERM forces it.
#
# The log, $HARNESS_DIR/baresip-NAME.log, holds baresip's output with a
# trace of every SIP message it sends and receives, each after a line
# "UDP|TCP SRC -> DST" (-s; BARESIP_SIP_TRACE=0 turns it off). The control
# messages, one JSON object a line, responses and events
# ({"event":true,"type":"CALL_ESTABLISHED",...}), are in
# $HARNESS_DIR/baresip-NAME.ctrl: a file of their own, since baresip
# writes its lines in pieces. Both are shown when a wait or command fails
# and, for every baresip, when the test exits with a failure. Its
# configuration is in $HARNESS_DIR/baresip/NAME.
#
# How it runs without a terminal or sound card (Debian 12, baresip 1.0.0):
# no stdio module (it needs a tty), ctrl_tcp for control (netstring JSON;
# it serves one connection at a time, a new one closes the old, so the
# harness keeps exactly one per baresip: commands are written to it and a
# background reader copies everything it says, responses and events, into
# the .ctrl file); ausine as the audio source, aubridge as the player and alert
# device (nothing is played); G.711 only; no video modules.
#
# What baresip 1.0 (libre 1.x) answers in digest authentication: MD5 only
# (seen here: a 407 with MD5 and qop="auth", over UDP and TCP; it sends
# qop=auth and no algorithm parameter, which means MD5). It reads
# every challenge of a response and gives up on the request ("session
# closed: Function not implemented", ENOSYS, or REGISTER_FAIL) as soon as
# one names another algorithm, whatever their order: a 407 offering
# SHA-256 and MD5 fails the call even though it offers MD5 too. So a
# server must offer baresip 1.0 MD5 alone (testproxy --auth-algs md5).
# tests/integration/baresip_harness_test.sh checks all of this.

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ -n "${_HARNESS_BARESIP_LOADED:-}" ]]; then
    return 0
fi
_HARNESS_BARESIP_LOADED=1

BARESIP=${BARESIP:-baresip}
BARESIP_MODULE_PATH=${BARESIP_MODULE_PATH:-/usr/lib/baresip/modules}

# Per NAME, not inherited: pids of baresip and of its reader, the control
# fd, the SIP port, the line the last wait matched, the last token.
declare -gA _BARESIP_PID=() _BARESIP_READER=() _BARESIP_FD=() _BARESIP_PORT=()
declare -gA _BARESIP_CURSOR=() _BARESIP_CTRL_CURSOR=() _BARESIP_SHOWN=()
_BARESIP_NAMES=()
_BARESIP_CLEANUP_REGISTERED=""

baresip_log() {
    echo "$HARNESS_DIR/baresip-$1.log"
}

baresip_ctrl_log() {
    echo "$HARNESS_DIR/baresip-$1.ctrl"
}

baresip_sip_port() {
    echo "${_BARESIP_PORT[$1]}"
}

baresip_start() {
    if [[ $# -lt 5 ]]; then
        echo "usage: baresip_start NAME USER PASSWORD DOMAIN PROXY_HOSTPORT [auto-answer] [tcp|udp] [regint=S]" >&2
        return 2
    fi
    local name=$1 user=$2 pass=$3 domain=$4 proxy=$5 opt
    local answer=manual transport=udp regint=600
    shift 5
    for opt in "$@"; do
        case "$opt" in
            auto-answer) answer=auto ;;
            udp | tcp) transport=$opt ;;
            regint=[0-9]*) regint=${opt#regint=} ;;
            *) fail "baresip_start $name: unknown option '$opt'" ;;
        esac
    done
    _harness_ensure_init
    command -v "$BARESIP" >/dev/null || fail "baresip is not installed (Debian: baresip-core)"
    [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || fail "baresip name '$name': use [A-Za-z0-9._-]"
    [[ -z "${_BARESIP_PID[$name]+set}" ]] || fail "baresip name '$name' used twice"
    [[ "$pass" != *[\;\"]* ]] || fail "baresip $name: the password may not hold ; or \""
    if [[ -z "$_BARESIP_CLEANUP_REGISTERED" ]]; then
        harness_on_exit baresip_stop_all
        _BARESIP_CLEANUP_REGISTERED=1
    fi

    local dir=$HARNESS_DIR/baresip/$name log sip ctrl rtp tp_param=""
    log=$(baresip_log "$name")
    sip=$(harness_free_port both) || fail "baresip $name: no free port"
    ctrl=$(harness_free_port tcp) || fail "baresip $name: no free port"
    rtp=$(harness_free_port udp) || fail "baresip $name: no free port"
    [[ "$transport" == udp ]] || tp_param=";transport=$transport"
    mkdir -p "$dir"
    # Modules are listed one by one: the default config would load stdio
    # (a tty) and alsa (a sound card). ausine makes 48 kHz stereo only; baresip
    # resamples it for G.711.
    cat >"$dir/config" <<EOF
poll_method		epoll
sip_listen		127.0.0.1:$sip
call_local_timeout	120
call_max_calls		4
audio_player		aubridge,nil
audio_source		ausine,440
ausrc_srate		48000
ausrc_channels		2
audio_alert		aubridge,nil
rtp_ports		$rtp-$((rtp + 39))
module_path		$BARESIP_MODULE_PATH
module			g711.so
module			ausine.so
module			aubridge.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:$ctrl
EOF
    # The account is added with uanew once the control connection is up:
    # an account in the accounts file would register before anybody
    # listens to its events.
    local account
    printf -v account '<sip:%s@%s%s>;auth_pass=%s;outbound="sip:%s%s";regint=%s;answermode=%s' \
        "$user" "$domain" "$tp_param" "$pass" "$proxy" "$tp_param" "$regint" "$answer"
    : >"$dir/accounts"
    : >"$dir/contacts"

    local -a cmd=("$BARESIP" -f "$dir")
    [[ "${BARESIP_SIP_TRACE:-1}" == 0 ]] || cmd+=(-s)
    # stdout is a file: line-buffer it so that the log keeps up.
    command -v stdbuf >/dev/null && cmd=(stdbuf -oL -eL "${cmd[@]}")
    _BARESIP_NAMES+=("$name")
    _BARESIP_PORT[$name]=$sip
    _BARESIP_CURSOR[$name]=0
    _BARESIP_CTRL_CURSOR[$name]=0
    : >"$(baresip_ctrl_log "$name")"
    _BARESIP_FD[$name]=""
    _BARESIP_READER[$name]=""
    # In its own directory and without core files: baresip 1.0 may crash
    # at exit when stopped during a call (it unloads menu.so before freeing
    # the call), which a test cannot help; the exit status is not checked.
    (
        cd "$dir" || exit 1
        ulimit -c 0
        exec "${cmd[@]}" </dev/null >>"$log" 2>&1
    ) &
    _BARESIP_PID[$name]=$!

    # The control connection: retried until ctrl_tcp listens.
    local fd="" i
    for ((i = 0; i < 50; i++)); do
        harness_pid_alive "${_BARESIP_PID[$name]}" || break
        # braces: a redirection on exec itself would stay for good
        if { exec {fd}<>"/dev/tcp/127.0.0.1/$ctrl"; } 2>/dev/null; then
            break
        fi
        fd=""
        sleep 0.1
    done
    if [[ -z "$fd" ]]; then
        baresip_show_log "$name"
        fail "baresip $name did not start (no control connection on port $ctrl)"
    fi
    _BARESIP_FD[$name]=$fd
    _baresip_reader "$fd" >>"$(baresip_ctrl_log "$name")" &
    _BARESIP_READER[$name]=$!
    # ctrl_tcp listens before baresip is ready: commands wait for this.
    baresip_wait "$name" '^baresip is ready' 5
    baresip_cmd "$name" uanew "$account" >/dev/null ||
        fail "baresip $name: uanew refused the account $account"
}

baresip_cmd() {
    if [[ $# -lt 2 ]]; then
        echo "usage: baresip_cmd NAME COMMAND [PARAMS...]" >&2
        return 2
    fi
    local name=$1 command=$2 params token msg fd line ctrl
    shift 2
    params="$*"
    fd=${_BARESIP_FD[$name]:-}
    [[ -n "$fd" ]] || fail "baresip_cmd: baresip $name is not running"
    ctrl=$(baresip_ctrl_log "$name")
    # Unique without a counter, which a $(baresip_cmd ...) could not keep.
    token=${BASHPID}.${EPOCHREALTIME/[.,]/}
    msg=$(printf '{"command":"%s","params":"%s","token":"t%s"}' \
        "$(_baresip_json "$command")" "$(_baresip_json "$params")" "$token")
    # Netstring lengths are in bytes.
    local LC_ALL=C
    printf '%d:%s,' "${#msg}" "$msg" >&"$fd" || fail "baresip $name: cannot send '$command'"
    if ! harness_wait_for "baresip $name to answer '$command'" 5 \
        grep -qF "\"token\":\"t$token\"" "$ctrl"; then
        baresip_show_log "$name"
        fail "baresip $name: no answer to '$command $params'"
    fi
    line=$(grep -m1 -F "\"token\":\"t$token\"" "$ctrl")
    # The data, unescaped enough to read: \n and \" as they were meant.
    if [[ "$line" =~ \"data\":\"(.*)\",\"token\" ]]; then
        printf '%b\n' "${BASH_REMATCH[1]//\\\"/\"}"
    fi
    [[ "$line" == *'"ok":true'* ]]
}

baresip_wait() {
    if [[ $# -lt 2 ]]; then
        echo "usage: baresip_wait NAME REGEX [TIMEOUT_S]" >&2
        return 2
    fi
    local name=$1 regex=$2 timeout=${3:-10}
    [[ -n "${_BARESIP_PID[$name]+set}" ]] || fail "baresip_wait: no baresip $name was started"
    if ! harness_wait_for "baresip $name: /$regex/" "$timeout" _baresip_match "$name" "$regex"; then
        baresip_show_log "$name"
        fail "baresip $name: no line matching /$regex/ within ${timeout}s"
    fi
}

baresip_wait_event() {
    baresip_wait "$1" "^\\{\"event\":true,\"type\":\"$2\"" "${3:-10}"
}

baresip_stop() {
    local name=$1 pid fd rpid i grace=${BARESIP_STOP_GRACE:-3}
    [[ -n "${_BARESIP_PID[$name]+set}" ]] || fail "baresip_stop: no baresip $name was started"
    pid=${_BARESIP_PID[$name]}
    [[ -n "$pid" ]] || return 0
    _BARESIP_PID[$name]=""
    fd=${_BARESIP_FD[$name]}
    if [[ -n "$fd" ]]; then
        exec {fd}>&-
        _BARESIP_FD[$name]=""
    fi
    # The first SIGTERM lets it unregister and end its calls; it waits for
    # their transactions (up to 32 s), so a second one forces the exit.
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        harness_pid_alive "$pid" || break
        sleep 0.1
    done
    harness_kill_pid "$pid" TERM
    rpid=${_BARESIP_READER[$name]}
    # The reader ends with the connection; it may hang in read when the
    # kernel has not closed it yet.
    [[ -z "$rpid" ]] || harness_kill_pid "$rpid" TERM
    _BARESIP_READER[$name]=""
}

# baresip_stop_all: registered for exit; shows the logs when the test failed.
baresip_stop_all() {
    local name
    if [[ "${HARNESS_EXIT_STATUS:-0}" != 0 ]]; then
        for name in "${_BARESIP_NAMES[@]}"; do
            [[ -n "${_BARESIP_SHOWN[$name]:-}" ]] || baresip_show_log "$name"
        done
    fi
    for name in "${_BARESIP_NAMES[@]}"; do
        baresip_stop "$name"
    done
}

# baresip_show_log NAME: the end of NAME's log and control messages on
# stderr.
baresip_show_log() {
    local f
    _BARESIP_SHOWN[$1]=1
    for f in "$(baresip_log "$1")" "$(baresip_ctrl_log "$1")"; do
        [[ -s "$f" ]] || continue
        echo "--- baresip $1: $f" >&2
        tail -n "${BARESIP_LOG_LINES:-60}" "$f" >&2
    done
}

# --- internals ---

# Copies the netstrings of fd $1 to stdout, one line each.
_baresip_reader() {
    local fd=$1 len body comma LC_ALL=C
    while IFS= read -r -d : len <&"$fd"; do
        [[ "$len" =~ ^[0-9]+$ ]] || break
        IFS= read -r -N "$len" body <&"$fd" || break
        IFS= read -r -N 1 comma <&"$fd" || break
        [[ "$comma" == , ]] || break
        printf '%s\n' "${body//$'\n'/\\n}"
    done
}

# A JSON string body: backslash and quote escaped, control characters gone.
_baresip_json() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '%s' "${s//[[:cntrl:]]/}"
}

# Matches REGEX past NAME's cursors (control messages first, then the
# log), and moves the cursor of the file that matched to the match.
_baresip_match() {
    local name=$1 regex=$2 cur n
    cur=${_BARESIP_CTRL_CURSOR[$name]}
    n=$(_baresip_grep_from "$(baresip_ctrl_log "$name")" "$cur" "$regex")
    if [[ -n "$n" ]]; then
        _BARESIP_CTRL_CURSOR[$name]=$((cur + n))
        return 0
    fi
    cur=${_BARESIP_CURSOR[$name]}
    n=$(_baresip_grep_from "$(baresip_log "$name")" "$cur" "$regex")
    [[ -n "$n" ]] || return 1
    _BARESIP_CURSOR[$name]=$((cur + n))
}

# _baresip_grep_from FILE SKIP REGEX: the line number, counted after the
# first SKIP lines, of the first line matching REGEX; nothing if none.
_baresip_grep_from() {
    tail -n "+$(($2 + 1))" "$1" 2>/dev/null | grep -n -m1 -E -- "$3" | cut -d: -f1 || true
}
