//! Revocation events, held in memory and checked at every validation.
//!
//! Keystone's model: an event revokes either one token and what was derived from it (by audit
//! id) or every token of a subject whose original authentication happened at or before an
//! instant (user disabled, deleted, password changed; identity provider disabled). The
//! authentication time, not the token's own issue time, is compared: a token derived later
//! (rescoped, or an STS credential) from an authentication before the event is revoked too,
//! even when a replica derived it before it had seen the event.
//!
//! Each event is kept until the last token it can revoke has expired (`expires_at_ms`), and
//! `prune` drops it after that, so the list is bounded by what can still be presented.

use std::collections::HashMap;

use super::{AuditId, TokenPayload};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationEvent {
    /// The token with this audit id and the tokens derived from it.
    AuditId(AuditId),
    /// Tokens of this user whose original authentication was at or before the instant.
    User {
        user_id: String,
        authenticated_before_ms: i64,
    },
    /// Tokens that came through this identity provider with an original authentication at or
    /// before the instant.
    IdentityProvider {
        idp_id: String,
        authenticated_before_ms: i64,
    },
    /// Tokens whose root audit id is this one, authenticated at or before the instant: what a
    /// permanent access key signed, once the key is deactivated or deleted.
    Root {
        audit_id: AuditId,
        authenticated_before_ms: i64,
    },
    /// Tokens and credentials acting as this agency (deleted, or its trust changed) with an
    /// original authentication at or before the instant.
    Agency {
        agency_id: String,
        authenticated_before_ms: i64,
    },
}

/// An instant and how long the fact about it matters.
#[derive(Debug, Clone, Copy)]
struct Cutoff {
    before_ms: i64,
    expires_at_ms: i64,
}

#[derive(Debug, Default, Clone)]
pub struct RevocationList {
    /// Revoked audit id -> when the last token carrying it expires.
    audit_ids: HashMap<AuditId, i64>,
    users: HashMap<String, Cutoff>,
    idps: HashMap<String, Cutoff>,
    agencies: HashMap<String, Cutoff>,
    roots: HashMap<AuditId, Cutoff>,
}

fn merge<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Cutoff>, key: K, before_ms: i64, expires_at_ms: i64) {
    let entry = map.entry(key).or_insert(Cutoff {
        before_ms,
        expires_at_ms,
    });
    entry.before_ms = entry.before_ms.max(before_ms);
    entry.expires_at_ms = entry.expires_at_ms.max(expires_at_ms);
}

impl RevocationList {
    /// Adds an event that matters until `expires_at_ms`. Inserting an event that is already
    /// known only extends it.
    pub fn insert(&mut self, event: RevocationEvent, expires_at_ms: i64) {
        match event {
            RevocationEvent::AuditId(id) => {
                let at = self.audit_ids.entry(id).or_insert(expires_at_ms);
                *at = (*at).max(expires_at_ms);
            }
            RevocationEvent::User {
                user_id,
                authenticated_before_ms,
            } => merge(&mut self.users, user_id, authenticated_before_ms, expires_at_ms),
            RevocationEvent::IdentityProvider {
                idp_id,
                authenticated_before_ms,
            } => merge(&mut self.idps, idp_id, authenticated_before_ms, expires_at_ms),
            RevocationEvent::Agency {
                agency_id,
                authenticated_before_ms,
            } => merge(&mut self.agencies, agency_id, authenticated_before_ms, expires_at_ms),
            RevocationEvent::Root {
                audit_id,
                authenticated_before_ms,
            } => merge(&mut self.roots, audit_id, authenticated_before_ms, expires_at_ms),
        }
    }

    /// Drops events no unexpired token can match any more; returns how many went.
    pub fn prune(&mut self, now_ms: i64) -> usize {
        let before = self.len();
        self.audit_ids.retain(|_, expires| *expires > now_ms);
        self.users.retain(|_, c| c.expires_at_ms > now_ms);
        self.idps.retain(|_, c| c.expires_at_ms > now_ms);
        self.agencies.retain(|_, c| c.expires_at_ms > now_ms);
        self.roots.retain(|_, c| c.expires_at_ms > now_ms);
        before - self.len()
    }

