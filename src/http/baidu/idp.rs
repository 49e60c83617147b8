//! IAM-user federation (`/v1/subUser/idp/...`): the account's one `iam_user_sso` identity
//! provider, with the `saml` protocol and imported metadata. A provider made here is
//! `<account id>-iam-user-sso` (the id, not the name: ids are 1-64 plain characters and stay
//! when an account is renamed), with the mapping `<provider>-mapping`; one made through the
//! identity API is found too, as an account holds at most one.
//!
//! The auxiliary domain has no field of its own: it is the mapping's rule. The provider may
//! sign in only NameIDs `<anything>@<auxiliary domain>` (so it cannot speak for names outside
//! the domain it was given), and the whole NameID must be a user's `xuser_id` (fedgate's
//! `iam_user_sso` rule: a user is bound, `xuser_type` `TenantIdp`, before it federates).
//! `query` reads the domain back from that rule, so the mapping stays the one truth; a mapping
//! rewritten through the identity API shows `""`. The metadata file's name is kept as the
//! provider's description.
//!
//! A new configuration starts disabled (`updateStatus` enables it, as Baidu's console does);
//! metadata whose entityID differs from the provider's is refused: delete the configuration to
//! trust another identity provider.

use axum::Json;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::error::ApiError;
use super::super::views::baidu::{Idp, status, time_ms};
use super::{Account, Body, required};
use crate::model::{IdentityProvider, Protocol, SsoType};
use crate::service::federation::IdpInput;
use crate::service::saml::MetadataImport;
use crate::service::saml_login::SamlIdpSettings;
use crate::service::{Error, now_ms};

type Answer = Result<Response, ApiError>;

/// The id of the provider this dialect makes for an account.
pub fn provider_id(account_id: &str) -> String {
    format!("{account_id}-iam-user-sso")
}

fn mapping_id(provider: &str) -> String {
    format!("{provider}-mapping")
}

/// `UpdateSubUserIdpRequest`: R002 names no fields; these are the query answer's own.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct IdpBody {
    encode_metadata: Option<String>,
    auxiliary_domain: Option<String>,
    file_name: Option<String>,
}

/// The NameID rule's start: any local part, then the domain.
const NAME_ID_PREFIX: &str = "(?i)^[^@]+@";

/// A DNS name of at least two labels (letters, digits, inner `-`), lower case.
fn parse_auxiliary_domain(text: &str) -> Result<String, Error> {
    let domain = text.trim().to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.len() > 253 || domain.split('.').count() < 2 || !domain.split('.').all(label_ok) {
        return Err(Error::invalid(
            "auxiliaryDomain",
            "must be a domain name such as example.com",
        ));
    }
    Ok(domain)
}

/// The mapping of a provider whose NameIDs must be `<name>@<domain>`: the user is the NameID.
fn rules(domain: &str) -> Value {
    let pattern = format!("{NAME_ID_PREFIX}{}$", domain.replace('.', "\\."));
    json!({"rules": [{
        "local": [{"user": {"name": "{0}"}}],
        "remote": [{"type": "NameID"}, {"type": "NameID", "any_one_of": [pattern], "regex": true}],
    }]})
}

/// The auxiliary domain a mapping `rules` wrote, or `""` for any other mapping.
fn auxiliary_domain_of(document: &str) -> String {
    let read = || -> Option<String> {
        let doc: Value = serde_json::from_str(document).ok()?;
        let pattern = doc.pointer("/rules/0/remote/1/any_one_of/0")?.as_str()?;
        let escaped = pattern.strip_prefix(NAME_ID_PREFIX)?.strip_suffix('$')?;
        let domain = escaped.replace("\\.", ".");
        (rules(&domain) == doc).then_some(domain)
    };
    read().unwrap_or_default()
}

/// The metadata document `encodeMetadata` carries in base64.
fn metadata(account: &Account, encoded: &str) -> Result<MetadataImport, Error> {
    let xml = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Error::invalid("encodeMetadata", "must be the metadata document in base64"))?;
    Ok(MetadataImport {
        domain_id: account.id().to_string(),
        xaccount_type: String::new(),
        metadata: xml,
        settings: SamlIdpSettings {
            allow_idp_initiated: true,
            signed_part: Default::default(),
            allow_sha1: false,
        },
    })
}

