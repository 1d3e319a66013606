//! Requests the stack parsed but that RFC 3261 has us refuse before anything else looks at
//! them (docs/sip-conformance.md lists every case): a wrong version, a malformed framing
//! header, an unsupported URI scheme, an extension we do not support, a body we cannot read.

use crate::msg;
use rsipstack::sip::{Header, Method, Request, Scheme, Version};

/// Option tags we support in `Require` (RFC 3261 8.2.2.3): none so far — no 100rel, no
/// session timers, no Replaces.
const SUPPORTED: &[&str] = &[];

/// Why a request is refused, and the answer it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 400, with the reason phrase.
    BadRequest(&'static str),
    /// 415 for a body type other than SDP on an INVITE (answered with `Accept`).
    UnsupportedMediaType,
    /// 416 for a Request-URI scheme other than sip or sips.
    UnsupportedUriScheme,
    /// 420 listing the `Require` option tags we do not support (answered with `Unsupported`).
    BadExtension(Vec<String>),
    /// 505 for any SIP version but 2.0.
    VersionNotSupported,
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::UnsupportedMediaType => 415,
            Refusal::UnsupportedUriScheme => 416,
            Refusal::BadExtension(_) => 420,
            Refusal::VersionNotSupported => 505,
        }
    }

    /// The response to `req`.
    pub fn response(&self, req: &Request) -> Option<rsipstack::sip::Response> {
        let (reason, extra): (String, Vec<(&str, String)>) = match self {
            Refusal::BadRequest(why) => (format!("Bad Request: {why}"), vec![]),
            Refusal::UnsupportedMediaType => (
                "Unsupported Media Type".into(),
                vec![("Accept", "application/sdp".into())],
            ),
            Refusal::UnsupportedUriScheme => ("Unsupported URI Scheme".into(), vec![]),
            Refusal::BadExtension(tags) => (
                "Bad Extension".into(),
                vec![("Unsupported", tags.join(", "))],
            ),
            Refusal::VersionNotSupported => ("Version Not Supported".into(), vec![]),
        };
        let tag = msg::to_tag(req).is_none().then(msg::token);
        msg::response(req, self.status(), &reason, tag.as_deref(), &extra, None)
    }
}

