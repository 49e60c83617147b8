//! STS (`2015-04-01`): who is calling, and temporary credentials for a role (a fedgate
//! agency) assumed with an access key, an id_token or a SAML assertion. With a token or an
//! assertion there is no signature: the credential is verified as fedgate's own federated
//! sign-in verifies it (`AssumeRoleWithOIDC` as the id_token exchange, single use;
//! `AssumeRoleWithSAML` as the SAML token API), the provider's mapping decides who the caller
//! is, and the agency decides whether that caller may assume it. The credentials are fedgate's
//! own temporary credentials: they sign requests of every dialect.

use std::sync::Arc;

use serde_json::{Value, json};

use super::super::views::alibaba::{Credentials, arn, time};
use super::{Params, authenticated};
use crate::oidc::IdTokenUse;
use crate::service::saml_login::{Acs, Answer};
use crate::service::sts::{AssumeRole, DurationSeconds, SecurityTokenBody, SessionUser, StsAuth, StsIdentity};
use crate::service::{AuthContext, Error, Services, SignIn, Sts};

/// Alibaba's default role session: one hour.
const DEFAULT_DURATION_SECS: i64 = 3600;

pub(super) async fn call(
    core: Arc<Services>,
    caller: Option<AuthContext>,
    action: &str,
    p: &Params,
    now: i64,
) -> Result<Value, Error> {
    let sts = Sts::new(core.clone());
    match action {
        "GetCallerIdentity" => caller_identity(&authenticated(caller)?),
        "AssumeRole" => assume_role(&sts, authenticated(caller)?, p, now).await,
        "AssumeRoleWithOIDC" => {
            let (account, name) = provider_arn(p, "OIDCProviderArn", "oidc-provider")?;
            let token = p.required("OIDCToken")?;
            let sign_in = provider_of(core, account, name).await?;
            let issued = sign_in.oidc_login(name, token, None, IdTokenUse::Exchange, now).await?;
            assume_role(&sts, signed_in_to(issued.ctx, account, name)?, p, now).await
        }
        "AssumeRoleWithSAML" => {
            let (account, name) = provider_arn(p, "SAMLProviderArn", "saml-provider")?;
            let assertion = p.required("SAMLAssertion")?.to_string();
            let answer = Answer {
                relay_state: None,
                binding: None,
            };
            let signed_in = provider_of(core, account, name)
                .await?
                .finish_saml_login(Acs::Tokens, Some(name), assertion, answer, now)
                .await?;
            assume_role(&sts, signed_in_to(signed_in.issued.ctx, account, name)?, p, now).await
        }
        other => Err(Error::NotFound {
            kind: "action",
            id: other.to_string(),
        }),
    }
}

/// `acs:ram::<account>:role/<name>`: the account and the role (agency) name.
fn role_arn(value: &str) -> Result<(&str, &str), Error> {
    let refuse = || Error::invalid("RoleArn", "must be acs:ram::<account id>:role/<role name>");
    let rest = value.strip_prefix("acs:ram::").ok_or_else(refuse)?;
    let (account, role) = rest.split_once(":role/").ok_or_else(refuse)?;
    if account.is_empty() || role.is_empty() || role.contains('/') {
        return Err(refuse());
    }
    Ok((account, role))
}

/// `acs:ram::<account>:<kind>/<name>` in parameter `field`: the account and the provider.
fn provider_arn<'p>(p: &'p Params, field: &str, kind: &str) -> Result<(&'p str, &'p str), Error> {
    let value = p.required(field)?;
    let refuse = || Error::invalid(field, format!("must be acs:ram::<account id>:{kind}/<name>"));
    let rest = value.strip_prefix("acs:ram::").ok_or_else(refuse)?;
    let (account, name) = rest.split_once(&format!(":{kind}/")).ok_or_else(refuse)?;
    if account.is_empty() || name.is_empty() || name.contains('/') {
        return Err(refuse());
    }
    Ok((account, name))
}

/// Sign-in through `provider`, checked first to be the ARN's account's: a token or assertion
/// presented with a wrong ARN is refused before it is spent. Missing and foreign providers
/// answer alike, so the answer says nothing about other accounts.
async fn provider_of(core: Arc<Services>, account: &str, provider: &str) -> Result<SignIn, Error> {
    let sign_in = SignIn::new(core);
    if sign_in.provider_account(provider).await?.as_deref() != Some(account) {
        return Err(Error::Unauthenticated(format!(
            "identity provider {provider} is not one of account {account}"
        )));
    }
    Ok(sign_in)
}

