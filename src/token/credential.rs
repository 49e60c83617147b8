//! Temporary credentials (STS): an access key, its secret key, and the token they act as,
//! sealed together under the token key ring as a security token (`Sealed::SecurityToken`), so
//! any replica verifies a request signed with them without the database, and revocation
//! reaches them as it reaches the token (same user, authentication time, audit chain).
//!
//! Layout: `token_len | token payload | access | secret | policy_count | policy*` (lengths as
//! varints, strings as varint length + UTF-8).

use super::keyring::{Sealed, check_times};
use super::payload::{Reader, put_str, put_varint};
use super::{KeyRing, TokenError, TokenPayload};

/// Security tokens longer than this are not ours (the largest has a 2,048-character policy).
pub const MAX_SECURITY_TOKEN_CHARS: usize = 16 * 1024;
/// Session policies a credential carries at most (its own and its ancestors').
pub const MAX_POLICIES: usize = 4;

#[derive(Clone, PartialEq, Eq)]
pub struct TemporaryCredential {
    /// The access key id the credential signs requests under.
    pub access: String,
    /// The secret access key (HMAC key of the signatures).
    pub secret: String,
    /// Who the credential acts as, with its scope, times and audit chain.
    pub token: TokenPayload,
    /// Session policies, compact JSON: each narrows what the credential may do.
    pub policies: Vec<String>,
}

impl std::fmt::Debug for TemporaryCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemporaryCredential")
            .field("access", &self.access)
            .field("secret", &"[redacted]")
            .field("token", &self.token)
            .field("policies", &self.policies)
            .finish()
    }
}

impl TemporaryCredential {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = put_token(&self.token, 80 + self.policies.iter().map(String::len).sum::<usize>());
        put_str(&mut out, &self.access);
        put_str(&mut out, &self.secret);
        put_policies(&mut out, &self.policies);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, TokenError> {
        let mut r = Reader { bytes, pos: 0 };
        let token = read_token(&mut r)?;
        let access = r.string()?;
        let secret = r.string()?;
        let policies = read_policies(&mut r)?;
        if !r.done() || access.is_empty() || secret.is_empty() {
            return Err(TokenError::Malformed("credential"));
        }
        Ok(TemporaryCredential {
            access,
            secret,
            token,
            policies,
        })
    }
}

/// A console login token: who signs in, and the session policies of the credential it came
/// from, which the console must apply as the credential's holder had to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginToken {
    pub token: TokenPayload,
    pub policies: Vec<String>,
}

impl LoginToken {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = put_token(&self.token, 8 + self.policies.iter().map(String::len).sum::<usize>());
        put_policies(&mut out, &self.policies);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, TokenError> {
        let mut r = Reader { bytes, pos: 0 };
        let token = read_token(&mut r)?;
        let policies = read_policies(&mut r)?;
        if !r.done() {
            return Err(TokenError::Malformed("login token"));
        }
        Ok(LoginToken { token, policies })
    }
}

/// A buffer starting with the length-prefixed token payload, with room for `more` bytes.
fn put_token(token: &TokenPayload, more: usize) -> Vec<u8> {
    let token = token.encode();
    let mut out = Vec::with_capacity(token.len() + 2 + more);
    put_varint(&mut out, token.len() as u64);
    out.extend_from_slice(&token);
    out
}

fn read_token(r: &mut Reader<'_>) -> Result<TokenPayload, TokenError> {
    let token_len = usize::try_from(r.varint()?).map_err(|_| TokenError::Malformed("token length"))?;
    TokenPayload::decode(r.take(token_len)?)
}

fn put_policies(out: &mut Vec<u8>, policies: &[String]) {
    put_varint(out, policies.len() as u64);
    for p in policies {
        put_str(out, p);
    }
}

fn read_policies(r: &mut Reader<'_>) -> Result<Vec<String>, TokenError> {
    let count = r.varint()? as usize;
    if count > MAX_POLICIES {
        return Err(TokenError::Malformed("policy count"));
    }
    let mut policies = Vec::with_capacity(count);
    for _ in 0..count {
        policies.push(r.string()?);
    }
    Ok(policies)
}

impl KeyRing {
    /// The security token of `credential` (fresh nonce, as for `seal`).
    pub fn seal_credential(&self, credential: &TemporaryCredential, nonce: [u8; 12]) -> String {
        self.seal_bytes(Sealed::SecurityToken, &credential.encode(), nonce)
    }

