//! Our own UDP socket under the stack's UDP transport. rsipstack 0.7.14 reads each datagram
//! into an 8 KiB buffer (it would take a longer one cut short as complete) and drops, with only
//! a log line, requests it cannot parse or key. Every datagram is read here whole (up to
//! 65,535 bytes) and screened before the stack sees it (docs/sip-conformance.md):
//!
//! - a request longer than the stack's buffer is answered 513 (RFC 3261 18.1.1 wants such
//!   requests over TCP), a response that long is dropped — nothing is ever processed cut short;
//! - an extension method (a legal token the stack does not know, `NEWMETHOD`) gets 501 with
//!   `Allow`;
//! - `tag = value` with spaces around `=` (RFC 3261 25.1 allows them) is rewritten `tag=value`;
//! - an RFC 2543 request without a From tag gets a tag of ours, derived from its Call-ID and
//!   From URI so that every request of that call gets the same one, which the stack needs to
//!   key its transactions; it is taken out again of everything we send (the peer never sees it).

use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::net::SocketAddr;

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;
/// What our From tags for RFC 2543 peers start with.
const TAG_2543: &str = "2543-";

pub(crate) struct Intake {
    sock: tokio::net::UdpSocket,
    buf: tokio::sync::Mutex<Vec<u8>>,
}

