//! Baidu Cloud's REST dialect: IAM (`/v1/user`, `/v1/group`, access keys, login profiles,
//! IAM-user federation under `/v1/subUser/idp`) and STS (`POST /v1/sessionToken`), as
//! bce-python-sdk's `IamClient` and `StsClient` send them, translated onto fedgate's own use
//! cases.
//!
//! Every call is signed `bce-auth-v1` (`signed::verify`, `Services::verify_bce_request`); the
//! caller then acts in its own account (a Baidu account is a fedgate domain,
//! `ScopeHint::OwnDomain`) with the roles it holds there, and a temporary credential's session
//! policies must allow the route's action (`actions.rs`, the same names as the Huawei route
//! doing the same thing). Users and groups are named in the path and looked up by name in the
//! caller's account. Bodies are JSON; a body the SDK leaves empty reads as `{}`. Errors are
//! `{"requestId","code","message"}` (`error::Shape::Baidu`), and every answer carries
//! `x-bce-request-id` (`middleware::observe`).
//!
//! The body is not covered by the signature (Baidu's SDKs never send `x-bce-content-sha256`),
//! as on Baidu's own servers: TLS protects it in transit. Such requests are therefore admitted
//! on this dialect's paths only (`signed.rs`).
//!
//! Nothing here decides: every rule, check and write is the use case's, reached through the
//! same service functions the Huawei API calls.

pub mod iam;
pub mod idp;
pub mod sts;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::extract::{json_body, parse_json};
use crate::model::{Group, User};
use crate::service::access_keys::Credential;
use crate::service::admin::GroupInput;
use crate::service::sts::{ScopeHint, SignatureScheme, SignedOutcome};
use crate::service::{Accounts, AuthContext, Error, FederationConfig, IamCode, Services, Sts, now_ms};

/// Whether `path` is one of this dialect's (`/v1/...`).
pub fn is_dialect_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// The caller, verified by its `bce-auth-v1` signature, in its own account; with the use cases
/// its calls reach.
pub struct Account {
    core: Arc<Services>,
    pub ctx: AuthContext,
}

impl<S> FromRequestParts<S> for Account
where
    Arc<Services>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let core = Arc::<Services>::from_ref(state);
        // Another scheme's signature need not cover what this dialect reads.
        let by = match parts.extensions.get::<SignedOutcome>() {
            Some(SignedOutcome::Verified {
                by,
                scheme: SignatureScheme::Baidu,
                ..
            }) => by.clone(),
            _ if parts.headers.contains_key(header::AUTHORIZATION) => {
                return Err(Error::Unauthenticated("the Authorization header is not bce-auth-v1".into()).into());
            }
            _ => return Err(Error::Unauthenticated("no bce-auth-v1 signature".into()).into()),
        };
        let ctx = core.signed_context(&by, Some(ScopeHint::OwnDomain), now_ms()).await?;
        if !ctx.session_policies.is_empty() {
            let route = parts.extensions.get::<MatchedPath>().map(|m| m.as_str()).unwrap_or("");
            let action = super::actions::action(&parts.method, route).ok_or_else(|| Error::IamRule {
                code: IamCode::PolicyDenies,
                message: format!("Policy doesn't allow {} {route} to be performed.", parts.method),
            })?;
            core.check_session_policies(&ctx, action)?;
        }
        Ok(Account { core, ctx })
    }
}

impl Account {
    /// The caller's account (a fedgate domain).
    pub fn id(&self) -> &str {
        &self.ctx.identity.user.domain.id
    }

    fn accounts(&self) -> Accounts {
        Accounts::new(self.core.clone())
    }

    fn sts(&self) -> Sts {
        Sts::new(self.core.clone())
    }

    fn federation(&self) -> FederationConfig {
        FederationConfig::new(self.core.clone())
    }

    /// Refuses `action` unless the caller's session policies allow it: for a call that does
    /// more than its route's action (federation's `update` creating the provider).
    fn check_also(&self, action: &str) -> Result<(), Error> {
        self.core.check_session_policies(&self.ctx, action)
    }

