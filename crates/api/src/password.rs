//! Password hashing (argon2id) and the password policy (AUTH-05).

use crate::error::{ApiError, FieldError};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

fn argon2() -> Argon2<'static> {
    // OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on a blocking thread: argon2 is deliberately slow and must not stall the runtime.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing failed: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// Verifies on a blocking thread. An unparsable stored hash never matches.
pub async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when the login ID does not exist so that
/// unknown and known IDs take the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(crate::token(16).as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// AUTH-05: at least 8 half-width characters with a digit, an upper- and a lower-case letter.
pub fn check_policy(field: &str, password: &str) -> Option<FieldError> {
    let ascii = password.chars().all(|c| c.is_ascii_graphic());
    let ok = ascii
        && (8..=128).contains(&password.len())
        && password.chars().any(|c| c.is_ascii_digit())
        && password.chars().any(|c| c.is_ascii_uppercase())
        && password.chars().any(|c| c.is_ascii_lowercase());
    (!ok).then(|| {
        FieldError::new(
            field,
            "password_policy",
            "Password must be 8 to 128 half-width characters and contain a digit, an upper-case and a lower-case letter.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        for good in ["Demo1234", "aB3aaaaa", "Xy9!#$%&"] {
            assert!(check_policy("p", good).is_none(), "{good}");
        }
        for bad in [
            "weak",
            "demo1234",
            "DEMO1234",
            "Demoabcd",
            "Dem1234",
            "Ｄemo1234",
            "Demo 1234",
        ] {
            assert!(check_policy("p", bad).is_some(), "{bad}");
        }
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("Demo1234".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Demo1234".into(), h.clone()).await);
        assert!(!verify("Demo12345".into(), h).await);
        assert!(!verify("x".into(), "not a hash".into()).await);
    }
}
