//! Call history (HIST-*): one row per call, kept in step with the `call.*` events that the
//! same functions append. The row is a projection for the history screen; the event log stays
//! the source of truth for statistics.
//!
//! Every mutating function writes its row change and its event on the connection it is
//! given; callers wrap them in a transaction so both or neither are stored.

use crate::events::{self, NewEvent};
use crate::journal::CallStart;
use crate::query::{self, Filter};
use crate::{text_enum, Conn, Page, Result};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

text_enum!(
    /// Which way the call went: from outside in, from an agent out, or agent to agent.
    Direction { Inbound = "inbound", Outbound = "outbound", Internal = "internal" } default Inbound
);

text_enum!(
    /// The four types of the history screen (HIST-03). A call in progress has the unanswered
    /// kind of its direction until it is answered.
    CallKind {
        Incoming = "incoming",
        IncomingMissed = "incoming_missed",
        Outgoing = "outgoing",
        OutgoingUnanswered = "outgoing_unanswered",
    } default Incoming
);

impl Direction {
    fn unanswered(self) -> CallKind {
        match self {
            Direction::Inbound => CallKind::IncomingMissed,
            Direction::Outbound | Direction::Internal => CallKind::OutgoingUnanswered,
        }
    }

    fn answered(self) -> CallKind {
        match self {
            Direction::Inbound => CallKind::Incoming,
            Direction::Outbound | Direction::Internal => CallKind::Outgoing,
        }
    }
}

/// One line of the call history.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CallRecord {
    pub id: i64,
    pub call_uuid: String,
    pub direction: Direction,
    pub kind: CallKind,
    /// Start of the call (HIST-02 date/time), epoch ms.
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub remote_party: String,
    pub number_id: Option<i64>,
    pub number: Option<String>,
    pub agent_id: Option<i64>,
    /// The agent's name, while the agent exists.
    pub agent_name: Option<String>,
    /// The other agent of an internal call (the one called), who sees it as incoming.
    pub peer_agent_id: Option<i64>,
    pub group_id: Option<i64>,
    /// The group's name, while the group exists.
    pub group_name: Option<String>,
    /// Talk time from answer to end, in seconds; 0 for unanswered calls.
    pub duration_secs: i64,
    pub hangup_cause: Option<String>,
    pub in_progress: bool,
    /// The call's recording, when it was recorded (HIST-04).
    pub recording: Option<CallRecording>,
    /// A call forwarded out (外線転送, FWD): the external number called on the second leg.
    pub forwarded_to: Option<String>,
    /// The caller ID the forwarded leg showed.
    pub forwarded_from: Option<String>,
    /// The message the caller left, when the call ended in voicemail (HIST-06).
    pub voicemail_id: Option<i64>,
}

/// What the history row shows of a call's recording.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct CallRecording {
    pub state: crate::recordings::RecordingState,
    pub duration_ms: i64,
    /// Time the agent paused the recording for.
    pub paused_ms: i64,
    /// The file was deleted after the retention period (it is in the daily archive).
    pub purged: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    call_uuid: String,
    direction: String,
    kind: String,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    remote_party: String,
    number_id: Option<i64>,
    number: Option<String>,
    agent_id: Option<i64>,
    agent_name: Option<String>,
    peer_agent_id: Option<i64>,
    group_id: Option<i64>,
    group_name: Option<String>,
    duration_secs: i64,
    hangup_cause: Option<String>,
    in_progress: i64,
    recording_state: Option<String>,
    recording_ms: Option<i64>,
    recording_paused_ms: Option<i64>,
    recording_purged_at: Option<i64>,
    forwarded_to: Option<String>,
    forwarded_from: Option<String>,
    voicemail_id: Option<i64>,
}

