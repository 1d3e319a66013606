"""A phone's SRTP done by libsrtp (through pylibsrtp), for crates/media/tests/srtp.rs.

It protects RTP and RTCP with the phone's key (the one in its a=crypto offer) and sends them
to the relay, prints them as they were before protection, then reads what the relay sends
back and unprotects it with the key from Tsunagu's SDP answer. Any packet libsrtp refuses
ends the script with an error. One JSON object per line on stdout:

  {"sent": {"rtp": [hex...], "rtcp": [hex...]}, "rtp_port": N, "rtcp_port": N}
  {"received": {"rtp": [hex...], "rtcp": [hex...]}}
"""

import argparse
import base64
import json
import socket
import struct
import sys
import time

from pylibsrtp import Policy, Session

PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": Policy.SRTP_PROFILE_AES128_CM_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": Policy.SRTP_PROFILE_AES128_CM_SHA1_32,
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--relay-rtp", required=True, help="host:port of the relay's leg")
    p.add_argument("--suite", required=True, choices=PROFILES)
    p.add_argument("--send-key", required=True, help="the phone's key||salt, base64")
    p.add_argument("--recv-key", required=True, help="Tsunagu's key||salt, base64")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--first-seq", type=int, default=65530)
    args = p.parse_args()

    host, port = args.relay_rtp.rsplit(":", 1)
    relay_rtp = (host, int(port))
    relay_rtcp = (host, int(port) + 1)
    profile = PROFILES[args.suite]
    tx = Session(
        Policy(
            key=base64.b64decode(args.send_key),
            ssrc_type=Policy.SSRC_ANY_OUTBOUND,
            srtp_profile=profile,
        )
    )
    rx = Session(
        Policy(
            key=base64.b64decode(args.recv_key),
            ssrc_type=Policy.SSRC_ANY_INBOUND,
            srtp_profile=profile,
        )
    )

    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind(("127.0.0.1", 0))

    ssrc = 0x5EC0_0001
    sent_rtp = []
    for i in range(args.count):
        seq = (args.first_seq + i) & 0xFFFF
        # PCMA, 20 ms each; a payload that differs per packet.
        packet = struct.pack("!BBHII", 0x80, 8, seq, 160 * i, ssrc) + bytes(
            (i * 7 + j) & 0xFF for j in range(160)
        )
        sent_rtp.append(packet.hex())
        rtp.sendto(tx.protect(packet), relay_rtp)
        time.sleep(0.002)
    # A sender report with no report blocks.
    sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, 1, 2, 160 * args.count, args.count, 0)
    rtcp.sendto(tx.protect_rtcp(sr), relay_rtcp)
    print(
        json.dumps(
            {
                "sent": {"rtp": sent_rtp, "rtcp": [sr.hex()]},
                "rtp_port": rtp.getsockname()[1],
                "rtcp_port": rtcp.getsockname()[1],
            }
        ),
        flush=True,
    )

    rtp.settimeout(5)
    rtcp.settimeout(5)
    got_rtp = []
    while len(got_rtp) < args.count:
        data = rtp.recv(2048)
        got_rtp.append(rx.unprotect(data).hex())
    got_rtcp = [rx.unprotect_rtcp(rtcp.recv(2048)).hex()]
    print(json.dumps({"received": {"rtp": got_rtp, "rtcp": got_rtcp}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
