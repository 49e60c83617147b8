//! Revocation events, held in memory and checked at every validation.
//!
//! Keystone's model: an event revokes either one token chain (by audit id) or every token of a
//! subject issued at or before an instant (user disabled, deleted, password changed; identity
//! provider disabled). Events are kept until the longest token lifetime has passed.

use std::collections::{HashMap, HashSet};

use super::{AuditId, TokenPayload};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationEvent {
    AuditId(AuditId),
    /// Tokens of this user issued at or before `issued_before_ms`.
    User {
        user_id: String,
        issued_before_ms: i64,
    },
    /// Tokens minted through this identity provider at or before `issued_before_ms`.
    IdentityProvider {
        idp_id: String,
        issued_before_ms: i64,
    },
}

#[derive(Debug, Default, Clone)]
pub struct RevocationList {
    audit_ids: HashSet<AuditId>,
    users: HashMap<String, i64>,
    idps: HashMap<String, i64>,
}

impl RevocationList {
    pub fn insert(&mut self, event: RevocationEvent) {
        match event {
            RevocationEvent::AuditId(id) => {
                self.audit_ids.insert(id);
            }
            RevocationEvent::User {
                user_id,
                issued_before_ms,
            } => {
                let at = self.users.entry(user_id).or_insert(issued_before_ms);
                *at = (*at).max(issued_before_ms);
            }
            RevocationEvent::IdentityProvider {
                idp_id,
                issued_before_ms,
            } => {
                let at = self.idps.entry(idp_id).or_insert(issued_before_ms);
                *at = (*at).max(issued_before_ms);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.audit_ids.len() + self.users.len() + self.idps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_revoked(&self, token: &TokenPayload) -> bool {
        if token.audit_ids.iter().any(|id| self.audit_ids.contains(id)) {
            return true;
        }
        if self
            .users
            .get(&token.user_id)
            .is_some_and(|&before| token.issued_at_ms <= before)
        {
            return true;
        }
        token.federation.as_ref().is_some_and(|fed| {
            self.idps
                .get(&fed.idp_id)
                .is_some_and(|&before| token.issued_at_ms <= before)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Federation, Methods, Scope};

    fn token(issued_at_ms: i64, audit: Vec<AuditId>) -> TokenPayload {
        TokenPayload {
            methods: Methods::MAPPED,
            user_id: "u1".into(),
            issued_at_ms,
            expires_at_ms: issued_at_ms + 1000,
            audit_ids: audit,
            scope: Scope::Unscoped,
            federation: Some(Federation {
                idp_id: "acme".into(),
                protocol_id: "saml".into(),
                user_name: "alice".into(),
                domain_id: "d".into(),
                group_ids: vec![],
                local_user: false,
            }),
        }
    }

    #[test]
    fn events_revoke_exactly_what_they_name() {
        let cases: Vec<(&str, RevocationEvent, TokenPayload, bool)> = vec![
            (
                "own audit id",
                RevocationEvent::AuditId([1; 16]),
                token(10, vec![[1; 16]]),
                true,
            ),
            (
                "parent audit id",
                RevocationEvent::AuditId([1; 16]),
                token(10, vec![[2; 16], [1; 16]]),
                true,
            ),
            (
                "other audit id",
                RevocationEvent::AuditId([3; 16]),
                token(10, vec![[2; 16], [1; 16]]),
                false,
            ),
            (
                "user, issued before",
                RevocationEvent::User {
                    user_id: "u1".into(),
                    issued_before_ms: 10,
                },
                token(10, vec![[1; 16]]),
                true,
            ),
            (
                "user, issued after",
                RevocationEvent::User {
                    user_id: "u1".into(),
                    issued_before_ms: 10,
                },
                token(11, vec![[1; 16]]),
                false,
            ),
            (
                "other user",
                RevocationEvent::User {
                    user_id: "u2".into(),
                    issued_before_ms: 10,
                },
                token(5, vec![[1; 16]]),
                false,
            ),
            (
                "idp, issued before",
                RevocationEvent::IdentityProvider {
                    idp_id: "acme".into(),
                    issued_before_ms: 10,
                },
                token(9, vec![[1; 16]]),
                true,
            ),
            (
                "other idp",
                RevocationEvent::IdentityProvider {
                    idp_id: "other".into(),
                    issued_before_ms: 10,
                },
                token(9, vec![[1; 16]]),
                false,
            ),
        ];
        for (name, event, token, want) in cases {
            let mut list = RevocationList::default();
            list.insert(event);
            assert_eq!(list.is_revoked(&token), want, "case {name}");
        }
    }
}
