//! The journal: the one writer of the event log and of the call history.
//!
//! Everything that happened — a call started, was answered, ended; a queue step; an agent's
//! status; an account locked — reaches the database through here, from the telephony core and
//! from the API alike. One task owns the writing: it takes what has been queued since its last
//! commit and writes it in one transaction (group commit), so a busy system pays for a few
//! transactions a second instead of several per call. A caller that needs its write to be
//! durable before it goes on (a call's answer, before the 200 goes out) awaits `commit`; the
//! rest is handed over with `record` and written with the next batch.
//!
//! Call ids are the `calls` row ids, handed out from blocks reserved in `id_blocks`, so a call
//! has its id before anything is written and keeps it across restarts. A heartbeat of this
//! node is written every few seconds: after a crash, the calls the node had in flight are
//! closed as interrupted at the last moment it was known alive, not at the restart.

use crate::calls::{self, Direction, OpenCall};
use crate::events::{self, NewEvent};
use crate::{Result, Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Mutex};

/// How many call ids one reservation takes.
const ID_BLOCK: i64 = 1000;
/// At most this many writes in one transaction.
const MAX_BATCH: usize = 1024;
/// How often the node's heartbeat is written.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A batch carries the heartbeat only when the last one is at least this old: under load the
/// heartbeat is one row a second, not one per batch, and never older than `HEARTBEAT`.
const BEAT_AT_MOST_EVERY_MS: u64 = 1000;

/// One row of the event log, as the journal is given it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When it happened (epoch ms), not when it is written.
    pub at: i64,
    pub kind: &'static str,
    /// The call's id (`calls.id`).
    pub call: Option<i64>,
    pub agent_id: Option<i64>,
    pub group_id: Option<i64>,
    pub data: Value,
}

impl Event {
    pub fn new(at: i64, kind: &'static str, data: Value) -> Event {
        Event {
            at,
            kind,
            call: None,
            agent_id: None,
            group_id: None,
            data,
        }
    }

    pub fn call(mut self, call: i64) -> Event {
        self.call = Some(call);
        self
    }

    pub fn agent(mut self, agent: Option<i64>) -> Event {
        self.agent_id = agent;
        self
    }

    pub fn group(mut self, group: Option<i64>) -> Event {
        self.group_id = group;
        self
    }
}

/// A call that has just started.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStart {
    /// From `Journal::new_call_id`.
    pub id: i64,
    /// The SIP Call-ID of the call's first leg (or a generated one for a call we originated).
    pub call_uuid: String,
    pub direction: Direction,
    pub started_at: i64,
    /// The other party: the caller of an inbound call, the callee of an outbound one.
    pub remote_party: String,
    pub number_id: Option<i64>,
    pub number: Option<String>,
    pub agent_id: Option<i64>,
    /// The agent called by an internal call: they see it in their history as incoming.
    pub peer_agent_id: Option<i64>,
    pub group_id: Option<i64>,
}

/// One thing to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Event(Event),
    CallStarted(CallStart),
    /// The call was answered. `agent` owns it in history (inbound: who answered; outbound and
    /// internal: the caller, already named at the start); `peer_agent` is the other agent of an
    /// internal call, who sees it as incoming.
    CallAnswered {
        call: i64,
        at: i64,
        agent: Option<i64>,
        peer_agent: Option<i64>,
    },
    /// The call moved to another group (a divert): history names the group it ended in.
    CallGroup {
        call: i64,
        group: i64,
    },
    /// The call is forwarded out (外線転送): its second leg calls `to` showing `from`.
    CallForwarded {
        call: i64,
        at: i64,
        forwarding: i64,
        to: String,
        from: String,
    },
    CallEnded {
        call: i64,
        at: i64,
        cause: String,
    },
    /// Recording of the call began, into `file` (relative to the recordings folder).
    RecordingStarted {
        call: i64,
        at: i64,
        file: String,
    },
    RecordingEnded(crate::recordings::RecordingEnd),
    /// A caller left a message (VOICE-04); its row and its event.
    VoicemailSaved(crate::voicemails::NewVoicemail),
}

impl Write {
    /// The call whose history row this write changes.
    fn call(&self) -> Option<i64> {
        match self {
            Write::Event(_) => None,
            Write::CallStarted(c) => Some(c.id),
            Write::CallAnswered { call, .. }
            | Write::CallGroup { call, .. }
            | Write::CallForwarded { call, .. }
            | Write::CallEnded { call, .. } => Some(*call),
            // The recording's own row, not the call's.
            Write::RecordingStarted { .. } | Write::RecordingEnded(_) => None,
            // The message's own row.
            Write::VoicemailSaved(_) => None,
        }
    }
}

