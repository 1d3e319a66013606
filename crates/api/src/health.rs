//! Health for load balancers and orchestrators. `/healthz` is liveness: the process answers
//! and the database answers a read — restart it if not. `/readyz` is readiness: the store
//! accepts a write (a read-only or full disk, a deleted database file, a lock held elsewhere
//! all fail it) and SIP is listening — send it traffic only if so.

use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;
use std::time::Duration;

/// Longest a readiness write may take before the store counts as not ready. SQLite waits up to
/// its busy timeout (5 s) for a lock; a probe must answer sooner than that.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);

/// 200 when the database answers, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable")
        }
    }
}

/// 200 with `{"ready": true, "checks": {...}}` when every check passes, 503 naming the failed
/// ones otherwise.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let store = match tokio::time::timeout(
        WRITE_TIMEOUT,
        state.store.check_writable(crate::now_ms()),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("cannot write: {e}")),
        Err(_) => Err(format!(
            "cannot write: no answer within {} s (locked or stalled)",
            WRITE_TIMEOUT.as_secs()
        )),
    };
    // Without telephony (the API alone) there is no SIP to wait for.
    let sip = state.telephony.as_ref().map(|t| t.sip_listening());
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    for (name, result) in [("store", Some(store)), ("sip", sip)] {
        let Some(result) = result else { continue };
        let value = match result {
            Ok(()) => "ok".to_owned(),
            Err(e) => {
                tracing::error!(check = name, error = %e, "not ready");
                ready = false;
                e
            }
        };
        checks.insert(name.to_owned(), value.into());
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"ready": ready, "checks": checks})))
}