impl Row {
    fn into_record(self) -> Result<CallRecord> {
        Ok(CallRecord {
            id: self.id,
            call_uuid: self.call_uuid,
            direction: Direction::from_db(&self.direction)?,
            kind: CallKind::from_db(&self.kind)?,
            started_at: self.started_at,
            answered_at: self.answered_at,
            ended_at: self.ended_at,
            remote_party: self.remote_party,
            number_id: self.number_id,
            number: self.number,
            agent_id: self.agent_id,
            agent_name: self.agent_name,
            peer_agent_id: self.peer_agent_id,
            group_id: self.group_id,
            group_name: self.group_name,
            duration_secs: self.duration_secs,
            hangup_cause: self.hangup_cause,
            in_progress: self.in_progress != 0,
            recording: match self.recording_state {
                Some(state) => Some(CallRecording {
                    state: crate::recordings::RecordingState::from_db(&state)?,
                    duration_ms: self.recording_ms.unwrap_or(0),
                    paused_ms: self.recording_paused_ms.unwrap_or(0),
                    purged: self.recording_purged_at.is_some(),
                }),
                None => None,
            },
            forwarded_to: self.forwarded_to,
            voicemail_id: self.voicemail_id,
            forwarded_from: self.forwarded_from,
        })
    }
}

const COLS: &str = "c.id, c.call_uuid, c.direction, c.kind, c.started_at, c.answered_at, \
    c.ended_at, c.remote_party, c.number_id, c.number, c.agent_id, a.name AS agent_name, \
    c.peer_agent_id, c.group_id, g.name AS group_name, c.duration_secs, c.hangup_cause, c.in_progress, \
    r.state AS recording_state, r.duration_ms AS recording_ms, \
    r.paused_ms AS recording_paused_ms, r.purged_at AS recording_purged_at, \
    c.forwarded_to, c.forwarded_from, v.id AS voicemail_id";

const FROM: &str = "calls c LEFT JOIN agents a ON a.id = c.agent_id \
    LEFT JOIN queue_groups g ON g.id = c.group_id \
    LEFT JOIN recordings r ON r.call_id = c.id \
    LEFT JOIN voicemails v ON v.call_id = c.id";

/// Search criteria of the history screen (HIST-01). Every field is optional.
#[derive(Debug, Default, Clone)]
pub struct CallFilter {
    /// Calls started at or after this time (epoch ms).
    pub from: Option<i64>,
    /// Calls started before this time (epoch ms, exclusive).
    pub to: Option<i64>,
    /// Part of the other party's number.
    pub party: Option<String>,
    /// Part of our phone number.
    pub number: Option<String>,
    pub kind: Option<CallKind>,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
    /// Talk time of at least this many seconds.
    pub min_duration: Option<i64>,
}

/// What the journal keeps of a call in progress: what its later rows need.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OpenCall {
    pub id: i64,
    pub direction: Direction,
    pub kind: CallKind,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
}

/// Inserts the row of a call that has just started and appends `call.started`.
pub(crate) async fn insert(conn: &mut Conn, node: &str, c: &CallStart) -> Result<OpenCall> {
    let kind = c.direction.unanswered();
    sqlx::query(
        "INSERT INTO calls (id, call_uuid, direction, kind, started_at, remote_party, number_id,
            number, agent_id, group_id, duration_secs, in_progress, node, peer_agent_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 1, $11, $12)",
    )
    .bind(c.id)
    .bind(&c.call_uuid)
    .bind(c.direction.as_str())
    .bind(kind.as_str())
    .bind(c.started_at)
    .bind(&c.remote_party)
    .bind(c.number_id)
    .bind(c.number.as_deref())
    .bind(c.agent_id)
    .bind(c.group_id)
    .bind(node)
    .bind(c.peer_agent_id)
    .execute(&mut *conn)
    .await?;
    events::append(
        conn,
        &NewEvent {
            at: c.started_at,
            kind: "call.started",
            call: Some(c.id),
            call_id: Some(&c.call_uuid),
            agent_id: c.agent_id,
            group_id: c.group_id,
            data: json!({
                "direction": c.direction.as_str(),
                "remote_party": c.remote_party,
                "number_id": c.number_id,
                "number": c.number,
            }),
        },
    )
    .await?;
    Ok(OpenCall {
        id: c.id,
        direction: c.direction,
        kind,
        started_at: c.started_at,
        answered_at: None,
        agent_id: c.agent_id,
        group_id: c.group_id,
    })
}