impl From<Event> for Write {
    fn from(e: Event) -> Write {
        Write::Event(e)
    }
}

#[derive(Debug, thiserror::Error, Clone)]
pub enum JournalError {
    #[error("the journal could not write: {0}")]
    Write(String),
    #[error("the journal has stopped")]
    Stopped,
}

struct Job {
    writes: Vec<Write>,
    done: Option<oneshot::Sender<Result<(), JournalError>>>,
    /// The writer stops after this job (shutdown).
    last: bool,
}

/// A handle to the journal; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::UnboundedSender<Job>,
    ids: Arc<Mutex<IdRange>>,
    store: Store,
}

#[derive(Debug, Default)]
struct IdRange {
    next: i64,
    end: i64,
}

/// What `Journal::start` did before taking writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Calls left open by the previous run, now closed as interrupted.
    pub closed: u64,
    /// The moment they were closed at: the node's last heartbeat.
    pub last_alive: Option<i64>,
}

impl Journal {
    /// Closes what the previous run of `node` left open, then starts the writer. `now` is the
    /// server's one clock.
    pub async fn start(
        store: Store,
        node: &str,
        now: Arc<dyn engine::Clock>,
    ) -> Result<(Journal, Recovered)> {
        let recovered = recover(&store, node, now.now()).await?;
        ensure_id_block(&store).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let writer = Writer {
            store: store.clone(),
            node: node.to_owned(),
            clock: now,
            open: HashMap::new(),
            last_beat: None,
        };
        tokio::spawn(writer.run(rx));
        Ok((
            Journal {
                tx,
                ids: Arc::new(Mutex::new(IdRange::default())),
                store,
            },
            recovered,
        ))
    }

    /// A fresh call id (the `calls` row id the call will have).
    pub async fn new_call_id(&self) -> Result<i64> {
        let mut ids = self.ids.lock().await;
        if ids.next >= ids.end {
            let end = reserve_ids(&self.store, ID_BLOCK).await?;
            ids.next = end - ID_BLOCK;
            ids.end = end;
        }
        let id = ids.next;
        ids.next += 1;
        Ok(id)
    }

    /// Queues writes for the next batch and goes on at once.
    pub fn record(&self, w: impl Into<Write>) {
        self.tx
            .send(Job {
                writes: vec![w.into()],
                done: None,
                last: false,
            })
            .ok();
    }

    /// Writes and returns once they are committed.
    pub async fn commit(&self, writes: Vec<Write>) -> Result<(), JournalError> {
        self.send(writes, false).await
    }

    async fn send(&self, writes: Vec<Write>, last: bool) -> Result<(), JournalError> {
        let (done, rx) = oneshot::channel();
        self.tx
            .send(Job {
                writes,
                done: Some(done),
                last,
            })
            .map_err(|_| JournalError::Stopped)?;
        rx.await.map_err(|_| JournalError::Stopped)?
    }

    /// Writes what is queued, then stops the writer: nothing is written after this returns,
    /// not even a heartbeat (shutdown).
    pub async fn stop(&self) -> Result<(), JournalError> {
        self.send(Vec::new(), true).await
    }

    /// Returns once everything recorded before it is committed.
    pub async fn flush(&self) -> Result<(), JournalError> {
        self.commit(Vec::new()).await
    }
}

/// Appends `e` inside the caller's own transaction, for an event that must be stored together
/// with the change it records or not at all (an account locked with its lock). Everything else
/// goes through the writer (`Journal::record`, `Journal::commit`).
pub async fn append_in(conn: &mut crate::Conn, e: &Event) -> Result<()> {
    events::append(
        conn,
        &NewEvent {
            at: e.at,
            kind: e.kind,
            call: e.call,
            call_id: None,
            agent_id: e.agent_id,
            group_id: e.group_id,
            data: e.data.clone(),
        },
    )
    .await
}

