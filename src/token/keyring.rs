//! The key ring: the primary key seals, every key opens.
//!
//! Wire form: base64url (no padding) of `version:u8 | key_id:u32 BE | nonce:[u8;12] |
//! AES-256-GCM(payload) | tag:[u8;16]`, with the first five bytes as associated data so the
//! version and key id cannot be swapped without failing authentication. Version 1 is a token
//! (X-Auth-Token), version 2 a security token (X-Security-Token): one can never open as the
//! other.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::{TokenError, TokenPayload};

/// What a sealed value is; its version byte, bound to the ciphertext as associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    Token = 1,
    SecurityToken = 2,
    /// A console login token (custom identity broker): a token payload that never opens as
    /// an API token.
    LoginToken = 3,
}

const VERSION: u8 = Sealed::Token as u8;
const HEADER_LEN: usize = 1 + 4;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Generous upper bound on a sealed token (a federated token with many groups stays far below).
pub const MAX_TOKEN_CHARS: usize = 16 * 1024;

/// One 256-bit token key. The secret never appears in `Debug` output.
#[derive(Clone)]
pub struct TokenKey {
    pub id: u32,
    secret: Zeroizing<[u8; 32]>,
}

impl TokenKey {
    pub fn new(id: u32, secret: [u8; 32]) -> Self {
        Self {
            id,
            secret: Zeroizing::new(secret),
        }
    }

    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Keys with their expanded AES key schedules, built once per ring so sealing and opening cost
/// only the cipher work.
pub struct KeyRing {
    /// Sorted by id, highest (the primary) first.
    keys: Vec<(u32, Aes256Gcm)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("key_ids", &self.key_ids()).finish()
    }
}

impl KeyRing {
    /// The key with the highest id becomes the primary; the others only open tokens.
    pub fn new(keys: &[TokenKey]) -> Result<Self, TokenError> {
        if keys.is_empty() {
            return Err(TokenError::EmptyKeyRing);
        }
        let mut keys: Vec<(u32, Aes256Gcm)> = keys.iter().map(|k| (k.id, Aes256Gcm::new(k.secret().into()))).collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.0));
        Ok(Self { keys })
    }

    pub fn primary_id(&self) -> u32 {
        self.keys[0].0
    }

    pub fn key_ids(&self) -> Vec<u32> {
        self.keys.iter().map(|(id, _)| *id).collect()
    }

    pub fn contains(&self, key_id: u32) -> bool {
        self.keys.iter().any(|(id, _)| *id == key_id)
    }

    /// Seals `payload` under the primary key. The nonce must be fresh for every call (the
    /// caller draws it from a CSPRNG): AES-GCM loses its guarantees on nonce reuse.
    pub fn seal(&self, payload: &TokenPayload, nonce: [u8; NONCE_LEN]) -> String {
        self.seal_bytes(Sealed::Token, &payload.encode(), nonce)
    }

    /// Seals `plain` as a value of `kind` under the primary key (fresh nonce, as for `seal`).
    pub fn seal_bytes(&self, kind: Sealed, plain: &[u8], nonce: [u8; NONCE_LEN]) -> String {
        let (key_id, cipher) = &self.keys[0];
        let mut header = [0u8; HEADER_LEN];
        header[0] = kind as u8;
        header[1..].copy_from_slice(&key_id.to_be_bytes());
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: &header,
                },
            )
            .expect("AES-GCM encryption of a small buffer cannot fail");
        let mut wire = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        wire.extend_from_slice(&header);
        wire.extend_from_slice(&nonce);
        wire.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(wire)
    }

    /// Key id a token claims, without authenticating it (used to decide whether to reload the
    /// ring from the store before giving up on an unknown key).
    pub fn peek_key_id(token: &str) -> Option<u32> {
        let prefix = token.get(..8)?;
        let bytes = URL_SAFE_NO_PAD.decode(prefix).ok()?;
        (bytes.first() == Some(&VERSION)).then(|| u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]))
    }

    /// Authenticates, decrypts and time-checks a token. Revocation is checked separately.
    pub fn open(&self, token: &str, now_ms: i64) -> Result<TokenPayload, TokenError> {
        let plain = self.open_bytes(Sealed::Token, token, MAX_TOKEN_CHARS)?;
        let payload = TokenPayload::decode(&plain)?;
        check_times(&payload, now_ms)?;
        Ok(payload)
    }

    /// Authenticates and decrypts a value of `kind` at most `max_chars` long.
    pub fn open_bytes(&self, kind: Sealed, text: &str, max_chars: usize) -> Result<Vec<u8>, TokenError> {
        if text.len() > max_chars {
            return Err(TokenError::BadLength { len: text.len() });
        }
        let wire = URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map_err(|_| TokenError::NotBase64)?;
        if wire.len() < HEADER_LEN + NONCE_LEN + TAG_LEN + 1 {
            return Err(TokenError::BadLength { len: wire.len() });
        }
        let (header, rest) = wire.split_at(HEADER_LEN);
        if header[0] != kind as u8 {
            return Err(TokenError::UnsupportedVersion(header[0]));
        }
        let key_id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let cipher = self
            .keys
            .iter()
            .find(|(id, _)| *id == key_id)
            .map(|(_, c)| c)
            .ok_or(TokenError::UnknownKey(key_id))?;
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: header,
                },
            )
            .map_err(|_| TokenError::Forged)
    }
}