/// `fileName`, kept as the provider's description.
fn file_name(text: &str) -> Result<String, Error> {
    if text.is_empty() || text.chars().count() > 255 || text.chars().any(char::is_control) {
        return Err(Error::invalid("fileName", "must be 1-255 characters"));
    }
    Ok(text.to_string())
}

impl Account {
    /// The account's `iam_user_sso` provider, if it has one.
    async fn user_sso(&self) -> Result<Option<IdentityProvider>, Error> {
        let idps = self.federation().list_idps(&self.ctx).await?;
        Ok(idps
            .into_iter()
            .find(|i| i.domain_id == self.id() && i.sso_type == SsoType::IamUserSso))
    }

    async fn required_user_sso(&self) -> Result<IdentityProvider, Error> {
        self.user_sso()
            .await?
            .ok_or_else(|| Error::not_found("identity provider", "IAM user federation"))
    }

    /// The mapping the provider's `saml` protocol uses, if it has one.
    async fn saml_mapping(&self, idp: &IdentityProvider) -> Result<Option<String>, Error> {
        match self.federation().get_protocol(&self.ctx, &idp.id, "saml").await {
            Ok(p) => Ok(Some(p.mapping_id)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn idp_view(&self, idp: &IdentityProvider) -> Result<Idp, Error> {
        let fed = self.federation();
        let stored = match fed.get_saml_metadata(&self.ctx, &idp.id, "saml").await {
            Ok(m) => Some(m),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let auxiliary_domain = match self.saml_mapping(idp).await? {
            Some(id) => auxiliary_domain_of(&fed.get_mapping(&self.ctx, &id).await?.document),
            None => String::new(),
        };
        Ok(Idp {
            auxiliary_domain,
            create_time: time_ms(idp.created_at_ms),
            domain_id: idp.domain_id.clone(),
            encode_metadata: stored.as_ref().map(|m| STANDARD.encode(&m.data)).unwrap_or_default(),
            file_name: idp.description.clone(),
            status: status(idp.enabled),
            update_time: time_ms(stored.map_or(idp.created_at_ms, |m| m.updated_at_ms)),
        })
    }

    /// A new provider, disabled, with its protocol, mapping and metadata; a failure on the way
    /// removes what was made, so a retry starts clean.
    async fn create_user_sso(&self, body: IdpBody, now: i64) -> Result<IdentityProvider, Error> {
        self.check_also("iam:identityProviders:createIdentityProvider")?;
        let import = metadata(self, &required(body.encode_metadata, "encodeMetadata")?)?;
        let domain = parse_auxiliary_domain(&required(body.auxiliary_domain, "auxiliaryDomain")?)?;
        let description = body.file_name.as_deref().map(file_name).transpose()?;
        let fed = self.federation();
        let id = provider_id(self.id());
        let input = IdpInput {
            sso_type: Some(SsoType::IamUserSso.as_str().to_string()),
            description,
            enabled: Some(false),
            remote_ids: None,
        };
        let idp = fed.create_idp(&self.ctx, &id, input, now).await?;
        let made = async {
            fed.create_mapping(&self.ctx, &mapping_id(&id), rules(&domain), now)
                .await?;
            fed.create_protocol(&self.ctx, &id, Protocol::Saml.as_str(), Some(mapping_id(&id)))
                .await?;
            fed.import_saml_metadata(&self.ctx, &id, Protocol::Saml.as_str(), import, now)
                .await
        }
        .await;
        if let Err(e) = made {
            let _ = fed.delete_idp(&self.ctx, &id, now).await;
            let _ = fed.delete_mapping(&self.ctx, &mapping_id(&id)).await;
            return Err(e);
        }
        Ok(idp)
    }

    /// What `body` names of an existing provider, each part checked before anything is written.
    async fn reconfigure(&self, idp: &IdentityProvider, body: IdpBody, now: i64) -> Result<(), Error> {
        let import = body.encode_metadata.as_deref().map(|m| metadata(self, m)).transpose()?;
        let domain = body
            .auxiliary_domain
            .as_deref()
            .map(parse_auxiliary_domain)
            .transpose()?;
        let description = body.file_name.as_deref().map(file_name).transpose()?;
        let fed = self.federation();
        if let Some(import) = import {
            fed.import_saml_metadata(&self.ctx, &idp.id, Protocol::Saml.as_str(), import, now)
                .await?;
        }
        if let Some(domain) = domain {
            let mapping = self
                .saml_mapping(idp)
                .await?
                .ok_or_else(|| Error::not_found("protocol", "saml"))?;
            fed.update_mapping(&self.ctx, &mapping, rules(&domain), now).await?;
        }
        if description.is_some() {
            let input = IdpInput {
                description,
                ..IdpInput::default()
            };
            fed.update_idp(&self.ctx, &idp.id, input, now).await?;
        }
        Ok(())
    }
}

fn answer(idp: Idp) -> Answer {
    Ok((StatusCode::OK, Json(idp)).into_response())
}

/// GET /v1/subUser/idp/query.
pub async fn query(account: Account) -> Answer {
    let idp = account.required_user_sso().await?;
    answer(account.idp_view(&idp).await?)
}

/// POST /v1/subUser/idp/update: configures the federation, or changes what the body names.
pub async fn update(account: Account, Body(body): Body<IdpBody>) -> Answer {
    let now = now_ms();
    let idp = match account.user_sso().await? {
        None => account.create_user_sso(body, now).await?,
        Some(idp) => {
            account.reconfigure(&idp, body, now).await?;
            account.required_user_sso().await?
        }
    };
    answer(account.idp_view(&idp).await?)
}

/// POST /v1/subUser/idp/updateStatus?status=enable|disable.
pub async fn update_status(account: Account, uri: Uri) -> Answer {
    let given: Vec<String> = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "status")
        .map(|(_, v)| v.into_owned())
        .collect();
    let enabled = match given.as_slice() {
        [] => return Err(Error::MissingField { field: "status".into() }.into()),
        [v] if v == "enable" => true,
        [v] if v == "disable" => false,
        _ => return Err(Error::invalid("status", "must be enable or disable").into()),
    };
    let idp = account.required_user_sso().await?;
    let input = IdpInput {
        enabled: Some(enabled),
        ..IdpInput::default()
    };
    let idp = account
        .federation()
        .update_idp(&account.ctx, &idp.id, input, now_ms())
        .await?;
    answer(account.idp_view(&idp).await?)
}

/// POST /v1/subUser/idp/delete: the provider, its protocol and metadata, and the mapping this
/// dialect made for it; tokens it signed in are revoked.
pub async fn delete(account: Account) -> Answer {
    let idp = account.required_user_sso().await?;
    let fed = account.federation();
    fed.delete_idp(&account.ctx, &idp.id, now_ms()).await?;
    // The mapping goes with it unless another provider's protocol uses it.
    match fed.delete_mapping(&account.ctx, &mapping_id(&idp.id)).await {
        Ok(()) | Err(Error::NotFound { .. }) | Err(Error::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auxiliary_domains_are_dns_names() {
        let cases = [
            ("example.com", Some("example.com")),
            (" Corp.Example.COM ", Some("corp.example.com")),
            ("a-b.example.com", Some("a-b.example.com")),
            ("localhost", None),
            ("", None),
            ("-a.example.com", None),
            ("a..example.com", None),
            ("example.com.", None),
            ("ex*ample.com", None),
            ("exa mple.com", None),
            ("example.com/evil", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_auxiliary_domain(text).ok().as_deref(), want, "{text:?}");
        }
    }

    #[test]
    fn the_auxiliary_domain_reads_back_from_the_rule_it_wrote() {
        for domain in ["example.com", "corp.example-1.cn"] {
            let document = rules(domain).to_string();
            assert_eq!(auxiliary_domain_of(&document), domain);
        }
        let edited = json!({"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "NameID"}]}]});
        for other in [edited.to_string(), "not json".into(), "{}".into()] {
            assert_eq!(auxiliary_domain_of(&other), "", "{other}");
        }
    }
}
