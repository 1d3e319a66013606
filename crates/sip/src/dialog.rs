//! A SIP dialog as our side of it sees it (RFC 3261 12): everything needed to match the
//! requests that arrive in it and to build the ones we send — BYE, re-INVITE, and later INFO
//! and REFER — in one place.

use crate::msg;
use crate::wire::Wire;
use rsipstack::sip::{Request, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    /// Our name-addr in requests we send (From), without its tag.
    local: String,
    /// Their name-addr (To of requests we send), with their tag when they have one.
    remote: String,
    remote_tag: Option<String>,
    /// Where requests go: the other side's Contact.
    remote_target: String,
    /// Where the datagrams go (behind NAT: where theirs come from), and on which wire.
    pub peer: SocketAddr,
    pub wire: Wire,
    /// Our address on the dialog's wire, for Via and Contact.
    contact: SocketAddr,
    local_cseq: u32,
}

impl Dialog {
    /// We answer `req` (the caller's INVITE) with `local_tag`.
    pub fn uas(
        req: &Request,
        local_tag: &str,
        contact: SocketAddr,
        peer: SocketAddr,
        wire: Wire,
    ) -> Option<Dialog> {
        let from = msg::header(req, "From")?;
        Some(Dialog {
            call_id: msg::call_id(req)?,
            local_tag: local_tag.to_owned(),
            local: strip_tag(&msg::header(req, "To")?),
            remote_tag: msg::param(&from, "tag"),
            remote: from,
            remote_target: msg::header(req, "Contact")
                .map(|c| msg::addr_uri(&c))
                .unwrap_or_else(|| format!("sip:{peer}")),
            peer,
            wire,
            contact,
            // Our own sequence space, far from theirs for readable traces.
            local_cseq: 100,
        })
    }

    /// We sent `invite` and `ok` answered it.
    pub fn uac(
        invite: &Request,
        ok: &Response,
        contact: SocketAddr,
        peer: SocketAddr,
        wire: Wire,
    ) -> Option<Dialog> {
        let from = msg::header(invite, "From")?;
        let to = msg::header(ok, "To")?;
        Some(Dialog {
            call_id: msg::call_id(invite)?,
            local_tag: msg::param(&from, "tag")?,
            local: strip_tag(&from),
            remote_tag: msg::param(&to, "tag"),
            remote: to,
            remote_target: msg::header(ok, "Contact")
                .map(|c| msg::addr_uri(&c))
                .unwrap_or_else(|| invite.uri.to_string()),
            peer,
            wire,
            contact,
            local_cseq: msg::cseq(invite).map_or(1, |(n, _)| n),
        })
    }

    /// Whether a request that arrived belongs to this dialog: Call-ID and both tags.
    pub fn matches(&self, req: &Request) -> bool {
        let from_tag = msg::header(req, "From").and_then(|f| msg::param(&f, "tag"));
        let to_tag = msg::to_tag(req);
        msg::call_id(req).as_deref() == Some(self.call_id.as_str())
            && to_tag.as_deref() == Some(self.local_tag.as_str())
            && from_tag == self.remote_tag
    }

    /// A request inside the dialog with the next CSeq.
    pub fn request(
        &mut self,
        method: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &str)>,
    ) -> Option<Request> {
        self.local_cseq += 1;
        let proto = self.wire.via();
        let mut text = format!(
            "{method} {} SIP/2.0\r\nVia: SIP/2.0/{proto} {};branch=z9hG4bK{};rport\r\nMax-Forwards: 70\r\nFrom: {};tag={}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\nContact: <{}>\r\n",
            self.remote_target,
            self.contact,
            msg::token(),
            self.local,
            self.local_tag,
            self.remote,
            self.call_id,
            self.local_cseq,
            self.wire.contact_uri(self.contact),
        );
        for (k, v) in extra {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        match body {
            Some((content_type, body)) => text.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )),
            None => text.push_str("Content-Length: 0\r\n\r\n"),
        }
        Request::try_from(text).ok()
    }
}

/// A name-addr without its `tag` parameter.
fn strip_tag(value: &str) -> String {
    let cut = match value.rfind('>') {
        Some(i) => i + 1,
        None => value.find(';').unwrap_or(value.len()),
    };
    let (head, tail) = value.split_at(cut);
    let params: String = tail
        .split(';')
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("").trim();
            !name.is_empty() && !name.eq_ignore_ascii_case("tag")
        })
        .map(|p| format!(";{}", p.trim()))
        .collect();
    format!("{}{params}", head.trim_end())
}

/// The live dialogs, by Call-ID and our tag: where an in-dialog request goes.
#[derive(Default)]
pub(crate) struct Dialogs {
    by_key: Mutex<
        HashMap<
            (String, String),
            mpsc::UnboundedSender<rsipstack::transaction::transaction::Transaction>,
        >,
    >,
}

