//! The credential key: seals permanent access keys' secrets in the store with AES-256-GCM. It
//! lives in a file outside the database (`credential_key_file`), so a dump of the database
//! alone reveals no secret; replicas sharing a store share the file. It is never rotated or
//! retired: each sealed secret names the key's fingerprint, and one sealed under another key
//! does not open (it fails verification; see `Services::permanent_key`).

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Associated data: a version and the access key id, so a sealed secret moved to another
/// key's row does not open.
const AAD_PREFIX: &[u8] = b"fedgate-access-key-v1:";

pub struct CredentialKey {
    cipher: Aes256Gcm,
    /// Hex of the first 8 bytes of SHA-256 of the key.
    fingerprint: String,
    path: PathBuf,
}

impl std::fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialKey")
            .field("fingerprint", &self.fingerprint)
            .field("path", &self.path)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialKeyError {
    #[error("credential key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("credential key file {path} holds {len} bytes; it must hold exactly {KEY_LEN}")]
    Length { path: PathBuf, len: usize },
}

/// Why a sealed secret did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed under credential key {stored}, this replica's key is {ours}")]
    OtherKey { stored: String, ours: String },
    #[error("the sealed secret is damaged or belongs to another access key")]
    Damaged,
}

impl CredentialKey {
    pub fn from_bytes(key: &[u8; KEY_LEN], path: PathBuf) -> Self {
        let digest = Sha256::digest(key);
        Self {
            cipher: Aes256Gcm::new(key.into()),
            fingerprint: hex::encode(&digest[..8]),
            path,
        }
    }

    /// Reads the key file, or creates it (32 random bytes, mode 0600) when it does not exist.
    /// Two replicas starting at once agree: the file appears whole, by a hard link, or not at all.
    pub fn load_or_create(path: &Path) -> Result<Self, CredentialKeyError> {
        let io = |source| CredentialKeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => return Self::parse(bytes, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        super::fill_random(key.as_mut());
        let tmp = path.with_extension(format!("tmp-{}", super::new_id()));
        let written = write_private(&tmp, key.as_ref()).and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match written {
            Ok(()) => {
                tracing::info!(file = %path.display(), "created a new credential key");
                Ok(Self::from_bytes(&key, path.to_path_buf()))
            }
            // Another replica created it first: use that one.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::parse(std::fs::read(path).map_err(io)?, path)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn parse(bytes: Vec<u8>, path: &Path) -> Result<Self, CredentialKeyError> {
        let bytes = Zeroizing::new(bytes);
        let key: &[u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| CredentialKeyError::Length {
            path: path.to_path_buf(),
            len: bytes.len(),
        })?;
        Ok(Self::from_bytes(key, path.to_path_buf()))
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// base64 of nonce | ciphertext | tag, bound to `access`.
    pub fn seal(&self, access: &str, secret: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        super::fill_random(&mut nonce);
        let aad = [AAD_PREFIX, access.as_bytes()].concat();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .ok()?;
        Some(STANDARD.encode([nonce.as_slice(), &sealed].concat()))
    }

    /// The secret sealed for `access` under the key with fingerprint `key_id`.
    pub fn open(&self, access: &str, key_id: &str, sealed: &str) -> Result<Zeroizing<String>, OpenError> {
        if key_id != self.fingerprint {
            return Err(OpenError::OtherKey {
                stored: key_id.to_string(),
                ours: self.fingerprint.clone(),
            });
        }
        let bytes = STANDARD.decode(sealed).map_err(|_| OpenError::Damaged)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let aad = [AAD_PREFIX, access.as_bytes()].concat();
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Damaged)?;
        String::from_utf8(plain)
            .map(Zeroizing::new)
            .map_err(|_| OpenError::Damaged)
    }
}

/// Creates `path` (it must not exist) readable by its owner only, with `bytes`, synced.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_private_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("credential.key");
        let first = CredentialKey::load_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read(&path).unwrap().len(), 32);
        let again = CredentialKey::load_or_create(&path).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(first.fingerprint().len(), 16);
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file stays behind");

        std::fs::write(&path, b"short").unwrap();
        assert!(matches!(
            CredentialKey::load_or_create(&path),
            Err(CredentialKeyError::Length { len: 5, .. })
        ));
    }

    #[test]
    fn sealed_secrets_open_only_for_their_access_key_under_their_key() {
        let key = CredentialKey::from_bytes(&[7; 32], "a".into());
        let other = CredentialKey::from_bytes(&[8; 32], "b".into());
        let secret = "S3cretS3cretS3cretS3cretS3cretS3cretS3cr";
        let sealed = key.seal("AK1", secret).unwrap();
        assert!(!sealed.contains(secret));
        assert_ne!(key.seal("AK1", secret).unwrap(), sealed, "fresh nonce each time");
        assert_eq!(key.open("AK1", key.fingerprint(), &sealed).unwrap().as_str(), secret);
        assert_eq!(
            key.open("AK2", key.fingerprint(), &sealed),
            Err(OpenError::Damaged),
            "bound to its access key"
        );
        assert!(matches!(
            other.open("AK1", key.fingerprint(), &sealed),
            Err(OpenError::OtherKey { .. })
        ));
        assert_eq!(other.open("AK1", other.fingerprint(), &sealed), Err(OpenError::Damaged));
        assert_eq!(key.open("AK1", key.fingerprint(), "!!"), Err(OpenError::Damaged));
        assert!(!format!("{key:?}").contains("cipher"));
    }
}
