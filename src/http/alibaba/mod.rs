//! Alibaba Cloud's RPC dialect: IMS (`2019-08-15`) and STS (`2015-04-01`) calls, as the
//! official SDKs send them, translated onto fedgate's own use cases.
//!
//! A call is `POST /` (or `GET /`) naming its action in `x-acs-action` and its API version in
//! `x-acs-version` (the headers the SDK's `ACS3-HMAC-SHA256` signature covers; the `Action`
//! and `Version` query parameters are read when the headers are absent, and must agree when
//! both are given). Parameters come from the query and a form body. The signature is checked
//! by `signed::verify` like the Huawei SDK's; the caller then acts in its own account (an
//! Alibaba account is a fedgate domain), with the roles it holds there. Answers carry
//! `RequestId`; errors are `{"RequestId","HostId","Code","Message"}` (`error::Shape::Alibaba`).
//!
//! Nothing here decides: every rule, check and write is the use case's, reached through the
//! same service functions the Huawei API calls.

mod doc;
mod ims;
mod sso;
mod sts;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::extract::header_text;
use super::middleware::RequestId;
use crate::service::sts::{ScopeHint, SignatureScheme, SignedOutcome};
use crate::service::{AuthContext, Error, Services, now_ms};
use doc::FormIsOptional;

pub const IMS_VERSION: &str = "2019-08-15";
pub const STS_VERSION: &str = "2015-04-01";
/// `MaxItems` of list calls: Alibaba's default and bound.
const MAX_ITEMS: (usize, usize) = (100, 1000);

/// Whether a request is an Alibaba RPC call: at `/`, naming an action.
pub fn is_rpc(path: &str, query: Option<&str>, headers: &HeaderMap) -> bool {
    path == "/" && (headers.contains_key("x-acs-action") || query_value(query, "Action").is_some())
}

fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
}

/// Version discovery; with an action named, an Alibaba Cloud RPC call.
///
/// Without `x-acs-action` or `Action`, Keystone's version discovery: the one version, v3.
/// With one, the RPC call `POST /` makes, its parameters in the query.
#[utoipa::path(get, path = "/", tag = "versions", operation_id = "versions",
    params(doc::CallParams),
    responses(
        (status = 300, description = "The versions this API offers (no action named).", body = super::catalog::Versions),
        (status = 200, description = "The action's answer (an action named).", body = doc::Answer),
    ),
    security((), ("signature" = [])))]
pub async fn root_get(State(core): State<Arc<Services>>, req: Request) -> Response {
    if is_rpc(req.uri().path(), req.uri().query(), req.headers()) {
        return call(State(core), req).await;
    }
    super::catalog::versions(State(core)).await.into_response()
}

/// An Alibaba Cloud RPC call: IMS (2019-08-15) or STS (2015-04-01).
///
/// The action is named by `x-acs-action` or `Action`, its API version by `x-acs-version` or
/// `Version`: one of each pair is required, and both must agree when given. Parameters come
/// from the query and the form body, each name once. IMS actions and `GetCallerIdentity` and
/// `AssumeRole` need an ACS3-HMAC-SHA256 signature; `AssumeRoleWithOIDC` and
/// `AssumeRoleWithSAML` prove themselves with their token or assertion.
#[utoipa::path(post, path = "/", tag = "alibaba", operation_id = "alibaba_rpc",
    params(doc::CallParams),
    request_body(content = doc::Parameters, content_type = "application/x-www-form-urlencoded",
        description = "The action's parameters, here or in the query."),
    responses((status = 200, description = "The action's answer, with `RequestId`.", body = doc::Answer)),
    security((), ("signature" = [])))]
pub async fn call(State(core): State<Arc<Services>>, req: Request) -> Response {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    match answer(core, req).await {
        Ok(mut body) => {
            if let Value::Object(fields) = &mut body {
                fields.insert("RequestId".into(), Value::String(request_id));
            }
            Json(body).into_response()
        }
        Err(e) => ApiError(e).into_response(),
    }
}

async fn answer(core: Arc<Services>, req: Request) -> Result<Value, Error> {
    let (parts, body) = req.into_parts();
    let limit = core.config.body_limit;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::PayloadTooLarge { limit })?;
    let call = Call::read(&parts, &bytes)?;
    let action = ACTIONS
        .iter()
        .find(|a| a.name == call.action)
        .ok_or_else(|| Error::NotFound {
            kind: "action",
            id: call.action.clone(),
        })?;
    if call.version != action.api.version() {
        return Err(Error::invalid(
            "Version",
            format!(
                "{} is an action of version {}, not {:?}",
                action.name,
                action.api.version(),
                call.version
            ),
        ));
    }
    let caller = caller(&core, &parts).await?;
    if let Some(ctx) = &caller {
        for iam in action.iam {
            core.check_session_policies(ctx, iam)?;
        }
    }
    let now = now_ms();
    match action.api {
        Api::Ims => ims::call(core, authenticated(caller)?, action.name, &call.params, now).await,
        Api::Sts => sts::call(core, caller, action.name, &call.params, now).await,
    }
}

