//! Metrics through the `metrics` facade, exported as Prometheus text at `/metrics`.
//!
//! The recorder is process-wide: the HTTP edge records its own metrics here, and every other
//! part of the process (the call-control core, SIP, RTP, the journal) records into the same
//! recorder with `metrics::counter!`/`gauge!`/`histogram!` under the names listed in
//! [`NAMES`]. docs/operations.md and the Grafana dashboard in docs/ use exactly these names;
//! a test keeps the three in step.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// The HTTP edge (recorded here).
pub const HTTP_REQUESTS: &str = "tsunagu_http_requests_total";
pub const HTTP_DURATION: &str = "tsunagu_http_request_duration_seconds";
pub const LOGIN_FAILURES: &str = "tsunagu_login_failures_total";
pub const STORE_UP: &str = "tsunagu_store_up";
// Telephony, recorded by the call-control core.
pub const CALLS_ACTIVE: &str = "tsunagu_calls_active";
pub const LEGS_ACTIVE: &str = "tsunagu_legs_active";
pub const CALLS: &str = "tsunagu_calls_total";
pub const SIP_REQUESTS: &str = "tsunagu_sip_requests_total";
pub const SIP_RESPONSES: &str = "tsunagu_sip_responses_total";
pub const REGISTRATIONS_ACTIVE: &str = "tsunagu_registrations_active";
pub const RTP_PACKETS: &str = "tsunagu_rtp_packets_total";
pub const RTP_LOST_PACKETS: &str = "tsunagu_rtp_lost_packets_total";
pub const RECORDINGS: &str = "tsunagu_recordings_total";
pub const QUEUE_WAITING: &str = "tsunagu_queue_waiting";
pub const AGENTS: &str = "tsunagu_agents";
pub const JOURNAL_WRITE_DURATION: &str = "tsunagu_journal_write_duration_seconds";
pub const JOURNAL_BATCH_SIZE: &str = "tsunagu_journal_batch_size";

/// What kind of metric a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported metric: its name, kind, labels and help text.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

/// Every metric Tsunagu exports.
pub const NAMES: &[Spec] = &[
    Spec {
        name: HTTP_REQUESTS,
        kind: Kind::Counter,
        labels: &["method", "status"],
        help: "HTTP requests answered, by method and status code.",
    },
    Spec {
        name: HTTP_DURATION,
        kind: Kind::Histogram,
        labels: &[],
        help: "Time to answer an HTTP request, in seconds.",
    },
    Spec {
        name: LOGIN_FAILURES,
        kind: Kind::Counter,
        labels: &[],
        help: "Failed web logins (wrong ID or password, locked account).",
    },
    Spec {
        name: STORE_UP,
        kind: Kind::Gauge,
        labels: &[],
        help: "1 when the database answered the scrape's ping, 0 otherwise.",
    },
    Spec {
        name: CALLS_ACTIVE,
        kind: Kind::Gauge,
        labels: &[],
        help: "Calls in progress.",
    },
    Spec {
        name: LEGS_ACTIVE,
        kind: Kind::Gauge,
        labels: &[],
        help: "Call legs in progress (a bridged call has two or more).",
    },
    Spec {
        name: CALLS,
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Finished calls by outcome: answered, abandoned, no_answer, busy, rejected, failed.",
    },
    Spec {
        name: SIP_REQUESTS,
        kind: Kind::Counter,
        labels: &["method"],
        help: "SIP requests received, by method (the standard ones by name, others as `other`).",
    },
    Spec {
        name: SIP_RESPONSES,
        kind: Kind::Counter,
        labels: &["class", "direction"],
        help: "SIP responses by class (1xx … 6xx) and direction: sent (by us), received (to requests we sent).",
    },
    Spec {
        name: REGISTRATIONS_ACTIVE,
        kind: Kind::Gauge,
        labels: &[],
        help: "Phone registrations currently bound.",
    },
    Spec {
        name: RTP_PACKETS,
        kind: Kind::Counter,
        labels: &["direction"],
        help: "RTP packets relayed, by direction (in, out).",
    },
    Spec {
        name: RTP_LOST_PACKETS,
        kind: Kind::Counter,
        labels: &[],
        help: "RTP packets lost (sequence gaps) on received streams.",
    },
    Spec {
        name: RECORDINGS,
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Call recordings finished, by outcome (complete, incomplete: a write failed).",
    },
    Spec {
        name: QUEUE_WAITING,
        kind: Kind::Gauge,
        labels: &["group"],
        help: "Callers waiting in each group's queue.",
    },
    Spec {
        name: AGENTS,
        kind: Kind::Gauge,
        labels: &["group", "state"],
        help: "Agents of each group by state: available, ringing, on_call, acw, paused, offline.",
    },
    Spec {
        name: JOURNAL_WRITE_DURATION,
        kind: Kind::Histogram,
        labels: &[],
        help: "Time to write one batch of the journal to the database, in seconds.",
    },
    Spec {
        name: JOURNAL_BATCH_SIZE,
        kind: Kind::Histogram,
        labels: &[],
        help: "Events written per journal batch.",
    },
];

/// Latency buckets (seconds) for the duration histograms.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0];

/// The process's recorder, installed on first use. Its histograms are drained every few
/// seconds so that they do not grow between scrapes.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        for spec in NAMES.iter().filter(|s| s.kind == Kind::Histogram) {
            let buckets = if spec.name == JOURNAL_BATCH_SIZE {
                BATCH_BUCKETS
            } else {
                SECONDS_BUCKETS
            };
            // Only an empty bucket list is refused, and these are non-empty constants; the
            // builder is consumed either way, so a refusal would leave defaults (summaries).
            match builder.set_buckets_for_metric(Matcher::Full(spec.name.into()), buckets) {
                Ok(b) => builder = b,
                Err(e) => {
                    tracing::error!(metric = spec.name, error = %e, "histogram buckets refused");
                    builder = PrometheusBuilder::new();
                }
            }
        }
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            // Someone else installed a recorder first; ours then only renders what it holds.
            tracing::warn!(error = %e, "a metrics recorder was already installed");
        }
        describe();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(5));
                upkeep.run_upkeep();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no metrics upkeep thread; histograms drain at scrapes");
        }
        handle
    })
}

fn describe() {
    for spec in NAMES {
        match spec.kind {
            Kind::Counter => metrics::describe_counter!(spec.name, spec.help),
            Kind::Gauge => metrics::describe_gauge!(spec.name, spec.help),
            Kind::Histogram => metrics::describe_histogram!(spec.name, spec.help),
        }
    }
}

/// The method as a label: the standard ones by name, anything else as `other` (a client
/// must not be able to mint label values).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts every response and how long it took.
pub async fn count(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    // Scrapes of /metrics are not counted in the duration, so that they do not skew it.
    let is_scrape = req.uri().path() == "/metrics";
    let resp = next.run(req).await;
    metrics::counter!(HTTP_REQUESTS, "method" => method, "status" => resp.status().as_str().to_owned())
        .increment(1);
    if !is_scrape {
        metrics::histogram!(HTTP_DURATION).record(start.elapsed().as_secs_f64());
    }
    resp
}

pub fn login_failed() {
    metrics::counter!(LOGIN_FAILURES).increment(1);
}

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let up = state.store.ping().await.is_ok();
    metrics::gauge!(STORE_UP).set(if up { 1.0 } else { 0.0 });
    let handle = handle();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
