#!/usr/bin/env bash
# Places a demo call against a running `tsunagu serve --demo` (scripts/demo.sh): a SIPp phone
# registers as terminal 201 (password demo201) and answers, echoing the audio; a SIPp carrier
# calls the demo number 0312345678 from 09011112222. The Support group answers with its greeting
# and rings 201, which answers after 1 s; the carrier talks (G.711 and an RFC 4733 digit) and
# hangs up 12 s after the call was answered. Afterwards the call is in the web app's call
# history. Fails if any step fails.
# Usage: scripts/demo-call.sh [TSUNAGU_SIP_ADDR]   (default 127.0.0.1:5060)
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-127.0.0.1:5060}
command -v sipp >/dev/null || { echo "sipp not found: apt-get install -y sip-tester" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found: apt-get install -y python3" >&2; exit 1; }
# Local UDP ports nobody uses right now, so that this runs beside other SIP software.
read -r phone_port reg_port carrier_port phone_media carrier_media < <(python3 -c '
import socket
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
log=$(mktemp -d /tmp/tsunagu-demo-call.XXXXXX)
sipp "$server" -sf tests/sipp/answer.xml -p "$phone_port" -mp "$phone_media" -rtp_echo -d 1000 -m 1 \
    -nostdin -timeout 60 -timeout_error -trace_err -error_file "$log/phone.err" >/dev/null 2>&1 &
phone=$!
trap 'kill $phone 2>/dev/null || true' EXIT
sleep 0.5
fail() {
    echo "FAILED: $1 (SIPp's errors: $log)" >&2
    exit 1
}
echo "== phone 201 registers (digest auth)"
sipp "$server" -sf tests/sipp/register.xml -au 201 -ap demo201 -key user 201 -key contact_port "$phone_port" \
    -p "$reg_port" -m 1 -nostdin -timeout 10 -timeout_error -trace_err -error_file "$log/register.err" \
    >/dev/null 2>&1 || fail "registration"
echo "== the carrier calls 0312345678; the greeting plays, 201 answers after 1 s"
sipp "$server" -sf tests/sipp/carrier_demo.xml -s 0312345678 -key caller 09011112222 -d 4000 \
    -p "$carrier_port" -mp "$carrier_media" -m 1 -nostdin -timeout 40 -timeout_error -trace_err \
    -error_file "$log/carrier.err" >/dev/null 2>&1 || fail "the carrier's call"
wait $phone || fail "the phone did not answer the call and see it through"
trap - EXIT
rm -rf "$log"
echo "== done: the call is answered, relayed and in the call history (log in as admin/Admin1234)"
