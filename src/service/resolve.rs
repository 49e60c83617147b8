//! Turning a verified token payload into the identity it speaks for: user, scope, roles.
//!
//! The view is cached briefly (the refresh interval) and dropped on any local write, so a
//! validation is normally a decrypt plus a hash lookup, while role, name and status changes
//! made on any replica show within seconds, well inside the reference's 30-minute bound.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Error, Result, Services};
use crate::model::{ActorKind, GrantFilter, ProjectStatus, TargetKind};
use crate::token::{Scope, TokenPayload};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub domain: NameRef,
    pub password_expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub enum ScopeView {
    Unscoped,
    Domain(NameRef),
    Project { id: String, name: String, domain: NameRef },
}

impl ScopeView {
    /// The domain the scope belongs to, if scoped.
    pub fn domain(&self) -> Option<&NameRef> {
        match self {
            ScopeView::Unscoped => None,
            ScopeView::Domain(d) => Some(d),
            ScopeView::Project { domain, .. } => Some(domain),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Identity {
    pub user: UserView,
    pub scope: ScopeView,
    pub roles: Vec<NameRef>,
    /// Groups the user belongs to for this token: stored memberships, or the mapped groups of
    /// a federated login. None for an agency.
    pub groups: Vec<NameRef>,
    /// For a token acting as an agency (`user` is then the agency, named
    /// `<delegating domain>/<agency>`): the user who assumed it.
    pub assumed_by: Option<UserView>,
    /// When that agency expires. Time alone ends it, with no write to drop a cached view, so
    /// `resolve` checks it on every use, the cached view's and an expired view's alike.
    pub agency_expires_at_ms: Option<i64>,
}

/// An authenticated token: what it says and who it speaks for.
#[derive(Debug, Clone)]
pub struct AuthContext {
    pub token: TokenPayload,
    pub identity: Arc<Identity>,
    /// Session policies of the temporary credential that signed the request (compact JSON),
    /// each narrowing what it may do; empty for tokens and permanent keys.
    pub session_policies: Vec<String>,
}

impl AuthContext {
    pub fn user_id(&self) -> &str {
        &self.identity.user.id
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.identity.roles.iter().any(|r| r.name == name)
    }
}

/// (user, scope, mapped groups, provider and whether the user is local, agency): tokens of
/// one user through different paths (a password, an identity provider, an agency) resolve
/// apart, so a view cached for one never skips a check the other needs.
type CacheKey = (String, Scope, Vec<String>, Option<(String, bool)>, Option<String>);
/// (cached at, cache generation, view)
pub(super) type Resolver = super::ttl_cache::TtlCache<CacheKey, Arc<Identity>>;

/// `identity`, unless the agency it acts as has expired by `now_ms`.
fn unexpired(identity: Arc<Identity>, now_ms: i64) -> Result<Arc<Identity>> {
    match identity.agency_expires_at_ms {
        Some(at) if at <= now_ms => Err(Error::Unauthenticated(format!(
            "agency {} has expired",
            identity.user.id
        ))),
        _ => Ok(identity),
    }
}

impl Services {
    /// Opens and resolves a token presented as the caller's credential (X-Auth-Token).
    pub async fn authenticate(&self, token: &str, now_ms: i64) -> Result<AuthContext> {
        let payload = self
            .tokens
            .open(token, now_ms)
            .await
            .map_err(|e| Error::Unauthenticated(format!("X-Auth-Token: {e}")))?;
        let identity = self.resolve(&payload, now_ms).await?;
        Ok(AuthContext {
            token: payload,
            identity,
            session_policies: Vec::new(),
        })
    }

    /// The identity a verified payload speaks for, or `Unauthenticated` when the user, its
    /// domain or the scope is gone or disabled, or a scoped token has no role left.
    pub(super) async fn resolve(&self, payload: &TokenPayload, now_ms: i64) -> Result<Arc<Identity>> {
        let fed_groups = payload
            .federation
            .as_ref()
            .map(|f| f.group_ids.clone())
            .unwrap_or_default();
        let via = payload.federation.as_ref().map(|f| (f.idp_id.clone(), f.local_user));
        let agency = payload.agency.as_ref().map(|a| a.agency_id.clone());
        let key = (payload.user_id.clone(), payload.scope.clone(), fed_groups, via, agency);
        if let Some(hit) = self.resolver.get(&key, now_ms) {
            return unexpired(hit, now_ms);
        }
        let generation = self.resolver.generation();
        let stale = self.resolver.get_stale(&key, now_ms, super::ttl_cache::SERVE_STALE_MS);
        let load = async { self.resolve_uncached(payload, now_ms).await.map(Arc::new) };
        let (identity, fresh) = self.outage.fresh_or_stale(now_ms, stale, load).await?;
        if fresh {
            self.resolver.put(key, identity.clone(), generation, now_ms);
        }
        unexpired(identity, now_ms)
    }

    async fn resolve_uncached(&self, payload: &TokenPayload, now_ms: i64) -> Result<Identity> {
        let (user, groups) = self.resolve_principal(payload).await?;
        let scope = self.resolve_scope(&payload.scope).await?;
        let (user, assumed_by, actor, agency_expires_at_ms) = match &payload.agency {
            None => {
                let ids = groups.iter().map(|g| g.id.clone()).collect();
                (user, None, (ActorKind::Group, ids), None)
            }
            Some(session) => {
                let (agency, expires) = self.agency_for(&user, &session.agency_id, now_ms).await?;
                let id = agency.id.clone();
                (agency, Some(user), (ActorKind::Agency, vec![id]), expires)
            }
        };
        let roles = self.roles_on(&scope, actor.0, &actor.1).await?;
        if !matches!(scope, ScopeView::Unscoped) && roles.is_empty() {
            return Err(Error::Unauthenticated(format!(
                "user {} has no role on the token's scope",
                user.id
            )));
        }
        let groups = if assumed_by.is_some() { Vec::new() } else { groups };
        Ok(Identity {
            user,
            scope,
            roles,
            groups,
            assumed_by,
            agency_expires_at_ms,
        })
    }

    /// The agency a token acts as, seen as its user, and when it expires: it must exist, not
    /// have expired, and still trust the domain of the user who assumed it.
    async fn agency_for(&self, assumer: &UserView, agency_id: &str, now_ms: i64) -> Result<(UserView, Option<i64>)> {
        let gone = |what: String| Error::Unauthenticated(what);
        let agency = self
            .store
            .get_agency(agency_id)
            .await?
            .ok_or_else(|| gone(format!("agency {agency_id} no longer exists")))?;
        if agency.expire_at_ms.is_some_and(|at| at <= now_ms) {
            return Err(gone(format!("agency {agency_id} has expired")));
        }
        if agency.trust_domain_id != assumer.domain.id {
            return Err(gone(format!(
                "agency {agency_id} no longer trusts domain {}",
                assumer.domain.id
            )));
        }
        let domain = self
            .store
            .get_domain(&agency.domain_id)
            .await?
            .filter(|d| d.enabled)
            .ok_or_else(|| gone(format!("domain {} missing or disabled", agency.domain_id)))?;
        let view = UserView {
            id: agency.id,
            name: format!("{}/{}", domain.name, agency.name),
            domain: NameRef {
                id: domain.id,
                name: domain.name,
            },
            password_expires_at_ms: None,
        };
        Ok((view, agency.expire_at_ms))
    }

    /// The user a payload names (stored, or the ephemeral user of a federated login) and its
    /// groups, when it and what it came through are still live.
    async fn resolve_principal(&self, payload: &TokenPayload) -> Result<(UserView, Vec<NameRef>)> {
        let store = &self.store;
        let gone = |what: String| Error::Unauthenticated(what);
        if let Some(fed) = &payload.federation {
            // Disabling or deleting either one also revokes, but a replica may not have
            // polled that event yet; the stored state is the same answer sooner.
            store
                .get_idp(&fed.idp_id)
                .await?
                .filter(|idp| idp.enabled)
                .ok_or_else(|| gone(format!("identity provider {} missing or disabled", fed.idp_id)))?;
            if !fed.local_user
                && !store
                    .get_federated_user(&payload.user_id)
                    .await?
                    .is_some_and(|shadow| shadow.enabled)
            {
                return Err(gone(format!("federated user {} missing or disabled", payload.user_id)));
            }
        }
        let (user, groups) = match &payload.federation {
            Some(fed) if !fed.local_user => {
                let domain = store
                    .get_domain(&fed.domain_id)
                    .await?
                    .filter(|d| d.enabled)
                    .ok_or_else(|| gone(format!("domain {} missing or disabled", fed.domain_id)))?;
                let user = UserView {
                    id: payload.user_id.clone(),
                    name: fed.user_name.clone(),
                    domain: NameRef {
                        id: domain.id,
                        name: domain.name,
                    },
                    password_expires_at_ms: None,
                };
                // Mapped groups deleted since the login simply no longer count.
                let mut groups = Vec::with_capacity(fed.group_ids.len());
                for id in &fed.group_ids {
                    if let Some(g) = store.get_group(id).await? {
                        groups.push(NameRef { id: g.id, name: g.name });
                    }
                }
                (user, groups)
            }
            _ => {
                let user = store
                    .get_user(&payload.user_id)
                    .await?
                    .ok_or_else(|| gone(format!("user {} no longer exists", payload.user_id)))?;
                if !user.enabled {
                    return Err(gone(format!("user {} is disabled", user.id)));
                }
                let domain = store
                    .get_domain(&user.domain_id)
                    .await?
                    .filter(|d| d.enabled)
                    .ok_or_else(|| gone(format!("domain {} missing or disabled", user.domain_id)))?;
                let groups = store.list_groups_of_user(&user.id).await?;
                let view = UserView {
                    id: user.id,
                    name: user.name,
                    domain: NameRef {
                        id: domain.id,
                        name: domain.name,
                    },
                    password_expires_at_ms: user.password_expires_at_ms,
                };
                let groups = groups.into_iter().map(|g| NameRef { id: g.id, name: g.name }).collect();
                (view, groups)
            }
        };
        Ok((user, groups))
    }

    async fn resolve_scope(&self, scope: &Scope) -> Result<ScopeView> {
        let gone = |what: String| Error::Unauthenticated(what);
        Ok(match scope {
            Scope::Unscoped => ScopeView::Unscoped,
            Scope::Domain(id) => {
                let d = self
                    .store
                    .get_domain(id)
                    .await?
                    .filter(|d| d.enabled)
                    .ok_or_else(|| gone(format!("scope domain {id} missing or disabled")))?;
                ScopeView::Domain(NameRef { id: d.id, name: d.name })
            }
            Scope::Project(id) => {
                let p = self
                    .store
                    .get_project(id)
                    .await?
                    .filter(|p| p.enabled && p.status == ProjectStatus::Normal)
                    .ok_or_else(|| gone(format!("scope project {id} missing, disabled or suspended")))?;
                let d = self
                    .store
                    .get_domain(&p.domain_id)
                    .await?
                    .filter(|d| d.enabled)
                    .ok_or_else(|| gone(format!("domain of project {id} missing or disabled")))?;
                ScopeView::Project {
                    id: p.id,
                    name: p.name,
                    domain: NameRef { id: d.id, name: d.name },
                }
            }
        })
    }

    /// Roles the groups (or an agency) hold on a scope: direct grants, plus for a project the
    /// grants inherited from its domain. Sorted by name, without duplicates.
    pub(super) async fn roles_on(
        &self,
        scope: &ScopeView,
        actor_kind: ActorKind,
        actor_ids: &[String],
    ) -> Result<Vec<NameRef>> {
        if actor_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut filter = GrantFilter {
            actor_kind: Some(actor_kind),
            actor_ids: Some(actor_ids.to_vec()),
            ..GrantFilter::default()
        };
        let (direct_kind, direct_id, inherited_domain) = match scope {
            ScopeView::Unscoped => return Ok(Vec::new()),
            ScopeView::Domain(d) => (TargetKind::Domain, d.id.clone(), None),
            ScopeView::Project { id, domain, .. } => (TargetKind::Project, id.clone(), Some(domain.id.clone())),
        };
        let mut role_ids = BTreeSet::new();
        filter.target_kind = Some(direct_kind);
        filter.target_ids = Some(vec![direct_id]);
        filter.inherited = Some(false);
        role_ids.extend(self.store.list_grants(&filter).await?.into_iter().map(|g| g.role_id));
        if let Some(domain_id) = inherited_domain {
            filter.target_kind = Some(TargetKind::Domain);
            filter.target_ids = Some(vec![domain_id]);
            filter.inherited = Some(true);
            role_ids.extend(self.store.list_grants(&filter).await?.into_iter().map(|g| g.role_id));
        }
        let mut roles = Vec::with_capacity(role_ids.len());
        for id in role_ids {
            if let Some(r) = self.store.get_role(&id).await? {
                roles.push(NameRef { id: r.id, name: r.name });
            }
        }
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(roles)
    }
}
