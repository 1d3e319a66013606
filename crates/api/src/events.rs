//! The one place where the API appends to the event log. Every event the HTTP edge records
//! (account locks and unlocks so far) goes through `record`, so that the whole edge can be
//! moved onto the journal by changing this function alone.

use crate::error::ApiResult;
use serde_json::Value;

/// Kinds of events the API writes.
pub const ACCOUNT_LOCKED: &str = "account_locked";
pub const ACCOUNT_UNLOCKED: &str = "account_unlocked";

/// Appends one event about `agent_id` at `at` (epoch ms).
pub async fn record(
    conn: &mut store::Conn,
    at: i64,
    kind: &'static str,
    agent_id: Option<i64>,
    data: Value,
) -> ApiResult<()> {
    store::events::append(
        conn,
        &store::events::NewEvent {
            at,
            kind,
            call_id: None,
            agent_id,
            group_id: None,
            data,
        },
    )
    .await?;
    Ok(())
}
