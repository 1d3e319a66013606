#!/usr/bin/env bash
# Places a demo call against a running `tsunagu serve --demo` (scripts/demo.sh): a SIPp phone
# registers as terminal 201 (password demo201) and answers, echoing the audio; a SIPp carrier
# calls the demo number 0312345678 from 09011112222, talks for 5 s (G.711 and an RFC 4733
# digit) and hangs up. Afterwards the call is in the web app's call history.
# Usage: scripts/demo-call.sh [TSUNAGU_SIP_ADDR]   (default 127.0.0.1:5060)
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-127.0.0.1:5060}
command -v sipp >/dev/null || { echo "sipp not found: apt-get install -y sip-tester" >&2; exit 1; }
log=$(mktemp -d /tmp/tsunagu-demo-call.XXXXXX)
sipp "$server" -sf tests/sipp/answer.xml -p 5081 -mp 32000 -rtp_echo -d 1000 -m 1 -nostdin \
    -timeout 60 -trace_err -error_file "$log/phone.err" >/dev/null 2>&1 &
phone=$!
trap 'kill $phone 2>/dev/null || true' EXIT
sleep 0.5
echo "== phone 201 registers (digest auth)"
sipp "$server" -sf tests/sipp/register.xml -au 201 -ap demo201 -key user 201 -key contact_port 5081 \
    -p 5091 -m 1 -nostdin -timeout 10 -trace_err -error_file "$log/register.err" >/dev/null 2>&1
echo "== the carrier calls 0312345678; 201 answers after 1 s; 5 s of audio"
sipp "$server" -sf tests/sipp/carrier.xml -s 0312345678 -key caller 09011112222 -d 5000 \
    -p 5082 -mp 34000 -m 1 -nostdin -timeout 30 -trace_err -error_file "$log/carrier.err" >/dev/null 2>&1
wait $phone
echo "== done: the call is answered, relayed and in the call history (log in as admin/Admin1234)"
