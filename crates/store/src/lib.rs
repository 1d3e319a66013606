//! Storage for Tsunagu: configuration records, sessions, change history and the append-only
//! event log, on SQLite (embedded default) or PostgreSQL through one code path.
//!
//! All SQL here is portable: `$n` placeholders, no backend-specific functions, times as UTC
//! epoch milliseconds and booleans as 0/1 integers. The only per-backend text is in the
//! migrations (key columns and triggers).

pub mod agent_statuses;
pub mod agents;
pub mod archives;
pub mod calls;
pub mod changes;
pub mod clock;
pub mod events;
pub mod forwardings;
pub mod groups;
pub mod incoming_blocks;
pub mod ivrs;
pub mod journal;
pub mod mail;
mod migrate;
pub mod numbers;
pub mod outbound_restrictions;
pub mod permissions;
mod query;
pub mod record;
pub mod recordings;
pub mod registrations;
pub mod roles;
pub mod sessions;
mod sqlite_file;
pub mod system;
pub mod terminals;
pub mod text_enum;
pub mod trunks;
pub mod voice_files;
pub mod voicemails;

use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, Connection};
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
    /// The embedded database's file or directory cannot be used (with the real cause).
    #[error("database file {}: {reason}", path.display())]
    Unusable {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot open the database at {target}: {source}")]
    Open { target: String, source: sqlx::Error },
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
    /// The embedded database's file, watched for deletion (`None` on PostgreSQL or in memory).
    file: Option<std::sync::Arc<sqlite_file::SqliteFile>>,
}

/// What every SQLite connection runs first.
const SQLITE_PRAGMAS: [&str; 4] = [
    // WAL lets readers proceed during a write; the busy timeout makes writers queue instead
    // of failing with SQLITE_BUSY.
    "PRAGMA journal_mode = WAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
];

async fn sqlite_setup(conn: &mut sqlx::AnyConnection) -> std::result::Result<(), sqlx::Error> {
    for pragma in SQLITE_PRAGMAS {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    Ok(())
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
        let file = match backend {
            Backend::Sqlite => sqlite_file::path_of_url(url),
            Backend::Postgres => None,
        };
        if backend == Backend::Sqlite {
            if let Some(path) = &file {
                sqlite_file::SqliteFile::prepare(path)?;
            }
            // One connection first, outside the pool: the pool retries a failing setup until
            // its acquire timeout and then reports only the timeout, hiding the cause (a file
            // that is not a database, a read-only file).
            let target = file
                .as_ref()
                .map_or_else(|| url.to_owned(), |p| p.display().to_string());
            let open_err = |source| StoreError::Open {
                target: target.clone(),
                source,
            };
            let mut first = sqlx::AnyConnection::connect(url).await.map_err(open_err)?;
            sqlite_setup(&mut first).await.map_err(open_err)?;
            // A write proves the file is writable (a read-only one opens without complaint).
            sqlx::raw_sql("BEGIN IMMEDIATE; ROLLBACK")
                .execute(&mut first)
                .await
                .map_err(open_err)?;
            first.close().await.map_err(open_err)?;
        }
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .acquire_timeout(Duration::from_secs(10));
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _meta| Box::pin(sqlite_setup(conn)))
        } else {
            options
        };
        let pool = options.connect(url).await?;
        let file = match file {
            Some(path) => Some(std::sync::Arc::new(sqlite_file::SqliteFile::watch(path)?)),
            None => None,
        };
        let store = Store {
            pool,
            backend,
            file,
        };
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

    /// Readiness: the database accepts a write now, and (SQLite) its file is still the one
    /// opened at start. `ping` answers from a read-only or full database; this does not.
    pub async fn check_writable(&self, now: i64) -> Result<()> {
        if let Some(file) = &self.file {
            file.check()?;
        }
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(READINESS_PROBE)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2)")
            .bind(READINESS_PROBE)
            .bind(now.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
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

/// The settings row the readiness check rewrites.
const READINESS_PROBE: &str = "readiness_probe";

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
