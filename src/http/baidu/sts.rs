//! STS `GetSessionToken` (`POST /v1/sessionToken?durationSeconds=N`, bce `StsClient`):
//! fedgate's own temporary credentials derived from the signing caller, as the Huawei
//! `securitytokens` `token` method derives them (same user, scope, authentication time and
//! root audit id; never outliving the caller's key or token). They sign every dialect's calls.
//!
//! The body is Baidu's ACL, `{"id"?, "accessControlList": [{"service", "region", "effect",
//! "permission", "resource"}]}`, translated into a session policy (the Huawei grammar of
//! `sts::policy`) that only narrows. fedgate serves IAM only, so an entry must name
//! `bce:iam`, region `*` and resource `*` (a narrower region or resource cannot be enforced
//! here, and is refused rather than dropped); `effect` is `Allow` or `Deny`; each permission is
//! an `iam:<resource>:<verb>` action (wildcards allowed, as the Huawei route table names them)
//! or Baidu's `READ` (`get`, `list` and `check` actions), `LIST` or `FULL_CONTROL`. Anything
//! else is a 400 naming the entry: an ACL is never ignored.

use axum::Json;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::super::error::ApiError;
use super::super::views::baidu::{SessionToken, time};
use super::{Account, Body};
use crate::service::sts::{CREDENTIAL_SECS, DurationSeconds, SecurityTokenBody, StsAuth, StsIdentity, TokenSource};
use crate::service::{Error, now_ms};

/// Baidu's default session: 12 hours (bce-sdk-go's `DEFAULT_DURATION_SECONDS`).
const DEFAULT_DURATION_SECS: i64 = 43_200;

/// An ACL as `session_token` reads it (`acl_policy` checks it by hand, naming the entry at
/// fault). `{}`, or no body, asks for none.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = BaiduAcl)]
#[allow(dead_code)]
pub struct Acl {
    id: Option<String>,
    /// Required unless the body is `{}`.
    #[schema(min_items = 1)]
    access_control_list: Option<Vec<AclEntry>>,
}

/// One entry: a session policy statement.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BaiduAclEntry)]
#[allow(dead_code)]
pub struct AclEntry {
    eid: Option<String>,
    /// `bce:iam`: this service is IAM only.
    service: String,
    /// `*`: IAM is global.
    region: Option<String>,
    /// `Allow` or `Deny` (any case).
    effect: String,
    /// `iam:<resource>:<verb>` actions (wildcards allowed), `READ`, `LIST` or `FULL_CONTROL`.
    #[schema(min_items = 1)]
    permission: Vec<String>,
    /// `["*"]`: narrower resources cannot be enforced here.
    resource: Option<Vec<String>>,
}

/// Issues a temporary credential derived from the signing caller (`GetSessionToken`).
///
/// An ACL in the body narrows what it may do.
#[utoipa::path(post, path = "/v1/sessionToken", tag = "baidu", operation_id = "baidu_session_token",
    params(("durationSeconds" = Option<i64>, Query,
        description = "The credential's lifetime: fedgate's range for temporary credentials (900 to 86400 seconds), 43200 by default.")),
    request_body(content = Option<Acl>, description = "The ACL, or nothing."),
    responses((status = 201, description = "The temporary credential.", body = SessionToken)),
    security(("signature" = [])))]
