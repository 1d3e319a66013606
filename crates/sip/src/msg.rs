//! Reading and writing SIP messages. Outgoing messages are written as text and parsed by the
//! stack: the text is what goes on the wire, so it is the clearest place to get it right.

use rsipstack::sip::{Header, HeadersExt, Request, Response};
use std::net::{IpAddr, SocketAddr};

pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER";

/// The methods the stack parses (rsipstack::sip::Method).
const KNOWN_METHODS: &[&str] = &[
    "ACK",
    "BYE",
    "CANCEL",
    "INFO",
    "INVITE",
    "MESSAGE",
    "NOTIFY",
    "OPTIONS",
    "PRACK",
    "PUBLISH",
    "REFER",
    "REGISTER",
    "SUBSCRIBE",
    "UPDATE",
];

/// `method` as the stack knows it, if it does.
pub fn known_method(method: &str) -> Option<&'static str> {
    KNOWN_METHODS.iter().copied().find(|m| *m == method)
}

/// The raw value of the first header called `name` (case-insensitive), or of its compact form.
pub fn header(req: &impl HeadersExt, name: &str) -> Option<String> {
    req.header_value(name)
}

/// Every Via header value, top first.
fn vias(headers: &rsipstack::sip::Headers) -> Vec<String> {
    headers
        .iter()
        .filter(|h| matches!(h, Header::Via(_)))
        .map(|h| h.value().trim().to_owned())
        .collect()
}

/// A parameter of a header value such as `tag` in `<sip:a@b>;tag=xyz`.
pub fn param(value: &str, name: &str) -> Option<String> {
    // Parameters follow the closing '>' when there is one; inside <> they belong to the URI.
    let tail = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value,
    };
    tail.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// The URI inside a name-addr (`"Name" <sip:x@y>;tag=1` → `sip:x@y`).
pub fn addr_uri(value: &str) -> String {
    match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => value[a + 1..b].trim().to_owned(),
        _ => value.split(';').next().unwrap_or(value).trim().to_owned(),
    }
}

/// The user part of a SIP URI (`sip:0312345678@host;user=phone` → `0312345678`).
pub fn uri_user(uri: &str) -> Option<String> {
    let rest = uri.split_once(':').map(|(_, r)| r).unwrap_or(uri);
    let (user, _) = rest.split_once('@')?;
    let user = user.split(';').next().unwrap_or(user);
    (!user.is_empty()).then(|| user.to_owned())
}

/// The user of the From header: the caller's number.
pub fn from_user(req: &Request) -> Option<String> {
    header(req, "From").and_then(|f| uri_user(&addr_uri(&f)))
}

pub fn to_tag(req: &Request) -> Option<String> {
    header(req, "To").and_then(|t| param(&t, "tag"))
}

pub fn call_id(msg: &impl HeadersExt) -> Option<String> {
    header(msg, "Call-ID")
}

pub fn cseq(msg: &impl HeadersExt) -> Option<(u32, String)> {
    let v = header(msg, "CSeq")?;
    let mut it = v.split_whitespace();
    let n = it.next()?.parse().ok()?;
    Some((n, it.next()?.to_owned()))
}

/// Where a request really came from: the top Via's `received`/`rport` when the stack added
/// them (the sender is behind NAT), otherwise its sent-by.
pub fn source_addr(req: &Request) -> Option<SocketAddr> {
    let via = vias(&req.headers).into_iter().next()?;
    let sent_by = via.split_whitespace().nth(1)?.split(';').next()?.trim();
    let (host, port) = split_host_port(sent_by);
    let ip: IpAddr = match param(&format!("x{via}"), "received") {
        Some(r) => r.parse().ok()?,
        None => host.parse().ok()?,
    };
    let port = param(&format!("x{via}"), "rport")
        .and_then(|p| p.parse().ok())
        .or(port)
        .unwrap_or(5060);
    Some(SocketAddr::new(ip, port))
}

/// The address in a SIP URI when its host is an IP literal (`sip:201@10.0.0.5:5062;x=y`).
pub fn uri_addr(uri: &str) -> Option<SocketAddr> {
    let rest = uri.split_once(':').map(|(_, r)| r)?;
    let hostport = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    let hostport = hostport.split([';', '?']).next()?;
    let (host, port) = split_host_port(hostport);
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, port.unwrap_or(5060)))
}

/// Where to send requests for a registration. Behind NAT the Contact holds a private address
/// nobody can reach, so the REGISTER's source wins; when the Contact names the very host the
/// REGISTER came from, it is trusted (a phone may register from another port than it listens on).
pub fn request_target(contact: &str, source: SocketAddr) -> SocketAddr {
    match uri_addr(contact) {
        Some(a) if a.ip() == source.ip() => a,
        _ => source,
    }
}

