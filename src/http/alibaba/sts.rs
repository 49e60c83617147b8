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
            let issued = SignIn::new(core)
                .oidc_login(name, token, None, IdTokenUse::Exchange, now)
                .await?;
            assume_role(&sts, signed_in_to(issued.ctx, account, name)?, p, now).await
        }
        "AssumeRoleWithSAML" => {
            let (account, name) = provider_arn(p, "SAMLProviderArn", "saml-provider")?;
            let assertion = p.required("SAMLAssertion")?.to_string();
            let answer = Answer {
                relay_state: None,
                binding: None,
            };
            let signed_in = SignIn::new(core)
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
    if p.get("Policy").is_some() {
        // Alibaba's policy grammar names Alibaba's actions; until they are translated to
        // fedgate's, a policy that cannot narrow is refused rather than ignored.
        return Err(Error::invalid("Policy", "is not supported by this service"));
    }
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
                policy: None,
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
