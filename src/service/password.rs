//! Password hashing with argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane), run off the
//! async runtime because one hash costs tens of milliseconds. Requests hash through
//! `Services::verify_password` and `Services::hash_password`, which admit at most the
//! configured number of hashes at once (`service::admission`); the free functions are for the
//! command line.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, Salt, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::Services;
use super::error::{Error, Result};

impl Services {
    /// [`verify_password`] once the hashing pool admits it (429 when it is full).
    pub(super) async fn verify_password(&self, password: String, stored: Option<String>) -> Result<bool> {
        let _admitted = self.admission.hashing.admit().await?;
        Ok(verify_password(password, stored).await)
    }

    /// [`hash_password`] once the hashing pool admits it.
    pub(super) async fn hash_password(&self, password: String) -> Result<String> {
        let _admitted = self.admission.hashing.admit().await?;
        hash_password(password).await
    }
}

/// A salt of argon2's recommended 16 bytes, as `SaltString::generate` would draw, from
/// `fill_random`.
fn new_salt() -> argon2::password_hash::Result<SaltString> {
    let mut bytes = [0u8; Salt::RECOMMENDED_LENGTH];
    super::fill_random(&mut bytes);
    SaltString::encode_b64(&bytes)
}

fn hasher() -> Argon2<'static> {
    // argon2's defaults are exactly the OWASP recommendation: m = 19 MiB, t = 2, p = 1.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        new_salt()
            .and_then(|salt| {
                hasher()
                    .hash_password(password.as_bytes(), &salt)
                    .map(|h| h.to_string())
            })
            .map_err(|e| Error::internal(format!("hashing password: {e}")))
    })
    .await
    .map_err(|e| Error::internal(format!("hashing task: {e}")))?
}

/// Verifies `password` against `stored`; with no stored hash it verifies against a dummy so an
/// unknown user costs the same time as a wrong password.
pub async fn verify_password(password: String, stored: Option<String>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let known = stored.is_some();
    let hash = match stored {
        Some(h) => h,
        None => DUMMY
            .get_or_init(|| {
                new_salt()
                    .and_then(|salt| {
                        hasher()
                            .hash_password(b"fedgate-dummy-password", &salt)
                            .map(|h| h.to_string())
                    })
                    .unwrap_or_default()
            })
            .clone(),
    };
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| hasher().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    known && ok
}