/// Records the answer of a call (by `agent`, or by whoever it already names) and appends
/// `call.answered`. A second answer changes nothing.
pub(crate) async fn set_answered(
    conn: &mut Conn,
    call: &mut OpenCall,
    at: i64,
    agent: Option<i64>,
    peer_agent: Option<i64>,
) -> Result<()> {
    if call.answered_at.is_some() {
        return Ok(());
    }
    let agent_id = agent.or(call.agent_id);
    let kind = call.direction.answered();
    sqlx::query(
        "UPDATE calls SET answered_at = $1, agent_id = $2, kind = $3,
            peer_agent_id = COALESCE(CAST($4 AS BIGINT), peer_agent_id)
         WHERE id = $5",
    )
    .bind(at)
    .bind(agent_id)
    .bind(kind.as_str())
    .bind(peer_agent)
    .bind(call.id)
    .execute(&mut *conn)
    .await?;
    call.answered_at = Some(at);
    call.agent_id = agent_id;
    call.kind = kind;
    events::append(
        conn,
        &NewEvent {
            at,
            kind: "call.answered",
            call: Some(call.id),
            call_id: None,
            agent_id,
            group_id: call.group_id,
            data: json!({
                "kind": kind.as_str(),
                "wait_ms": (at - call.started_at).max(0),
                "peer_agent_id": peer_agent,
            }),
        },
    )
    .await
}

/// The call now belongs to another group (it was diverted there).
pub(crate) async fn set_group(conn: &mut Conn, call: &mut OpenCall, group: i64) -> Result<()> {
    sqlx::query("UPDATE calls SET group_id = $1 WHERE id = $2")
        .bind(group)
        .bind(call.id)
        .execute(&mut *conn)
        .await?;
    call.group_id = Some(group);
    Ok(())
}

/// The call was forwarded out (外線転送): `to` is called showing `from`; appends
/// `call.forwarded`.
pub(crate) async fn set_forwarded(
    conn: &mut Conn,
    call: &OpenCall,
    at: i64,
    forwarding: i64,
    to: &str,
    from: &str,
) -> Result<()> {
    sqlx::query("UPDATE calls SET forwarded_to = $1, forwarded_from = $2 WHERE id = $3")
        .bind(to)
        .bind(from)
        .bind(call.id)
        .execute(&mut *conn)
        .await?;
    events::append(
        conn,
        &NewEvent {
            at,
            kind: "call.forwarded",
            call: Some(call.id),
            call_id: None,
            agent_id: call.agent_id,
            group_id: call.group_id,
            data: json!({
                "forwarding_id": forwarding,
                "to": to,
                "from": from,
            }),
        },
    )
    .await
}

/// Records the end of a call with its hang-up cause and appends `call.ended`. Talk time is
/// the whole seconds (rounded) from answer to end.
pub(crate) async fn set_ended(
    conn: &mut Conn,
    call: &OpenCall,
    at: i64,
    cause: &str,
) -> Result<()> {
    let duration = call
        .answered_at
        .map(|a| ((at - a).max(0) + 500) / 1000)
        .unwrap_or(0);
    sqlx::query(
        "UPDATE calls SET ended_at = $1, duration_secs = $2, hangup_cause = $3, in_progress = 0
         WHERE id = $4 AND in_progress = 1",
    )
    .bind(at)
    .bind(duration)
    .bind(cause)
    .bind(call.id)
    .execute(&mut *conn)
    .await?;
    events::append(
        conn,
        &NewEvent {
            at,
            kind: "call.ended",
            call: Some(call.id),
            call_id: None,
            agent_id: call.agent_id,
            group_id: call.group_id,
            data: json!({
                "cause": cause,
                "kind": call.kind.as_str(),
                "answered": call.answered_at.is_some(),
                "duration_secs": duration,
            }),
        },
    )
    .await
}

