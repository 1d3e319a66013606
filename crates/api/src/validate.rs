//! Field rules shared by every screen that sets the field.

use crate::error::FieldError;
use store::Conn;

type Errors = Vec<FieldError>;

pub fn required_text(errors: &mut Errors, field: &str, value: &str, max: usize) {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            "This field is required.",
        ));
    } else {
        text(errors, field, value, max);
    }
}

/// Free text shown in the UI: length-limited, no control characters and no markup.
pub fn text(errors: &mut Errors, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("At most {max} characters."),
        ));
    } else if value.chars().any(|c| c.is_control() && c != '\n') {
        errors.push(FieldError::new(
            field,
            "format",
            "Control characters are not allowed.",
        ));
    } else if value.contains('<') || value.contains('>') {
        errors.push(FieldError::new(
            field,
            "format",
            "The characters < and > are not allowed.",
        ));
    }
}

/// AUTH-04: 3 to 15 half-width letters and digits.
pub fn login_id(errors: &mut Errors, field: &str, v: &str) {
    if v.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            "This field is required.",
        ));
    } else if !(3..=15).contains(&v.len()) || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
        errors.push(FieldError::new(
            field,
            "format",
            "Use 3 to 15 half-width letters and digits.",
        ));
    }
}

pub fn digits(errors: &mut Errors, field: &str, v: &str, min: usize, max: usize) -> bool {
    let ok = (min..=max).contains(&v.len()) && v.chars().all(|c| c.is_ascii_digit());
    if !ok {
        errors.push(FieldError::new(
            field,
            "format",
            format!("Use {min} to {max} half-width digits."),
        ));
    }
    ok
}

pub fn pin(field: &str, v: &str) -> Option<FieldError> {
    (v.len() != 4 || !v.chars().all(|c| c.is_ascii_digit()))
        .then(|| FieldError::new(field, "format", "The PIN is exactly 4 half-width digits."))
}

pub fn range(errors: &mut Errors, field: &str, v: i64, lo: i64, hi: i64) {
    if !(lo..=hi).contains(&v) {
        errors.push(FieldError::new(
            field,
            "range",
            format!("Must be between {lo} and {hi}."),
        ));
    }
}

/// UI-17 colours: `#rrggbb`.
pub fn color(errors: &mut Errors, field: &str, v: &str) {
    let ok = v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        errors.push(FieldError::new(
            field,
            "format",
            "Use a colour like #ff0000.",
        ));
    }
}

/// A required email address: one `@`, a dotted domain, no blanks or markup.
pub fn email(errors: &mut Errors, field: &str, v: &str) {
    if v.is_empty() {
        errors.push(FieldError::new(
            field,
            "required",
            "This field is required.",
        ));
        return;
    }
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        })
        && !v.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        });
    if !ok {
        errors.push(FieldError::new(
            field,
            "format",
            "Enter an email address like name@example.com.",
        ));
    }
}

/// Empty, or an http(s) URL (NUM-07 pop-ups).
pub fn url(errors: &mut Errors, field: &str, v: &str) {
    if v.is_empty() {
        return;
    }
    let ok = (v.starts_with("http://") || v.starts_with("https://"))
        && v.len() <= 2000
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == '"');
    if !ok {
        errors.push(FieldError::new(
            field,
            "format",
            "Use an http:// or https:// URL.",
        ));
    }
}

/// Extensions share one dial plan: an agent's and a group's must differ.
pub async fn extension(
    conn: &mut Conn,
    errors: &mut Errors,
    field: &str,
    ext: Option<&str>,
    owner: (&str, Option<i64>),
) -> Result<(), store::StoreError> {
    let Some(ext) = ext else { return Ok(()) };
    if !digits(errors, field, ext, 2, 8) {
        return Ok(());
    }
    if let Some((kind, id)) = store::agents::extension_owner(conn, ext).await? {
        if (kind.as_str(), Some(id)) != owner {
            errors.push(FieldError::new(
                field,
                "duplicate",
                format!("Extension {ext} is already used by another {kind}."),
            ));
        }
    }
    Ok(())
}

/// An IPv4/IPv6 address, with or without a port, or a CIDR block (a trunk source).
pub fn ip_or_cidr(v: &str) -> bool {
    engine::trunk_source::SourceRule::parse(v).is_some()
}

/// `host` or `host:port` with a DNS name or an IP address.
pub fn host_port(v: &str) -> bool {
    let (host, port) = match v.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.starts_with('[') => (h, Some(p)),
        _ => (v, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'));
    host_ok && port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let mut e = Vec::new();
        login_id(&mut e, "l", "sv01");
        login_id(&mut e, "l", "201");
        assert!(e.is_empty());
        login_id(&mut e, "l", "ab");
        login_id(&mut e, "l", "a'; DROP TABLE--");
        login_id(&mut e, "l", "ユーザー");
        assert_eq!(e.len(), 3);
        assert!(pin("p", "1234").is_none());
        assert!(pin("p", "12a4").is_some());
        assert!(ip_or_cidr("127.0.0.1") && ip_or_cidr("10.0.0.0/8") && ip_or_cidr("::1"));
        assert!(!ip_or_cidr("10.0.0.0/33") && !ip_or_cidr("example.com"));
        assert!(
            host_port("sip.example.com:5060") && host_port("127.0.0.1") && host_port("[::1]:5060")
        );
        assert!(!host_port("a b") && !host_port("x:99999"));
        let mut e = Vec::new();
        text(&mut e, "n", "<script>alert(1)</script>", 64);
        text(&mut e, "n", "O'Brien; DROP TABLE", 64);
        assert_eq!(e.len(), 1, "markup is refused, apostrophes are just text");
        let mut e = Vec::new();
        email(&mut e, "m", "ops@example.co.jp");
        email(&mut e, "m", "o'brien+vm@mail.example.com");
        assert!(e.is_empty(), "{e:?}");
        for bad in [
            "",
            "ops",
            "ops@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@ex..com",
            "a@b@c.com",
            "<a>@x.com",
        ] {
            let mut e = Vec::new();
            email(&mut e, "m", bad);
            assert_eq!(e.len(), 1, "{bad}");
        }
    }
}
