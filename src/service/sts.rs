//! Temporary credentials (reference §5.2: `POST /v3.0/OS-CREDENTIAL/securitytokens`), agency
//! sessions (`assume_role`, also a method of `/v3/auth/tokens`, L2551), console login tokens
//! (§5.14.1) and the verification of requests signed with access keys.
//!
//! A temporary credential is derived like a rescoped token: it keeps the source's user, time
//! of authentication and root audit id, so everything that revokes the source revokes it. It
//! never outlives its source token: `expires_at` is the earlier of `now + duration_seconds`
//! and the source's expiry (and the agency's, for `assume_role`).

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::access_keys::PermanentKey;
use super::auth::DomainRef;
use super::{AuthContext, Error, IamCode, Result, Services, Sts, new_audit_id};
use crate::audit::{Action, Actor, Record, Resource};
use crate::model::AgencyFilter;
use crate::sts::StsError;
use crate::sts::acs3;
use crate::sts::bce;
use crate::sts::policy::{PolicyError, SessionPolicy};
use crate::sts::signing::{self, Authorization, Received};
use crate::token::{AgencySession, Methods, Scope, TemporaryCredential, TokenPayload, derived_audit_chain};

/// `duration_seconds` of a temporary credential: 15 minutes to 24 hours, 15 minutes by default
/// (L3264).
pub const CREDENTIAL_SECS: (i64, i64, i64) = (900, 86_400, 900);
/// `duration_seconds` of a login token: 10 minutes to 12 hours, 10 minutes by default
/// (L20578); out of range falls back to the default, as the reference says.
pub const LOGIN_TOKEN_SECS: (i64, i64, i64) = (600, 43_200, 600);
/// A credential carries at most this many session policies (its own and its ancestors').
pub const MAX_SESSION_POLICIES: usize = crate::token::MAX_POLICIES;

/// `duration_seconds`: the reference's tables say Integer, its examples send `"900"`
/// (API.md §7.11); both are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationSeconds(pub i64);

impl<'de> Deserialize<'de> for DurationSeconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DurationSeconds;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of seconds (integer or numeric string)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                Ok(DurationSeconds(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                Ok(DurationSeconds(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
                v.trim()
                    .parse::<i64>()
                    .map(DurationSeconds)
                    .map_err(|_| E::custom("expected a number of seconds"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl utoipa::PartialSchema for DurationSeconds {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::Integer).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
            )))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"^\s*[+-]?[0-9]{1,18}\s*$")),
            )
            .description(Some("Seconds: an integer or its decimal text."))
            .into()
    }
}

