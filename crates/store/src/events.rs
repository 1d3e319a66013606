//! The append-only event log: the one source of truth for history and statistics. Rows are
//! only ever inserted; the database refuses UPDATE and DELETE (migration 2).

use crate::{Conn, Result};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewEvent<'a> {
    pub at: i64,
    pub kind: &'a str,
    /// The call's row id.
    pub call: Option<i64>,
    /// The SIP Call-ID, on the rows of calls written before the journal named calls by id.
    pub call_id: Option<&'a str>,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    /// The call's row id (`calls.id`).
    pub call: Option<i64>,
    /// The SIP Call-ID (rows written before calls were named by id).
    pub call_id: Option<String>,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
    pub data: Value,
}

type EventRow = (
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    String,
);

/// Only the journal appends (`crate::journal`): one writer, one clock, one call id.
pub(crate) async fn append(conn: &mut Conn, e: &NewEvent<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (at, kind, call, call_id, agent_id, group_id, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(e.at)
    .bind(e.kind)
    .bind(e.call)
    .bind(e.call_id)
    .bind(e.agent_id)
    .bind(e.group_id)
    .bind(e.data.to_string())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Events with `id > after`, oldest first, at most `limit`: the way projections replay the log.
pub async fn read_after(conn: &mut Conn, after: i64, limit: i64) -> Result<Vec<Event>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT id, at, kind, call, call_id, agent_id, group_id, data FROM events
             WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at, kind, call, call_id, agent_id, group_id, data)| Event {
                id,
                at,
                kind,
                call,
                call_id,
                agent_id,
                group_id,
                // A row we cannot parse keeps its place in the log with its raw text.
                data: serde_json::from_str(&data).unwrap_or(Value::String(data)),
            },
        )
        .collect())
}