    /// The user of the caller's account named `name`.
    async fn user_named(&self, name: &str) -> Result<User, Error> {
        self.accounts().user_by_name(&self.ctx, self.id(), name).await
    }

    /// The group of the caller's account named `name`.
    async fn group_named(&self, name: &str) -> Result<Group, Error> {
        let query = GroupInput {
            name: Some(name.to_string()),
            domain_id: Some(self.id().to_string()),
            ..GroupInput::default()
        };
        self.accounts()
            .list_groups(&self.ctx, query)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found("group", name))
    }

    /// The key `access` of `user` (another user's key is not found here).
    /// A key the caller may read; one it may not is as absent as a missing one, so key ids of
    /// other users and accounts cannot be probed.
    async fn credential(&self, access: &str) -> Result<Credential, Error> {
        match self.sts().get_credential(&self.ctx, access).await {
            Err(Error::Forbidden(_)) => Err(Error::not_found("credential", access)),
            other => other,
        }
    }

    async fn key_of(&self, user: &User, access: &str) -> Result<Credential, Error> {
        let key = self.credential(access).await?;
        if key.user_id != user.id {
            return Err(Error::not_found("credential", access));
        }
        Ok(key)
    }
}

/// The one value of query parameter `name`, if given; given twice is a 400 (two readers
/// could take different ones).
pub(super) fn query_value(uri: &axum::http::Uri, name: &str) -> Result<Option<String>, Error> {
    let mut given = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned());
    match (given.next(), given.next()) {
        (value, None) => Ok(value),
        _ => Err(Error::invalid(name, "is given more than once")),
    }
}

/// Whether another body under a captured signature would do harm the signer did not ask for:
/// a wider session token, a password, another identity provider's metadata. Such a write's
/// signature is taken once whatever its body (`verify_bce_request`).
pub fn body_sensitive(method: &str, path: &str) -> bool {
    method != "GET"
        && (path == "/v1/sessionToken"
            || path == "/v1/subUser/idp/update"
            || path.ends_with("/loginProfile")
            || (path.starts_with("/v1/subUser/") && path.ends_with("/update")))
}

/// A JSON body, which the SDK may leave empty (then `T::default()`).
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned + Default,
    Arc<Services>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(T::default()));
        }
        Ok(Body(parse_json(&bytes)?))
    }
}

/// A required field of a body.
fn required<T>(value: Option<T>, field: &str) -> Result<T, Error> {
    value.ok_or_else(|| Error::MissingField { field: field.into() })
}

/// The dialect's operations in the API document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        iam::create_user,
        iam::get_user,
        iam::update_user,
        iam::delete_user,
        iam::list_users,
        iam::set_password,
        iam::put_login_profile,
        iam::get_login_profile,
        iam::delete_login_profile,
        iam::create_access_key,
        iam::list_access_keys,
        iam::enable_access_key,
        iam::delete_access_key,
        iam::access_key_last_used,
        iam::create_group,
        iam::get_group,
        iam::update_group,
        iam::delete_group,
        iam::list_groups,
        iam::add_member,
        iam::remove_member,
        iam::group_members,
        iam::groups_of_user,
        idp::query,
        idp::update,
        idp::update_status,
        idp::delete,
        sts::session_token,
    ),
    modifiers(&BodiesAreOptional),
    tags((name = "baidu", description = "Baidu Cloud's IAM and STS (`/v1`), as bce SDKs call them: signed \
        bce-auth-v1, camelCase bodies, errors as `{\"requestId\",\"code\",\"message\"}`.")),
)]
pub(super) struct Doc;

/// A body the SDK leaves empty reads as `{}` (`Body`): no operation here requires one.
struct BodiesAreOptional;

impl utoipa::Modify for BodiesAreOptional {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.put].into_iter().flatten() {
                if let Some(body) = op.request_body.as_mut() {
                    body.required = Some(utoipa::openapi::Required::False);
                }
            }
        }
    }
}
