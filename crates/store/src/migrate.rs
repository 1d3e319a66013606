//! Versioned migrations applied at start. One portable script per version, with the few
//! backend-specific spellings substituted, and optional per-backend scripts for triggers.

use crate::{Backend, Result, Store, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const INIT: &str = include_str!("../migrations/0001_init.sql");
const BLOCKS_RESTRICTIONS_CALLS: &str =
    include_str!("../migrations/0003_blocks_restrictions_calls.sql");
const VOICE_FILES: &str = include_str!("../migrations/0004_voice_files.sql");
const JOURNAL: &str = include_str!("../migrations/0005_journal.sql");
const RECORDINGS: &str = include_str!("../migrations/0006_recordings.sql");
const RECORDING_ARCHIVES: &str = include_str!("../migrations/0007_recording_archives.sql");
const IVRS: &str = include_str!("../migrations/0008_ivrs.sql");
const NUMBER_RECORDING: &str = include_str!("../migrations/0010_number_recording.sql");
const LOGIN_LOCK: &str = include_str!("../migrations/0020_login_lock.sql");
const FORWARDINGS: &str = include_str!("../migrations/0021_forwardings.sql");
const VOICEMAILS: &str = include_str!("../migrations/0022_voicemails.sql");
const MAIL: &str = include_str!("../migrations/0023_mail.sql");

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sqlite: INIT,
        postgres: INIT,
    },
    Migration {
        version: 2,
        name: "events_append_only",
        sqlite: include_str!("../migrations/0002_events_append_only.sqlite.sql"),
        postgres: include_str!("../migrations/0002_events_append_only.postgres.sql"),
    },
    Migration {
        version: 3,
        name: "blocks_restrictions_calls",
        sqlite: BLOCKS_RESTRICTIONS_CALLS,
        postgres: BLOCKS_RESTRICTIONS_CALLS,
    },
    Migration {
        version: 4,
        name: "voice_files",
        sqlite: VOICE_FILES,
        postgres: VOICE_FILES,
    },
    Migration {
        version: 5,
        name: "journal",
        sqlite: JOURNAL,
        postgres: JOURNAL,
    },
    Migration {
        version: 6,
        name: "recordings",
        sqlite: RECORDINGS,
        postgres: RECORDINGS,
    },
    Migration {
        version: 7,
        name: "recording_archives",
        sqlite: RECORDING_ARCHIVES,
        postgres: RECORDING_ARCHIVES,
    },
    Migration {
        version: 8,
        name: "ivrs",
        sqlite: IVRS,
        postgres: IVRS,
    },
    Migration {
        version: 10,
        name: "number_recording",
        sqlite: NUMBER_RECORDING,
        postgres: NUMBER_RECORDING,
    },
    Migration {
        version: 20,
        name: "login_lock",
        sqlite: LOGIN_LOCK,
        postgres: LOGIN_LOCK,
    },
    Migration {
        version: 21,
        name: "forwardings",
        sqlite: FORWARDINGS,
        postgres: FORWARDINGS,
    },
    Migration {
        version: 22,
        name: "voicemails",
        sqlite: VOICEMAILS,
        postgres: VOICEMAILS,
    },
    Migration {
        version: 23,
        name: "mail",
        sqlite: MAIL,
        postgres: MAIL,
    },
];

fn render(sql: &str, backend: Backend) -> String {
    let id = match backend {
        Backend::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Backend::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    sql.replace("{{ID}}", id)
}

pub(crate) async fn run(store: &Store) -> Result<()> {
    let pool = store.pool();
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migrations")
        .fetch_all(pool)
        .await?;
    for m in MIGRATIONS {
        if applied.iter().any(|(v,)| *v == m.version) {
            continue;
        }
        let script = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let sql = render(script, store.backend());
        let mut tx = pool.begin().await?;
        let wrap = |source| StoreError::Migration {
            version: m.version,
            name: m.name,
            source,
        };
        sqlx::raw_sql(&sql).execute(&mut *tx).await.map_err(wrap)?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(wrap)?;
        tx.commit().await.map_err(wrap)?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
