//! Turning a verified assertion (SAML attributes or OIDC claims, as an attribute map) into a
//! federated token: the IdP's protocol mapping decides user and groups; `virtual_user_sso`
//! gives an ephemeral user with a stable id and a shadow record, `iam_user_sso` must resolve to
//! an existing local user (matched on `xuser_id`). Callers verify the assertion first; this
//! module trusts the attributes it is given and nothing else.

use serde_json::Value;
use sha2::{Digest, Sha256};

use std::sync::Arc;

use super::auth::Issued;
use super::login_cache::LoginConfig;
use super::names::{escaped, is_untypeable};
use super::{AuthContext, Error, Result, Services, SignIn};
use crate::mapping::{self, Mapped};
use crate::model::{FederatedUser, GroupFilter, IdentityProvider, Protocol, SsoType};
use crate::token::{Federation, Methods, Scope, TokenPayload};

/// The id of a virtual user: first 32 hex digits of SHA-256(idp id + "/" + mapped name)
/// (DESIGN.md decision 19), stable across logins and replicas.
pub fn federated_user_id(idp_id: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{idp_id}/{name}").as_bytes());
    hex::encode(&digest[..16])
}

/// Names, ids and addresses a mapping yields are text a person could have typed: a value with
/// control characters (CR/LF to forge log lines or headers, bidi overrides to disguise a name)
/// refuses the login before anything is stored, and is logged only escaped.
fn refuse_untypeable(mapped: &Mapped<'_>) -> std::result::Result<(), String> {
    let user = &mapped.user;
    let mut values: Vec<(&str, &str)> = Vec::new();
    for (what, value) in [
        ("user name", &user.name),
        ("user id", &user.id),
        ("user email", &user.email),
    ] {
        if let Some(v) = value {
            values.push((what, v));
        }
    }
    values.extend(mapped.group_ids.iter().map(|g| ("group id", g.as_ref())));
    for group in &mapped.group_names {
        values.push(("group name", group.name().unwrap_or("")));
        let domain = group.domain();
        for key in ["id", "name"] {
            if let Some(v) = domain.and_then(|d| d.get(key)).and_then(Value::as_str) {
                values.push(("group domain", v));
            }
        }
    }
    match values.iter().find(|(_, v)| v.chars().any(is_untypeable)) {
        Some((what, v)) => Err(format!(
            "the mapping yielded a {what} with control characters: {}",
            escaped(v)
        )),
        None => Ok(()),
    }
}

impl SignIn {
    /// The account (domain) identity provider `idp_id` belongs to, if it exists.
    pub async fn provider_account(&self, idp_id: &str) -> Result<Option<String>> {
        Ok(self.store.get_idp(idp_id).await?.map(|idp| idp.domain_id))
    }