pub async fn session_token(account: Account, uri: Uri, Body(acl): Body<Option<Value>>) -> Result<Response, ApiError> {
    let duration = duration(&uri)?;
    let policy = acl.as_ref().map(acl_policy).transpose()?.flatten();
    let body = SecurityTokenBody {
        auth: StsAuth {
            identity: StsIdentity {
                methods: vec!["token".into()],
                token: Some(TokenSource {
                    id: None,
                    duration_seconds: Some(DurationSeconds(duration)),
                }),
                assume_role: None,
                policy,
            },
            token: None,
        },
    };
    let now = now_ms();
    let user_id = account.ctx.identity.user.id.clone();
    let issued = account.sts().issue_security_token(Some(account.ctx), body, now).await?;
    let answer = SessionToken {
        access_key_id: issued.access,
        create_time: time(now),
        expiration: time(issued.expires_at_ms),
        secret_access_key: issued.secret,
        session_token: issued.security_token,
        user_id,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `durationSeconds`: fedgate's range for temporary credentials, Baidu's default.
fn duration(uri: &Uri) -> Result<i64, Error> {
    let (min, max, _) = CREDENTIAL_SECS;
    let refuse = || Error::invalid("durationSeconds", format!("must be from {min} to {max} seconds"));
    match super::query_value(uri, "durationSeconds")? {
        None => Ok(DEFAULT_DURATION_SECS),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|s| (min..=max).contains(s))
            .ok_or_else(refuse),
    }
}

/// The session policy an ACL asks for; `None` for no ACL (`{}`).
pub fn acl_policy(acl: &Value) -> Result<Option<Value>, Error> {
    let acl = acl
        .as_object()
        .ok_or_else(|| Error::invalid("body", "must be an ACL object"))?;
    only(acl, "body", &["id", "accessControlList"])?;
    let Some(entries) = acl.get("accessControlList") else {
        if acl.is_empty() {
            return Ok(None);
        }
        return Err(Error::MissingField {
            field: "accessControlList".into(),
        });
    };
    let entries = entries
        .as_array()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Error::invalid("accessControlList", "must be a non-empty array"))?;
    let statements = entries
        .iter()
        .enumerate()
        .map(|(i, entry)| statement(&format!("accessControlList[{i}]"), entry))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(json!({"Version": "1.1", "Statement": statements})))
}

fn only(obj: &Map<String, Value>, field: &str, keys: &[&str]) -> Result<(), Error> {
    match obj.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(key) => Err(Error::invalid(
            field,
            format!("has {key:?}, which this service does not enforce"),
        )),
        None => Ok(()),
    }
}

/// One ACL entry as a policy statement.
fn statement(field: &str, entry: &Value) -> Result<Value, Error> {
    let entry = entry
        .as_object()
        .ok_or_else(|| Error::invalid(field, "must be an object"))?;
    only(
        entry,
        field,
        &["eid", "service", "region", "effect", "permission", "resource"],
    )?;
    let text = |name: &str| entry.get(name).map(Value::as_str);
    let bad = |name: &str, why: &str| Error::invalid(format!("{field}.{name}"), why);
    match text("service") {
        Some(Some("bce:iam")) => {}
        None => {
            return Err(Error::MissingField {
                field: format!("{field}.service"),
            });
        }
        Some(_) => return Err(bad("service", "must be bce:iam: this service is IAM only")),
    }
    if !matches!(text("region"), None | Some(Some("*"))) {
        return Err(bad("region", "must be \"*\": IAM is global"));
    }
    let effect = match text("effect") {
        Some(Some(e)) if e.eq_ignore_ascii_case("allow") => "Allow",
        Some(Some(e)) if e.eq_ignore_ascii_case("deny") => "Deny",
        None => {
            return Err(Error::MissingField {
                field: format!("{field}.effect"),
            });
        }
        Some(_) => return Err(bad("effect", "must be Allow or Deny")),
    };
    if let Some(resources) = entry.get("resource")
        && resources != &json!(["*"])
    {
        return Err(bad(
            "resource",
            "must be [\"*\"]: narrower resources cannot be enforced here",
        ));
    }
    let permissions = entry
        .get("permission")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| bad("permission", "must be a non-empty array"))?;
    let mut actions: Vec<&str> = Vec::new();
    for permission in permissions {
        let expanded = permission.as_str().and_then(actions_of).ok_or_else(|| {
            bad(
                "permission",
                "must name iam:<resource>:<verb> actions, READ, LIST or FULL_CONTROL",
            )
        })?;
        for action in expanded {
            if !actions.contains(&action) {
                actions.push(action);
            }
        }
    }
    Ok(json!({"Effect": effect, "Action": actions}))
}