impl Dialogs {
    pub fn insert(
        &self,
        call_id: &str,
        local_tag: &str,
        inbox: mpsc::UnboundedSender<rsipstack::transaction::transaction::Transaction>,
    ) {
        self.by_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((call_id.to_owned(), local_tag.to_owned()), inbox);
    }

    pub fn remove(&self, call_id: &str, local_tag: &str) {
        self.by_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(call_id.to_owned(), local_tag.to_owned()));
    }

    /// Hands `tx` to the leg of its dialog; gives it back when there is none.
    pub fn deliver(
        &self,
        tx: rsipstack::transaction::transaction::Transaction,
    ) -> Result<(), Box<rsipstack::transaction::transaction::Transaction>> {
        let key = match (msg::call_id(&tx.original), msg::to_tag(&tx.original)) {
            (Some(c), Some(t)) => (c, t),
            _ => return Err(Box::new(tx)),
        };
        let inbox = self
            .by_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        match inbox {
            Some(i) => i.send(tx).map_err(|e| Box::new(e.0)),
            None => Err(Box::new(tx)),
        }
    }

    pub fn len(&self) -> usize {
        self.by_key.lock().map(|d| d.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Request {
        Request::try_from(
            "INVITE sip:0312345678@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK-1\r\n\
             From: \"Carrier\" <sip:09011112222@10.0.0.9>;tag=abc\r\n\
             To: <sip:0312345678@127.0.0.1>\r\n\
             Call-ID: c1@x\r\n\
             CSeq: 7 INVITE\r\n\
             Contact: <sip:carrier@10.0.0.9:5070>\r\n\
             Content-Length: 0\r\n\r\n",
        )
        .unwrap()
    }

    fn bye(from_tag: &str, to_tag: &str) -> Request {
        Request::try_from(format!(
            "BYE sip:tsunagu@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bK-2\r\n\
             From: <sip:09011112222@10.0.0.9>;tag={from_tag}\r\n\
             To: <sip:0312345678@127.0.0.1>;tag={to_tag}\r\n\
             Call-ID: c1@x\r\n\
             CSeq: 8 BYE\r\n\
             Content-Length: 0\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn in_dialog_requests_match_on_call_id_and_both_tags() {
        let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let peer: SocketAddr = "10.0.0.9:5070".parse().unwrap();
        let d = Dialog::uas(&invite(), "ours", addr, peer, Wire::Udp).unwrap();
        assert!(d.matches(&bye("abc", "ours")));
        assert!(!d.matches(&bye("made-up", "ours")), "their tag");
        assert!(!d.matches(&bye("abc", "guess")), "our tag");
    }

    #[test]
    fn requests_we_send_in_a_dialog_we_answered() {
        let addr: SocketAddr = "127.0.0.1:5060".parse().unwrap();
        let peer: SocketAddr = "10.0.0.9:5070".parse().unwrap();
        let mut d = Dialog::uas(&invite(), "ours", addr, peer, Wire::Udp).unwrap();
        let bye = d.request("BYE", &[], None).unwrap();
        let text = bye.to_string();
        assert!(
            text.starts_with("BYE sip:carrier@10.0.0.9:5070 SIP/2.0"),
            "{text}"
        );
        assert!(
            text.contains("From: <sip:0312345678@127.0.0.1>;tag=ours"),
            "{text}"
        );
        assert!(
            text.contains("To: \"Carrier\" <sip:09011112222@10.0.0.9>;tag=abc"),
            "{text}"
        );
        assert!(text.contains("CSeq: 101 BYE"), "{text}");
        let reinvite = d
            .request("INVITE", &[], Some(("application/sdp", "v=0\r\n")))
            .unwrap();
        assert!(reinvite.to_string().contains("CSeq: 102 INVITE"));
        assert_eq!(reinvite.body(), b"v=0\r\n");
    }

    #[test]
    fn requests_in_a_dialog_over_tls_say_so_in_via_and_contact() {
        let ours: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        let peer: SocketAddr = "10.0.0.9:40000".parse().unwrap();
        let mut d = Dialog::uas(&invite(), "ours", ours, peer, Wire::Tls).unwrap();
        let text = d.request("BYE", &[], None).unwrap().to_string();
        assert!(text.contains("Via: SIP/2.0/TLS 127.0.0.1:5061;"), "{text}");
        assert!(
            text.contains("Contact: <sip:tsunagu@127.0.0.1:5061;transport=tls>"),
            "{text}"
        );
    }

    #[test]
    fn tags_are_stripped_from_name_addrs_only() {
        assert_eq!(strip_tag("<sip:a@b>;tag=1"), "<sip:a@b>");
        assert_eq!(
            strip_tag("\"A\" <sip:a@b;tag=x>;tag=1;foo=2"),
            "\"A\" <sip:a@b;tag=x>;foo=2"
        );
        assert_eq!(strip_tag("sip:a@b;tag=1"), "sip:a@b");
    }
}