/// A sealed payload is valid from shortly before it was issued until it expires.
pub fn check_times(payload: &TokenPayload, now_ms: i64) -> Result<(), TokenError> {
    if payload.expires_at_ms <= now_ms {
        return Err(TokenError::Expired {
            expires_at_ms: payload.expires_at_ms,
            now_ms,
        });
    }
    // Replicas' clocks drift; a token from a few seconds ahead is still ours.
    const ISSUE_SKEW_MS: i64 = 60_000;
    if payload.issued_at_ms > now_ms + ISSUE_SKEW_MS {
        return Err(TokenError::NotYetValid {
            issued_at_ms: payload.issued_at_ms,
            now_ms,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Methods, Scope};
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000_000;

    fn payload() -> TokenPayload {
        TokenPayload {
            methods: Methods::PASSWORD,
            user_id: "7116d09f88fa41908676fdd4b039e1a2".into(),
            issued_at_ms: NOW,
            authenticated_at_ms: NOW,
            expires_at_ms: NOW + 86_400_000,
            audit_ids: vec![[9; 16]],
            scope: Scope::Project("aa2d97d7e62c4b7da3ffdfc11551f0c1".into()),
            federation: None,
            agency: None,
        }
    }

    fn ring(ids: &[u32]) -> KeyRing {
        let keys: Vec<TokenKey> = ids.iter().map(|&i| TokenKey::new(i, [i as u8; 32])).collect();
        KeyRing::new(&keys).unwrap()
    }

    #[test]
    fn scoped_password_token_is_under_300_characters() {
        let token = ring(&[1]).seal(&payload(), [0; 12]);
        assert!(token.len() < 300, "{} chars", token.len());
        assert_eq!(ring(&[1]).open(&token, NOW + 1), Ok(payload()));
    }

    #[test]
    fn rotation_keeps_old_tokens_and_seals_with_the_new_primary() {
        let old = ring(&[1]).seal(&payload(), [1; 12]);
        let rotated = ring(&[1, 2]);
        assert_eq!(rotated.primary_id(), 2);
        assert!(rotated.open(&old, NOW).is_ok());
        let new = rotated.seal(&payload(), [2; 12]);
        assert_eq!(KeyRing::peek_key_id(&new), Some(2));
        assert_eq!(ring(&[1]).open(&new, NOW), Err(TokenError::UnknownKey(2)));
    }

    #[test]
    fn rejections_name_the_failed_check() {
        let r = ring(&[1]);
        let token = r.seal(&payload(), [3; 12]);
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let other_key = KeyRing::new(&[TokenKey::new(1, [42; 32])]).unwrap();
        let cases: Vec<(&str, String, i64, TokenError)> = vec![
            ("flipped byte", flipped, NOW, TokenError::Forged),
            ("other secret, same id", token.clone(), NOW, TokenError::Forged),
            ("not base64", "***".into(), NOW, TokenError::NotBase64),
            ("too short", "AQAAAAE".into(), NOW, TokenError::BadLength { len: 5 }),
            (
                "expired",
                token.clone(),
                NOW + 86_400_000,
                TokenError::Expired {
                    expires_at_ms: NOW + 86_400_000,
                    now_ms: NOW + 86_400_000,
                },
            ),
            (
                "issued in the future",
                token.clone(),
                NOW - 120_000,
                TokenError::NotYetValid {
                    issued_at_ms: NOW,
                    now_ms: NOW - 120_000,
                },
            ),
        ];
        for (name, token, now, want) in cases {
            let ring = if name == "other secret, same id" {
                &other_key
            } else {
                &r
            };
            assert_eq!(ring.open(&token, now), Err(want), "case {name}");
        }
    }

    proptest! {
        #[test]
        fn any_flipped_bit_is_rejected(pos in 0usize..90, bit in 0u8..8) {
            let r = ring(&[1]);
            let token = r.seal(&payload(), [5; 12]);
            let mut wire = URL_SAFE_NO_PAD.decode(&token).unwrap();
            let pos = pos % wire.len();
            wire[pos] ^= 1 << bit;
            prop_assert!(r.open(&URL_SAFE_NO_PAD.encode(wire), NOW).is_err());
        }

        #[test]
        fn open_never_panics_on_arbitrary_text(s in "\\PC{0,200}") {
            let _ = ring(&[1]).open(&s, NOW);
        }
    }
}