fn split_host_port(s: &str) -> (&str, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once(']') {
            return (h, p.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (s, None),
    }
}

/// A response to `req` written out in full. `to_tag` is added to the To header when it has
/// none (the tag stays the same for every response of a dialog, including the 487 after a
/// CANCEL — the stack's own reply would invent a new one).
pub fn response(
    req: &Request,
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
    extra: &[(&str, String)],
    body: Option<(&str, &[u8])>,
) -> Option<Response> {
    let mut text = format!("SIP/2.0 {status} {reason}\r\n");
    for v in vias(&req.headers) {
        text.push_str(&format!("Via: {v}\r\n"));
    }
    text.push_str(&format!("From: {}\r\n", header(req, "From")?));
    let mut to = header(req, "To")?;
    if let Some(tag) = to_tag {
        if param(&to, "tag").is_none() {
            to.push_str(&format!(";tag={tag}"));
        }
    }
    text.push_str(&format!("To: {to}\r\n"));
    text.push_str(&format!("Call-ID: {}\r\n", call_id(req)?));
    text.push_str(&format!("CSeq: {}\r\n", header(req, "CSeq")?));
    text.push_str("Server: Tsunagu\r\n");
    for (k, v) in extra {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    match body {
        Some((content_type, body)) => {
            text.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            ));
            text.push_str(&String::from_utf8_lossy(body));
        }
        None => text.push_str("Content-Length: 0\r\n\r\n"),
    }
    Response::try_from(text).ok()
}

/// 488 for an SDP offer we cannot take, saying why.
pub fn not_acceptable(
    req: &Request,
    why: media::OfferRefusal,
    to_tag: Option<&str>,
) -> Option<Response> {
    response(
        req,
        488,
        &format!("Not Acceptable Here: {why}"),
        to_tag,
        &[],
        None,
    )
}

/// A random token for tags and branches.
pub fn token() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Request {
        Request::try_from(
            "INVITE sip:0312345678@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK-1;received=127.0.0.1;rport=40000\r\n\
             Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-0\r\n\
             From: \"Carrier\" <sip:09011112222@10.0.0.9>;tag=abc\r\n\
             To: <sip:0312345678@127.0.0.1>\r\n\
             Call-ID: c1@x\r\n\
             CSeq: 7 INVITE\r\n\
             Contact: <sip:carrier@10.0.0.9:5070>\r\n\
             Content-Length: 0\r\n\r\n",
        )
        .unwrap()
    }

    #[test]
    fn reads_what_routing_needs() {
        let r = invite();
        assert_eq!(from_user(&r).as_deref(), Some("09011112222"));
        assert_eq!(source_addr(&r), Some("127.0.0.1:40000".parse().unwrap()));
        assert_eq!(cseq(&r), Some((7, "INVITE".into())));
        assert_eq!(to_tag(&r), None);
        assert_eq!(
            uri_user("sip:201@127.0.0.1;transport=udp").as_deref(),
            Some("201")
        );
        assert_eq!(uri_user("sip:127.0.0.1"), None);
        assert_eq!(
            param("<sip:a@b;lr>;tag=x1;foo", "tag").as_deref(),
            Some("x1")
        );
        assert_eq!(param("<sip:a@b;tag=in-uri>", "tag"), None);
        let src: SocketAddr = "203.0.113.7:40123".parse().unwrap();
        assert_eq!(
            request_target("sip:201@192.168.1.20:5060", src),
            src,
            "NAT: the source wins"
        );
        let local: SocketAddr = "127.0.0.1:5091".parse().unwrap();
        assert_eq!(
            request_target("sip:201@127.0.0.1:5081;transport=udp", local),
            "127.0.0.1:5081".parse().unwrap()
        );
        assert_eq!(request_target("sip:201@phone.example", local), local);
    }

    #[test]
    fn responses_keep_every_via_and_one_tag() {
        let r = invite();
        let resp = response(
            &r,
            180,
            "Ringing",
            Some("t1"),
            &[("Contact", "<sip:x@y>".into())],
            None,
        )
        .unwrap();
        let text = String::from_utf8_lossy(&resp.to_bytes()).to_string();
        assert!(
            text.contains("z9hG4bK-1") && text.contains("z9hG4bK-0"),
            "{text}"
        );
        assert!(text.contains("tag=t1"));
        let body = b"v=0\r\n";
        let resp = response(
            &r,
            200,
            "OK",
            Some("t1"),
            &[],
            Some(("application/sdp", body)),
        )
        .unwrap();
        assert_eq!(resp.body(), body);
    }
}