/// What is wrong with `req`, if anything. An ACK is never refused (it gets no response).
pub(crate) fn check(req: &Request) -> Option<Refusal> {
    if req.method == Method::Ack {
        return None;
    }
    if req.version != Version::V2 {
        return Some(Refusal::VersionNotSupported);
    }
    let lengths: Vec<&Header> = req
        .headers
        .iter()
        .filter(|h| matches!(h, Header::ContentLength(_)))
        .collect();
    if lengths.len() > 1 {
        return Some(Refusal::BadRequest("more than one Content-Length"));
    }
    if let Some(h) = lengths.first() {
        match h.value().trim().parse::<usize>() {
            Err(_) => return Some(Refusal::BadRequest("Content-Length is not a number")),
            // Over UDP the body is the rest of the datagram (RFC 3261 18.3): a length
            // beyond it means the message was cut.
            Ok(n) if n > req.body().len() => {
                return Some(Refusal::BadRequest(
                    "Content-Length is larger than the message body",
                ))
            }
            Ok(_) => {}
        }
    }
    match msg::cseq(req) {
        None => return Some(Refusal::BadRequest("CSeq is missing or malformed")),
        Some((_, m)) if m != req.method.to_string() => {
            return Some(Refusal::BadRequest(
                "CSeq method differs from the request's",
            ))
        }
        Some(_) => {}
    }
    let bad_hops = req
        .headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("Max-Forwards"))
        .any(|h| h.value().trim().parse::<u8>().is_err());
    if bad_hops {
        return Some(Refusal::BadRequest("Max-Forwards is not a number 0-255"));
    }
    if !matches!(
        req.uri.scheme,
        None | Some(Scheme::Sip) | Some(Scheme::Sips)
    ) {
        return Some(Refusal::UnsupportedUriScheme);
    }
    // RFC 3261 8.2.2.3: not for CANCEL (nor ACK).
    if req.method != Method::Cancel {
        let unsupported: Vec<String> = req
            .headers
            .iter()
            .filter(|h| matches!(h, Header::Require(_)))
            .flat_map(|h| {
                h.value()
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .filter(|t| !t.is_empty() && !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unsupported.is_empty() {
            return Some(Refusal::BadExtension(unsupported));
        }
    }
    if req.method == Method::Invite && !req.body().is_empty() {
        let sdp = msg::header(req, "Content-Type").is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/sdp"))
        });
        if !sdp {
            return Some(Refusal::UnsupportedMediaType);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(first: &str, extra: &str, body: &str) -> Request {
        let method = first.split(' ').next().unwrap();
        Request::try_from(format!(
            "{first}\r\nVia: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK-1\r\nMax-Forwards: 70\r\n\
             From: <sip:a@10.0.0.9>;tag=f\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: c@x\r\n\
             CSeq: 1 {method}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        ))
        .unwrap()
    }

    const OPTIONS: &str = "OPTIONS sip:b@127.0.0.1 SIP/2.0";
    const INVITE: &str = "INVITE sip:b@127.0.0.1 SIP/2.0";

    #[test]
    fn well_formed_requests_pass() {
        assert_eq!(check(&req(OPTIONS, "", "")), None);
        assert_eq!(
            check(&req(INVITE, "Content-Type: application/sdp\r\n", "v=0\r\n")),
            None
        );
        assert_eq!(
            check(&req(
                INVITE,
                "Content-Type: Application/SDP;x=1\r\n",
                "v=0\r\n"
            )),
            None
        );
        assert_eq!(check(&req(INVITE, "Supported: timer\r\n", "")), None);
    }

    #[test]
    fn each_refusal() {
        assert_eq!(
            check(&req("OPTIONS sip:b@127.0.0.1 SIP/7.0", "", "")),
            Some(Refusal::VersionNotSupported)
        );
        assert_eq!(
            check(&req(OPTIONS, "Require: foo, 100rel\r\n", "")),
            Some(Refusal::BadExtension(vec!["foo".into(), "100rel".into()]))
        );
        assert_eq!(
            check(&req(OPTIONS, "Content-Length: 0\r\n", "")).map(|r| r.status()),
            Some(400)
        );
        assert_eq!(
            check(&req(OPTIONS, "Max-Forwards: -1\r\n", "")).map(|r| r.status()),
            Some(400),
            "a negative Max-Forwards, even after a good one"
        );
        assert_eq!(
            check(&req(INVITE, "Content-Type: application/foo\r\n", "hello")),
            Some(Refusal::UnsupportedMediaType)
        );
        assert_eq!(
            check(&req("OPTIONS mailto:b@example.com SIP/2.0", "", "")),
            Some(Refusal::UnsupportedUriScheme)
        );
        let cseq = Request::try_from(
            "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-1\r\n\
             From: <sip:a@x>;tag=f\r\nTo: <sip:b@y>\r\nCall-ID: c@x\r\nCSeq: 1 INVITE\r\n\
             Content-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(check(&cseq).map(|r| r.status()), Some(400));
    }

    #[test]
    fn responses_carry_what_the_client_needs() {
        let r = Refusal::BadExtension(vec!["foo".into()])
            .response(&req(OPTIONS, "Require: foo\r\n", ""))
            .unwrap();
        let text = r.to_string();
        assert!(text.starts_with("SIP/2.0 420 Bad Extension"), "{text}");
        assert!(text.contains("Unsupported: foo\r\n"), "{text}");
        let r = Refusal::UnsupportedMediaType
            .response(&req(INVITE, "Content-Type: text/plain\r\n", "x"))
            .unwrap()
            .to_string();
        assert!(r.contains("Accept: application/sdp\r\n"), "{r}");
    }
}
