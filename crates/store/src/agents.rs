//! Agents (AGENT-*): the user accounts that log in and take calls.

use crate::record::{self, Link, Record, Value};
use crate::{text_enum, Conn, Filter, Page, Result, Stamps};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

text_enum!(
    /// UI language (AGENT-13).
    Language { Ja = "ja", En = "en" } default Ja
);
text_enum!(
    /// Which browser tab pop-ups open in (AGENT-17).
    PopupMode { SameTab = "same_tab", NewTab = "new_tab" } default SameTab
);
text_enum!(
    /// What happens to other terminals when the agent logs in to one more (AGENT-18).
    FreeDesk { KeepOthers = "keep_others", LogoutOthers = "logout_others" } default KeepOthers
);
text_enum!(
    /// Display order of change history (AGENT-19).
    SortOrder { Desc = "desc", Asc = "asc" } default Desc
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_stored_names() {
        fn check<T: serde::Serialize + Copy>(all: &[T], name: impl Fn(T) -> &'static str) {
            for v in all {
                assert_eq!(
                    serde_json::to_value(v).unwrap(),
                    serde_json::json!(name(*v))
                );
            }
        }
        check(Language::ALL, Language::as_str);
        check(PopupMode::ALL, PopupMode::as_str);
        check(FreeDesk::ALL, FreeDesk::as_str);
        check(SortOrder::ALL, SortOrder::as_str);
        check(
            crate::numbers::NumberDisplay::ALL,
            crate::numbers::NumberDisplay::as_str,
        );
        check(
            crate::trunks::CallerIdHeader::ALL,
            crate::trunks::CallerIdHeader::as_str,
        );
    }
}

/// The editable fields of an agent; create and update both write a whole `AgentFields`.
#[derive(Debug, Clone, Serialize, ToSchema, Default)]
pub struct AgentFields {
    pub login_id: String,
    pub name: String,
    pub nickname: String,
    pub extension: Option<String>,
    /// Caller ID used for external calls; null means 外線発信禁止 (external calls prohibited).
    pub caller_number_id: Option<i64>,
    /// Numbers this agent may choose as caller ID (AGENT-21).
    pub number_ids: Vec<i64>,
    /// Role id.
    pub role: String,
    pub locked: bool,
    pub language: Language,
    pub crm_auto_search: bool,
    pub incoming_popup: bool,
    pub answer_popup: bool,
    pub popup_mode: PopupMode,
    pub free_desk: FreeDesk,
    pub history_order: SortOrder,
    #[serde(skip)]
    pub pin: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Agent {
    pub id: i64,
    #[serde(flatten)]
    pub fields: AgentFields,
    pub pin_set: bool,
    pub password_updated_at: i64,
    #[serde(flatten)]
    pub stamps: Stamps,
}

/// What login needs: the hash and the lock state, never sent to a client.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: i64,
    pub login_id: String,
    pub role: String,
    pub password_hash: String,
    pub locked: bool,
    /// Consecutive failures since the last success or unlock.
    pub failed_logins: i64,
    pub last_failed_login_at: Option<i64>,
    /// When failures locked the account; `None` when unlocked or locked by an administrator.
    pub auto_locked_at: Option<i64>,
}