/// The fedgate actions a permission names.
fn actions_of(permission: &str) -> Option<Vec<&str>> {
    match permission {
        "FULL_CONTROL" => Some(vec!["iam:*:*"]),
        "READ" => Some(vec!["iam:*:get*", "iam:*:list*", "iam:*:check*"]),
        "LIST" => Some(vec!["iam:*:list*"]),
        action if action.starts_with("iam:") && action.split(':').count() == 3 => Some(vec![action]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(extra: Value) -> Value {
        let mut e = json!({"service": "bce:iam", "region": "*", "effect": "Allow",
            "permission": ["iam:users:listUsers"], "resource": ["*"]});
        if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                e.insert(k.clone(), v.clone());
            }
        }
        json!({"id": "acl-1", "accessControlList": [e]})
    }

    #[test]
    fn acls_become_policies_that_only_narrow() {
        let allow = |actions: Value| json!({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": actions}]});
        type Case = (&'static str, Value, Result<Option<Value>, &'static str>);
        let cases: Vec<Case> = vec![
            ("no ACL", json!({}), Ok(None)),
            (
                "one action",
                entry(json!({})),
                Ok(Some(allow(json!(["iam:users:listUsers"])))),
            ),
            (
                "READ, and an action it already names",
                entry(json!({"permission": ["READ", "iam:*:list*"], "eid": "e1"})),
                Ok(Some(allow(json!(["iam:*:get*", "iam:*:list*", "iam:*:check*"])))),
            ),
            (
                "FULL_CONTROL, region and resource left out",
                json!({"accessControlList": [{"service": "bce:iam", "effect": "Allow", "permission": ["FULL_CONTROL"]}]}),
                Ok(Some(allow(json!(["iam:*:*"])))),
            ),
            (
                "a Deny",
                entry(json!({"effect": "deny", "permission": ["LIST"]})),
                Ok(Some(
                    json!({"Version": "1.1", "Statement": [{"Effect": "Deny", "Action": ["iam:*:list*"]}]}),
                )),
            ),
            (
                "another service",
                entry(json!({"service": "bce:bos"})),
                Err("accessControlList[0].service"),
            ),
            (
                "a region",
                entry(json!({"region": "bj"})),
                Err("accessControlList[0].region"),
            ),
            (
                "a named resource",
                entry(json!({"resource": ["user/alice"]})),
                Err("accessControlList[0].resource"),
            ),
            (
                "an unknown effect",
                entry(json!({"effect": "Maybe"})),
                Err("accessControlList[0].effect"),
            ),
            (
                "a BOS permission",
                entry(json!({"permission": ["GetObject"]})),
                Err("accessControlList[0].permission"),
            ),
            (
                "no permission",
                entry(json!({"permission": []})),
                Err("accessControlList[0].permission"),
            ),
            (
                "a condition",
                entry(json!({"condition": {}})),
                Err("accessControlList[0]"),
            ),
            (
                "an empty list",
                json!({"accessControlList": []}),
                Err("accessControlList"),
            ),
            ("an id without a list", json!({"id": "acl-1"}), Err("accessControlList")),
            (
                "a key beside the list",
                json!({"accessControlList": [], "policy": {}}),
                Err("body"),
            ),
            ("not an object", json!([]), Err("body")),
        ];
        for (name, acl, want) in cases {
            let got = acl_policy(&acl).map_err(|e| match e {
                Error::InvalidField { field, .. } | Error::MissingField { field } => field,
                other => other.to_string(),
            });
            assert_eq!(got, want.map_err(str::to_string), "{name}");
        }
    }

    #[test]
    fn durations_are_fedgates_with_baidus_default() {
        let cases = [
            ("/v1/sessionToken", Ok(43_200)),
            ("/v1/sessionToken?durationSeconds=900", Ok(900)),
            ("/v1/sessionToken?durationSeconds=86400", Ok(86_400)),
            ("/v1/sessionToken?durationSeconds=60", Err(())),
            ("/v1/sessionToken?durationSeconds=129600", Err(())),
            ("/v1/sessionToken?durationSeconds=abc", Err(())),
            ("/v1/sessionToken?durationSeconds=900&durationSeconds=901", Err(())),
        ];
        for (uri, want) in cases {
            let uri: Uri = uri.parse().unwrap_or_default();
            assert_eq!(duration(&uri).map_err(|_| ()), want, "{uri}");
        }
    }
}
