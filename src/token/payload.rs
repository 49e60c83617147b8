//! The token payload and its versioned binary encoding.
//!
//! Layout (all integers LEB128 varints unless stated):
//! `methods:u8 | user_id:id | issued_at_ms | lifetime_ms | audit_count:u8 | audit_id:[u8;16]* |
//! scope_tag:u8 [id] | (section_tag:u8 section)*`. An id is `0x00` + 16 bytes when it is 32
//! lowercase hex characters (every id fedgate generates), else `0x01` + len:u8 + UTF-8 bytes.
//! Sections, each at most once and in any order: federation (1, or 2 for a local user) and
//! the original authentication time (3: `issued_at_ms - authenticated_at_ms`), written only
//! when a token was derived from an earlier one, so a fresh token stays as small as before;
//! the agency it acts as (4: agency id, session user name or empty).

use super::TokenError;
use crate::model::Protocol;

/// Authentication methods carried by a token, in Keystone's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Methods(u8);

impl Methods {
    pub const PASSWORD: Methods = Methods(1);
    pub const TOKEN: Methods = Methods(2);
    pub const MAPPED: Methods = Methods(4);
    pub const ASSUME_ROLE: Methods = Methods(8);
    /// A request signed with a permanent access key.
    pub const ACCESS_KEY: Methods = Methods(16);
    const ALL: u8 = 0x1f;
    const NAMES: [(Methods, &'static str); 5] = [
        (Methods::PASSWORD, "password"),
        (Methods::TOKEN, "token"),
        (Methods::MAPPED, "mapped"),
        (Methods::ASSUME_ROLE, "assume_role"),
        (Methods::ACCESS_KEY, "access_key"),
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
    pub protocol_id: Protocol,
    pub user_name: String,
    pub domain_id: String,
    pub group_ids: Vec<String>,
    /// The user is a stored local user rather than an ephemeral one.
    pub local_user: bool,
}

/// A token (or temporary credential) that acts as an agency (`assume_role`). Its `user_id`
/// stays the user who assumed the agency, so revoking that user (or its identity provider,
/// through `federation`) reaches it, as does revoking the agency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AgencySession {
    pub agency_id: String,
    /// `session_user.name` of the request, when given (reference L3264).
    pub session_user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPayload {
    pub methods: Methods,
    pub user_id: String,
    pub issued_at_ms: i64,
    /// When the person or program behind this token last proved who it is (password, SAML
    /// assertion, id_token). Tokens derived from this one carry it unchanged, so revocation by
    /// user, password change or identity provider reaches them however late they were derived.
    pub authenticated_at_ms: i64,
    pub expires_at_ms: i64,
    /// This token's audit id first and the root's (the token that authenticated) last, with
    /// the nearest ancestors between them (see `derived_audit_chain`).
    pub audit_ids: Vec<AuditId>,
    pub scope: Scope,
    pub federation: Option<Federation>,
    pub agency: Option<AgencySession>,
}

pub const MAX_AUDIT_CHAIN: usize = 4;
const SECTION_FEDERATION: u8 = 1;
const SECTION_FEDERATED_LOCAL_USER: u8 = 2;
const SECTION_AUTHENTICATED_AT: u8 = 3;
const SECTION_AGENCY: u8 = 4;
const MAX_GROUPS: usize = 1024;

/// The audit chain of a token derived from one whose chain is `parent`: its own id first, the
/// root (the chain's last id) always last, and as many of the nearest ancestors between them
/// as fit in `MAX_AUDIT_CHAIN`. Revoking the root therefore reaches every descendant however
/// deep; revoking an intermediate token reaches descendants up to `MAX_AUDIT_CHAIN - 2`
/// derivations below it.
pub fn derived_audit_chain(own: AuditId, parent: &[AuditId]) -> Vec<AuditId> {
    let mut chain = Vec::with_capacity(MAX_AUDIT_CHAIN);
    chain.push(own);
    match parent.split_last() {
        None => {}
        Some((root, ancestors)) => {
            chain.extend(ancestors.iter().take(MAX_AUDIT_CHAIN - 2).copied());
            chain.push(*root);
        }
    }
    chain
}

impl TokenPayload {
    pub fn audit_id(&self) -> Option<&AuditId> {
        self.audit_ids.first()
    }

    /// The audit id of the token whose authentication this one descends from.
    pub fn root_audit_id(&self) -> Option<&AuditId> {
        self.audit_ids.last()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.push(self.methods.0);
        put_id(&mut out, &self.user_id);
        put_varint(&mut out, self.issued_at_ms.max(0) as u64);
        put_varint(&mut out, (self.expires_at_ms - self.issued_at_ms).max(0) as u64);
        // Chains are built by `derived_audit_chain`; a longer one keeps its root regardless.
        let chain = match self.audit_ids.len() {
            n if n > MAX_AUDIT_CHAIN => derived_audit_chain(self.audit_ids[0], &self.audit_ids[1..]),
            _ => self.audit_ids.clone(),
        };
        out.push(chain.len() as u8);
        for id in &chain {
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
            put_str(&mut out, fed.protocol_id.as_str());
            put_str(&mut out, &fed.user_name);
            put_id(&mut out, &fed.domain_id);
            put_varint(&mut out, fed.group_ids.len() as u64);
            for g in &fed.group_ids {
                put_id(&mut out, g);
            }
        }
        if self.authenticated_at_ms != self.issued_at_ms {
            out.push(SECTION_AUTHENTICATED_AT);
            put_varint(&mut out, (self.issued_at_ms - self.authenticated_at_ms).max(0) as u64);
        }
        if let Some(agency) = &self.agency {
            out.push(SECTION_AGENCY);
            put_id(&mut out, &agency.agency_id);
            put_str(&mut out, agency.session_user.as_deref().unwrap_or(""));
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, TokenError> {
        let mut r = Reader { bytes, pos: 0 };
        let methods = Methods(r.byte()?);
        if methods.0 == 0 || methods.0 & !Methods::ALL != 0 {
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
        let mut authenticated_at_ms = None;
        let mut agency = None;
        while !r.done() {
            match r.byte()? {
                SECTION_AUTHENTICATED_AT if authenticated_at_ms.is_none() => {
                    let before = i64::try_from(r.varint()?).map_err(|_| TokenError::Malformed("authenticated_at"))?;
                    // Zero is never written: a fresh token omits the section.
                    if before == 0 || before > issued_at_ms {
                        return Err(TokenError::Malformed("authenticated_at"));
                    }
                    authenticated_at_ms = Some(issued_at_ms - before);
                }
                tag @ (SECTION_FEDERATION | SECTION_FEDERATED_LOCAL_USER) if federation.is_none() => {
                    let idp_id = r.string()?;
                    let protocol_id = Protocol::parse(&r.string()?).ok_or(TokenError::Malformed("protocol"))?;
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
                SECTION_AGENCY if agency.is_none() => {
                    let agency_id = r.id()?;
                    let session_user = r.string()?;
                    agency = Some(AgencySession {
                        agency_id,
                        session_user: (!session_user.is_empty()).then_some(session_user),
                    });
                }
                _ => return Err(TokenError::Malformed("section")),
            }
        }
        Ok(TokenPayload {
            methods,
            user_id,
            issued_at_ms,
            authenticated_at_ms: authenticated_at_ms.unwrap_or(issued_at_ms),
            expires_at_ms,
            audit_ids,
            scope,
            federation,
            agency,
        })
    }
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
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

pub(super) fn put_str(out: &mut Vec<u8>, s: &str) {
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

pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
}

impl Reader<'_> {
    pub(super) fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&[u8], TokenError> {
        let end = self.pos.checked_add(n).ok_or(TokenError::Malformed("length"))?;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(TokenError::Malformed("truncated"))?;
        self.pos = end;
        Ok(slice)
    }

    pub(super) fn byte(&mut self) -> Result<u8, TokenError> {
        Ok(self.take(1)?[0])
    }

    fn array16(&mut self) -> Result<[u8; 16], TokenError> {
        let mut out = [0u8; 16];
        out.copy_from_slice(self.take(16)?);
        Ok(out)
    }

    pub(super) fn varint(&mut self) -> Result<u64, TokenError> {
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

    pub(super) fn string(&mut self) -> Result<String, TokenError> {
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
            authenticated_at_ms: 1_700_000_000_123,
            expires_at_ms: 1_700_086_400_123,
            audit_ids: vec![[7u8; 16]],
            scope: Scope::Project("aa2d97d7e62c4b7da3ffdfc11551f0c1".into()),
            federation: None,
            agency: None,
        }
    }

    #[test]
    fn agency_payload_round_trips_and_costs_only_its_section() {
        let mut p = sample();
        p.methods = Methods::ASSUME_ROLE;
        p.agency = Some(AgencySession {
            agency_id: "0760a9e2a60026664f1fc0031f9f205e".into(),
            session_user: None,
        });
        assert_eq!(p.encode().len(), sample().encode().len() + 19);
        assert_eq!(TokenPayload::decode(&p.encode()), Ok(p.clone()));
        p.agency = Some(AgencySession {
            agency_id: "ops-agency".into(),
            session_user: Some("SessionUserName".into()),
        });
        assert_eq!(TokenPayload::decode(&p.encode()), Ok(p));
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
            protocol_id: Protocol::Saml,
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

    #[test]
    fn derived_chains_keep_their_root_however_deep() {
        let root = [0u8; 16];
        let mut chain = vec![root];
        for depth in 1..=10u8 {
            chain = derived_audit_chain([depth; 16], &chain);
            assert_eq!(chain.first(), Some(&[depth; 16]), "depth {depth}: own id first");
            assert_eq!(chain.last(), Some(&root), "depth {depth}: root last");
            assert!(chain.len() <= MAX_AUDIT_CHAIN);
            // The nearest ancestors follow the own id.
            let nearest: Vec<u8> = chain[1..chain.len() - 1].iter().map(|id| id[0]).collect();
            let want: Vec<u8> = (1..depth).rev().take(MAX_AUDIT_CHAIN - 2).collect();
            assert_eq!(nearest, want, "depth {depth}");
        }
        let mut derived = sample();
        derived.audit_ids = chain;
        derived.authenticated_at_ms = derived.issued_at_ms - 3_600_000;
        assert_eq!(TokenPayload::decode(&derived.encode()), Ok(derived));
    }

    #[test]
    fn authentication_time_rides_only_in_derived_tokens() {
        let fresh = sample();
        let mut derived = sample();
        derived.authenticated_at_ms -= 1;
        assert_eq!(derived.encode().len(), fresh.encode().len() + 2);
        assert_eq!(TokenPayload::decode(&derived.encode()), Ok(derived.clone()));
        // A zero delta, a delta past the epoch and a repeated section are not ours.
        let base = fresh.encode();
        for (name, tail) in [
            ("zero delta", vec![SECTION_AUTHENTICATED_AT, 0]),
            ("before the epoch", {
                let mut t = vec![SECTION_AUTHENTICATED_AT];
                put_varint(&mut t, fresh.issued_at_ms as u64 + 1);
                t
            }),
            ("twice", vec![SECTION_AUTHENTICATED_AT, 1, SECTION_AUTHENTICATED_AT, 1]),
        ] {
            let mut bytes = base.clone();
            bytes.extend_from_slice(&tail);
            assert_eq!(
                TokenPayload::decode(&bytes),
                Err(TokenError::Malformed(if name == "twice" {
                    "section"
                } else {
                    "authenticated_at"
                })),
                "{name}"
            );
        }
    }

    /// Ids as fedgate makes them (32 lowercase hex) and as other systems name things.
    fn any_id() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 16).prop_map(hex::encode),
            "[A-Za-z0-9_.@-]{0,40}",
            "\\PC{0,20}",
        ]
    }

    prop_compose! {
        fn any_federation()(
            idp_id in "\\PC{0,30}",
            protocol_id in proptest::sample::select(Protocol::ALL),
            user_name in "\\PC{0,60}",
            domain_id in any_id(),
            group_ids in proptest::collection::vec(any_id(), 0..5),
            local_user in any::<bool>(),
        ) -> Federation {
            Federation { idp_id, protocol_id, user_name, domain_id, group_ids, local_user }
        }
    }

    prop_compose! {
        fn any_payload()(
            methods in 1u8..32,
            user_id in any_id(),
            issued_at_ms in 0i64..4_000_000_000_000,
            since_authentication in prop_oneof![Just(0i64), 1i64..90_000_000],
            lifetime_ms in 0i64..604_800_000,
            audit_ids in proptest::collection::vec(any::<[u8; 16]>(), 1..=MAX_AUDIT_CHAIN),
            scope in prop_oneof![
                Just(Scope::Unscoped),
                any_id().prop_map(Scope::Domain),
                any_id().prop_map(Scope::Project),
            ],
            federation in proptest::option::of(any_federation()),
            agency in proptest::option::of((any_id(), proptest::option::of("[A-Za-z][A-Za-z0-9 ._-]{4,63}"))),
        ) -> TokenPayload {
            TokenPayload {
                methods: Methods(methods),
                user_id,
                issued_at_ms,
                authenticated_at_ms: (issued_at_ms - since_authentication).max(0),
                expires_at_ms: issued_at_ms + lifetime_ms,
                audit_ids,
                scope,
                federation,
                agency: agency.map(|(agency_id, session_user)| AgencySession { agency_id, session_user }),
            }
        }
    }

    proptest! {
        #[test]
        fn every_payload_round_trips(p in any_payload()) {
            prop_assert_eq!(TokenPayload::decode(&p.encode()), Ok(p));
        }

        #[test]
        fn any_cut_of_a_payload_is_refused_or_a_shorter_valid_one(p in any_payload(), cut in any::<prop::sample::Index>()) {
            let bytes = p.encode();
            let cut = cut.index(bytes.len());
            // A prefix ends inside a field (refused) or at a section boundary (a valid payload
            // that lacks the later sections); it never decodes to the whole.
            if let Ok(shorter) = TokenPayload::decode(&bytes[..cut]) {
                prop_assert_ne!(shorter, p);
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = TokenPayload::decode(&bytes);
        }
    }
}