/// The federated caller, when the provider that signed it in is the one the ARN's account
/// holds (a provider id is global; the ARN must not name another account's).
fn signed_in_to(ctx: AuthContext, account: &str, provider: &str) -> Result<AuthContext, Error> {
    if ctx.identity.user.domain.id != account {
        return Err(Error::Forbidden(format!(
            "identity provider {provider} belongs to account {}, not {account}",
            ctx.identity.user.domain.id
        )));
    }
    Ok(ctx)
}

/// An Alibaba session policy (`{"Version": "1", "Statement": [{"Effect", "Action",
/// "Resource"}]}`) in fedgate's grammar, which then validates it, carries it sealed and lets
/// it only narrow. Each action pattern (`ram:GetUser`, `ram:List*`, `sts:*`, `*`) becomes the
/// fedgate actions (`iam:<resource>:<verb>`) of the dialect's actions it matches, `ram:*` or
/// `*` all of fedgate's IAM actions. A `Resource` other than `*` or any `Condition` cannot be
/// evaluated here, so it is refused rather than read as wider than written.
fn translate_policy(text: &str) -> Result<Value, Error> {
    let refuse = |why: &str| Error::invalid("Policy", why);
    let policy: Value = serde_json::from_str(text).map_err(|_| refuse("must be a JSON policy document"))?;
    let statements = policy
        .get("Statement")
        .and_then(Value::as_array)
        .ok_or_else(|| refuse("must have a Statement list"))?;
    let strings = |v: Option<&Value>| -> Option<Vec<String>> {
        match v? {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_string)).collect(),
            _ => None,
        }
    };
    let mut translated = Vec::new();
    for statement in statements {
        let effect = match statement.get("Effect").and_then(Value::as_str) {
            Some(e @ ("Allow" | "Deny")) => e,
            _ => return Err(refuse("each Statement's Effect must be Allow or Deny")),
        };
        if statement.get("Condition").is_some() {
            return Err(refuse("Conditions cannot be evaluated by this service"));
        }
        let resources = strings(statement.get("Resource")).ok_or_else(|| refuse("each Statement needs Resource"))?;
        if resources.iter().any(|r| r != "*") {
            return Err(refuse(
                "Resource must be \"*\": Alibaba resource names cannot be evaluated here",
            ));
        }
        let patterns = strings(statement.get("Action")).ok_or_else(|| refuse("each Statement needs Action"))?;
        let mut actions: Vec<&str> = Vec::new();
        for pattern in &patterns {
            for action in fedgate_actions(pattern) {
                if !actions.contains(&action) {
                    actions.push(action);
                }
            }
        }
        if !actions.is_empty() {
            translated.push(json!({"Effect": effect, "Action": actions}));
        }
    }
    if !translated.iter().any(|s| s["Effect"] == "Allow") {
        return Err(refuse("allows none of this service's actions"));
    }
    Ok(json!({"Version": "1.1", "Statement": translated}))
}

/// The fedgate actions an Alibaba action pattern names.
fn fedgate_actions(pattern: &str) -> Vec<&'static str> {
    if pattern == "*" || pattern.eq_ignore_ascii_case("ram:*") || pattern.eq_ignore_ascii_case("ims:*") {
        return vec!["iam:*:*"];
    }
    let Some((service, name)) = pattern.split_once(':') else {
        return Vec::new();
    };
    super::ACTIONS
        .iter()
        .filter(|a| match a.api {
            super::Api::Ims => service.eq_ignore_ascii_case("ram") || service.eq_ignore_ascii_case("ims"),
            super::Api::Sts => service.eq_ignore_ascii_case("sts"),
        })
        .filter(|a| crate::sts::policy::wildcard_match(name, a.name))
        .flat_map(|a| a.iam.iter().copied())
        .collect()
}

fn caller_identity(ctx: &AuthContext) -> Result<Value, Error> {
    let identity = &ctx.identity;
    let account = &identity.user.domain.id;
    Ok(match (&ctx.token.agency, &identity.assumed_by) {
        (Some(session), Some(assumer)) => {
            // The agency's name is `<delegating account>/<agency>`.
            let role = identity.user.name.rsplit('/').next().unwrap_or(&identity.user.name);
            let session_name = session.session_user.as_deref().unwrap_or(&assumer.name);
            json!({
                "AccountId": account,
                "IdentityType": "AssumedRoleUser",
                "Arn": arn(account, "assumed-role", &format!("{role}/{session_name}")),
                "RoleId": session.agency_id,
                "PrincipalId": format!("{}:{session_name}", session.agency_id),
            })
        }
        _ => json!({
            "AccountId": account,
            "IdentityType": "RAMUser",
            "Arn": arn(account, "user", &identity.user.name),
            "UserId": identity.user.id,
            "PrincipalId": identity.user.id,
        }),
    })
}

