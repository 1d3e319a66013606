//! The embedded database as a file: checked before the first connection, so that a start on
//! an unusable data directory fails at once with the real cause (instead of the pool's retries
//! ending in a timeout), and watched while running, so that a file deleted or replaced under
//! the running server is noticed (SQLite would go on writing into the unlinked inode and lose
//! everything at the next start).

use crate::{Result, StoreError};
use std::path::{Path, PathBuf};

/// The database file and the identity it had when opened.
#[derive(Debug)]
pub(crate) struct SqliteFile {
    path: PathBuf,
    identity: Option<Identity>,
}

/// Device and inode on Unix: what stays the same while the file is the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    Some(Identity {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> Option<Identity> {
    None
}

fn unusable(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Unusable {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The file path of a `sqlite:` URL, or `None` for an in-memory database.
pub(crate) fn path_of_url(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

impl SqliteFile {
    /// Checks that the directory and the file can be written (SQLite also creates `-wal` and
    /// `-shm` files beside it), creating the file if it does not exist yet.
    pub(crate) fn prepare(path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(unusable(
                    path,
                    format!("{} is not a directory", dir.display()),
                ))
            }
            Err(e) => return Err(unusable(path, format!("directory {}: {e}", dir.display()))),
        }
        if let Ok(m) = std::fs::metadata(path) {
            if !m.is_file() {
                return Err(unusable(path, "it exists but is not a regular file"));
            }
        }
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| unusable(path, format!("cannot open it for writing: {e}")))?;
        let probe = dir.join(format!(".tsunagu-write-test-{}", std::process::id()));
        std::fs::write(&probe, b"").map_err(|e| {
            unusable(
                path,
                format!("cannot create files in {}: {e}", dir.display()),
            )
        })?;
        // Best effort: a leftover empty probe file is harmless.
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }

    /// Remembers the file as it is now (after the first connection opened it).
    pub(crate) fn watch(path: PathBuf) -> Result<SqliteFile> {
        let meta = std::fs::metadata(&path).map_err(|e| unusable(&path, e.to_string()))?;
        Ok(SqliteFile {
            identity: identity(&meta),
            path,
        })
    }

    /// Fails when the file is no longer the one the server opened: deleted, or replaced.
    pub(crate) fn check(&self) -> Result<()> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(unusable(
                    &self.path,
                    "the database file was deleted while the server runs; writes go nowhere \
                     lasting — restore it from a backup and restart",
                ))
            }
            Err(e) => return Err(unusable(&self.path, e.to_string())),
        };
        if identity(&meta) != self.identity {
            return Err(unusable(
                &self.path,
                // Also what a deleted file looks like once a new pool connection has created an
                // empty one in its place.
                "the database file was deleted or replaced while the server runs; writes do \
                 not reach the file at this path — restore it from a backup and restart",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_urls() {
        assert_eq!(
            path_of_url("sqlite:///tmp/x/tsunagu.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x/tsunagu.db"))
        );
        assert_eq!(
            path_of_url("sqlite:data.db"),
            Some(PathBuf::from("data.db"))
        );
        assert_eq!(path_of_url("sqlite::memory:"), None);
        assert_eq!(path_of_url("sqlite://file?mode=memory"), None);
        assert_eq!(path_of_url("postgres://h/db"), None);
    }

    #[test]
    fn unusable_places_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tsunagu.db");
        std::fs::create_dir(&db).unwrap();
        let e = SqliteFile::prepare(&db).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let e = SqliteFile::prepare(&file.join("tsunagu.db"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a directory"), "{e}");
    }

    #[test]
    fn deleted_and_replaced_files_are_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("tsunagu.db");
        SqliteFile::prepare(&db).unwrap();
        let watched = SqliteFile::watch(db.clone()).unwrap();
        watched.check().unwrap();
        // Held open as SQLite holds it, so that the new file cannot reuse the inode.
        let _open = std::fs::File::open(&db).unwrap();
        std::fs::remove_file(&db).unwrap();
        let e = watched.check().unwrap_err().to_string();
        assert!(e.contains("deleted"), "{e}");
        std::fs::write(&db, b"").unwrap();
        let e = watched.check().unwrap_err().to_string();
        assert!(e.contains("deleted or replaced"), "{e}");
    }
}