    /// Maps `attributes` with the protocol's mapping and issues an unscoped federated token.
    pub async fn federated_login(
        &self,
        idp_id: &str,
        protocol_id: Protocol,
        attributes: &mapping::Assertion,
        now_ms: i64,
    ) -> Result<Issued> {
        let refuse = |why: String| Error::Unauthenticated(format!("federated login via {idp_id}/{protocol_id}: {why}"));
        let config = self.login_config(idp_id, protocol_id, now_ms).await?;
        let (idp, compiled) = (&config.idp, &config.mapping);
        if !idp.enabled {
            return Err(refuse("identity provider disabled".into()));
        }
        let hits = mapping::backtrack_limit_hits();
        let mapped = compiled.evaluate(attributes);
        if mapping::backtrack_limit_hits() != hits {
            // Such a value was taken as not admitted (see mapping::rules); say so, since the
            // outcome may surprise whoever wrote the rule.
            tracing::warn!(
                idp = idp_id,
                protocol = %protocol_id,
                "a look-around or back-reference regex of the mapping hit its backtracking limit;                  the value it tested was not admitted (the dry run's trace names the rule)"
            );
        }
        let mapped = mapped.map_err(|e| refuse(e.to_string()))?;
        refuse_untypeable(&mapped).map_err(refuse)?;
        let name = mapped
            .user
            .name
            .as_deref()
            .filter(|n| !n.is_empty() && n.len() <= 255)
            .ok_or_else(|| refuse("the mapping yielded no user name".into()))?
            .to_string();
        let group_ids = self.mapped_groups(idp, &mapped, now_ms).await?;
        let (user_id, local_user) = if idp.sso_type == SsoType::IamUserSso {
            let user = self
                .store
                .get_user_by_external_id(&idp.domain_id, "TenantIdp", &name)
                .await?
                .ok_or_else(|| refuse(format!("no IAM user bound to external id {name}")))?;
            if !user.enabled {
                return Err(refuse(format!("user {} is disabled", user.id)));
            }
            // The account's owner stands above its IAM admins, any of whom can configure an
            // identity provider (and its keys): the owner signs in only with its own password.
            if user.is_domain_owner {
                return Err(refuse(format!(
                    "user {} owns the account and cannot sign in through an identity provider",
                    user.id
                )));
            }
            (user.id, true)
        } else {
            let id = federated_user_id(&idp.id, &name);
            // The shadow record's last login is kept to the refresh interval's precision:
            // a login within it skips the write.
            let shadows = &self.login_cache.shadows;
            if shadows.get(&id, now_ms).is_none() {
                let generation = shadows.generation();
                let shadow = self
                    .store
                    .record_federated_login(&FederatedUser {
                        id: id.clone(),
                        idp_id: idp.id.clone(),
                        protocol_id,
                        name: name.clone(),
                        domain_id: idp.domain_id.clone(),
                        enabled: true,
                        created_at_ms: now_ms,
                        last_login_at_ms: now_ms,
                    })
                    .await?;
                if !shadow.enabled {
                    return Err(refuse(format!("federated user {} is disabled", shadow.id)));
                }
                shadows.put(id.clone(), (), generation, now_ms);
            }
            (id, false)
        };
        let audit = super::new_audit_id();
        let payload = TokenPayload {
            methods: Methods::MAPPED,
            user_id,
            issued_at_ms: now_ms,
            authenticated_at_ms: now_ms,
            expires_at_ms: now_ms + self.tokens.ttl_ms(),
            audit_ids: vec![audit],
            scope: Scope::Unscoped,
            federation: Some(Federation {
                idp_id: idp.id.clone(),
                protocol_id,
                user_name: name,
                domain_id: idp.domain_id.clone(),
                // A local user's groups are its stored memberships, read at validation.
                group_ids: if local_user { Vec::new() } else { group_ids },
                local_user,
            }),
            agency: None,
        };
        let identity = self.resolve(&payload, now_ms).await?;
        let token = self.tokens.seal(&payload);
        metrics::counter!("fedgate_tokens_issued_total", "method" => "mapped").increment(1);
        tracing::info!(idp.id = %idp.id, protocol.id = %protocol_id, user.id = %identity.user.id,
            token.audit_id = %hex::encode(audit), "federated token issued");
        Ok(Issued {
            token,
            ctx: AuthContext {
                token: payload,
                identity,
                session_policies: Vec::new(),
            },
        })
    }

    /// The provider and the compiled mapping of its protocol, cached for the refresh interval.
    async fn login_config(&self, idp_id: &str, protocol_id: Protocol, now_ms: i64) -> Result<Arc<LoginConfig>> {
        let key = (idp_id.to_string(), protocol_id);
        let cache = &self.login_cache.configs;
        if let Some(hit) = cache.get(&key, now_ms) {
            return Ok(hit);
        }
        let generation = cache.generation();
        let refuse = |why: &str| Error::Unauthenticated(format!("federated login via {idp_id}/{protocol_id}: {why}"));
        let idp = self
            .store
            .get_idp(idp_id)
            .await?
            .ok_or_else(|| refuse("no such identity provider"))?;
        let protocol = self
            .store
            .get_protocol(idp_id, protocol_id)
            .await?
            .ok_or_else(|| refuse("no such protocol"))?;
        let record = self
            .store
            .get_mapping(&protocol.mapping_id)
            .await?
            .ok_or_else(|| refuse("mapping missing"))?;
        let config = Arc::new(LoginConfig {
            idp,
            mapping: self.compiled_mapping(&record)?,
        });
        cache.put(key, config.clone(), generation, now_ms);
        Ok(config)
    }

    /// Group ids the mapping names that exist in the IdP's own account, and the ones it drops:
    /// groups of other accounts and names that resolve to nothing never count (a mapping can
    /// never grant more than its owner administers), but each drop is logged as a warning
    /// with the group and the account, since the login may then fail for want of a role.
    async fn mapped_groups(&self, idp: &IdentityProvider, mapped: &Mapped<'_>, now_ms: i64) -> Result<Vec<String>> {
        let (ids, dropped) = self.resolve_mapped_groups(&idp.domain_id, mapped, now_ms).await?;
        for d in &dropped {
            tracing::warn!(idp.id = %idp.id, idp.account = %idp.domain_id, group = %d.group,
                group.account = %d.account.as_deref().unwrap_or("-"), reason = %d.reason,
                "mapped group dropped");
        }
        Ok(ids)
    }
}

/// Why a group the mapping yields does not count (cached with the lookups).
#[derive(Debug, Clone, PartialEq)]
pub enum GroupMiss {
    /// The group (or the account named beside it, by id) is another account's.
    OtherAccount(Option<String>),
    NoSuchAccount(String),
    NoAccount,
    NoSuchGroup,
}

