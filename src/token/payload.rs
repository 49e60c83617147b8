//! The token payload and its versioned binary encoding.
//!
//! Layout (all integers LEB128 varints unless stated):
//! `methods:u8 | user_id:id | issued_at_ms | lifetime_ms | audit_count:u8 | audit_id:[u8;16]* |
//! scope_tag:u8 [id] | (section_tag:u8 section)*`. An id is `0x00` + 16 bytes when it is 32
//! lowercase hex characters (every id fedgate generates), else `0x01` + len:u8 + UTF-8 bytes.

use super::TokenError;

/// Authentication methods carried by a token, in Keystone's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Methods(u8);

impl Methods {
    pub const PASSWORD: Methods = Methods(1);
    pub const TOKEN: Methods = Methods(2);
    pub const MAPPED: Methods = Methods(4);
    pub const ASSUME_ROLE: Methods = Methods(8);
    const NAMES: [(Methods, &'static str); 4] = [
        (Methods::PASSWORD, "password"),
        (Methods::TOKEN, "token"),
        (Methods::MAPPED, "mapped"),
        (Methods::ASSUME_ROLE, "assume_role"),
    ];

    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(m, _)| self.0 & m.0 != 0)
            .map(|(_, n)| *n)
            .collect()
    }

    pub fn contains(self, other: Methods) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn bits(self) -> u8 {
        self.0
    }
}

pub type AuditId = [u8; 16];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Unscoped,
    Domain(String),
    Project(String),
}

/// How a token came through an identity provider. For an ephemeral (virtual) user these facts
/// exist nowhere else: its name, and its groups from the mapping at this login. For a local
/// user (`iam_user_sso`) they record the provider so disabling it revokes the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Federation {
    pub idp_id: String,
    pub protocol_id: String,
    pub user_name: String,
    pub domain_id: String,
    pub group_ids: Vec<String>,
    /// The user is a stored local user rather than an ephemeral one.
    pub local_user: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPayload {
    pub methods: Methods,
    pub user_id: String,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
    /// This token's audit id first, then the ids of the tokens it was derived from (at most
    /// `MAX_AUDIT_CHAIN` in all), so revoking a parent revokes what was minted from it.
    pub audit_ids: Vec<AuditId>,
    pub scope: Scope,
    pub federation: Option<Federation>,
}

pub const MAX_AUDIT_CHAIN: usize = 4;
const SECTION_FEDERATION: u8 = 1;
const SECTION_FEDERATED_LOCAL_USER: u8 = 2;
const MAX_GROUPS: usize = 1024;