    /// Authenticates, decrypts and time-checks a security token. Revocation is checked
    /// separately, on `token`.
    pub fn open_credential(&self, security_token: &str, now_ms: i64) -> Result<TemporaryCredential, TokenError> {
        let plain = self.open_bytes(Sealed::SecurityToken, security_token, MAX_SECURITY_TOKEN_CHARS)?;
        let credential = TemporaryCredential::decode(&plain)?;
        check_times(&credential.token, now_ms)?;
        Ok(credential)
    }

    /// A console login token: the payload of who signs in, sealed as its own kind so it never
    /// opens as an API token or a security token.
    pub fn seal_login_token(&self, login: &LoginToken, nonce: [u8; 12]) -> String {
        self.seal_bytes(Sealed::LoginToken, &login.encode(), nonce)
    }

    pub fn open_login_token(&self, login_token: &str, now_ms: i64) -> Result<LoginToken, TokenError> {
        let plain = self.open_bytes(Sealed::LoginToken, login_token, MAX_SECURITY_TOKEN_CHARS)?;
        let login = LoginToken::decode(&plain)?;
        check_times(&login.token, now_ms)?;
        Ok(login)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;

    use super::*;
    use crate::token::{Methods, Scope, TokenKey};

    const NOW: i64 = 1_800_000_000_000;

    fn credential() -> TemporaryCredential {
        TemporaryCredential {
            access: "HST3WQ7ZK9P2M4R8T6YB".into(),
            secret: "Vq1zG8uJc0pXkR3dLm5nB7tY2wE4aS6hF9iK1oPq".into(),
            token: TokenPayload {
                methods: Methods::TOKEN,
                user_id: "7116d09f88fa41908676fdd4b039e1a2".into(),
                issued_at_ms: NOW,
                authenticated_at_ms: NOW - 60_000,
                expires_at_ms: NOW + 900_000,
                audit_ids: vec![[1; 16], [2; 16]],
                scope: Scope::Domain("d78cbac186b744899480f25bd022f468".into()),
                federation: None,
                agency: None,
            },
            policies: vec![r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:*:*"]}]}"#.into()],
        }
    }

    fn ring() -> KeyRing {
        KeyRing::new(&[TokenKey::new(1, [1; 32])]).unwrap()
    }

    #[test]
    fn a_security_token_round_trips_and_never_opens_as_a_token() {
        let r = ring();
        let sealed = r.seal_credential(&credential(), [4; 12]);
        assert_eq!(r.open_credential(&sealed, NOW + 1), Ok(credential()));
        assert_eq!(r.open(&sealed, NOW + 1), Err(TokenError::UnsupportedVersion(2)));
        let token = r.seal(&credential().token, [5; 12]);
        assert_eq!(
            r.open_credential(&token, NOW + 1),
            Err(TokenError::UnsupportedVersion(1))
        );
        assert!(matches!(
            r.open_credential(&sealed, NOW + 900_000),
            Err(TokenError::Expired { .. })
        ));
        let login_token = LoginToken {
            token: credential().token,
            policies: credential().policies,
        };
        let login = r.seal_login_token(&login_token, [7; 12]);
        assert_eq!(r.open_login_token(&login, NOW + 1), Ok(login_token));
        assert_eq!(r.open(&login, NOW + 1), Err(TokenError::UnsupportedVersion(3)));
        assert_eq!(
            r.open_credential(&login, NOW + 1),
            Err(TokenError::UnsupportedVersion(3))
        );
        assert!(
            !format!("{:?}", credential()).contains("Vq1zG8"),
            "the secret stays out of Debug"
        );
    }

    proptest! {
        #[test]
        fn any_flipped_bit_of_a_security_token_is_rejected(pos in 0usize..400, bit in 0u8..8) {
            let r = ring();
            let mut wire = URL_SAFE_NO_PAD.decode(r.seal_credential(&credential(), [6; 12])).unwrap();
            let pos = pos % wire.len();
            wire[pos] ^= 1 << bit;
            prop_assert!(r.open_credential(&URL_SAFE_NO_PAD.encode(wire), NOW).is_err());
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = TemporaryCredential::decode(&bytes);
        }
    }
}
