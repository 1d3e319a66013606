//! /metrics (issue 10 item 18): scraped from a running server, in valid Prometheus text, with
//! the HTTP metrics; and the Grafana dashboard and docs/operations.md name exactly the
//! exported metrics.

mod common;

use api::metrics::{Kind, NAMES};
use common::{start, Client};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// One sample line: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_labels(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .ok_or(format!("label without =\": {s}"))?;
        if !is_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    other => return Err(format!("bad escape {other:?} in {s}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err(format!("unterminated label value in {s}")),
            }
        };
        out.push((name.to_owned(), value));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    Ok(out)
}

/// Parses the text exposition format strictly enough to catch a malformed page: every sample
/// belongs to a family declared with `# TYPE` before it, names and labels are well formed,
/// values are numbers.
fn parse(text: &str) -> Result<(HashMap<String, String>, Vec<Sample>), String> {
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(format!("bad type {kind}"));
                    }
                    if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return Err(format!("TYPE of {name} given twice"));
                    }
                }
                (Some("HELP"), Some(name), _) if is_name(name) => {}
                _ => return Err(format!("bad comment line {line:?}")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or(format!("no value: {line:?}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| format!("bad value in {line:?}"))?,
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (
                n,
                parse_labels(l.strip_suffix('}').ok_or(format!("no }} in {line:?}"))?)?,
            ),
            None => (series, Vec::new()),
        };
        if !is_name(name) {
            return Err(format!("bad metric name {name:?}"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s).filter(|f| {
                    types
                        .get(*f)
                        .is_some_and(|t| t == "histogram" || t == "summary")
                })
            })
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(format!("{name} has no # TYPE before it"));
        }
        samples.push((name.to_owned(), labels, value));
    }
    Ok((types, samples))
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| s.2)
}

#[test]
fn the_parser_refuses_malformed_text() {
    assert!(parse("# TYPE a counter\na 1\n").is_ok());
    assert!(parse("a 1\n").is_err(), "sample without TYPE");
    assert!(parse("# TYPE a counter\na one\n").is_err());
    assert!(parse("# TYPE a counter\na{x=\"1} 1\n").is_err());
    assert!(parse("# TYPE a counter\na{x=\"1\",} 1\n").is_ok());
    assert!(parse("# TYPE a countr\na 1\n").is_err());
    assert!(parse("# TYPE 1a counter\n1a 1\n").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_server_exports_http_metrics_in_prometheus_text() {
    let server = start(false).await;
    let anon = Client::anonymous(&server);
    assert_eq!(anon.get("/api/v1/me").await.status, 401);
    assert_eq!(anon.get("/healthz").await.status, 200);
    let r = anon
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    let (types, samples) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));

    assert_eq!(types["tsunagu_http_requests_total"], "counter");
    assert_eq!(types["tsunagu_http_request_duration_seconds"], "histogram");
    assert_eq!(types["tsunagu_store_up"], "gauge");
    let unauthorized = value(
        &samples,
        "tsunagu_http_requests_total",
        &[("method", "GET"), ("status", "401")],
    );
    assert!(unauthorized >= Some(1.0), "{text}");
    assert!(
        value(
            &samples,
            "tsunagu_http_requests_total",
            &[("method", "GET"), ("status", "200")]
        ) >= Some(1.0),
        "{text}"
    );
    let count = value(&samples, "tsunagu_http_request_duration_seconds_count", &[]).unwrap();
    let inf = value(
        &samples,
        "tsunagu_http_request_duration_seconds_bucket",
        &[("le", "+Inf")],
    )
    .unwrap();
    assert!(count >= 2.0, "{text}");
    assert_eq!(count, inf, "every request falls in the +Inf bucket");
    assert!(value(&samples, "tsunagu_http_request_duration_seconds_sum", &[]).unwrap() > 0.0);
    assert_eq!(value(&samples, "tsunagu_store_up", &[]), Some(1.0));
    // Every declared family is one of ours (nothing leaks in under another name).
    for name in types.keys() {
        assert!(
            NAMES.iter().any(|s| s.name == name),
            "{name} is not in NAMES"
        );
    }
    // HELP text comes with each.
    assert!(
        text.contains("# HELP tsunagu_http_requests_total "),
        "{text}"
    );
}

fn docs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

/// Metric names used in a PromQL expression, histogram series mapped to their family.
fn names_in(expr: &str, histograms: &BTreeSet<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("tsunagu_") {
        let start = i + pos;
        let end = expr[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(expr.len(), |e| start + e);
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if boundary {
            let name = &expr[start..end];
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| histograms.contains(f)))
                .unwrap_or(name);
            out.push(family.to_owned());
        }
        i = end;
    }
    out
}

fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if k == "expr" {
                    out.push(v.as_str().expect("expr is a string").to_owned());
                } else {
                    exprs(v, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn the_dashboard_and_the_docs_use_exactly_the_exported_names() {
    let histograms: BTreeSet<&str> = NAMES
        .iter()
        .filter(|s| s.kind == Kind::Histogram)
        .map(|s| s.name)
        .collect();
    let known: BTreeSet<&str> = NAMES.iter().map(|s| s.name).collect();
    let text = std::fs::read_to_string(docs().join("grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(dashboard["title"].is_string());
    assert!(dashboard["panels"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(!all.is_empty());
    let mut used = BTreeSet::new();
    for e in &all {
        let names = names_in(e, &histograms);
        assert!(
            !names.is_empty(),
            "a panel query without a Tsunagu metric: {e}"
        );
        for n in names {
            assert!(known.contains(n.as_str()), "{n} (in {e}) is not exported");
            used.insert(n);
        }
    }
    for n in &known {
        assert!(used.contains(*n), "the dashboard does not show {n}");
    }
    let ops = std::fs::read_to_string(docs().join("operations.md")).unwrap();
    for spec in NAMES {
        assert!(
            ops.contains(&format!("`{}`", spec.name)),
            "docs/operations.md lacks {}",
            spec.name
        );
    }
    // The names follow Prometheus conventions: counters end in _total, durations in _seconds.
    for spec in NAMES {
        assert!(spec.name.starts_with("tsunagu_"));
        assert_eq!(
            spec.kind == Kind::Counter,
            spec.name.ends_with("_total"),
            "{}",
            spec.name
        );
        if spec.name.contains("duration") {
            assert!(spec.name.ends_with("_seconds"), "{}", spec.name);
        }
    }
}
