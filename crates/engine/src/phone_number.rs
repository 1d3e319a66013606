//! Phone numbers as people write them: `03-1234-5678`, `0312345678` and `+81312345678` are one
//! number.

/// The stored spellings a signalled number may match: its digits, and for a Japanese
/// international number (`+81…`) also the national form (`0…`). None when it has no digits.
pub fn variants(number: &str) -> Option<(String, String)> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let national = match digits.strip_prefix("81") {
        Some(rest) if number.trim_start().starts_with('+') && !rest.is_empty() => {
            format!("0{rest}")
        }
        _ => digits.clone(),
    };
    Some((digits, national))
}
