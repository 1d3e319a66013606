//! The SIP edge's metrics, through the `metrics` facade into the process's recorder (names
//! and labels as in `api::metrics::NAMES` and docs/operations.md).

/// A request received, by method. Methods outside the standard set count as `other`, so that a
/// client cannot mint label values.
pub(crate) fn request_received(method: &str) {
    let label = crate::msg::known_method(method).unwrap_or("other");
    metrics::counter!("tsunagu_sip_requests_total", "method" => label).increment(1);
}

/// A response we sent.
pub(crate) fn response_sent(status: u16) {
    response("sent", status);
}

/// A response we received to a request we sent.
pub(crate) fn response_received(status: u16) {
    response("received", status);
}

fn response(direction: &'static str, status: u16) {
    let class = match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        600..=699 => "6xx",
        _ => return,
    };
    metrics::counter!("tsunagu_sip_responses_total", "class" => class, "direction" => direction)
        .increment(1);
}