/// id, direction, kind, started_at, answered_at, agent_id, group_id.
type OpenRow = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The calls `node` has in progress (after a crash: the ones it left open).
pub(crate) async fn open_calls(conn: &mut Conn, node: &str) -> Result<Vec<OpenCall>> {
    let rows: Vec<OpenRow> = sqlx::query_as(
        "SELECT id, direction, kind, started_at, answered_at, agent_id, group_id FROM calls
             WHERE in_progress = 1 AND node = $1 ORDER BY id",
    )
    .bind(node)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(
            |(id, direction, kind, started_at, answered_at, agent_id, group_id)| {
                Ok(OpenCall {
                    id,
                    direction: Direction::from_db(&direction)?,
                    kind: CallKind::from_db(&kind)?,
                    started_at,
                    answered_at,
                    agent_id,
                    group_id,
                })
            },
        )
        .collect()
}

pub async fn get(conn: &mut Conn, call_uuid: &str) -> Result<Option<CallRecord>> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLS} FROM {FROM} WHERE c.call_uuid = $1"))
            .bind(call_uuid)
            .fetch_optional(&mut *conn)
            .await?;
    row.map(Row::into_record).transpose()
}

/// The call with row id `id`.
pub async fn get_by_id(conn: &mut Conn, id: i64) -> Result<Option<CallRecord>> {
    let row: Option<Row> = sqlx::query_as(&format!("SELECT {COLS} FROM {FROM} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(Row::into_record).transpose()
}

/// Calls matching `f`, newest first, and how many match in all. With an agent, the calls they
/// made or answered and the internal calls made to them, each with its type as that agent
/// sees it (an internal call they were called by is incoming).
pub async fn list(conn: &mut Conn, f: &CallFilter, page: Page) -> Result<(Vec<CallRecord>, i64)> {
    let (kind, cols) = match f.agent_id {
        // An integer: safe to write into the statement.
        Some(a) => {
            let kind = format!(
                "CASE WHEN c.peer_agent_id = {a} AND COALESCE(c.agent_id, -1) <> {a} \
                 THEN (CASE WHEN c.answered_at IS NULL THEN 'incoming_missed' ELSE 'incoming' END) \
                 ELSE c.kind END"
            );
            let cols = COLS.replacen("c.kind,", &format!("{kind} AS kind,"), 1);
            (kind, cols)
        }
        None => ("c.kind".to_owned(), COLS.to_owned()),
    };
    let mut filter = Filter::default();
    filter.raw_int("c.started_at >= {}", f.from);
    filter.raw_int("c.started_at < {}", f.to);
    filter.contains("c.remote_party", f.party.as_deref());
    filter.contains("c.number", f.number.as_deref());
    filter.eq_text(&kind, f.kind.map(CallKind::as_str));
    filter.raw_int("(c.agent_id = {} OR c.peer_agent_id = {})", f.agent_id);
    filter.eq_int("c.group_id", f.group_id);
    filter.raw_int("c.duration_secs >= {}", f.min_duration);
    let (rows, total): (Vec<Row>, i64) = query::list(
        conn,
        &cols,
        FROM,
        "c.started_at DESC, c.id DESC",
        &filter,
        page,
    )
    .await?;
    let items = rows
        .into_iter()
        .map(Row::into_record)
        .collect::<Result<Vec<_>>>()?;
    Ok((items, total))
}

/// An agent or a group offered in the history search (HIST-01).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, sqlx::FromRow)]
pub struct NamedRef {
    pub id: i64,
    pub name: String,
}

/// What the Agent and Group/Campaign selects of the history search offer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallFilterChoices {
    pub agents: Vec<NamedRef>,
    pub groups: Vec<NamedRef>,
}

/// Every agent and group by name, for the search selects; needs no administration rights.
pub async fn filter_choices(conn: &mut Conn) -> Result<CallFilterChoices> {
    let agents = sqlx::query_as("SELECT id, name FROM agents ORDER BY name, id")
        .fetch_all(&mut *conn)
        .await?;
    let groups = sqlx::query_as("SELECT id, name FROM queue_groups ORDER BY name, id")
        .fetch_all(&mut *conn)
        .await?;
    Ok(CallFilterChoices { agents, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_stored_names() {
        for d in Direction::ALL {
            assert_eq!(serde_json::to_value(d).unwrap(), json!(d.as_str()));
        }
        for k in CallKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
    }
}
