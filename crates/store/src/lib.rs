//! Storage for Tsunagu: configuration records, sessions, change history and the append-only
//! event log, on SQLite (embedded default) or PostgreSQL through one code path.
//!
//! All SQL here is portable: `$n` placeholders, no backend-specific functions, times as UTC
//! epoch milliseconds and booleans as 0/1 integers. The only per-backend text is in the
//! migrations (key columns and triggers).

pub mod agent_statuses;
pub mod agents;
pub mod calls;
pub mod changes;
pub mod clock;
pub mod events;
pub mod groups;
pub mod incoming_blocks;
pub mod journal;
mod migrate;
pub mod numbers;
pub mod outbound_restrictions;
pub mod permissions;
mod query;
pub mod record;
pub mod registrations;
pub mod roles;
pub mod sessions;
pub mod terminals;
pub mod text_enum;
pub mod trunks;
pub mod voice_files;

use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyConnection;
use sqlx::{AnyPool, Transaction};
use std::path::Path;
use std::time::Duration;
use utoipa::ToSchema;

pub use query::{Filter, Page};
pub use record::Record;
pub use sqlx::Error as DbError;

pub type Conn = AnyConnection;
pub type Tx = Transaction<'static, sqlx::Any>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the database refused a write because a UNIQUE constraint was violated.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Who made a change and when: the two lines "Created"/"Updated" of every detail screen (UI-12).
#[derive(Debug, Clone, Default, Serialize, ToSchema, sqlx::FromRow)]
pub struct Stamps {
    pub created_at: i64,
    pub created_by: Option<String>,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite database `tsunagu.db` in `data_dir`.
    pub async fn open_data_dir(data_dir: &Path) -> Result<Store> {
        let path = data_dir.join("tsunagu.db");
        Store::open(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// Opens a database by URL and applies pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(10));
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers proceed during a write; the busy timeout makes writers
                    // queue instead of failing with SQLITE_BUSY.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA busy_timeout = 5000",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA synchronous = NORMAL",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options.connect(url).await?;
        let store = Store { pool, backend };
        migrate::run(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads and then writes while another writes is
    /// refused with SQLITE_BUSY at once, without waiting for the busy timeout.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// A round trip to the database, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn get_setting(&self, name: &str) -> Result<Option<String>> {
        let v: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(v.map(|(v,)| v))
    }

    pub async fn set_setting(&self, name: &str, value: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2)")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// True when no agent exists yet: the first start of an installation.
    pub async fn is_empty(&self) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM agents")
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 0)
    }
}

pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Whether a row exists in `table` with `id`. `table` is always one of our own constants.
pub(crate) async fn exists(conn: &mut Conn, table: &'static str, id: i64) -> Result<bool> {
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = $1");
    let (n,): (i64,) = sqlx::query_as(&sql).bind(id).fetch_one(&mut *conn).await?;
    Ok(n > 0)
}

pub(crate) async fn count(conn: &mut Conn, sql: &str, id: i64) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(sql).bind(id).fetch_one(&mut *conn).await?;
    Ok(n)
}
