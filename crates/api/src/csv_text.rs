//! Uploaded CSV text: decoding (UTF-8, or Shift_JIS/CP932 as Excel writes it in Japan) and
//! splitting into records. Small and strict on purpose: bad input gets a message naming the
//! line, never a panic.

/// Decodes an uploaded file to text: UTF-8 (with or without a BOM) when it is valid UTF-8,
/// else CP932 (Shift_JIS with the Windows extensions). Refuses what is not text at all.
pub fn decode(bytes: &[u8]) -> Result<String, &'static str> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("The file is empty.");
    }
    if bytes.contains(&0) {
        return Err("The file is not a CSV text file (it contains binary data).");
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.strip_prefix('\u{feff}').unwrap_or(s).to_owned(),
        Err(_) => {
            // encoding_rs's SHIFT_JIS is the WHATWG Shift_JIS, i.e. Windows-31J/CP932.
            let (s, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
            if had_errors {
                return Err("The file is not a CSV text file: it is neither UTF-8 nor Shift_JIS (CP932) text.");
            }
            s.into_owned()
        }
    };
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("The file is not a CSV text file (it contains control characters).");
    }
    Ok(text)
}

/// The lines of a text with their 1-based line numbers, without line terminators.
pub fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

/// Splits one line into fields: comma-separated, fields may be quoted with `"` (a doubled
/// `""` inside quotes is one quote). Quoted fields cannot span lines.
pub fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        // Leading blanks before an opening quote are tolerated.
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            field.push(chars.next().unwrap_or(' '));
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            field.clear();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("A quoted field is not closed.".into()),
                }
            }
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => {
                    out.push(field);
                    return Ok(out);
                }
                Some(',') => out.push(field),
                Some(_) => return Err("Unexpected text after a quoted field.".into()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        out.push(field);
                        return Ok(out);
                    }
                    Some(',') => {
                        out.push(field);
                        break;
                    }
                    Some('"') => return Err("A quote (\") in an unquoted field.".into()),
                    Some(c) => field.push(c),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_and_cp932() {
        assert_eq!(decode("\u{feff}a,b".as_bytes()).unwrap(), "a,b");
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("0312345678,,迷惑電話①");
        assert_eq!(decode(&sjis).unwrap(), "0312345678,,迷惑電話①");
        assert!(decode(b"").is_err());
        assert!(decode(b"\x89PNG\r\n\x1a\n\0\0").is_err());
        assert!(decode(&[0xff, 0xfe, 0xfd]).is_err());
    }

    #[test]
    fn splits_fields() {
        assert_eq!(fields("1,2,3").unwrap(), ["1", "2", "3"]);
        assert_eq!(fields("1").unwrap(), ["1"]);
        assert_eq!(fields("1,,").unwrap(), ["1", "", ""]);
        assert_eq!(
            fields(r#"1, "a, ""b""" ,x"#).unwrap(),
            ["1", "a, \"b\"", "x"]
        );
        assert!(fields(r#"1,"open"#).is_err());
        assert!(fields(r#"1,a"b"#).is_err());
        assert!(fields(r#""a"b"#).is_err());
        let ls: Vec<_> = lines("a\r\nb\n").collect();
        assert_eq!(ls, [(1, "a"), (2, "b"), (3, "")]);
    }
}
