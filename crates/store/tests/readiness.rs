//! Issue 10 item 7: the store refuses to open an unusable database with the real cause, and
//! its readiness check fails when it cannot write or its file is gone.

use store::{Store, StoreError};

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_database_fails_at_once_with_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tsunagu.db"), vec![7u8; 4096]).unwrap();
    let err = Store::open_data_dir(dir.path()).await.err().unwrap();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("file is not a database"), "{text}");
    assert!(text.contains("tsunagu.db"), "{text}");
    // Not the pool's "timed out" after ten seconds of retries.
    assert!(!text.contains("timed out"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tsunagu.db")).unwrap();
    let err = Store::open_data_dir(dir.path()).await.err().unwrap();
    assert!(matches!(err, StoreError::Unusable { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_writes_and_notices_a_deleted_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_data_dir(dir.path()).await.unwrap();
    store.check_writable(1).await.unwrap();
    store.check_writable(2).await.unwrap();
    assert_eq!(
        store
            .get_setting("readiness_probe")
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    std::fs::remove_file(dir.path().join("tsunagu.db")).unwrap();
    // Reads still answer from the open file: only the readiness check sees it.
    store.ping().await.unwrap();
    let err = store.check_writable(3).await.unwrap_err().to_string();
    // "deleted", or "deleted or replaced" once a new connection made an empty file there.
    assert!(err.contains("deleted"), "{err}");

    if let Ok(url) = std::env::var("TSUNAGU_TEST_DATABASE_URL") {
        let pg = Store::open(&url).await.unwrap();
        pg.check_writable(4).await.unwrap();
    }
}