/// Makes sure the call-id block starts above every call row (rows written before the journal
/// existed used the table's own sequence).
async fn ensure_id_block(store: &Store) -> Result<()> {
    let mut tx = store.begin().await?;
    let (max,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM calls")
        .fetch_one(&mut *tx)
        .await?;
    let row: Option<(i64,)> = sqlx::query_as("SELECT next_id FROM id_blocks WHERE name = 'calls'")
        .fetch_optional(&mut *tx)
        .await?;
    match row {
        None => {
            sqlx::query("INSERT INTO id_blocks (name, next_id) VALUES ('calls', $1)")
                .bind(max + 1)
                .execute(&mut *tx)
                .await?;
        }
        Some((next,)) if next <= max => {
            sqlx::query("UPDATE id_blocks SET next_id = $1 WHERE name = 'calls'")
                .bind(max + 1)
                .execute(&mut *tx)
                .await?;
        }
        Some(_) => {}
    }
    tx.commit().await?;
    Ok(())
}

/// Reserves `n` call ids and returns the end of the reserved range (exclusive). Atomic on both
/// backends, so several nodes sharing one database never get the same id.
async fn reserve_ids(store: &Store, n: i64) -> Result<i64> {
    let mut tx = store.begin().await?;
    let (end,): (i64,) = sqlx::query_as(
        "UPDATE id_blocks SET next_id = next_id + $1 WHERE name = 'calls' RETURNING next_id",
    )
    .bind(n)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(end)
}

/// Closes the calls `node` left in progress, at its last heartbeat (never before a call's own
/// start or answer), with the cause `interrupted`.
async fn recover(store: &Store, node: &str, now: u64) -> Result<Recovered> {
    let mut tx = store.begin().await?;
    let beat: Option<(i64,)> = sqlx::query_as("SELECT at FROM node_heartbeats WHERE node = $1")
        .bind(node)
        .fetch_optional(&mut *tx)
        .await?;
    let last_alive = beat.map(|(at,)| at);
    let fallback = i64::try_from(now).unwrap_or(i64::MAX);
    let open = calls::open_calls(&mut tx, node).await?;
    for call in &open {
        let floor = call.answered_at.unwrap_or(call.started_at);
        let at = last_alive.unwrap_or(fallback).max(floor);
        calls::set_ended(&mut tx, call, at, "interrupted").await?;
    }
    tx.commit().await?;
    Ok(Recovered {
        closed: open.len() as u64,
        last_alive,
    })
}

struct Writer {
    store: Store,
    node: String,
    clock: Arc<dyn engine::Clock>,
    /// Calls started and not yet ended: what their later rows need, without reading them back.
    open: HashMap<i64, OpenCall>,
    /// When the heartbeat was last written (the clock's ms).
    last_beat: Option<u64>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Job>) {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            let first = tokio::select! {
                job = rx.recv() => match job {
                    Some(j) => Some(j),
                    None => break,
                },
                _ = heartbeat.tick() => None,
            };
            let mut batch: Vec<Job> = first.into_iter().collect();
            while batch.len() < MAX_BATCH && !batch.last().is_some_and(|j| j.last) {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            let stop = batch.last().is_some_and(|j| j.last);
            self.write(batch).await;
            if stop {
                break;
            }
        }
    }

    /// Writes a batch in one transaction with the heartbeat; if that fails, each job alone, so
    /// that one bad write does not take the others with it.
    async fn write(&mut self, batch: Vec<Job>) {
        let started = Instant::now();
        let size: usize = batch.iter().map(|j| j.writes.len()).sum();
        let now = self.clock.now();
        // A clean stop always leaves its moment: the restart closes nothing later than that.
        let stopping = batch.last().is_some_and(|j| j.last);
        let beat = stopping
            || self
                .last_beat
                .is_none_or(|t| now.saturating_sub(t) >= BEAT_AT_MOST_EVERY_MS);
        if batch.is_empty() && !beat {
            return;
        }
        let result = match self.transaction(&batch, beat).await {
            Ok(()) => Ok(()),
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, jobs = batch.len(), "journal batch failed; writing its jobs one by one");
                for job in batch {
                    let r = self.transaction(std::slice::from_ref(&job), false).await;
                    if let Err(e) = &r {
                        tracing::error!(error = %e, writes = ?job.writes, "journal write failed");
                    }
                    if let Some(done) = job.done {
                        done.send(r.map_err(JournalError::from)).ok();
                    }
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "journal write failed");
                Err(JournalError::from(e))
            }
        };
        metrics::histogram!("tsunagu_journal_write_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!("tsunagu_journal_batch_size").record(size as f64);
        for job in batch {
            if let Some(done) = job.done {
                done.send(result.clone()).ok();
            }
        }
    }

    /// One transaction; the open-call table is put back as it was when it fails.
    async fn transaction(&mut self, jobs: &[Job], heartbeat: bool) -> Result<()> {
        let mut undo = Vec::new();
        let r = self.try_transaction(jobs, heartbeat, &mut undo).await;
        if r.is_err() {
            for (id, before) in undo.into_iter().rev() {
                match before {
                    Some(c) => self.open.insert(id, c),
                    None => self.open.remove(&id),
                };
            }
        }
        r
    }

    async fn try_transaction(
        &mut self,
        jobs: &[Job],
        heartbeat: bool,
        undo: &mut Vec<(i64, Option<OpenCall>)>,
    ) -> Result<()> {
        let mut tx = self.store.begin().await?;
        for job in jobs {
            for w in &job.writes {
                if let Some(id) = w.call() {
                    undo.push((id, self.open.get(&id).cloned()));
                }
                self.apply(&mut tx, w).await?;
            }
        }
        let beat_at = self.clock.now();
        if heartbeat {
            let now = i64::try_from(beat_at).unwrap_or(i64::MAX);
            let n = sqlx::query("UPDATE node_heartbeats SET at = $1 WHERE node = $2")
                .bind(now)
                .bind(&self.node)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                sqlx::query("INSERT INTO node_heartbeats (node, at) VALUES ($1, $2)")
                    .bind(&self.node)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        if heartbeat {
            self.last_beat = Some(beat_at);
        }
        Ok(())
    }

    async fn apply(&mut self, tx: &mut crate::Tx, w: &Write) -> Result<()> {
        match w {
            Write::Event(e) => {
                events::append(
                    tx,
                    &NewEvent {
                        at: e.at,
                        kind: e.kind,
                        call: e.call,
                        call_id: None,
                        agent_id: e.agent_id,
                        group_id: e.group_id,
                        data: e.data.clone(),
                    },
                )
                .await?;
            }
            Write::CallStarted(c) => {
                let open = calls::insert(tx, &self.node, c).await?;
                self.open.insert(c.id, open);
            }
            Write::CallAnswered {
                call,
                at,
                agent,
                peer_agent,
            } => match self.open.get_mut(call) {
                Some(open) => calls::set_answered(tx, open, *at, *agent, *peer_agent).await?,
                None => tracing::warn!(call, "answer of an unknown call ignored"),
            },
            Write::CallGroup { call, group } => {
                if let Some(open) = self.open.get_mut(call) {
                    calls::set_group(tx, open, *group).await?;
                }
            }
            Write::CallForwarded {
                call,
                at,
                forwarding,
                to,
                from,
            } => {
                if let Some(open) = self.open.get(call) {
                    calls::set_forwarded(tx, open, *at, *forwarding, to, from).await?;
                }
            }
            Write::CallEnded { call, at, cause } => match self.open.remove(call) {
                Some(open) => calls::set_ended(tx, &open, *at, cause).await?,
                None => tracing::warn!(call, "end of an unknown call ignored"),
            },
            Write::RecordingStarted { call, at, file } => {
                crate::recordings::insert(tx, *call, file, *at).await?;
                let e = Event::new(
                    *at,
                    "recording.started",
                    serde_json::json!({ "file": file }),
                )
                .call(*call);
                append_in(tx, &e).await?;
            }
            Write::RecordingEnded(end) => {
                crate::recordings::finish(tx, end).await?;
                let e = Event::new(
                    end.at,
                    "recording.ended",
                    serde_json::json!({
                        "bytes": end.bytes,
                        "duration_ms": end.duration_ms,
                        "paused_ms": end.paused_ms,
                        "complete": end.complete,
                    }),
                )
                .call(end.call);
                append_in(tx, &e).await?;
            }
            Write::VoicemailSaved(v) => {
                let id = crate::voicemails::insert(tx, v).await?;
                let e = Event::new(
                    v.recorded_at,
                    "voicemail.saved",
                    serde_json::json!({
                        "voicemail_id": id,
                        "voice_file_id": v.voice_file_id,
                        "duration_ms": v.duration_ms,
                        "stop_reason": v.stop_reason,
                    }),
                )
                .call(v.call_id);
                append_in(tx, &e).await?;
            }
        }
        Ok(())
    }
}

impl From<StoreError> for JournalError {
    fn from(e: StoreError) -> JournalError {
        JournalError::Write(e.to_string())
    }
}