impl utoipa::ToSchema for DurationSeconds {}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SecurityTokenBody {
    pub auth: StsAuth,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StsAuth {
    pub identity: StsIdentity,
    /// One of the reference's examples (L3781) puts `token` beside `identity`.
    pub token: Option<TokenSource>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StsIdentity {
    pub methods: Vec<String>,
    pub token: Option<TokenSource>,
    pub assume_role: Option<AssumeRole>,
    pub policy: Option<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenSource {
    pub id: Option<String>,
    pub duration_seconds: Option<DurationSeconds>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("id", &self.id.as_ref().map(|_| "[redacted]"))
            .field("duration_seconds", &self.duration_seconds)
            .finish()
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AssumeRole {
    pub agency_name: String,
    pub domain_id: Option<String>,
    pub domain_name: Option<String>,
    pub duration_seconds: Option<DurationSeconds>,
    pub session_user: Option<SessionUser>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SessionUser {
    pub name: Option<String>,
}

/// A freshly issued temporary credential.
pub struct IssuedCredential {
    pub access: String,
    pub secret: String,
    pub security_token: String,
    pub expires_at_ms: i64,
}

/// Named apart from the answer (`views::LoginTokenBody`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = LoginTokenRequest)]
pub struct LoginTokenBody {
    pub auth: LoginTokenAuth,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginTokenAuth {
    pub securitytoken: LoginTokenSource,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginTokenSource {
    pub access: String,
    pub secret: String,
    pub id: String,
    pub duration_seconds: Option<DurationSeconds>,
}

impl std::fmt::Debug for LoginTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginTokenSource")
            .field("access", &self.access)
            .field("duration_seconds", &self.duration_seconds)
            .finish_non_exhaustive()
    }
}

/// A login token and who it signs in.
pub struct IssuedLoginToken {
    pub token: String,
    pub ctx: AuthContext,
}

/// Who signed a request, once the signature verified.
#[derive(Debug, Clone)]
pub enum SignedBy {
    /// A temporary credential, opened from its security token.
    Temporary(Box<TemporaryCredential>),
    /// A user's permanent access key.
    Permanent { access: String, user_id: String },
}

/// What the signature of a request established.
#[derive(Debug, Clone)]
pub enum SignedOutcome {
    /// `signed_headers` as the Authorization header listed them (lower case): headers that
    /// choose something (the scope) count only when signed. `scheme` says whose signature
    /// it was: each dialect accepts only signatures that cover what it reads.
    Verified {
        by: SignedBy,
        signed_headers: Vec<String>,
        scheme: SignatureScheme,
    },
    /// A permanent access key fedgate does not know. Endpoints where the caller proves itself
    /// in the body (password tokens, securitytokens with a token) ignore such a signature:
    /// the Huawei SDK signs every request, with whatever key it was given.
    UnknownKey { access: String },
}

/// Whose way a request was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureScheme {
    /// `SDK-HMAC-SHA256`: only `host` and `x-sdk-date` need be signed, no nonce.
    Huawei,
    /// `ACS3-HMAC-SHA256`: the action, version, date, nonce and body digest always signed.
    Alibaba,
    /// `bce-auth-v1`: host, path, query and `x-bce-*` signed; no nonce, the body rarely.
    Baidu,
}

/// The one-time namespace of Alibaba signature nonces.
const ACS3_NONCES: &str = "acs3-nonce";
/// The one-time namespace of Baidu signatures of writes.
const BCE_SIGNATURES: &str = "bce-signature";

/// A signed request refused: the caller learns "not authenticated", the log `why`.
fn unauthenticated_signed<T: std::fmt::Display>(why: T) -> Error {
    Error::Unauthenticated(format!("signed request: {why}"))
}

/// The key a request was signed with.
enum SigningKey {
    Temporary(Box<TemporaryCredential>),
    Permanent(Arc<PermanentKey>),
}

impl SigningKey {
    fn secret(&self) -> &[u8] {
        match self {
            SigningKey::Temporary(credential) => credential.secret.as_bytes(),
            SigningKey::Permanent(key) => key.secret.as_bytes(),
        }
    }
}

/// The scope a signed request asks for: `X-Project-Id`, else `X-Domain-Id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeHint {
    Project(String),
    Domain(String),
    /// The principal's own domain (its account): how the cloud dialects' calls are scoped.
    OwnDomain,
}

fn policy_refused(e: PolicyError) -> Error {
    Error::IamRule {
        code: IamCode::InvalidPolicy(e.code),
        message: e.message,
    }
}

/// A duration within `(min, max, default)`, or 400 naming the field.
fn duration_within(value: Option<DurationSeconds>, (min, max, default): (i64, i64, i64), field: &str) -> Result<i64> {
    match value {
        None => Ok(default),
        Some(DurationSeconds(s)) if (min..=max).contains(&s) => Ok(s),
        Some(_) => Err(Error::invalid(field, format!("must be from {min} to {max} seconds"))),
    }
}

/// `session_user.name`: 5-64 characters of letters, digits, space, `-`, `_`, `.`, starting
/// with a letter (L3264).
fn session_user_name(name: &str) -> Result<String> {
    let ok = (5..=64).contains(&name.chars().count())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    if !ok {
        return Err(Error::invalid(
            "auth.identity.assume_role.session_user.name",
            "must be 5-64 letters, digits, spaces, '-', '_' or '.', starting with a letter",
        ));
    }
    Ok(name.to_string())
}

impl Sts {
    /// `POST /v3.0/OS-CREDENTIAL/securitytokens`. `caller` is the X-Auth-Token or signed
    /// request's identity, when there is one. Audited as `created.security_token`, the
    /// credential's access key id its target.
    pub async fn issue_security_token(
        &self,
        caller: Option<AuthContext>,
        body: SecurityTokenBody,
        now_ms: i64,
    ) -> Result<IssuedCredential> {
        let mut source = caller.as_ref().map(super::audit::actor).unwrap_or_default();
        let result = self.security_token(caller, body, &mut source, now_ms).await;
        let record = Record {
            action: Action::Created(Resource::SecurityToken),
            outcome: super::audit::outcome_of(&result),
            initiator: source,
            target_id: result.as_ref().ok().map(|issued| issued.access.clone()),
            assignment: None,
        };
        self.audit(record);
        result
    }

    /// As [`issue_security_token`]; `source` learns who asks once a token in the body says.
    async fn security_token(
        &self,
        caller: Option<AuthContext>,
        body: SecurityTokenBody,
        source: &mut Actor,
        now_ms: i64,
    ) -> Result<IssuedCredential> {
        let StsAuth {
            identity,
            token: beside,
        } = body.auth;
        let policy = identity
            .policy
            .as_ref()
            .map(SessionPolicy::parse)
            .transpose()
            .map_err(policy_refused)?;
        let methods: Vec<&str> = identity.methods.iter().map(String::as_str).collect();
        match methods.as_slice() {
            ["token"] => {
                let section = match (identity.token, beside) {
                    (Some(_), Some(_)) => {
                        return Err(Error::invalid("auth.token", "give the token inside auth.identity only"));
                    }
                    (inside, beside) => inside.or(beside),
                };
                let (id, duration) = match section {
                    Some(TokenSource { id, duration_seconds }) => (id, duration_seconds),
                    None => (None, None),
                };
                let duration = duration_within(duration, CREDENTIAL_SECS, "auth.identity.token.duration_seconds")?;
                let source = match (caller, id) {
                    (Some(caller), _) => caller,
                    (None, Some(id)) => {
                        let ctx = self.authenticate(id.trim(), now_ms).await?;
                        *source = super::audit::actor(&ctx);
                        if ctx.token.federation.as_ref().is_some_and(|f| !f.local_user) {
                            // L3642: federated users obtain security tokens with X-Auth-Token only.
                            return Err(Error::Forbidden(
                                "a federated user's token must come as X-Auth-Token".into(),
                            ));
                        }
                        ctx
                    }
                    (None, None) => {
                        return Err(Error::Unauthenticated(
                            "securitytokens: no X-Auth-Token, signature or auth.identity.token.id".into(),
                        ));
                    }
                };
                let payload = derive(&source.token, now_ms)?;
                self.mint_credential(&source, payload, duration, policy, now_ms).await
            }
            ["assume_role"] => {
                let caller =
                    caller.ok_or_else(|| Error::Unauthenticated("assume_role: no X-Auth-Token or signature".into()))?;
                let section = identity.assume_role.ok_or_else(|| Error::MissingField {
                    field: "auth.identity.assume_role".into(),
                })?;
                let duration = duration_within(
                    section.duration_seconds,
                    CREDENTIAL_SECS,
                    "auth.identity.assume_role.duration_seconds",
                )?;
                let payload = self.assume_agency(&caller, &section, now_ms).await?;
                self.mint_credential(&caller, payload, duration, policy, now_ms).await
            }
            [] => Err(Error::invalid("auth.identity.methods", "must name one method")),
            _ => Err(Error::invalid(
                "auth.identity.methods",
                "must be [\"token\"] or [\"assume_role\"]",
            )),
        }
    }

    /// Seals `payload` as a temporary credential of `source` (the identity that asked):
    /// lifetime capped by the source's, the source's session policies kept, the new one
    /// checked to narrow them.
    async fn mint_credential(
        &self,
        source: &AuthContext,
        mut payload: TokenPayload,
        duration_secs: i64,
        policy: Option<SessionPolicy>,
        now_ms: i64,
    ) -> Result<IssuedCredential> {
        payload.issued_at_ms = now_ms;
        payload.expires_at_ms = payload.expires_at_ms.min(now_ms + duration_secs * 1000);
        let mut policies = source.session_policies.clone();
        if let Some(policy) = policy {
            for parent in &policies {
                if let Some(action) = policy.widening_of(&SessionPolicy::from_sealed(parent.clone())) {
                    return Err(Error::IamRule {
                        code: IamCode::PolicyWidens,
                        message: format!(
                            "The policy in the request body is invalid: it allows {action}, which the credential's own session policy does not."
                        ),
                    });
                }
            }
            policies.push(policy.as_str().to_string());
        }
        if policies.len() > MAX_SESSION_POLICIES {
            return Err(Error::invalid(
                "auth.identity.policy",
                format!(
                    "a credential carries at most {MAX_SESSION_POLICIES} session policies, its ancestors' included"
                ),
            ));
        }
        // The identity must still be live (user, provider, agency), as for a rescoped token.
        self.resolve(&payload, now_ms).await?;
        self.tokens
            .check_revoked(&payload)
            .map_err(|e| Error::Unauthenticated(format!("securitytokens: {e}")))?;
        let credential = TemporaryCredential {
            access: super::access_keys::new_access_key(),
            secret: super::access_keys::new_secret_key(),
            token: payload,
            policies,
        };
        let security_token = self.tokens.seal_credential(&credential);
        metrics::counter!("fedgate_security_tokens_issued_total").increment(1);
        tracing::info!(
            user.id = %credential.token.user_id,
            agency.id = credential.token.agency.as_ref().map(|a| a.agency_id.as_str()).unwrap_or(""),
            access = %credential.access,
            token.audit_id = %hex::encode(credential.token.audit_id().copied().unwrap_or_default()),
            "temporary credential issued"
        );
        Ok(IssuedCredential {
            expires_at_ms: credential.token.expires_at_ms,
            access: credential.access,
            secret: credential.secret,
            security_token,
        })
    }

    /// `POST /v3.0/OS-AUTH/securitytoken/logintokens`: a console login token for the holder
    /// of a temporary credential, proven by presenting its access key, secret and security
    /// token. It lasts `duration_seconds` (default 600; out of range falls back to 600, as
    /// the reference says) but never beyond the credential.
    pub async fn issue_login_token(&self, body: LoginTokenBody, now_ms: i64) -> Result<IssuedLoginToken> {
        let result = self.login_token(body, now_ms).await;
        let (initiator, target_id) = match &result {
            Ok(issued) => (
                super::audit::actor(&issued.ctx),
                super::audit::audit_id_text(&issued.ctx.token),
            ),
            Err(_) => (Actor::default(), None),
        };
        let record = Record {
            action: Action::Created(Resource::LoginToken),
            outcome: super::audit::outcome_of(&result),
            initiator,
            target_id,
            assignment: None,
        };
        self.audit(record);
        result
    }

    /// As [`issue_login_token`], which audits it.
    async fn login_token(&self, body: LoginTokenBody, now_ms: i64) -> Result<IssuedLoginToken> {
        let source = body.auth.securitytoken;
        let credential = self
            .tokens
            .open_credential(source.id.trim(), now_ms)
            .await
            .map_err(|e| Error::Unauthenticated(format!("logintokens: security token: {e}")))?;
        let same_access = credential.access == source.access;
        let same_secret = signing::constant_time_eq(credential.secret.as_bytes(), source.secret.as_bytes());
        if !(same_access && same_secret) {
            return Err(Error::Unauthenticated(
                "logintokens: the access key or secret is not the security token's".into(),
            ));
        }
        let (min, max, default) = LOGIN_TOKEN_SECS;
        let secs = source
            .duration_seconds
            .map(|d| d.0)
            .filter(|s| (min..=max).contains(s))
            .unwrap_or(default);
        let mut payload = derive(&credential.token, now_ms)?;
        payload.expires_at_ms = credential.token.expires_at_ms.min(now_ms + secs * 1000);
        let identity = self.resolve(&payload, now_ms).await?;
        let token = self.tokens.seal_login_token(&crate::token::LoginToken {
            token: payload.clone(),
            policies: credential.policies.clone(),
        });
        tracing::info!(user.id = %payload.user_id, access = %credential.access, "login token issued");
        Ok(IssuedLoginToken {
            token,
            ctx: AuthContext {
                token: payload,
                identity,
                session_policies: credential.policies,
            },
        })
    }

    /// Verifies a login token for a relying console: the caller must be its user, or an admin
    /// of the user's domain.
    pub async fn check_login_token(&self, caller: &AuthContext, login_token: &str, now_ms: i64) -> Result<AuthContext> {
        let login = self
            .tokens
            .open_login_token(login_token, now_ms)
            .await
            .map_err(|e| Error::SubjectTokenInvalid(format!("login token: {e}")))?;
        let identity = self.resolve(&login.token, now_ms).await.map_err(|e| match e {
            Error::Unauthenticated(reason) => Error::SubjectTokenInvalid(reason),
            other => other,
        })?;
        // The person behind it: for an agency session, who assumed the agency (another session
        // of the same agency is not its owner).
        let owner = identity.assumed_by.as_ref().unwrap_or(&identity.user);
        let same_person = caller.identity.assumed_by.is_none() && caller.identity.user.id == owner.id;
        if !same_person {
            self.require_domain_admin(caller, &owner.domain.id)?;
        }
        Ok(AuthContext {
            token: login.token,
            identity,
            session_policies: login.policies,
        })
    }
}

/// A payload derived from `parent` now: same user, authentication time, federation, agency,
/// expiry and scope; a fresh audit id in front of the parent's chain. Refused when the chain
/// is full (`check_derivable`).
pub(super) fn derive(parent: &TokenPayload, now_ms: i64) -> Result<TokenPayload> {
    check_derivable(parent)?;
    Ok(TokenPayload {
        methods: parent.methods,
        user_id: parent.user_id.clone(),
        issued_at_ms: now_ms,
        authenticated_at_ms: parent.authenticated_at_ms,
        expires_at_ms: parent.expires_at_ms,
        audit_ids: derived_audit_chain(new_audit_id(), &parent.audit_ids),
        scope: parent.scope.clone(),
        federation: parent.federation.clone(),
        agency: parent.agency.clone(),
    })
}

/// A derivation keeps every ancestor's audit id, so revoking any of them reaches it: a parent
/// whose chain is full (the root and `MAX_AUDIT_CHAIN - 1` derivations) is derived from no
/// further; derive from an earlier token instead.
fn check_derivable(parent: &TokenPayload) -> Result<()> {
    if parent.audit_ids.len() >= crate::token::MAX_AUDIT_CHAIN {
        return Err(Error::Forbidden(format!(
            "the token was derived {} times already; derive from an earlier one",
            parent.audit_ids.len() - 1
        )));
    }
    Ok(())
}

/// The root audit id of everything a permanent access key signs: deactivating or deleting the
/// key revokes this root up to that instant, so the temporary credentials it obtained end too.
pub fn access_key_root(access: &str) -> crate::token::AuditId {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("fedgate access key {access}"));
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

impl Services {
    /// Whether `host` (a Host header, lower case) names this service as `public_url` does:
    /// the same host and port, the scheme's default port written or not.
    fn is_public_host(&self, host: &str) -> bool {
        let Ok(public) = url::Url::parse(&self.config.public_url) else {
            return false;
        };
        // The Host header read as the authority of a URL of the same scheme, so ports,
        // brackets and case are compared as a URL parser sees them; anything beyond a host
        // and port (a path, credentials) is not a Host.
        let Ok(given) = url::Url::parse(&format!("{}://{host}", public.scheme())) else {
            return false;
        };
        given.username().is_empty()
            && given.password().is_none()
            && given.path() == "/"
            && given.query().is_none()
            && given.host_str().is_some()
            && given.host_str() == public.host_str()
            && given.port_or_known_default() == public.port_or_known_default()
    }

    // Shared with other use-case services.
    /// Refuses `action` (`iam:<resource>:<verb>`) unless every session policy the caller's
    /// credential carries allows it (403 IAM.0003).
    pub fn check_session_policies(&self, ctx: &AuthContext, action: &str) -> Result<()> {
        for text in &ctx.session_policies {
            if !SessionPolicy::from_sealed(text.clone()).allows(action) {
                return Err(Error::IamRule {
                    code: IamCode::PolicyDenies,
                    message: format!("Policy doesn't allow {action} to be performed."),
                });
            }
        }
        Ok(())
    }

    /// The key that signed for `access`: the temporary credential a security token seals
    /// (which must be that token's own key), else a stored permanent key; `None` when fedgate
    /// does not know the key.
    async fn signing_key(
        &self,
        access: &str,
        security_token: Option<(&str, &str)>,
        now_ms: i64,
    ) -> Result<Option<SigningKey>> {
        if let Some((header, security_token)) = security_token {
            let credential = self
                .tokens
                .open_credential(security_token, now_ms)
                .await
                .map_err(|e| unauthenticated_signed(format!("{header}: {e}")))?;
            if credential.access != access {
                return Err(unauthenticated_signed(format!(
                    "access key {access} is not the security token's"
                )));
            }
            return Ok(Some(SigningKey::Temporary(Box::new(credential))));
        }
        Ok(self.permanent_key(access, now_ms).await?.map(SigningKey::Permanent))
    }

    /// As [`signing_key`](Self::signing_key), for schemes where an unknown key is simply a
    /// refusal (the Huawei one lets some routes ignore it).
    async fn known_signing_key(
        &self,
        access: &str,
        security_token: Option<(&str, &str)>,
        now_ms: i64,
    ) -> Result<SigningKey> {
        self.signing_key(access, security_token, now_ms)
            .await?
            .ok_or_else(|| unauthenticated_signed(StsError::UnknownKey(access.to_string())))
    }

    /// What a verified signature by `key` establishes: an inactive permanent key signs
    /// nothing, and an active one's use is noted.
    fn signed_by(
        &self,
        key: SigningKey,
        signed_headers: &[&str],
        scheme: SignatureScheme,
        now_ms: i64,
    ) -> Result<SignedOutcome> {
        let by = match key {
            SigningKey::Temporary(credential) => SignedBy::Temporary(credential),
            SigningKey::Permanent(key) => {
                if !key.active {
                    return Err(Error::Unauthenticated(format!(
                        "signed request: access key {} is inactive",
                        key.access
                    )));
                }
                self.note_key_use(&key.access, now_ms);
                SignedBy::Permanent {
                    access: key.access.clone(),
                    user_id: key.user_id.clone(),
                }
            }
        };
        Ok(SignedOutcome::Verified {
            by,
            signed_headers: signed_headers.iter().map(|h| h.to_string()).collect(),
            scheme,
        })
    }

    /// Checks the signature of a request signed the Huawei SDK way. The security token (for a
    /// temporary key) or the store (a permanent key) gives the secret; the caller learns only
    /// "not authenticated", the log the reason.
    pub async fn verify_signed_request(
        &self,
        request: &Received<'_>,
        authorization: &str,
        security_token: Option<&str>,
        now_ms: i64,
    ) -> Result<SignedOutcome> {
        let signed = unauthenticated_signed::<StsError>;
        let auth = Authorization::parse(authorization).map_err(signed)?;
        let security_token = security_token.map(|t| ("X-Security-Token", t));
        let Some(key) = self.signing_key(auth.access, security_token, now_ms).await? else {
            return Ok(SignedOutcome::UnknownKey {
                access: auth.access.to_string(),
            });
        };
        let verified = signing::verify(request, &auth, key.secret(), now_ms.div_euclid(1000)).map_err(signed)?;
        if !verified.body_signed {
            return Err(signed(StsError::BodyUnsigned));
        }
        self.signed_by(key, &auth.signed_headers, SignatureScheme::Huawei, now_ms)
    }

    /// Checks a request signed the Alibaba Cloud SDK way (`ACS3-HMAC-SHA256`, the security
    /// token in `x-acs-security-token`). Its nonce is single use: a replica that saw it within
    /// the signature's window refuses it again.
    pub async fn verify_acs3_request(
        &self,
        request: &Received<'_>,
        authorization: &str,
        security_token: Option<&str>,
        now_ms: i64,
    ) -> Result<SignedOutcome> {
        let signed = unauthenticated_signed::<StsError>;
        let auth = acs3::Authorization::parse(authorization).map_err(signed)?;
        let security_token = security_token.map(|t| ("x-acs-security-token", t));
        let key = self.known_signing_key(auth.access, security_token, now_ms).await?;
        let verified = acs3::verify(request, &auth, key.secret(), now_ms.div_euclid(1000)).map_err(signed)?;
        let nonce = format!("{}:{}", auth.access, verified.nonce);
        let until_ms = (verified.signed_at + signing::WINDOW_SECS + 1) * 1000;
        if !self.store.remember_once(ACS3_NONCES, &nonce, until_ms, now_ms).await? {
            return Err(signed(StsError::NonceReused));
        }
        self.signed_by(key, &auth.signed_headers, SignatureScheme::Alibaba, now_ms)
    }

    /// Checks a request signed the Baidu Cloud SDK way (`bce-auth-v1`, the security token in
    /// `x-bce-security-token`, which the signature covers as every `x-bce-*` header). There is
    /// no nonce: the signature's own expiration (at most an hour, `bce::MAX_EXPIRATION_SECS`)
    /// is its replay window. A body is covered only when `x-bce-content-sha256` is sent, which
    /// Baidu's SDKs never do; such a request is accepted as Baidu's own servers accept it (TLS
    /// protects the body in transit), and `http::signed` admits this scheme only on the Baidu
    /// dialect's paths, never where the Huawei scheme insists on a signed body.
    pub async fn verify_bce_request(
        &self,
        request: &Received<'_>,
        authorization: &str,
        security_token: Option<&str>,
        body_sensitive: bool,
        now_ms: i64,
    ) -> Result<SignedOutcome> {
        let signed = unauthenticated_signed::<StsError>;
        let auth = bce::Authorization::parse(authorization).map_err(signed)?;
        let security_token = security_token.map(|t| ("x-bce-security-token", t));
        let key = self.known_signing_key(auth.access, security_token, now_ms).await?;
        let verified = bce::verify(request, &auth, key.secret(), now_ms.div_euclid(1000)).map_err(signed)?;
        if !verified.body_signed {
            tracing::debug!(sts.access_key_id = %auth.access, "bce-auth-v1 request whose body its signature does not cover");
        }
        // The signature names the host it was made for: a request made for another service
        // (a mistyped endpoint, a proxy) is not ours to take.
        let host = request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
            .unwrap_or_default();
        if !self.is_public_host(&host) {
            return Err(unauthenticated_signed(format_args!(
                "signed for host {host:?}, not this service's"
            )));
        }
        // No nonce, and the SDK's signature does not cover the body: a write is taken once
        // per signature and body within its expiration, so a captured one cannot be replayed.
        // Where another body would do harm (`body_sensitive`: a session token's ACL, a
        // password, identity-provider metadata) the signature alone is taken once, so a
        // captured one cannot carry a body of the replayer's either; elsewhere the body is in
        // the key, so writes of one second, path and length (a script creating users) are
        // not taken for one another.
        if !matches!(request.method, "GET" | "HEAD") {
            let until_ms = (auth.signed_at + auth.expiration_secs + 1) * 1000;
            let body = if body_sensitive {
                String::new()
            } else {
                request.body_sha256.map_or_else(
                    || hex::encode(<sha2::Sha256 as sha2::Digest>::digest(request.body)),
                    str::to_string,
                )
            };
            let seen = format!("{}:{}:{body}", auth.access, hex::encode(auth.signature));
            if !self
                .store
                .remember_once(BCE_SIGNATURES, &seen, until_ms, now_ms)
                .await?
            {
                return Err(signed(StsError::NonceReused));
            }
        }
        self.signed_by(key, &auth.signed_headers, SignatureScheme::Baidu, now_ms)
    }

    /// The identity a verified signature speaks for, in the scope the request asks for:
    /// `X-Project-Id`, or `X-Domain-Id`, or else the credential's own. `X-Domain-Id` naming
    /// the principal's own domain is where the SDK says whose account it calls; without a role
    /// there it leaves the credential's own scope in place rather than refusing.
    pub async fn signed_context(&self, by: &SignedBy, hint: Option<ScopeHint>, now_ms: i64) -> Result<AuthContext> {
        let (mut payload, policies) = match by {
            SignedBy::Temporary(credential) => (credential.token.clone(), credential.policies.clone()),
            SignedBy::Permanent { user_id, access } => (
                TokenPayload {
                    methods: Methods::ACCESS_KEY,
                    user_id: user_id.clone(),
                    issued_at_ms: now_ms,
                    authenticated_at_ms: now_ms,
                    expires_at_ms: now_ms + self.tokens.ttl_ms(),
                    audit_ids: vec![access_key_root(access)],
                    scope: Scope::Unscoped,
                    federation: None,
                    agency: None,
                },
                Vec::new(),
            ),
        };
        let own = self.resolve(&payload, now_ms).await?;
        let asked = match hint {
            None => None,
            Some(ScopeHint::Project(id)) => Some((Scope::Project(id), false)),
            Some(ScopeHint::Domain(id)) => {
                let own_domain = id == own.user.domain.id;
                Some((Scope::Domain(id), own_domain))
            }
            Some(ScopeHint::OwnDomain) => Some((Scope::Domain(own.user.domain.id.clone()), true)),
        };
        let identity = match asked {
            Some((scope, _)) if scope == payload.scope => own,
            Some((scope, own_domain)) => {
                let mut scoped = payload.clone();
                scoped.scope = scope;
                match self.resolve(&scoped, now_ms).await {
                    Ok(identity) => {
                        payload = scoped;
                        identity
                    }
                    Err(Error::Unauthenticated(_)) if own_domain => own,
                    Err(e) => return Err(e),
                }
            }
            None => own,
        };
        Ok(AuthContext {
            token: payload,
            identity,
            session_policies: policies,
        })
    }

    /// The session of `caller` acting as the agency `section` names: the agency must trust
    /// the caller's domain and not have expired, and the caller's token must carry the Agent
    /// Operator role (`te_agency`) or `admin`. Unscoped; it keeps the caller's user,
    /// authentication time, federation and expiry, and its root audit id.
    pub(super) async fn assume_agency(
        &self,
        caller: &AuthContext,
        section: &AssumeRole,
        now_ms: i64,
    ) -> Result<TokenPayload> {
        let refuse = |why: String| Error::Forbidden(format!("assume_role: {why}"));
        if caller.token.agency.is_some() {
            return Err(refuse("an agency session cannot assume another agency".into()));
        }
        let session_user = match section.session_user.as_ref().and_then(|s| s.name.as_deref()) {
            Some(name) => Some(session_user_name(name)?),
            None => None,
        };
        let domain_ref = DomainRef {
            id: section.domain_id.clone(),
            name: section.domain_name.clone(),
        };
        let domain = match self
            .find_domain(&domain_ref, "auth.identity.assume_role.domain_id")
            .await
        {
            Ok(d) => d,
            Err(Error::NotFound { id, .. }) => return Err(refuse(format!("no domain {id}"))),
            Err(e) => return Err(e),
        };
        let agency = self
            .store
            .list_agencies(&AgencyFilter {
                domain_id: Some(domain.id.clone()),
                name: Some(section.agency_name.clone()),
                trust_domain_id: None,
            })
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| refuse(format!("no agency {:?} in domain {}", section.agency_name, domain.id)))?;
        let caller_domain = &caller.identity.user.domain.id;
        if &agency.trust_domain_id != caller_domain {
            return Err(refuse(format!(
                "agency {} trusts domain {}, not the caller's {caller_domain}",
                agency.id, agency.trust_domain_id
            )));
        }
        if agency.expire_at_ms.is_some_and(|at| at <= now_ms) {
            return Err(refuse(format!("agency {} has expired", agency.id)));
        }
        // Agent Operator is an account-level role: held on the caller's own domain, whatever
        // the token's scope (a project admin or a role elsewhere does not count).
        let own_domain = super::ScopeView::Domain(caller.identity.user.domain.clone());
        let group_ids: Vec<String> = caller.identity.groups.iter().map(|g| g.id.clone()).collect();
        let roles = self
            .roles_on(&own_domain, crate::model::ActorKind::Group, &group_ids)
            .await?;
        if !roles.iter().any(|r| r.name == "te_agency" || r.name == "admin") {
            return Err(refuse(format!(
                "user {} holds neither te_agency (Agent Operator) nor admin on its domain {caller_domain}",
                caller.identity.user.id
            )));
        }
        let mut payload = derive(&caller.token, now_ms)?;
        payload.methods = Methods::ASSUME_ROLE;
        payload.scope = Scope::Unscoped;
        if let Some(at) = agency.expire_at_ms {
            payload.expires_at_ms = payload.expires_at_ms.min(at);
        }
        payload.agency = Some(AgencySession {
            agency_id: agency.id,
            session_user,
        });
        Ok(payload)
    }
}