impl Intake {
    pub fn new(sock: tokio::net::UdpSocket) -> Intake {
        Intake {
            sock,
            buf: tokio::sync::Mutex::new(vec![0; MAX_DATAGRAM]),
        }
    }
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for Intake {
    async fn recv_from(&self, out: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        let mut buf = self.buf.lock().await;
        loop {
            let (n, from) = self.sock.recv_from(&mut buf).await?;
            match screen(&buf[..n], out.len()) {
                Screened::Pass(d) => {
                    out[..d.len()].copy_from_slice(&d);
                    return Ok((d.len(), from));
                }
                Screened::Answer(resp) => {
                    crate::counters::response_sent(status_of(&resp));
                    if let Err(e) = self.sock.send_to(&resp, from).await {
                        tracing::debug!(error = %e, %from, "could not answer a screened request");
                    }
                }
                Screened::Drop(why) => tracing::debug!(%from, len = n, why, "datagram dropped"),
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        let out = strip_our_2543_tags(buf);
        self.sock.send_to(&out, addr).await?;
        // The stack checks that the whole message went out.
        Ok(buf.len())
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.sock.local_addr()?)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Screened<'a> {
    /// For the stack, as received or rewritten.
    Pass(Cow<'a, [u8]>),
    /// Answered here: the response to send back.
    Answer(Vec<u8>),
    Drop(&'static str),
}

/// What to do with one datagram, when the stack takes at most `room` bytes.
pub(crate) fn screen(d: &[u8], room: usize) -> Screened<'_> {
    if d.starts_with(b"SIP/") {
        return if d.len() > room {
            Screened::Drop("a response longer than the stack's buffer")
        } else {
            Screened::Pass(Cow::Borrowed(d))
        };
    }
    let Some(msg) = Raw::parse(d) else {
        // Not a request we can read (keep-alives, garbage): the stack has its own rules.
        return if d.len() > room {
            Screened::Drop("longer than the stack's buffer and unreadable")
        } else {
            Screened::Pass(Cow::Borrowed(d))
        };
    };
    let method = msg.method;
    if method == "ACK" && d.len() > room {
        return Screened::Drop("an ACK longer than the stack's buffer");
    }
    if d.len() > room {
        crate::counters::request_received(method);
        return msg.answer(513, "Message Too Large", &[]);
    }
    if !is_token(method) {
        return msg.answer(400, "Bad Request: the method is not a token", &[]);
    }
    if crate::msg::known_method(method).is_none() {
        crate::counters::request_received(method);
        return msg.answer(501, "Not Implemented", &[("Allow", crate::msg::ALLOW)]);
    }
    match msg.rewritten() {
        Some(text) if text.len() > room => msg.answer(513, "Message Too Large", &[]),
        Some(text) => Screened::Pass(Cow::Owned(text)),
        None => Screened::Pass(Cow::Borrowed(d)),
    }
}

/// A request's first line and headers as text, for the little we need here.
struct Raw<'a> {
    method: &'a str,
    /// Header lines (folded continuations joined), in order.
    headers: Vec<String>,
    /// The request line and the body, kept as they came.
    request_line: &'a str,
    body: &'a [u8],
}

impl<'a> Raw<'a> {
    fn parse(d: &'a [u8]) -> Option<Raw<'a>> {
        let end = find(d, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&d[..end]).ok()?;
        let mut lines = head.split("\r\n");
        let request_line = lines.next()?;
        let mut parts = request_line.split(' ');
        let (method, _uri, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || !version.starts_with("SIP/") || method.is_empty() {
            return None;
        }
        let mut headers: Vec<String> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut()?;
                last.push(' ');
                last.push_str(line.trim());
            } else {
                headers.push(line.to_owned());
            }
        }
        Some(Raw {
            method,
            headers,
            request_line,
            body: &d[end + 4..],
        })
    }

    /// The values of the headers called `long` or `compact`.
    fn values(&self, long: &str, compact: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter_map(|h| {
                let (name, value) = h.split_once(':')?;
                let name = name.trim();
                (name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(compact))
                    .then(|| value.trim().to_owned())
            })
            .collect()
    }

    /// The response we write ourselves: the request's Via, From, To (with a tag of ours),
    /// Call-ID and CSeq. Without them nobody could match it, so nothing is sent.
    fn answer(&self, status: u16, reason: &str, extra: &[(&str, &str)]) -> Screened<'static> {
        let vias = self.values("Via", "v");
        let one = |long, compact| self.values(long, compact).into_iter().next();
        let (Some(from), Some(mut to), Some(call_id), Some(cseq)) = (
            one("From", "f"),
            one("To", "t"),
            one("Call-ID", "i"),
            one("CSeq", "CSeq"),
        ) else {
            return Screened::Drop("a request without the headers a response needs");
        };
        if vias.is_empty() {
            return Screened::Drop("a request without Via");
        }
        if crate::msg::param(&to, "tag").is_none() {
            to.push_str(&format!(";tag={}", crate::msg::token()));
        }
        let mut text = format!("SIP/2.0 {status} {reason}\r\n");
        for v in vias {
            text.push_str(&format!("Via: {v}\r\n"));
        }
        text.push_str(&format!(
            "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nServer: Tsunagu\r\n"
        ));
        for (k, v) in extra {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        Screened::Answer(text.into_bytes())
    }

    /// The request with its From/To parameters written without spaces around `=` and a From
    /// tag of ours when it has none; `None` when nothing needed changing.
    fn rewritten(&self) -> Option<Vec<u8>> {
        let call_id = self.values("Call-ID", "i").into_iter().next()?;
        let mut changed = false;
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|h| {
                let Some((name, value)) = h.split_once(':') else {
                    return h.clone();
                };
                let n = name.trim();
                let from = n.eq_ignore_ascii_case("From") || n.eq_ignore_ascii_case("f");
                let to = n.eq_ignore_ascii_case("To") || n.eq_ignore_ascii_case("t");
                if !from && !to {
                    return h.clone();
                }
                let mut v = tidy_params(value.trim());
                if from && crate::msg::param(&v, "tag").is_none() {
                    v.push_str(&format!(";tag={}", tag_2543(&call_id, &v)));
                }
                if v != value.trim() {
                    changed = true;
                }
                format!("{n}: {v}")
            })
            .collect();
        if !changed {
            return None;
        }
        let mut out = Vec::with_capacity(self.request_line.len() + self.body.len() + 512);
        out.extend_from_slice(self.request_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for h in headers {
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body);
        Some(out)
    }
}

/// A name-addr's parameters (after `>`, or after the URI without brackets) written
/// `;name=value`, without the spaces RFC 3261 25.1 allows around `;` and `=`.
fn tidy_params(value: &str) -> String {
    let cut = match value.rfind('>') {
        Some(i) => i + 1,
        None => value.find(';').unwrap_or(value.len()),
    };
    let (head, tail) = value.split_at(cut);
    let params: String = tail
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => format!(";{}={}", k.trim(), v.trim()),
            None => format!(";{p}"),
        })
        .collect();
    format!("{}{params}", head.trim_end())
}

/// Our From tag for a request of an RFC 2543 peer: the same for every request of the call.
fn tag_2543(call_id: &str, from: &str) -> String {
    let uri = crate::msg::addr_uri(from);
    let h = Sha256::digest(format!("{call_id}\n{uri}").as_bytes());
    let hex: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{TAG_2543}{hex}")
}

/// Takes our RFC 2543 tags out of a message we send (the peer's From, or To in our requests).
fn strip_our_2543_tags(buf: &[u8]) -> Cow<'_, [u8]> {
    let marker = format!(";tag={TAG_2543}").into_bytes();
    let head_end = find(buf, b"\r\n\r\n").unwrap_or(buf.len());
    if find(&buf[..head_end], &marker).is_none() {
        return Cow::Borrowed(buf);
    }
    let mut out = Vec::with_capacity(buf.len());
    let mut i = 0;
    while i < head_end {
        if buf[i..head_end].starts_with(&marker) {
            i += marker.len();
            while i < head_end && buf[i].is_ascii_hexdigit() {
                i += 1;
            }
        } else {
            out.push(buf[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&buf[head_end..]);
    Cow::Owned(out)
}

/// RFC 3261 25.1 token characters.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn status_of(resp: &[u8]) -> u16 {
    resp.get(8..11)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(first: &str, from: &str, pad: usize) -> Vec<u8> {
        format!(
            "{first}\r\nVia: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK-1\r\nFrom: {from}\r\n\
             To: <sip:b@127.0.0.1>\r\nCall-ID: c@x\r\nCSeq: 1 {}\r\nX-Pad: {}\r\n\
             Content-Length: 0\r\n\r\n",
            first.split(' ').next().unwrap(),
            "a".repeat(pad)
        )
        .into_bytes()
    }

    fn answer_status(s: Screened) -> Option<u16> {
        match s {
            Screened::Answer(a) => Some(status_of(&a)),
            _ => None,
        }
    }

    const OPTIONS: &str = "OPTIONS sip:b@127.0.0.1 SIP/2.0";

    #[test]
    fn ordinary_requests_pass_untouched() {
        let r = request(OPTIONS, "<sip:a@x>;tag=1", 0);
        assert_eq!(screen(&r, 8192), Screened::Pass(Cow::Borrowed(&r[..])));
        assert_eq!(
            screen(b"SIP/2.0 200 OK\r\n\r\n", 8192),
            Screened::Pass(Cow::Borrowed(&b"SIP/2.0 200 OK\r\n\r\n"[..]))
        );
    }

    #[test]
    fn longer_than_the_stack_takes_is_refused_never_cut() {
        let r = request(OPTIONS, "<sip:a@x>;tag=1", 9000);
        assert_eq!(answer_status(screen(&r, 8192)), Some(513));
        let ack = request("ACK sip:b@127.0.0.1 SIP/2.0", "<sip:a@x>;tag=1", 9000);
        assert!(matches!(screen(&ack, 8192), Screened::Drop(_)));
        let mut resp = b"SIP/2.0 200 OK\r\n".to_vec();
        resp.extend(vec![b'a'; 9000]);
        assert!(matches!(screen(&resp, 8192), Screened::Drop(_)));
    }

    #[test]
    fn extension_methods_get_501_with_allow() {
        let r = request("NEWMETHOD sip:b@127.0.0.1 SIP/2.0", "<sip:a@x>;tag=1", 0);
        let Screened::Answer(a) = screen(&r, 8192) else {
            panic!("not answered")
        };
        let a = String::from_utf8(a).unwrap();
        assert!(a.starts_with("SIP/2.0 501 Not Implemented\r\n"), "{a}");
        assert!(a.contains("Allow: INVITE"), "{a}");
        assert!(a.contains("CSeq: 1 NEWMETHOD\r\n"), "{a}");
        assert!(a.contains("To: <sip:b@127.0.0.1>;tag="), "{a}");
        let r = request(
            "NEW-METHOD.x!%*_+`'~ sip:b@127.0.0.1 SIP/2.0",
            "<sip:a@x>;tag=1",
            0,
        );
        assert_eq!(
            answer_status(screen(&r, 8192)),
            Some(501),
            "every token character"
        );
        let r = request("NEW(METHOD) sip:b@127.0.0.1 SIP/2.0", "<sip:a@x>;tag=1", 0);
        assert_eq!(answer_status(screen(&r, 8192)), Some(400));
    }

    #[test]
    fn spaced_tags_and_rfc2543_requests_are_made_readable_for_the_stack() {
        let r = request(OPTIONS, "<sip:a@x> ; tag = abc", 0);
        let Screened::Pass(p) = screen(&r, 8192) else {
            panic!()
        };
        let p = String::from_utf8(p.into_owned()).unwrap();
        assert!(p.contains("From: <sip:a@x>;tag=abc\r\n"), "{p}");

        let r = request(OPTIONS, "<sip:a@x>", 0);
        let Screened::Pass(p) = screen(&r, 8192) else {
            panic!()
        };
        let p = p.into_owned();
        let text = String::from_utf8(p.clone()).unwrap();
        let tag = crate::msg::param(
            text.lines().find(|l| l.starts_with("From:")).unwrap(),
            "tag",
        )
        .unwrap();
        assert!(tag.starts_with(TAG_2543), "{text}");
        // The same call, the same tag; and it never goes back on the wire.
        let again = request("BYE sip:b@127.0.0.1 SIP/2.0", "<sip:a@x>", 0);
        let Screened::Pass(q) = screen(&again, 8192) else {
            panic!()
        };
        assert!(String::from_utf8(q.into_owned()).unwrap().contains(&tag));
        let reply = format!(
            "SIP/2.0 200 OK\r\nFrom: <sip:a@x>;tag={tag}\r\nTo: <sip:b@y>;tag=ours\r\n\r\nbody;tag={tag}"
        );
        let out = strip_our_2543_tags(reply.as_bytes());
        assert_eq!(
            String::from_utf8(out.into_owned()).unwrap(),
            format!(
                "SIP/2.0 200 OK\r\nFrom: <sip:a@x>\r\nTo: <sip:b@y>;tag=ours\r\n\r\nbody;tag={tag}"
            )
        );
    }
}