impl TokenPayload {
    pub fn audit_id(&self) -> Option<&AuditId> {
        self.audit_ids.first()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.push(self.methods.0);
        put_id(&mut out, &self.user_id);
        put_varint(&mut out, self.issued_at_ms.max(0) as u64);
        put_varint(&mut out, (self.expires_at_ms - self.issued_at_ms).max(0) as u64);
        let chain = &self.audit_ids[..self.audit_ids.len().min(MAX_AUDIT_CHAIN)];
        out.push(chain.len() as u8);
        for id in chain {
            out.extend_from_slice(id);
        }
        match &self.scope {
            Scope::Unscoped => out.push(0),
            Scope::Domain(id) => {
                out.push(1);
                put_id(&mut out, id);
            }
            Scope::Project(id) => {
                out.push(2);
                put_id(&mut out, id);
            }
        }
        if let Some(fed) = &self.federation {
            out.push(if fed.local_user {
                SECTION_FEDERATED_LOCAL_USER
            } else {
                SECTION_FEDERATION
            });
            put_str(&mut out, &fed.idp_id);
            put_str(&mut out, &fed.protocol_id);
            put_str(&mut out, &fed.user_name);
            put_id(&mut out, &fed.domain_id);
            put_varint(&mut out, fed.group_ids.len() as u64);
            for g in &fed.group_ids {
                put_id(&mut out, g);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, TokenError> {
        let mut r = Reader { bytes, pos: 0 };
        let methods = Methods(r.byte()?);
        if methods.0 == 0 || methods.0 & !0x0f != 0 {
            return Err(TokenError::Malformed("methods"));
        }
        let user_id = r.id()?;
        let issued_at_ms = i64::try_from(r.varint()?).map_err(|_| TokenError::Malformed("issued_at"))?;
        let lifetime_ms = i64::try_from(r.varint()?).map_err(|_| TokenError::Malformed("lifetime"))?;
        let expires_at_ms = issued_at_ms
            .checked_add(lifetime_ms)
            .ok_or(TokenError::Malformed("lifetime"))?;
        let count = r.byte()? as usize;
        if count == 0 || count > MAX_AUDIT_CHAIN {
            return Err(TokenError::Malformed("audit chain"));
        }
        let mut audit_ids = Vec::with_capacity(count);
        for _ in 0..count {
            audit_ids.push(r.array16()?);
        }
        let scope = match r.byte()? {
            0 => Scope::Unscoped,
            1 => Scope::Domain(r.id()?),
            2 => Scope::Project(r.id()?),
            _ => return Err(TokenError::Malformed("scope")),
        };
        let mut federation = None;
        while !r.done() {
            match r.byte()? {
                tag @ (SECTION_FEDERATION | SECTION_FEDERATED_LOCAL_USER) if federation.is_none() => {
                    let idp_id = r.string()?;
                    let protocol_id = r.string()?;
                    let user_name = r.string()?;
                    let domain_id = r.id()?;
                    let n = r.varint()? as usize;
                    if n > MAX_GROUPS {
                        return Err(TokenError::Malformed("group count"));
                    }
                    let mut group_ids = Vec::with_capacity(n);
                    for _ in 0..n {
                        group_ids.push(r.id()?);
                    }
                    federation = Some(Federation {
                        idp_id,
                        protocol_id,
                        user_name,
                        domain_id,
                        group_ids,
                        local_user: tag == SECTION_FEDERATED_LOCAL_USER,
                    });
                }
                _ => return Err(TokenError::Malformed("section")),
            }
        }
        Ok(TokenPayload {
            methods,
            user_id,
            issued_at_ms,
            expires_at_ms,
            audit_ids,
            scope,
            federation,
        })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn is_compact_hex(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn put_id(out: &mut Vec<u8>, id: &str) {
    if is_compact_hex(id) {
        out.push(0);
        let mut buf = [0u8; 16];
        // Checked by is_compact_hex: 32 lowercase hex digits always decode to 16 bytes.
        hex::decode_to_slice(id, &mut buf).expect("32 hex digits decode to 16 bytes");
        out.extend_from_slice(&buf);
    } else {
        // Ids are bounded (≤ 255 bytes) by the newtypes that create them; truncation here
        // would produce a different id, so longer ones are a programming error upstream.
        let len = id.len().min(255);
        out.push(1);
        out.push(len as u8);
        out.extend_from_slice(&id.as_bytes()[..len]);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&[u8], TokenError> {
        let end = self.pos.checked_add(n).ok_or(TokenError::Malformed("length"))?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(TokenError::Malformed("truncated"))?;
        self.pos = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, TokenError> {
        Ok(self.take(1)?[0])
    }

    fn array16(&mut self) -> Result<[u8; 16], TokenError> {
        let mut out = [0u8; 16];
        out.copy_from_slice(self.take(16)?);
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, TokenError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(TokenError::Malformed("varint"))
    }

    fn string(&mut self) -> Result<String, TokenError> {
        let len = self.varint()? as usize;
        if len > 4096 {
            return Err(TokenError::Malformed("string length"));
        }
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| TokenError::Malformed("utf-8"))
    }

    fn id(&mut self) -> Result<String, TokenError> {
        match self.byte()? {
            0 => Ok(hex::encode(self.take(16)?)),
            1 => {
                let len = self.byte()? as usize;
                let bytes = self.take(len)?;
                String::from_utf8(bytes.to_vec()).map_err(|_| TokenError::Malformed("utf-8"))
            }
            _ => Err(TokenError::Malformed("id tag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> TokenPayload {
        TokenPayload {
            methods: Methods::PASSWORD,
            user_id: "7116d09f88fa41908676fdd4b039e1a2".into(),
            issued_at_ms: 1_700_000_000_123,
            expires_at_ms: 1_700_086_400_123,
            audit_ids: vec![[7u8; 16]],
            scope: Scope::Project("aa2d97d7e62c4b7da3ffdfc11551f0c1".into()),
            federation: None,
        }
    }

    #[test]
    fn scoped_password_payload_is_compact_and_round_trips() {
        let p = sample();
        let bytes = p.encode();
        assert!(bytes.len() < 80, "payload is {} bytes", bytes.len());
        assert_eq!(TokenPayload::decode(&bytes), Ok(p));
    }

    #[test]
    fn federated_payload_with_non_hex_ids_round_trips() {
        let mut p = sample();
        p.methods = Methods::MAPPED;
        p.user_id = "LdUTYSC7zmJVlic3yaCbLBXDxPAdDxLg".into();
        p.scope = Scope::Unscoped;
        p.audit_ids = vec![[1; 16], [2; 16]];
        p.federation = Some(Federation {
            idp_id: "ACME".into(),
            protocol_id: "saml".into(),
            user_name: "Zoë Müller".into(),
            domain_id: "d78cbac186b744899480f25bd022f468".into(),
            group_ids: vec!["06aa22601502cec4a23ac0084a74038f".into(), "custom-id".into()],
            local_user: false,
        });
        assert_eq!(TokenPayload::decode(&p.encode()), Ok(p.clone()));
        if let Some(f) = p.federation.as_mut() {
            f.local_user = true;
        }
        assert_eq!(TokenPayload::decode(&p.encode()), Ok(p));
    }

    #[test]
    fn method_names_follow_keystone_order() {
        let m = Methods(Methods::PASSWORD.0 | Methods::TOKEN.0);
        assert_eq!(m.names(), vec!["password", "token"]);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = TokenPayload::decode(&bytes);
        }

        #[test]
        fn accepted_payloads_re_encode_to_the_same_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(p) = TokenPayload::decode(&bytes) {
                // Equal ignoring non-canonical varints: decode(encode(p)) must give p back.
                prop_assert_eq!(TokenPayload::decode(&p.encode()), Ok(p));
            }
        }
    }
}