/// A group a mapping yields that a login does not use: shown in the dry run
/// (`groups_dropped`) and logged at every login.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DroppedGroup {
    /// The group's name, or its id when the mapping gave an id.
    pub group: String,
    /// The account (domain id) the group belongs to, when it is another one.
    pub account: Option<String>,
    pub reason: String,
}

impl GroupMiss {
    fn dropped(&self, group: &str, account: &str) -> DroppedGroup {
        let (other, reason) = match self {
            GroupMiss::OtherAccount(other) => (
                other.clone(),
                format!(
                    "the group belongs to another account; a mapping grants only groups of its own account ({account})"
                ),
            ),
            GroupMiss::NoSuchAccount(name) => (
                None,
                format!("no account is named {name:?}; a mapping grants only groups of its own account ({account})"),
            ),
            GroupMiss::NoAccount => (
                None,
                "the mapping names no domain for the group; add \"domain\": {\"id\"} or {\"name\"}".to_string(),
            ),
            GroupMiss::NoSuchGroup => (None, format!("no group of that name or id in account {account}")),
        };
        DroppedGroup {
            group: group.to_string(),
            account: other,
            reason,
        }
    }
}

impl Services {
    // Shared with other use-case services.
    /// A group named by the mapping, if it exists in `account`; else why not.
    pub(super) async fn find_mapped_group(
        &self,
        account: &str,
        domain: Option<&Value>,
        name: &str,
    ) -> Result<std::result::Result<String, GroupMiss>> {
        let domain_id = match (
            domain.and_then(|d| d.get("id")).and_then(Value::as_str),
            domain.and_then(|d| d.get("name")).and_then(Value::as_str),
        ) {
            (Some(id), _) => Some(id.to_string()),
            (None, Some(n)) => match self.store.get_domain_by_name(n).await? {
                Some(d) => Some(d.id),
                None => return Ok(Err(GroupMiss::NoSuchAccount(n.to_string()))),
            },
            (None, None) => return Ok(Err(GroupMiss::NoAccount)),
        };
        if domain_id.as_deref() != Some(account) {
            return Ok(Err(GroupMiss::OtherAccount(domain_id)));
        }
        let found = self
            .store
            .list_groups(&GroupFilter {
                domain_id,
                name: Some(name.to_string()),
            })
            .await?;
        Ok(found.into_iter().next().map(|g| g.id).ok_or(GroupMiss::NoSuchGroup))
    }

    /// Resolves the groups a mapping yields against `account`: the ids of those that belong
    /// to it, and the others with the reason each is dropped.
    pub(super) async fn resolve_mapped_groups(
        &self,
        account: &str,
        mapped: &Mapped<'_>,
        now_ms: i64,
    ) -> Result<(Vec<String>, Vec<DroppedGroup>)> {
        let mut ids: Vec<String> = Vec::new();
        let mut dropped = Vec::new();
        let groups = &self.login_cache.groups;
        for id in &mapped.group_ids {
            let key = (account.to_string(), "by-id".to_string(), id.to_string());
            let found = match groups.get(&key, now_ms) {
                Some(hit) => hit,
                None => {
                    let generation = groups.generation();
                    let found = match self.store.get_group(id).await? {
                        Some(g) if g.domain_id == account => Ok(g.id),
                        Some(g) => Err(GroupMiss::OtherAccount(Some(g.domain_id))),
                        None => Err(GroupMiss::NoSuchGroup),
                    };
                    groups.put(key, found.clone(), generation, now_ms);
                    found
                }
            };
            match found {
                Ok(id) => ids.push(id),
                Err(miss) => dropped.push(miss.dropped(id, account)),
            }
        }
        for entry in &mapped.group_names {
            let name = entry.name().unwrap_or("");
            let domain = entry.domain();
            let domain_ref = match (
                domain.and_then(|d| d.get("id")).and_then(Value::as_str),
                domain.and_then(|d| d.get("name")).and_then(Value::as_str),
            ) {
                (Some(id), _) => format!("id:{id}"),
                (None, Some(n)) => format!("name:{n}"),
                (None, None) => "none".to_string(),
            };
            let key = (account.to_string(), domain_ref, name.to_string());
            let found = match groups.get(&key, now_ms) {
                Some(hit) => hit,
                None => {
                    let generation = groups.generation();
                    let found = self.find_mapped_group(account, domain, name).await?;
                    groups.put(key, found.clone(), generation, now_ms);
                    found
                }
            };
            match found {
                Ok(id) => ids.push(id),
                Err(miss) => dropped.push(miss.dropped(name, account)),
            }
        }
        ids.sort();
        ids.dedup();
        Ok((ids, dropped))
    }
}