fn authenticated(caller: Option<AuthContext>) -> Result<AuthContext, Error> {
    caller.ok_or_else(|| Error::Unauthenticated("no ACS3-HMAC-SHA256 signature".into()))
}

/// The caller a verified signature speaks for, in its own account.
async fn caller(core: &Services, parts: &Parts) -> Result<Option<AuthContext>, Error> {
    match parts.extensions.get::<SignedOutcome>() {
        // Another scheme's signature need not cover the action, version or parameters this
        // dialect reads (the Huawei one signs only host and date), so it proves nothing here.
        Some(SignedOutcome::Verified {
            by,
            scheme: SignatureScheme::Alibaba,
            ..
        }) => Ok(Some(
            core.signed_context(by, Some(ScopeHint::OwnDomain), now_ms()).await?,
        )),
        Some(SignedOutcome::Verified { scheme, .. }) => Err(Error::Unauthenticated(format!(
            "a {scheme:?} signature does not cover an Alibaba call; sign with ACS3-HMAC-SHA256"
        ))),
        Some(SignedOutcome::UnknownKey { access }) => {
            Err(Error::Unauthenticated(format!("unknown access key {access}")))
        }
        None if parts.headers.contains_key(header::AUTHORIZATION) => Err(Error::Unauthenticated(
            "the Authorization header is not ACS3-HMAC-SHA256".into(),
        )),
        None => Ok(None),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    Ims,
    Sts,
}

impl Api {
    fn version(self) -> &'static str {
        match self {
            Api::Ims => IMS_VERSION,
            Api::Sts => STS_VERSION,
        }
    }
}

/// An action this dialect serves and the fedgate actions (`iam:<resource>:<verb>`, as session
/// policies name them) it performs: every action the Huawei routes doing the same work check,
/// so a session policy cannot be sidestepped by an action that does several things at once.
pub(super) struct Action {
    pub(super) name: &'static str,
    pub(super) api: Api,
    pub(super) iam: &'static [&'static str],
}

const fn ims(name: &'static str, iam: &'static [&'static str]) -> Action {
    Action {
        name,
        api: Api::Ims,
        iam,
    }
}

const fn sts(name: &'static str, iam: &'static [&'static str]) -> Action {
    Action {
        name,
        api: Api::Sts,
        iam,
    }
}

/// The RPC endpoint in the API document (`GET /` and `POST /`).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(root_get, call),
    components(schemas(doc::Parameters)),
    modifiers(&FormIsOptional),
    tags((name = "alibaba", description = "Alibaba Cloud's RPC endpoint: RAM (IMS) and STS actions as the \
        official SDKs call them, signed ACS3-HMAC-SHA256, errors as `{\"RequestId\",\"HostId\",\"Code\",\"Message\"}`.")),
)]
pub(super) struct Doc;

