//! The events the HTTP edge records (account locks and unlocks so far), all through the
//! journal: each in the transaction of the change it records.

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
    let e = store::journal::Event::new(at, kind, data).agent(agent_id);
    store::journal::append_in(conn, &e).await?;
    Ok(())
}
