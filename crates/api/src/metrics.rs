//! Prometheus text metrics without a registry crate: a few counters are all we expose so far.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub struct Metrics {
    /// Responses by status class 1xx…5xx.
    pub responses: [Counter; 5],
    pub request_micros: Counter,
    pub login_failures: Counter,
}

pub async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let resp = next.run(req).await;
    let class = usize::from(resp.status().as_u16() / 100).clamp(1, 5) - 1;
    state.metrics.responses[class].inc();
    state
        .metrics
        .request_micros
        .add(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
    resp
}

pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let db_up = u8::from(state.store.ping().await.is_ok());
    let mut out = String::new();
    out.push_str("# HELP tsunagu_http_responses_total HTTP responses by status class.\n");
    out.push_str("# TYPE tsunagu_http_responses_total counter\n");
    for (i, c) in m.responses.iter().enumerate() {
        out.push_str(&format!(
            "tsunagu_http_responses_total{{class=\"{}xx\"}} {}\n",
            i + 1,
            c.get()
        ));
    }
    out.push_str("# HELP tsunagu_http_request_seconds_total Time spent serving HTTP requests.\n");
    out.push_str("# TYPE tsunagu_http_request_seconds_total counter\n");
    out.push_str(&format!(
        "tsunagu_http_request_seconds_total {}\n",
        m.request_micros.get() as f64 / 1e6
    ));
    out.push_str("# HELP tsunagu_login_failures_total Failed login attempts.\n");
    out.push_str("# TYPE tsunagu_login_failures_total counter\n");
    out.push_str(&format!(
        "tsunagu_login_failures_total {}\n",
        m.login_failures.get()
    ));
    out.push_str("# HELP tsunagu_store_up Whether the database answered.\n");
    out.push_str("# TYPE tsunagu_store_up gauge\n");
    out.push_str(&format!("tsunagu_store_up {db_up}\n"));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
}