pub(super) const ACTIONS: &[Action] = &[
    ims("CreateUser", &["iam:users:createUser"]),
    ims("GetUser", &["iam:users:getUser"]),
    ims("UpdateUser", &["iam:users:updateUser"]),
    ims("DeleteUser", &["iam:users:deleteUser"]),
    ims("ListUsers", &["iam:users:listUsers"]),
    ims("ListUserBasicInfos", &["iam:users:listUsers"]),
    ims("CreateAccessKey", &["iam:credentials:createCredential"]),
    ims("DeleteAccessKey", &["iam:credentials:deleteCredential"]),
    ims("UpdateAccessKey", &["iam:credentials:updateCredential"]),
    ims("ListAccessKeys", &["iam:credentials:listCredentials"]),
    ims("GetAccessKeyLastUsed", &["iam:credentials:getCredential"]),
    ims("CreateGroup", &["iam:groups:createGroup"]),
    ims("GetGroup", &["iam:groups:getGroup"]),
    ims("UpdateGroup", &["iam:groups:updateGroup"]),
    ims("DeleteGroup", &["iam:groups:deleteGroup"]),
    ims("ListGroups", &["iam:groups:listGroups"]),
    ims("AddUserToGroup", &["iam:permissions:addUserToGroup"]),
    ims("RemoveUserFromGroup", &["iam:permissions:removeUserFromGroup"]),
    ims("ListUsersForGroup", &["iam:users:listUsersForGroup"]),
    ims("ListGroupsForUser", &["iam:groups:listGroupsForUser"]),
    ims("CreateLoginProfile", &["iam:users:updateUser"]),
    ims("GetLoginProfile", &["iam:users:getUser"]),
    ims("UpdateLoginProfile", &["iam:users:updateUser"]),
    ims("DeleteLoginProfile", &["iam:users:updateUser"]),
    ims("ChangePassword", &["iam:users:changePassword"]),
    ims(
        "CreateOIDCProvider",
        &[
            "iam:identityProviders:createIdentityProvider",
            "iam:identityProviders:createMapping",
            "iam:identityProviders:createProtocol",
            "iam:identityProviders:createOpenIDConnectConfig",
        ],
    ),
    ims(
        "GetOIDCProvider",
        &[
            "iam:identityProviders:getIdentityProvider",
            "iam:identityProviders:listProtocols",
            "iam:identityProviders:getOpenIDConnectConfig",
        ],
    ),
    ims(
        "UpdateOIDCProvider",
        &[
            "iam:identityProviders:updateIdentityProvider",
            "iam:identityProviders:updateOpenIDConnectConfig",
        ],
    ),
    ims(
        "DeleteOIDCProvider",
        &[
            "iam:identityProviders:deleteIdentityProvider",
            "iam:identityProviders:deleteMapping",
        ],
    ),
    ims(
        "ListOIDCProviders",
        &[
            "iam:identityProviders:listIdentityProviders",
            "iam:identityProviders:listProtocols",
            "iam:identityProviders:getOpenIDConnectConfig",
        ],
    ),
    ims(
        "AddClientIdToOIDCProvider",
        &["iam:identityProviders:updateOpenIDConnectConfig"],
    ),
    ims(
        "RemoveClientIdFromOIDCProvider",
        &["iam:identityProviders:updateOpenIDConnectConfig"],
    ),
    ims(
        "AddFingerprintToOIDCProvider",
        &["iam:identityProviders:updateOpenIDConnectConfig"],
    ),
    ims(
        "RemoveFingerprintFromOIDCProvider",
        &["iam:identityProviders:updateOpenIDConnectConfig"],
    ),
    ims(
        "CreateSAMLProvider",
        &[
            "iam:identityProviders:createIdentityProvider",
            "iam:identityProviders:createMapping",
            "iam:identityProviders:createProtocol",
            "iam:identityProviders:createIDPMetadata",
        ],
    ),
    ims(
        "GetSAMLProvider",
        &[
            "iam:identityProviders:getIdentityProvider",
            "iam:identityProviders:listProtocols",
            "iam:identityProviders:getIDPMetadata",
        ],
    ),
    ims(
        "UpdateSAMLProvider",
        &[
            "iam:identityProviders:updateIdentityProvider",
            "iam:identityProviders:createIDPMetadata",
        ],
    ),
    ims(
        "DeleteSAMLProvider",
        &[
            "iam:identityProviders:deleteIdentityProvider",
            "iam:identityProviders:deleteMapping",
        ],
    ),
    ims(
        "ListSAMLProviders",
        &[
            "iam:identityProviders:listIdentityProviders",
            "iam:identityProviders:listProtocols",
        ],
    ),
    ims(
        "SetUserSsoSettings",
        &[
            "iam:identityProviders:createIdentityProvider",
            "iam:identityProviders:updateIdentityProvider",
            "iam:identityProviders:createMapping",
            "iam:identityProviders:updateMapping",
            "iam:identityProviders:createProtocol",
            "iam:identityProviders:createIDPMetadata",
        ],
    ),
    ims(
        "GetUserSsoSettings",
        &[
            "iam:identityProviders:listIdentityProviders",
            "iam:identityProviders:getProtocol",
            "iam:identityProviders:getIDPMetadata",
            "iam:identityProviders:getMapping",
        ],
    ),
    sts("GetCallerIdentity", &["iam:tokens:validate"]),
    sts("AssumeRole", &["iam:securitytokens:create"]),
    sts("AssumeRoleWithOIDC", &["iam:securitytokens:create"]),
    sts("AssumeRoleWithSAML", &["iam:securitytokens:create"]),
];

/// One RPC call as received.
struct Call {
    action: String,
    version: String,
    params: Params,
}