async fn assume_role(sts: &Sts, caller: AuthContext, p: &Params, now: i64) -> Result<Value, Error> {
    let role_arn_text = p.required("RoleArn")?;
    let (account, role) = role_arn(role_arn_text)?;
    let given = p.get("RoleSessionName").filter(|s| !s.is_empty());
    // Without a session name the assumed role's ARN names the caller, as GetCallerIdentity does.
    let session_name = given.unwrap_or(&caller.identity.user.name).to_string();
    let policy = p.get("Policy").map(translate_policy).transpose()?;
    let duration = match p.get("DurationSeconds") {
        None => DEFAULT_DURATION_SECS,
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| Error::invalid("DurationSeconds", "must be an integer"))?,
    };
    let body = SecurityTokenBody {
        auth: StsAuth {
            identity: StsIdentity {
                methods: vec!["assume_role".into()],
                token: None,
                assume_role: Some(AssumeRole {
                    agency_name: role.to_string(),
                    domain_id: Some(account.to_string()),
                    domain_name: None,
                    duration_seconds: Some(DurationSeconds(duration)),
                    session_user: given.map(|name| SessionUser {
                        name: Some(name.to_string()),
                    }),
                }),
                policy,
            },
            token: None,
        },
    };
    let issued = sts.issue_security_token(Some(caller), body, now).await?;
    let credentials = Credentials {
        access_key_id: issued.access,
        access_key_secret: issued.secret,
        expiration: time(issued.expires_at_ms),
        security_token: issued.security_token,
    };
    let credentials = serde_json::to_value(credentials).map_err(|e| Error::internal_in("rendering credentials", e))?;
    Ok(json!({
        "Credentials": credentials,
        "AssumedRoleUser": {
            "Arn": arn(account, "assumed-role", &format!("{role}/{session_name}")),
            "AssumedRoleId": format!("{role}:{session_name}"),
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alibaba_policies_become_fedgate_policies_or_are_refused() {
        let ok = |text: &str| translate_policy(text).map_err(|e| e.to_string());
        let doc = |statement: &str| format!(r#"{{"Version": "1", "Statement": [{statement}]}}"#);
        let cases: Vec<(&str, String, Result<Value, String>)> = vec![
            (
                "exact actions",
                doc(r#"{"Effect": "Allow", "Action": ["ram:GetUser", "sts:GetCallerIdentity"], "Resource": "*"}"#),
                Ok(json!({"Version": "1.1", "Statement": [{"Effect": "Allow",
                    "Action": ["iam:users:getUser", "iam:tokens:validate"]}]})),
            ),
            (
                "a wildcard over the dialect's names, shared actions once",
                doc(r#"{"Effect": "Allow", "Action": "ram:ListUser*", "Resource": ["*"]}"#),
                Ok(json!({"Version": "1.1", "Statement": [{"Effect": "Allow",
                    "Action": ["iam:users:listUsers", "iam:users:listUsersForGroup"]}]})),
            ),
            (
                "everything of RAM, and a Deny that keeps its meaning",
                doc(r#"{"Effect": "Allow", "Action": "ram:*", "Resource": "*"}, {"Effect": "Deny", "Action": "ram:DeleteUser", "Resource": "*"}"#),
                Ok(json!({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["iam:*:*"]},
                    {"Effect": "Deny", "Action": ["iam:users:deleteUser"]}]})),
            ),
            (
                "a resource it cannot evaluate",
                doc(r#"{"Effect": "Allow", "Action": "ram:GetUser", "Resource": "acs:ram:*:*:user/bob"}"#),
                Err("invalid input for field 'Policy': Resource must be \"*\": Alibaba resource names cannot be evaluated here".into()),
            ),
            (
                "a condition",
                doc(r#"{"Effect": "Allow", "Action": "ram:GetUser", "Resource": "*", "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}}"#),
                Err("invalid input for field 'Policy': Conditions cannot be evaluated by this service".into()),
            ),
            (
                "another service only",
                doc(r#"{"Effect": "Allow", "Action": "oss:GetObject", "Resource": "*"}"#),
                Err("invalid input for field 'Policy': allows none of this service's actions".into()),
            ),
            ("not JSON", "{".into(), Err("invalid input for field 'Policy': must be a JSON policy document".into())),
        ];
        for (name, text, want) in cases {
            assert_eq!(ok(&text), want, "{name}");
        }
    }

    #[test]
    fn role_arns_name_an_account_and_a_role() {
        let cases = [
            ("acs:ram::d1:role/deployer", Some(("d1", "deployer"))),
            ("acs:ram::d1:role/", None),
            ("acs:ram:::role/deployer", None),
            ("acs:ram::d1:user/deployer", None),
            ("acs:ram::d1:role/a/b", None),
            ("arn:aws:iam::d1:role/deployer", None),
        ];
        for (text, expected) in cases {
            assert_eq!(role_arn(text).ok(), expected, "{text}");
        }
    }
}