type CredentialsRow = (
    i64,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

const CREDENTIALS: &str = "SELECT id, login_id, role_id, password_hash, locked, failed_logins, \
    last_failed_login_at, auto_locked_at FROM agents";

fn credentials(r: CredentialsRow) -> Credentials {
    Credentials {
        id: r.0,
        login_id: r.1,
        role: r.2,
        password_hash: r.3,
        locked: r.4 != 0,
        failed_logins: r.5,
        last_failed_login_at: r.6,
        auto_locked_at: r.7,
    }
}

/// A row of `agents` (without the password hash, which only login reads).
#[derive(sqlx::FromRow)]
pub struct Row {
    id: i64,
    login_id: String,
    name: String,
    nickname: String,
    extension: Option<String>,
    caller_number_id: Option<i64>,
    pin: Option<String>,
    locked: i64,
    role_id: String,
    language: String,
    crm_auto_search: i64,
    incoming_popup: i64,
    answer_popup: i64,
    popup_mode: String,
    free_desk: String,
    history_order: String,
    password_updated_at: i64,
    #[sqlx(flatten)]
    stamps: Stamps,
}

#[derive(Debug, Default, Deserialize)]
pub struct AgentFilter {
    pub login_id: Option<String>,
    pub name: Option<String>,
    pub extension: Option<String>,
    pub role: Option<String>,
}

/// The numbers an agent may use as caller ID (AGENT-21).
const NUMBERS: Link = Link {
    table: "agent_numbers",
    from: "agent_id",
    to: "number_id",
};

impl Record for Agent {
    type Fields = AgentFields;
    type Filter = AgentFilter;
    type Row = Row;
    const TABLE: &'static str = "agents";
    const COLUMNS: &'static [&'static str] = &[
        "login_id",
        "name",
        "nickname",
        "extension",
        "caller_number_id",
        "pin",
        "locked",
        "role_id",
        "language",
        "crm_auto_search",
        "incoming_popup",
        "answer_popup",
        "popup_mode",
        "free_desk",
        "history_order",
    ];
    const READ_ONLY: &'static [&'static str] = &["password_updated_at"];

    fn values(f: &AgentFields) -> Vec<Value> {
        vec![
            (&f.login_id).into(),
            (&f.name).into(),
            (&f.nickname).into(),
            (&f.extension).into(),
            f.caller_number_id.into(),
            (&f.pin).into(),
            f.locked.into(),
            (&f.role).into(),
            f.language.as_str().into(),
            f.crm_auto_search.into(),
            f.incoming_popup.into(),
            f.answer_popup.into(),
            f.popup_mode.as_str().into(),
            f.free_desk.as_str().into(),
            f.history_order.as_str().into(),
        ]
    }

    fn filter(f: &AgentFilter, q: &mut Filter) {
        q.contains("login_id", f.login_id.as_deref());
        q.contains("name", f.name.as_deref());
        q.contains("extension", f.extension.as_deref());
        q.eq_text("role_id", f.role.as_deref());
    }

    fn from_row(r: Row) -> Result<Agent> {
        Ok(Agent {
            id: r.id,
            pin_set: r.pin.is_some(),
            password_updated_at: r.password_updated_at,
            fields: AgentFields {
                login_id: r.login_id,
                name: r.name,
                nickname: r.nickname,
                extension: r.extension,
                caller_number_id: r.caller_number_id,
                number_ids: Vec::new(),
                role: r.role_id,
                locked: r.locked != 0,
                language: Language::from_db(&r.language)?,
                crm_auto_search: r.crm_auto_search != 0,
                incoming_popup: r.incoming_popup != 0,
                answer_popup: r.answer_popup != 0,
                popup_mode: PopupMode::from_db(&r.popup_mode)?,
                free_desk: FreeDesk::from_db(&r.free_desk)?,
                history_order: SortOrder::from_db(&r.history_order)?,
                pin: r.pin,
            },
            stamps: r.stamps,
        })
    }

    fn to_fields(&self) -> AgentFields {
        self.fields.clone()
    }

    async fn read_children(&mut self, conn: &mut Conn) -> Result<()> {
        self.fields.number_ids = NUMBERS.read(conn, self.id).await?;
        Ok(())
    }

    /// Unlocking an account also clears its failed-login count and delay (AUTH-06).
    async fn after_write(conn: &mut Conn, id: i64, f: &AgentFields) -> Result<()> {
        if !f.locked {
            sqlx::query(
                "UPDATE agents SET failed_logins = 0, last_failed_login_at = NULL,
                    auto_locked_at = NULL WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        NUMBERS.write(conn, id, &f.number_ids).await
    }
}

/// `Agent::get`, for the callers that name the module (crates/sip, the API's tests).
pub async fn get(conn: &mut Conn, id: i64) -> Result<Option<Agent>> {
    Agent::get(conn, id).await
}

/// `Agent::list`, for the callers that name the module (the API's tests).
pub async fn list(conn: &mut Conn, f: &AgentFilter, page: Page) -> Result<(Vec<Agent>, i64)> {
    Agent::list(conn, f, page).await
}

pub async fn credentials_by_login(conn: &mut Conn, login_id: &str) -> Result<Option<Credentials>> {
    let row: Option<CredentialsRow> = sqlx::query_as(&format!("{CREDENTIALS} WHERE login_id = $1"))
        .bind(login_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(credentials))
}

pub async fn password_hash(conn: &mut Conn, id: i64) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT password_hash FROM agents WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(h,)| h))
}

