"""The SMTP server of crates/api/tests/mail.rs: a real aiosmtpd that saves what it receives.

  smtp_sink.py PORT DIR [USER PASSWORD]

Listens on 127.0.0.1:PORT. Each message accepted becomes DIR/NNNN.eml (as received) and
DIR/NNNN.json, written last and atomically: the envelope, the decoded To/From/Subject, the
plain-text body and every attachment's name, type and bytes (base64). With USER and PASSWORD
the server requires AUTH (PLAIN or LOGIN, allowed without TLS on loopback) and refuses mail
from a session that did not log in with them.
"""
import base64
import email
import email.policy
import itertools
import json
import os
import sys
import logging
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

logging.basicConfig(level=logging.DEBUG if os.environ.get("SMTP_SINK_DEBUG") else logging.WARNING)
# AUTH without TLS is what the test wants (on loopback).
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").addFilter(
    lambda r: not any(w in r.getMessage() for w in ("auth_require_tls", "login_data is deprecated")))
port, out = int(sys.argv[1]), sys.argv[2]
creds = (sys.argv[3].encode(), sys.argv[4].encode()) if len(sys.argv) > 4 else None
counter = itertools.count(1)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == creds
    # Not handled: aiosmtpd answers a failure with its own 535.
    return AuthResult(success=ok, handled=False)


class Save:
    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "text": body.get_content() if body is not None else None,
            "attachments": [
                {
                    "file_name": part.get_filename(),
                    "content_type": part.get_content_type(),
                    "data": base64.b64encode(part.get_payload(decode=True) or b"").decode(),
                }
                for part in msg.iter_attachments()
            ],
        }
        base = os.path.join(out, f"{n:04}")
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(base + ".tmp", base + ".json")
        return "250 Message accepted for delivery"


kwargs = {}
if creds:
    kwargs = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
controller = Controller(Save(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print("ready", flush=True)
threading.Event().wait()
