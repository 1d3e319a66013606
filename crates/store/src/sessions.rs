//! Login sessions. Only a hash of the session token is stored, so a copy of the database does
//! not let anyone log in.

use crate::{Conn, Result};

#[derive(Debug, Clone)]
pub struct Session {
    pub agent_id: i64,
    pub csrf_token: String,
    pub expires_at: i64,
}

pub async fn insert(
    conn: &mut Conn,
    token_hash: &str,
    agent_id: i64,
    csrf_token: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, agent_id, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(agent_id)
    .bind(csrf_token)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The live session for a token hash; expired sessions are not returned.
pub async fn get(conn: &mut Conn, token_hash: &str, now: i64) -> Result<Option<Session>> {
    let row: Option<(i64, String, i64)> = sqlx::query_as(
        "SELECT agent_id, csrf_token, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(agent_id, csrf_token, expires_at)| Session {
        agent_id,
        csrf_token,
        expires_at,
    }))
}

/// Slides the expiry forward on activity.
pub async fn touch(conn: &mut Conn, token_hash: &str, expires_at: i64) -> Result<()> {
    sqlx::query("UPDATE sessions SET expires_at = $1 WHERE token_hash = $2")
        .bind(expires_at)
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends every session of an agent (password change, lock, deletion).
pub async fn delete_for_agent(conn: &mut Conn, agent_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE agent_id = $1")
        .bind(agent_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn purge_expired(conn: &mut Conn, now: i64) -> Result<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(r.rows_affected())
}
