//! The AWS S3 integration (S3-01…03): where daily archives are copied, with `object_store`'s
//! S3 client (its own request signing; any S3-compatible store with an endpoint URL).

use crate::error::FieldError;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig, WriteMultipart};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;
use store::{Store, StoreError};
use tokio::io::AsyncReadExt;

const NAME: &str = "s3";

/// How long a presigned download link works.
pub const LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// The stored settings, secret included (only this module and the archive job read it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Settings {
    pub enabled: bool,
    pub bucket: String,
    pub region: String,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub prefix: String,
}

impl S3Settings {
    /// What stops these settings from working, field by field (nothing when S3 is off).
    pub fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !self.enabled {
            return errors;
        }
        let required = [
            ("bucket", &self.bucket),
            ("region", &self.region),
            ("access_key_id", &self.access_key_id),
            ("secret_access_key", &self.secret_access_key),
        ];
        for (field, v) in required {
            if v.is_empty() {
                errors.push(FieldError::new(
                    field,
                    "required",
                    "Required when S3 is on.",
                ));
            }
        }
        let bucket_ok = self.bucket.len() <= 63
            && self
                .bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
        if !self.bucket.is_empty() && (!bucket_ok || self.bucket.len() < 3) {
            errors.push(FieldError::new(
                "bucket",
                "format",
                "A bucket name is 3 to 63 lower-case letters, digits, dots and hyphens.",
            ));
        }
        let scheme_ok = ["https://", "http://"]
            .iter()
            .any(|p| self.endpoint.starts_with(p));
        if !self.endpoint.is_empty() && !scheme_ok {
            errors.push(FieldError::new(
                "endpoint",
                "format",
                "The endpoint is a URL starting with https:// (or http://), or empty for AWS.",
            ));
        }
        if self.prefix.len() > 512 {
            errors.push(FieldError::new(
                "prefix",
                "length",
                "At most 512 characters.",
            ));
        }
        errors
    }

    /// The object key of a file name.
    pub fn key(&self, file: &str) -> String {
        if self.prefix.is_empty() || self.prefix.ends_with('/') {
            format!("{}{file}", self.prefix)
        } else {
            format!("{}/{file}", self.prefix)
        }
    }

    fn client(&self) -> Result<AmazonS3, String> {
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_access_key_id(&self.access_key_id)
            .with_secret_access_key(&self.secret_access_key)
            // A test must report a wrong address in seconds, and an upload is retried by the
            // archive job with its own back-off.
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(20),
                ..Default::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(300))
                    .with_allow_http(self.endpoint.starts_with("http://")),
            );
        if !self.endpoint.is_empty() {
            b = b.with_endpoint(&self.endpoint);
        }
        b.build().map_err(|e| e.to_string())
    }
}

pub async fn load(store: &Store) -> store::Result<S3Settings> {
    match store.get_setting(NAME).await? {
        None => Ok(S3Settings::default()),
        Some(v) => serde_json::from_str(&v)
            .map_err(|e| StoreError::Corrupt(format!("settings `{NAME}`: {e}"))),
    }
}

pub async fn save(store: &Store, s: &S3Settings) -> store::Result<()> {
    let v = serde_json::to_string(s)
        .map_err(|e| StoreError::Corrupt(format!("settings `{NAME}`: {e}")))?;
    store.set_setting(NAME, &v).await
}

/// Writes and deletes a small object: the same rights an upload needs.
pub async fn test(cfg: &S3Settings) -> Result<(), String> {
    let client = cfg.client()?;
    let key = ObjectPath::from(cfg.key(".tsunagu-connection-test"));
    client
        .put(&key, PutPayload::from_static(b"tsunagu"))
        .await
        .map_err(|e| e.to_string())?;
    client.delete(&key).await.map_err(|e| e.to_string())
}

/// Uploads `file` as `key` in parts, never holding more than a few parts in memory.
pub async fn upload(cfg: &S3Settings, file: &Path, key: &str) -> Result<(), String> {
    const PART: usize = 8 << 20;
    let client = cfg.client()?;
    let mut f = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let upload = client
        .put_multipart(&ObjectPath::from(key))
        .await
        .map_err(|e| e.to_string())?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match f.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                w.abort().await.ok();
                return Err(format!("{}: {e}", file.display()));
            }
        };
        if let Err(e) = w.wait_for_capacity(4).await {
            return Err(e.to_string());
        }
        w.write(&buf[..n]);
    }
    w.finish().await.map(|_| ()).map_err(|e| e.to_string())
}

/// A presigned GET of `key`, valid for [`LINK_LIFETIME`].
pub async fn link(cfg: &S3Settings, key: &str) -> Result<String, String> {
    let client = cfg.client()?;
    client
        .signed_url(
            axum::http::Method::GET,
            &ObjectPath::from(key),
            LINK_LIFETIME,
        )
        .await
        .map(|u| u.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_the_prefix() {
        let mut s = S3Settings::default();
        assert_eq!(s.key("20261201.zip"), "20261201.zip");
        s.prefix = "rec".into();
        assert_eq!(s.key("20261201.zip"), "rec/20261201.zip");
        s.prefix = "rec/".into();
        assert_eq!(s.key("20261201.zip"), "rec/20261201.zip");
    }

    #[test]
    fn an_enabled_integration_names_what_it_lacks() {
        let s = S3Settings {
            enabled: true,
            bucket: "Bad_Bucket".into(),
            endpoint: "ftp://x".into(),
            ..Default::default()
        };
        let fields: Vec<_> = s.problems().into_iter().filter_map(|e| e.field).collect();
        for f in [
            "region",
            "access_key_id",
            "secret_access_key",
            "bucket",
            "endpoint",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
        }
        assert!(S3Settings::default().problems().is_empty());
    }
}