    pub fn len(&self) -> usize {
        self.audit_ids.len() + self.users.len() + self.idps.len() + self.agencies.len() + self.roots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_revoked(&self, token: &TokenPayload) -> bool {
        if !self.audit_ids.is_empty() && token.audit_ids.iter().any(|id| self.audit_ids.contains_key(id)) {
            return true;
        }
        let authenticated = token.authenticated_at_ms;
        if self
            .users
            .get(&token.user_id)
            .is_some_and(|c| authenticated <= c.before_ms)
        {
            return true;
        }
        let cut = |map: &HashMap<String, Cutoff>, key: &str| map.get(key).is_some_and(|c| authenticated <= c.before_ms);
        token
            .federation
            .as_ref()
            .is_some_and(|fed| cut(&self.idps, &fed.idp_id))
            || token.agency.as_ref().is_some_and(|a| cut(&self.agencies, &a.agency_id))
            || token
                .root_audit_id()
                .and_then(|root| self.roots.get(root))
                .is_some_and(|c| authenticated <= c.before_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{Federation, Methods, Scope};

    /// A federated token of user u1 through idp acme, issued at `issued_at_ms` from an
    /// authentication at `authenticated_at_ms`.
    fn token(authenticated_at_ms: i64, issued_at_ms: i64, audit: Vec<AuditId>) -> TokenPayload {
        TokenPayload {
            methods: Methods::MAPPED,
            user_id: "u1".into(),
            issued_at_ms,
            authenticated_at_ms,
            expires_at_ms: issued_at_ms + 1000,
            audit_ids: audit,
            scope: Scope::Unscoped,
            federation: Some(Federation {
                idp_id: "acme".into(),
                protocol_id: crate::model::Protocol::Saml,
                user_name: "alice".into(),
                domain_id: "d".into(),
                group_ids: vec![],
                local_user: false,
            }),
            agency: None,
        }
    }

    fn user(id: &str, before: i64) -> RevocationEvent {
        RevocationEvent::User {
            user_id: id.into(),
            authenticated_before_ms: before,
        }
    }

    fn idp(id: &str, before: i64) -> RevocationEvent {
        RevocationEvent::IdentityProvider {
            idp_id: id.into(),
            authenticated_before_ms: before,
        }
    }

    fn agency(id: &str, before: i64) -> RevocationEvent {
        RevocationEvent::Agency {
            agency_id: id.into(),
            authenticated_before_ms: before,
        }
    }

    fn root(audit_id: AuditId, before: i64) -> RevocationEvent {
        RevocationEvent::Root {
            audit_id,
            authenticated_before_ms: before,
        }
    }

    fn acting_as(agency_id: &str, mut token: TokenPayload) -> TokenPayload {
        token.agency = Some(crate::token::AgencySession {
            agency_id: agency_id.into(),
            session_user: None,
        });
        token
    }

    #[test]
    fn events_revoke_exactly_what_they_name() {
        let cases: Vec<(&str, RevocationEvent, TokenPayload, bool)> = vec![
            (
                "own audit id",
                RevocationEvent::AuditId([1; 16]),
                token(10, 10, vec![[1; 16]]),
                true,
            ),
            (
                "root audit id",
                RevocationEvent::AuditId([1; 16]),
                token(10, 10, vec![[2; 16], [1; 16]]),
                true,
            ),
            (
                "other audit id",
                RevocationEvent::AuditId([3; 16]),
                token(10, 10, vec![[2; 16], [1; 16]]),
                false,
            ),
            (
                "user, authenticated at the instant",
                user("u1", 10),
                token(10, 10, vec![[1; 16]]),
                true,
            ),
            (
                "user, authenticated after",
                user("u1", 10),
                token(11, 11, vec![[1; 16]]),
                false,
            ),
            // The case that used to escape: derived after the event from an older login.
            (
                "user, derived after from an authentication before",
                user("u1", 10),
                token(9, 50, vec![[2; 16], [1; 16]]),
                true,
            ),
            ("other user", user("u2", 10), token(5, 5, vec![[1; 16]]), false),
            (
                "idp, authenticated before",
                idp("acme", 10),
                token(9, 9, vec![[1; 16]]),
                true,
            ),
            (
                "idp, derived after from an authentication before",
                idp("acme", 10),
                token(9, 20, vec![[1; 16]]),
                true,
            ),
            (
                "idp, authenticated after",
                idp("acme", 10),
                token(11, 11, vec![[1; 16]]),
                false,
            ),
            ("other idp", idp("other", 10), token(9, 9, vec![[1; 16]]), false),
            (
                "agency, assumed before",
                agency("ops", 10),
                acting_as("ops", token(9, 20, vec![[1; 16]])),
                true,
            ),
            (
                "agency, assumed after",
                agency("ops", 10),
                acting_as("ops", token(11, 11, vec![[1; 16]])),
                false,
            ),
            (
                "other agency",
                agency("dev", 10),
                acting_as("ops", token(9, 9, vec![[1; 16]])),
                false,
            ),
            (
                "agency event, no agency",
                agency("ops", 10),
                token(9, 9, vec![[1; 16]]),
                false,
            ),
            (
                "root, authenticated before",
                root([1; 16], 10),
                token(9, 20, vec![[2; 16], [1; 16]]),
                true,
            ),
            (
                "root, authenticated after (the key was enabled again)",
                root([1; 16], 10),
                token(11, 20, vec![[2; 16], [1; 16]]),
                false,
            ),
            (
                "root, not the root",
                root([2; 16], 10),
                token(9, 20, vec![[2; 16], [1; 16]]),
                false,
            ),
            (
                "the assuming user revoked",
                user("u1", 10),
                acting_as("ops", token(9, 20, vec![[1; 16]])),
                true,
            ),
        ];
        for (name, event, token, want) in cases {
            let mut list = RevocationList::default();
            list.insert(event, 1_000_000);
            assert_eq!(list.is_revoked(&token), want, "case {name}");
        }
    }

    #[test]
    fn events_go_when_nothing_they_revoke_can_still_be_valid() {
        let mut list = RevocationList::default();
        list.insert(RevocationEvent::AuditId([1; 16]), 100);
        list.insert(user("u1", 10), 200);
        list.insert(idp("acme", 10), 300);
        // A later event for the same user extends the cutoff and the lifetime.
        list.insert(user("u1", 20), 250);
        assert_eq!(list.len(), 3);
        assert_eq!(list.prune(100), 1);
        assert!(!list.audit_ids.contains_key(&[1; 16]), "the expired audit event went");
        assert!(list.is_revoked(&token(20, 20, vec![[9; 16]])), "the later cutoff holds");
        assert_eq!(list.prune(249), 0);
        assert_eq!(list.prune(250), 1);
        assert_eq!(list.prune(300), 1);
        assert!(list.is_empty());
    }
}