/// Counts a failed login at `now`. With `lock_after`, the account is locked automatically when
/// that many consecutive failures are reached; `None` never locks (the last administrator).
/// Returns the account as it is afterwards.
pub async fn record_failed_login(
    conn: &mut Conn,
    id: i64,
    now: i64,
    lock_after: Option<i64>,
) -> Result<Credentials> {
    // i64::MAX as the threshold never locks, in the same one statement.
    let threshold = lock_after.unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE agents SET failed_logins = failed_logins + 1, last_failed_login_at = $1,
            auto_locked_at = CASE WHEN locked = 0 AND failed_logins + 1 >= $2 THEN $1
                ELSE auto_locked_at END,
            locked = CASE WHEN failed_logins + 1 >= $2 THEN 1 ELSE locked END
         WHERE id = $3",
    )
    .bind(now)
    .bind(threshold)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let row: CredentialsRow = sqlx::query_as(&format!("{CREDENTIALS} WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(credentials(row))
}

pub async fn record_successful_login(conn: &mut Conn, id: i64) -> Result<()> {
    sqlx::query("UPDATE agents SET failed_logins = 0, last_failed_login_at = NULL WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Unlocks an account and forgets its failures (the console's `admin unlock`, and the
/// automatic release). Returns whether it was locked.
pub async fn unlock(conn: &mut Conn, id: i64) -> Result<bool> {
    let (locked,): (i64,) = sqlx::query_as("SELECT locked FROM agents WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE agents SET locked = 0, failed_logins = 0, last_failed_login_at = NULL,
            auto_locked_at = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(locked != 0)
}

/// Accounts locked automatically at or before `cutoff`: the ones due for release.
pub async fn auto_locked_before(conn: &mut Conn, cutoff: i64) -> Result<Vec<Credentials>> {
    let rows: Vec<CredentialsRow> = sqlx::query_as(&format!(
        "{CREDENTIALS} WHERE locked = 1 AND auto_locked_at IS NOT NULL AND auto_locked_at <= $1"
    ))
    .bind(cutoff)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(credentials).collect())
}

/// A new agent with its password hash; every other column as `update` writes it.
pub async fn insert(
    conn: &mut Conn,
    f: &AgentFields,
    password_hash: &str,
    actor: Option<&str>,
    now: i64,
) -> Result<i64> {
    let extra = vec![
        ("password_hash", password_hash.into()),
        ("password_updated_at", now.into()),
    ];
    Agent::insert_with(conn, f, extra, actor, now).await
}

pub async fn set_password(conn: &mut Conn, id: i64, password_hash: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE agents SET password_hash = $1, password_updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Unlocked agents holding `role` other than `except`: guards against removing the last
/// administrator.
pub async fn count_active_with_role(conn: &mut Conn, role: &str, except: i64) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM agents WHERE role_id = $1 AND locked = 0 AND id <> $2",
    )
    .bind(role)
    .bind(except)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n)
}

/// Agents whose caller ID is this number.
pub async fn ids_with_caller_number(conn: &mut Conn, number_id: i64) -> Result<Vec<i64>> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM agents WHERE caller_number_id = $1 ORDER BY id")
            .bind(number_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(rows.into_iter().map(|(i,)| i).collect())
}

/// Who owns an extension, across agents and groups (extensions share one dial plan).
pub async fn extension_owner(conn: &mut Conn, ext: &str) -> Result<Option<(String, i64)>> {
    let a: Option<(i64,)> = sqlx::query_as("SELECT id FROM agents WHERE extension = $1")
        .bind(ext)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some((id,)) = a {
        return Ok(Some(("agent".into(), id)));
    }
    let g: Option<(i64,)> = sqlx::query_as("SELECT id FROM queue_groups WHERE extension = $1")
        .bind(ext)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some((id,)) = g {
        return Ok(Some(("group".into(), id)));
    }
    let f: Option<(i64,)> = sqlx::query_as("SELECT id FROM forwardings WHERE extension = $1")
        .bind(ext)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(f.map(|(id,)| ("forwarding".into(), id)))
}

/// Human-readable reasons why the agent cannot be deleted, empty when it can.
pub async fn references(conn: &mut Conn, id: i64) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let sql = "SELECT COUNT(*) FROM terminals WHERE agent_id = $1";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("linked to {n} terminal(s)")
    })
    .await?;
    let sql = "SELECT COUNT(*) FROM numbers WHERE route_kind = 'agent' AND route_id = $1";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("the routing target of {n} phone number(s)")
    })
    .await?;
    let sql =
        "SELECT COUNT(*) FROM queue_groups WHERE (overflow_kind = 'agent' AND overflow_id = $1)
            OR (timeout_kind = 'agent' AND timeout_id = $1)";
    record::reason(conn, &mut out, sql, id, |n| {
        format!("a divert destination of {n} group(s)")
    })
    .await?;
    Ok(out)
}
