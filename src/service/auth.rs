//! POST/GET/HEAD/DELETE /v3/auth/tokens: authenticating with a password or a token, choosing
//! a scope, and checking or revoking a subject token.

use serde::Deserialize;

use super::{AuthContext, Error, IamCode, Result, Services, SignIn};
use crate::audit::{Action, Actor, Resource};
use crate::model::{Domain, Project, User, UserAccessMode};
use crate::token::{Methods, Scope, TokenPayload};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AuthBody {
    pub auth: AuthSection,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AuthSection {
    pub identity: IdentitySection,
    pub scope: Option<ScopeSection>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct IdentitySection {
    /// `password`, `token` or `assume_role`: one method.
    pub methods: Vec<String>,
    pub password: Option<PasswordSection>,
    pub token: Option<TokenSection>,
    pub assume_role: Option<super::sts::AssumeRole>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordSection {
    pub user: PasswordUser,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordUser {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<DomainRef>,
    pub password: String,
}

impl std::fmt::Debug for PasswordUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordUser")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("domain", &self.domain)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenSection {
    pub id: String,
}

impl std::fmt::Debug for TokenSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSection([redacted])")
    }
}

#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
pub struct DomainRef {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// Named apart from the token's `project` (`views::ProjectRef`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ProjectSelector)]
pub struct ProjectRef {
    pub id: Option<String>,
    pub name: Option<String>,
    pub domain: Option<DomainRef>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ScopeSection {
    pub project: Option<ProjectRef>,
    pub domain: Option<DomainRef>,
}

/// A freshly issued token and the identity it carries.
pub struct Issued {
    pub token: String,
    pub ctx: AuthContext,
}

impl SignIn {
    /// `caller` is the X-Auth-Token or signed request's identity, which `assume_role` needs.
    /// Success or failure, the sign-in is audited (`authenticate`).
    pub async fn issue_token(&self, caller: Option<AuthContext>, body: AuthBody, now_ms: i64) -> Result<Issued> {
        let mut attempt = Actor::default();
        let result = self.sign_in_for_token(caller, body, &mut attempt, now_ms).await;
        self.audit_sign_in(result.as_ref().map(|issued| &issued.ctx), attempt);
        result
    }

    /// As [`issue_token`]; `attempt` learns who is signing in as soon as that is known.
    async fn sign_in_for_token(
        &self,
        caller: Option<AuthContext>,
        body: AuthBody,
        attempt: &mut Actor,
        now_ms: i64,
    ) -> Result<Issued> {
        let AuthSection { identity, scope } = body.auth;
        let methods: Vec<&str> = identity.methods.iter().map(String::as_str).collect();
        let (payload, method_name) = match methods.as_slice() {
            ["password"] => {
                let section = identity.password.ok_or_else(|| Error::MissingField {
                    field: "auth.identity.password".into(),
                })?;
                let user = self.authenticate_password(section.user, attempt, now_ms).await?;
                (self.fresh_payload(Methods::PASSWORD, &user.id, now_ms), "password")
            }
            ["token"] => {
                let section = identity.token.ok_or_else(|| Error::MissingField {
                    field: "auth.identity.token".into(),
                })?;
                let parent = self
                    .tokens
                    .open(&section.id, now_ms)
                    .await
                    .map_err(|e| Error::Unauthenticated(format!("token method: {e}")))?;
                attempt.id = Some(parent.user_id.clone());
                // The parent must still speak for a live identity: user, shadow user and
                // identity provider enabled (resolve reads them).
                self.resolve(&parent, now_ms).await?;
                // The token method keeps everything but the scope, chosen below.
                let mut derived = super::sts::derive(&parent, now_ms)?;
                derived.methods = Methods::TOKEN;
                (derived, "token")
            }
            ["assume_role"] => {
                // L2551: the caller's own token (X-Auth-Token) assumes the agency.
                let caller = caller.ok_or_else(|| Error::Unauthenticated("assume_role: no X-Auth-Token".into()))?;
                *attempt = super::audit::actor(&caller);
                if !caller.session_policies.is_empty() {
                    // A token cannot carry session policies; securitytokens keeps them.
                    return Err(Error::Forbidden(
                        "assume_role: a credential with a session policy gets agency credentials from securitytokens"
                            .into(),
                    ));
                }
                let section = identity.assume_role.ok_or_else(|| Error::MissingField {
                    field: "auth.identity.assume_role".into(),
                })?;
                (self.assume_agency(&caller, &section, now_ms).await?, "assume_role")
            }
            [] => return Err(Error::invalid("auth.identity.methods", "must name one method")),
            other => {
                return Err(Error::Unauthenticated(format!("unsupported methods {other:?}")));
            }
        };
        let mut payload = payload;
        payload.scope = match scope {
            Some(scope) => self.scope_from_request(scope, now_ms).await?,
            None => Scope::Unscoped,
        };
        let identity = self.resolve(&payload, now_ms).await?;
        let token = self.tokens.seal(&payload);
        metrics::counter!("fedgate_tokens_issued_total", "method" => method_name).increment(1);
        tracing::info!(
            user.id = %identity.user.id,
            method = method_name,
            token.audit_id = %hex::encode(payload.audit_id().copied().unwrap_or_default()),
            "token issued"
        );
        Ok(Issued {
            token,
            ctx: AuthContext {
                token: payload,
                identity,
                session_policies: Vec::new(),
            },
        })
    }

    /// The same federated login, scoped as `scope` asks (POST /v3.0/OS-AUTH/id-token/tokens
    /// and the SAML token endpoint with a scope).
    pub async fn scope_issued(&self, issued: Issued, scope: ScopeSection, now_ms: i64) -> Result<Issued> {
        let mut payload = issued.ctx.token;
        payload.scope = self.scope_from_request(scope, now_ms).await?;
        let identity = self.resolve(&payload, now_ms).await?;
        let token = self.tokens.seal(&payload);
        Ok(Issued {
            token,
            ctx: AuthContext {
                token: payload,
                identity,
                session_policies: Vec::new(),
            },
        })
    }

    fn fresh_payload(&self, methods: Methods, user_id: &str, now_ms: i64) -> TokenPayload {
        TokenPayload {
            methods,
            user_id: user_id.to_string(),
            issued_at_ms: now_ms,
            authenticated_at_ms: now_ms,
            expires_at_ms: now_ms + self.tokens.ttl_ms(),
            audit_ids: vec![super::new_audit_id()],
            scope: Scope::Unscoped,
            federation: None,
            agency: None,
        }
    }

    /// Checks a password login. A locked user is refused before any hash is spent; failures
    /// count towards the lockout, a success clears them (`lockout.rs`). `attempt` names the
    /// user once found: the audit log names no one a client merely typed.
    async fn authenticate_password(&self, u: PasswordUser, attempt: &mut Actor, now_ms: i64) -> Result<User> {
        let user = match (&u.id, &u.name) {
            (Some(id), _) => self.store.get_user(id).await?,
            (None, Some(name)) => {
                let domain = u.domain.as_ref().ok_or_else(|| Error::MissingField {
                    field: "auth.identity.password.user.domain".into(),
                })?;
                match self.find_domain(domain, "auth.identity.password.user.domain").await {
                    Ok(d) => self.store.get_user_by_name(&d.id, name).await?,
                    Err(Error::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                }
            }
            (None, None) => {
                return Err(Error::MissingField {
                    field: "auth.identity.password.user.id".into(),
                });
            }
        };
        if let Some(user) = &user {
            attempt.id = Some(user.id.clone());
            attempt.name = Some(user.name.clone());
        }
        let user_id = user.as_ref().map(|u| u.id.as_str());
        let _one_at_a_time = match user_id {
            Some(id) => Some(self.password_checks.enter(id).await?),
            None => None,
        };
        let earlier_failures = self.check_lockout(user_id, now_ms).await?;
        let stored = user.as_ref().and_then(|u| u.password_hash.clone());
        if !self.verify_password(u.password, stored).await? {
            self.count_login_failure(user_id, now_ms).await?;
            return Err(Error::Unauthenticated(match &user {
                Some(user) => format!("wrong password for user {}", user.id),
                None => "unknown user".into(),
            }));
        }
        let user = user.ok_or_else(|| Error::Unauthenticated("unknown user".into()))?;
        if earlier_failures {
            self.clear_login_failures(&user.id).await?;
        }
        if !user.enabled {
            return Err(Error::Unauthenticated(format!("user {} is disabled", user.id)));
        }
        if user.access_mode == UserAccessMode::Console {
            return Err(Error::IamRule {
                code: IamCode::ConsoleOnly,
                message: "This user only supports console access, not programmatic access.".into(),
            });
        }
        Ok(user)
    }

    async fn find_project(&self, r: &ProjectRef) -> Result<Project> {
        let found = match (&r.id, &r.name) {
            (Some(id), _) => self.store.get_project(id).await?,
            (None, Some(name)) => {
                let domain = r.domain.as_ref().ok_or_else(|| Error::MissingField {
                    field: "auth.scope.project.domain".into(),
                })?;
                let domain = self.find_domain(domain, "auth.scope.project.domain").await?;
                self.store.get_project_by_name(&domain.id, name).await?
            }
            (None, None) => return Err(Error::invalid("auth.scope.project", "needs an id or a name")),
        };
        found.ok_or_else(|| Error::not_found("project", r.id.clone().or(r.name.clone()).unwrap_or_default()))
    }

    async fn scope_from_request(&self, scope: ScopeSection, now_ms: i64) -> Result<Scope> {
        // Names resolve to ids through a short-lived cache: the resolver checks the scope's
        // status on every issue anyway.
        let key = scope_key(&scope);
        let cache = &self.login_cache.scopes;
        if let Some(hit) = cache.get(&key, now_ms) {
            return Ok(hit);
        }
        let generation = cache.generation();
        let resolved = self.scope_uncached(scope).await?;
        cache.put(key, resolved.clone(), generation, now_ms);
        Ok(resolved)
    }

    async fn scope_uncached(&self, scope: ScopeSection) -> Result<Scope> {
        // A scope naming something that does not exist is an authentication failure, as in
        // Keystone: the caller learns nothing about which projects exist.
        let not_auth = |e: Error| match e {
            Error::NotFound { kind, id } => Error::Unauthenticated(format!("scope {kind} {id} not found")),
            other => other,
        };
        if let Some(project) = scope.project {
            let p = self.find_project(&project).await.map_err(not_auth)?;
            return Ok(Scope::Project(p.id));
        }
        if let Some(domain) = scope.domain {
            let d = self.find_domain(&domain, "auth.scope.domain").await.map_err(not_auth)?;
            return Ok(Scope::Domain(d.id));
        }
        Ok(Scope::Unscoped)
    }

    /// Opens a subject token for GET/HEAD/DELETE /v3/auth/tokens. The caller may check its own
    /// tokens, and admins those of users in their domain.
    pub async fn check_subject(&self, caller: &AuthContext, subject: &str, now_ms: i64) -> Result<AuthContext> {
        let payload = self
            .tokens
            .open(subject, now_ms)
            .await
            .map_err(|e| Error::SubjectTokenInvalid(e.to_string()))?;
        let identity = self.resolve(&payload, now_ms).await.map_err(|e| match e {
            Error::Unauthenticated(reason) => Error::SubjectTokenInvalid(reason),
            other => other,
        })?;
        self.require_self_or_domain_admin(caller, &identity.user.id, &identity.user.domain.id)?;
        metrics::counter!("fedgate_tokens_validated_total").increment(1);
        Ok(AuthContext {
            token: payload,
            identity,
            session_policies: Vec::new(),
        })
    }

    /// Revokes the subject token (audited as `revoked.token`, its audit id the target).
    pub async fn revoke_subject(&self, caller: &AuthContext, subject: &str, now_ms: i64) -> Result<()> {
        let mut target = None;
        let result = self.revoke_checked_subject(caller, subject, &mut target, now_ms).await;
        self.audit_change(caller, Action::Revoked(Resource::Token), target.as_deref(), &result);
        result
    }

    async fn revoke_checked_subject(
        &self,
        caller: &AuthContext,
        subject: &str,
        target: &mut Option<String>,
        now_ms: i64,
    ) -> Result<()> {
        let ctx = self.check_subject(caller, subject, now_ms).await?;
        *target = super::audit::audit_id_text(&ctx.token);
        self.tokens.revoke_token(&ctx.token, now_ms).await?;
        let audit = ctx.token.audit_id().map(hex::encode).unwrap_or_default();
        tracing::info!(token.audit_id = %audit, user.id = %ctx.identity.user.id, "token revoked");
        Ok(())
    }
}

fn scope_key(scope: &ScopeSection) -> String {
    let domain = |d: Option<&DomainRef>| d.map(|d| format!("{:?}/{:?}", d.id, d.name)).unwrap_or_default();
    match (&scope.project, &scope.domain) {
        (Some(p), _) => format!("p:{:?}/{:?}@{}", p.id, p.name, domain(p.domain.as_ref())),
        (None, Some(d)) => format!("d:{}", domain(Some(d))),
        (None, None) => "u".into(),
    }
}

impl Services {
    // Shared with other use-case services.
    /// Finds a domain by id or name; `field` names the request element for errors.
    pub(super) async fn find_domain(&self, r: &DomainRef, field: &str) -> Result<Domain> {
        let found = match (&r.id, &r.name) {
            (Some(id), _) => self.store.get_domain(id).await?,
            (None, Some(name)) => self.store.get_domain_by_name(name).await?,
            (None, None) => return Err(Error::invalid(field, "needs an id or a name")),
        };
        found.ok_or_else(|| Error::not_found("domain", r.id.clone().or(r.name.clone()).unwrap_or_default()))
    }
}