impl Call {
    fn read(parts: &Parts, body: &[u8]) -> Result<Call, Error> {
        let form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        if !form && !body.is_empty() {
            return Err(Error::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded",
            });
        }
        let params = Params::read(parts.uri.query(), if form { body } else { b"" })?;
        let named = |header: &str, param: &str| -> Result<String, Error> {
            let in_header = header_text(&parts.headers, header);
            let in_query = params.get(param);
            match (in_header, in_query) {
                (Some(h), Some(q)) if h != q => Err(Error::invalid(param, format!("differs from {header}"))),
                (Some(v), _) | (None, Some(v)) => Ok(v.to_string()),
                (None, None) => Err(Error::MissingField { field: param.into() }),
            }
        };
        Ok(Call {
            action: named("x-acs-action", "Action")?,
            version: named("x-acs-version", "Version")?,
            params,
        })
    }
}

/// The parameters of a call: the query's and the form body's, each named once.
pub(super) struct Params(BTreeMap<String, String>);

impl Params {
    fn read(query: Option<&str>, form: &[u8]) -> Result<Params, Error> {
        // The form parser would replace what is not UTF-8; the signature covered the bytes.
        if std::str::from_utf8(form).is_err() {
            return Err(Error::invalid("body", "is not UTF-8"));
        }
        let mut map = BTreeMap::new();
        let pairs =
            url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).chain(url::form_urlencoded::parse(form));
        for (name, value) in pairs {
            if map.insert(name.to_string(), value.to_string()).is_some() {
                return Err(Error::invalid(name.to_string(), "is given more than once"));
            }
        }
        Ok(Params(map))
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(super) fn required(&self, name: &str) -> Result<&str, Error> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::MissingField { field: name.into() })
    }

    pub(super) fn owned(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    /// `true`/`false`, as the SDK writes booleans.
    pub(super) fn flag(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(Error::invalid(name, "must be true or false")),
        }
    }

    /// `Active` or `Inactive`, as true or false.
    pub(super) fn status(&self, name: &str) -> Result<Option<bool>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some("Active") => Ok(Some(true)),
            Some("Inactive") => Ok(Some(false)),
            Some(_) => Err(Error::invalid(name, "must be Active or Inactive")),
        }
    }

    /// The page a list call asks for: `Marker` (where the previous page stopped, as this
    /// dialect wrote it) and `MaxItems`.
    pub(super) fn page(&self) -> Result<Page, Error> {
        let (default, max) = MAX_ITEMS;
        let size = match self.get("MaxItems") {
            None => default,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| Error::invalid("MaxItems", format!("must be an integer from 1 to {max}")))?,
        };
        let start = match self.get("Marker").filter(|m| !m.is_empty()) {
            None => 0,
            Some(m) => m
                .parse::<usize>()
                .map_err(|_| Error::invalid("Marker", "is not a marker this service wrote"))?,
        };
        Ok(Page { start, size })
    }
}

/// A page of a list call.
#[derive(Debug, Clone, Copy)]
pub(super) struct Page {
    start: usize,
    size: usize,
}

impl Page {
    /// The page's items, `IsTruncated`, and the `Marker` of the next page.
    pub(super) fn of<T>(self, items: Vec<T>) -> (Vec<T>, bool, Option<String>) {
        let end = self.start.saturating_add(self.size);
        let truncated = items.len() > end;
        let page = items.into_iter().skip(self.start).take(self.size).collect();
        (page, truncated, truncated.then(|| end.to_string()))
    }
}

/// The Alibaba body of a list: `{"<Plural>": {"<Singular>": [...]}, "IsTruncated", "Marker"}`.
pub(super) fn list_body<T: serde::Serialize>(
    plural: &str,
    singular: &str,
    (items, truncated, marker): (Vec<T>, bool, Option<String>),
) -> Result<Value, Error> {
    let items = serde_json::to_value(items).map_err(|e| Error::internal_in("rendering a list", e))?;
    let mut body = serde_json::json!({ plural: { singular: items }, "IsTruncated": truncated });
    if let Some(marker) = marker {
        body["Marker"] = Value::String(marker);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dialect action performs what a Huawei route performs, under the same name, so a
    /// session policy means the same on every dialect.
    #[test]
    fn every_action_names_a_route_action() {
        let known = super::super::actions::names();
        for action in ACTIONS {
            for iam in action.iam {
                assert!(
                    known.contains(iam),
                    "{} names {iam}, which no route performs",
                    action.name
                );
            }
        }
        let mut names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ACTIONS.len(), "an action is listed twice");
    }
}
