//! The registrar's bindings, kept so that phones stay reachable across a restart: written by
//! the telephony core as they change, read back at start.

use crate::{Conn, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub username: String,
    pub contact: String,
    /// Where the REGISTER came from (`ip:port`).
    pub received: String,
    /// `udp` or `tcp`.
    pub transport: String,
    pub call_id: String,
    pub cseq: i64,
    /// Epoch ms.
    pub expires_at: i64,
    pub user_agent: Option<String>,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
);

/// Replaces a terminal's bindings with `rows` (none: it unregistered).
pub async fn replace(conn: &mut Conn, username: &str, rows: &[Registration]) -> Result<()> {
    sqlx::query("DELETE FROM registrations WHERE username = $1")
        .bind(username)
        .execute(&mut *conn)
        .await?;
    for r in rows {
        sqlx::query(
            "INSERT INTO registrations (username, contact, received, transport, call_id, cseq,
                expires_at, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(username)
        .bind(&r.contact)
        .bind(&r.received)
        .bind(&r.transport)
        .bind(&r.call_id)
        .bind(r.cseq)
        .bind(r.expires_at)
        .bind(&r.user_agent)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Every binding that has not expired at `now`.
pub async fn live(conn: &mut Conn, now: i64) -> Result<Vec<Registration>> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT username, contact, received, transport, call_id, cseq, expires_at, user_agent
         FROM registrations WHERE expires_at > $1 ORDER BY username, id",
    )
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(username, contact, received, transport, call_id, cseq, expires_at, user_agent)| {
                Registration {
                    username,
                    contact,
                    received,
                    transport,
                    call_id,
                    cseq,
                    expires_at,
                    user_agent,
                }
            },
        )
        .collect())
}
