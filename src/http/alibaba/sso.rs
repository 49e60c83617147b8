//! IMS SSO management: OIDC providers (client ids, fingerprints) and SAML providers for
//! role-based SSO. An Alibaba provider is a fedgate identity provider of the caller's account
//! with one protocol (`oidc` or `saml`), the protocol's mapping `<provider>-mapping`, and the
//! OpenID Connect configuration or imported metadata. The mapping starts by naming the user
//! after the token's `sub` (or the assertion's `NameID`) with no groups: who may assume a role
//! is the account's decision, written into that mapping (groups holding `te_agency` on the
//! account) through the identity API, `fedgate mapping test` or any dialect.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::super::views::alibaba::{arn, principal_suffix, time};
use super::Params;
use crate::model::{IdentityProvider, Protocol};
use crate::oidc::{AccessMode, OidcConfig, OidcConfigInput, parse_fingerprint};
use crate::service::federation::IdpInput;
use crate::service::saml::MetadataImport;
use crate::service::saml_login::SamlIdpSettings;
use crate::service::user_sso::{UserSso, UserSsoInput, parse_auxiliary_domain};
use crate::service::{AuthContext, Error, FederationConfig, Services};

/// What Alibaba's `IssuanceLimitTime` allows (hours) and assumes when absent.
const ISSUANCE_LIMIT_HOURS: (i64, i64, i64) = (1, 168, 12);

pub(super) struct Sso {
    fed: FederationConfig,
    ctx: AuthContext,
    account_id: String,
}

/// The mapping an Alibaba provider's protocol uses.
pub(super) fn mapping_id(provider: &str) -> String {
    format!("{provider}-mapping")
}

/// Alibaba's comma-separated lists (`ClientIds`, `Fingerprints`).
fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn issuance_limit(p: &Params) -> Result<Option<i64>, Error> {
    let (min, max, _) = ISSUANCE_LIMIT_HOURS;
    p.get("IssuanceLimitTime")
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|h| (min..=max).contains(h))
                .map(|h| h * 3600)
                .ok_or_else(|| Error::invalid("IssuanceLimitTime", format!("must be {min} to {max} hours")))
        })
        .transpose()
}

impl Sso {
    pub(super) fn new(core: Arc<Services>, ctx: AuthContext) -> Sso {
        Sso {
            fed: FederationConfig::new(core),
            account_id: ctx.identity.user.domain.id.clone(),
            ctx,
        }
    }

    pub(super) async fn call(&self, action: &str, p: &Params, now: i64) -> Result<Value, Error> {
        match action {
            "CreateOIDCProvider" => self.create_oidc(p, now).await,
            "GetOIDCProvider" => self.get_oidc(p).await,
            "UpdateOIDCProvider" => self.update_oidc(p, now).await,
            "DeleteOIDCProvider" => self.delete(p.required("OIDCProviderName")?, Protocol::Oidc, now).await,
            "ListOIDCProviders" => self.list(p, Protocol::Oidc).await,
            "AddClientIdToOIDCProvider" => self.edit_client_ids(p, true, now).await,
            "RemoveClientIdFromOIDCProvider" => self.edit_client_ids(p, false, now).await,
            "AddFingerprintToOIDCProvider" => self.edit_fingerprints(p, true, now).await,
            "RemoveFingerprintFromOIDCProvider" => self.edit_fingerprints(p, false, now).await,
            "CreateSAMLProvider" => self.create_saml(p, now).await,
            "GetSAMLProvider" => self.get_saml(p).await,
            "UpdateSAMLProvider" => self.update_saml(p, now).await,
            "DeleteSAMLProvider" => self.delete(p.required("SAMLProviderName")?, Protocol::Saml, now).await,
            "ListSAMLProviders" => self.list(p, Protocol::Saml).await,
            "SetUserSsoSettings" => self.set_user_sso(p, now).await,
            "GetUserSsoSettings" => self.get_user_sso().await,
            other => Err(Error::NotFound {
                kind: "action",
                id: other.to_string(),
            }),
        }
    }

    /// The caller's account's provider `name` speaking `protocol`.
    async fn provider(&self, name: &str, protocol: Protocol) -> Result<IdentityProvider, Error> {
        let not_found = || Error::not_found("identity provider", name);
        let idp = match self.fed.get_idp(&self.ctx, name).await {
            // Another account's provider is as absent as a missing one: ids are global names,
            // and telling the two apart would let anyone probe them.
            Err(Error::NotFound { .. } | Error::Forbidden(_)) => return Err(not_found()),
            other => other?,
        };
        let speaks = self
            .fed
            .list_protocols(&self.ctx, name)
            .await?
            .iter()
            .any(|p| p.id == protocol);
        if idp.domain_id != self.account_id || !speaks {
            return Err(not_found());
        }
        Ok(idp)
    }

    /// A new provider with its protocol and starting mapping; `configure` completes it. A
    /// failure on the way removes what this call made (and nothing else), so a retry starts
    /// clean.
    async fn create(
        &self,
        name: &str,
        protocol: Protocol,
        description: Option<String>,
        configure: impl std::future::Future<Output = Result<(), Error>>,
        now: i64,
    ) -> Result<IdentityProvider, Error> {
        let mapping = mapping_id(name);
        match self.fed.get_mapping(&self.ctx, &mapping).await {
            Err(Error::NotFound { .. }) => {}
            Ok(_) | Err(Error::Forbidden(_)) => {
                return Err(Error::Conflict(format!(
                    "mapping {mapping}, which provider {name} would use"
                )));
            }
            Err(e) => return Err(e),
        }
        let input = IdpInput {
            description,
            enabled: Some(true),
            ..IdpInput::default()
        };
        let idp = self.fed.create_idp(&self.ctx, name, input, now).await?;
        let subject = match protocol {
            Protocol::Oidc => "sub",
            Protocol::Saml => "NameID",
        };
        let rules = json!({"rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": subject}]}]});
        let mut mapping_made = false;
        let made = async {
            self.fed.create_mapping(&self.ctx, &mapping, rules, now).await?;
            mapping_made = true;
            self.fed
                .create_protocol(&self.ctx, name, protocol.as_str(), Some(mapping.clone()))
                .await?;
            configure.await
        }
        .await;
        if let Err(e) = made {
            let _ = self.fed.delete_idp(&self.ctx, name, now).await;
            if mapping_made {
                let _ = self.fed.delete_mapping(&self.ctx, &mapping).await;
            }
            return Err(e);
        }
        Ok(idp)
    }

    async fn delete(&self, name: &str, protocol: Protocol, now: i64) -> Result<Value, Error> {
        self.provider(name, protocol).await?;
        // Deleting the provider deletes all its protocols: refuse while it serves another one
        // (added through the identity API), which this call does not name.
        let protocols = self.fed.list_protocols(&self.ctx, name).await?;
        if let Some(other) = protocols.iter().find(|p| p.id != protocol) {
            return Err(Error::Conflict(format!(
                "identity provider {name} also serves {}; delete that protocol first",
                other.id.as_str()
            )));
        }
        self.fed.delete_idp(&self.ctx, name, now).await?;
        // The starting mapping goes with it unless another provider's protocol uses it.
        match self.fed.delete_mapping(&self.ctx, &mapping_id(name)).await {
            Ok(()) | Err(Error::NotFound { .. }) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(json!({}))
    }

    async fn list(&self, p: &Params, protocol: Protocol) -> Result<Value, Error> {
        let page = p.page()?;
        let mut views = Vec::new();
        for idp in self.fed.list_idps(&self.ctx).await? {
            if idp.domain_id != self.account_id {
                continue;
            }
            let speaks = self.fed.list_protocols(&self.ctx, &idp.id).await?;
            if !speaks.iter().any(|r| r.id == protocol) {
                continue;
            }
            views.push(match protocol {
                Protocol::Oidc => match self.fed.get_oidc_config(&self.ctx, &idp.id).await {
                    Ok(config) => self.oidc_view(&idp, &config),
                    Err(Error::NotFound { .. }) => continue,
                    Err(e) => return Err(e),
                },
                Protocol::Saml => self.saml_view(&idp),
            });
        }
        let (plural, singular) = match protocol {
            Protocol::Oidc => ("OIDCProviders", "OIDCProvider"),
            Protocol::Saml => ("SAMLProviders", "SAMLProvider"),
        };
        super::list_body(plural, singular, page.of(views))
    }

    // ---- OpenID Connect ----

    fn oidc_view(&self, idp: &IdentityProvider, config: &OidcConfig) -> Value {
        let client_ids: Vec<&str> = std::iter::once(config.client_id.as_str())
            .chain(config.other_client_ids.iter().map(String::as_str))
            .collect();
        let hours = config.max_token_age.map_or(ISSUANCE_LIMIT_HOURS.2, |secs| secs / 3600);
        json!({
            "Arn": arn(&self.account_id, "oidc-provider", &idp.id),
            "OIDCProviderName": idp.id,
            "IssuerUrl": config.idp_url,
            "ClientIds": client_ids.join(","),
            "Fingerprints": config.fingerprints.join(","),
            "Description": idp.description,
            "IssuanceLimitTime": hours,
            "CreateDate": time(idp.created_at_ms),
            "UpdateDate": time(idp.created_at_ms),
            "GmtCreate": time(idp.created_at_ms),
            "GmtModified": time(idp.created_at_ms),
        })
    }

    async fn create_oidc(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let name = p.required("OIDCProviderName")?;
        let mut client_ids = list(p.get("ClientIds")).into_iter();
        let client_id = client_ids.next().ok_or_else(|| Error::MissingField {
            field: "ClientIds".into(),
        })?;
        let input = OidcConfigInput {
            access_mode: Some(AccessMode::Program),
            idp_url: Some(p.required("IssuerUrl")?.to_string()),
            client_id: Some(client_id),
            other_client_ids: Some(client_ids.collect()),
            fingerprints: Some(list(p.get("Fingerprints"))),
            max_token_age: issuance_limit(p)?.or(Some(ISSUANCE_LIMIT_HOURS.2 * 3600)),
            ..OidcConfigInput::default()
        };
        let configure = async {
            let (_, warnings) = self.fed.create_oidc_config(&self.ctx, name, input, now).await?;
            for warning in warnings {
                tracing::warn!(idp.id = %name, warning = %warning, "OIDC provider created; its keys are not reachable yet");
            }
            Ok(())
        };
        let idp = self
            .create(name, Protocol::Oidc, p.owned("Description"), configure, now)
            .await?;
        let config = self.fed.get_oidc_config(&self.ctx, name).await?;
        Ok(json!({ "OIDCProvider": self.oidc_view(&idp, &config) }))
    }

    async fn get_oidc(&self, p: &Params) -> Result<Value, Error> {
        let name = p.required("OIDCProviderName")?;
        let idp = self.provider(name, Protocol::Oidc).await?;
        let config = self.fed.get_oidc_config(&self.ctx, name).await?;
        Ok(json!({ "OIDCProvider": self.oidc_view(&idp, &config) }))
    }

    async fn reconfigure(&self, name: &str, input: OidcConfigInput, now: i64) -> Result<Value, Error> {
        let (config, _) = self.fed.update_oidc_config(&self.ctx, name, input, now).await?;
        let idp = self.fed.get_idp(&self.ctx, name).await?;
        Ok(json!({ "OIDCProvider": self.oidc_view(&idp, &config) }))
    }

    async fn update_oidc(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let name = p.required("OIDCProviderName")?;
        self.provider(name, Protocol::Oidc).await?;
        if let Some(description) = p.owned("NewDescription") {
            let input = IdpInput {
                description: Some(description),
                ..IdpInput::default()
            };
            self.fed.update_idp(&self.ctx, name, input, now).await?;
        }
        let mut input = OidcConfigInput {
            max_token_age: issuance_limit(p)?,
            ..OidcConfigInput::default()
        };
        if p.get("ClientIds").is_some() {
            let mut ids = list(p.get("ClientIds")).into_iter();
            input.client_id = Some(
                ids.next()
                    .ok_or_else(|| Error::invalid("ClientIds", "must name at least one client id"))?,
            );
            input.other_client_ids = Some(ids.collect());
        }
        self.reconfigure(name, input, now).await
    }

    async fn edit_client_ids(&self, p: &Params, add: bool, now: i64) -> Result<Value, Error> {
        let name = p.required("OIDCProviderName")?;
        let id = p.required("ClientId")?.to_string();
        self.provider(name, Protocol::Oidc).await?;
        let config = self.fed.get_oidc_config(&self.ctx, name).await?;
        let mut ids: Vec<String> = std::iter::once(config.client_id)
            .chain(config.other_client_ids)
            .collect();
        match (add, ids.contains(&id)) {
            (true, true) => return Err(Error::Conflict(format!("client id {id} of {name}"))),
            (true, false) => ids.push(id),
            (false, false) => return Err(Error::not_found("client id", &id)),
            (false, true) => ids.retain(|c| *c != id),
        }
        let mut ids = ids.into_iter();
        let input = OidcConfigInput {
            client_id: Some(ids.next().ok_or_else(|| {
                Error::invalid(
                    "ClientId",
                    "is the provider's last client id; an OIDC provider keeps one",
                )
            })?),
            other_client_ids: Some(ids.collect()),
            ..OidcConfigInput::default()
        };
        self.reconfigure(name, input, now).await
    }

    async fn edit_fingerprints(&self, p: &Params, add: bool, now: i64) -> Result<Value, Error> {
        let name = p.required("OIDCProviderName")?;
        let text = p.required("Fingerprint")?;
        let fingerprint = parse_fingerprint(text)
            .ok_or_else(|| Error::invalid("Fingerprint", "must be a SHA-1 fingerprint: 40 hex digits"))?;
        self.provider(name, Protocol::Oidc).await?;
        let mut prints = self.fed.get_oidc_config(&self.ctx, name).await?.fingerprints;
        match (add, prints.contains(&fingerprint)) {
            (true, true) => return Err(Error::Conflict(format!("fingerprint {fingerprint} of {name}"))),
            (true, false) => prints.push(fingerprint),
            (false, false) => return Err(Error::not_found("fingerprint", &fingerprint)),
            (false, true) => prints.retain(|f| *f != fingerprint),
        }
        let input = OidcConfigInput {
            fingerprints: Some(prints),
            ..OidcConfigInput::default()
        };
        self.reconfigure(name, input, now).await
    }

    // ---- user-based SSO ----

    fn user_sso_view(sso: Option<UserSso>) -> Value {
        let settings = match sso {
            None => json!({"SsoEnabled": false, "MetadataDocument": "", "AuxiliaryDomain": "",
                "SsoLoginWithDomain": false, "AuthnSignAlgo": "rsa-sha256"}),
            Some(sso) => json!({
                "SsoEnabled": sso.provider.enabled,
                "MetadataDocument": sso.metadata.map(|m| STANDARD.encode(m.data.as_bytes())).unwrap_or_default(),
                "AuxiliaryDomain": sso.auxiliary_domain,
                // NameIDs always carry the domain: the rule admits `<name>@<domain>` only.
                "SsoLoginWithDomain": true,
                "AuthnSignAlgo": "rsa-sha256",
            }),
        };
        json!({ "UserSsoSettings": settings })
    }

    async fn get_user_sso(&self) -> Result<Value, Error> {
        Ok(Self::user_sso_view(self.fed.user_sso(&self.ctx).await?))
    }

    async fn set_user_sso(&self, p: &Params, now: i64) -> Result<Value, Error> {
        if p.flag("SsoLoginWithDomain")? == Some(false) {
            return Err(Error::invalid(
                "SsoLoginWithDomain",
                "must be true: NameIDs are <user>@<auxiliary domain>",
            ));
        }
        if p.get("AuthnSignAlgo").is_some_and(|a| a != "rsa-sha256") {
            return Err(Error::invalid(
                "AuthnSignAlgo",
                "must be rsa-sha256, which fedgate signs with",
            ));
        }
        let existing = self.fed.user_sso(&self.ctx).await?;
        let mut domain = p
            .get("AuxiliaryDomain")
            .map(|d| parse_auxiliary_domain("AuxiliaryDomain", d))
            .transpose()?;
        if existing.is_none() && domain.is_none() {
            // Alibaba's default domain, when the account's name makes a DNS name.
            let default = principal_suffix(&self.ctx.identity.user.domain.name);
            domain = Some(
                parse_auxiliary_domain("AuxiliaryDomain", &default).map_err(|_| Error::MissingField {
                    field: "AuxiliaryDomain".into(),
                })?,
            );
        }
        let metadata = p
            .get("MetadataDocument")
            .map(|m| self.metadata_import("MetadataDocument", m))
            .transpose()?;
        if existing.is_none() && metadata.is_none() {
            return Err(Error::MissingField {
                field: "MetadataDocument".into(),
            });
        }
        let input = UserSsoInput {
            metadata,
            auxiliary_domain: domain,
            description: None,
            enabled: p.flag("SsoEnabled")?,
        };
        Ok(Self::user_sso_view(Some(
            self.fed.set_user_sso(&self.ctx, input, now).await?,
        )))
    }

    // ---- SAML ----

    fn saml_view(&self, idp: &IdentityProvider) -> Value {
        json!({
            "Arn": arn(&self.account_id, "saml-provider", &idp.id),
            "SAMLProviderName": idp.id,
            "Description": idp.description,
            "CreateDate": time(idp.created_at_ms),
            "UpdateDate": time(idp.created_at_ms),
        })
    }

    fn metadata_import(&self, field: &str, encoded: &str) -> Result<MetadataImport, Error> {
        let xml = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| Error::invalid(field, "must be the metadata document in base64"))?;
        Ok(MetadataImport {
            domain_id: self.account_id.clone(),
            xaccount_type: String::new(),
            metadata: xml,
            settings: SamlIdpSettings {
                allow_idp_initiated: true,
                signed_part: Default::default(),
                allow_sha1: false,
            },
        })
    }

    async fn create_saml(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let name = p.required("SAMLProviderName")?;
        let import = self.metadata_import(
            "EncodedSAMLMetadataDocument",
            p.required("EncodedSAMLMetadataDocument")?,
        )?;
        let configure = async {
            self.fed
                .import_saml_metadata(&self.ctx, name, Protocol::Saml.as_str(), import, now)
                .await
        };
        let idp = self
            .create(name, Protocol::Saml, p.owned("Description"), configure, now)
            .await?;
        Ok(json!({ "SAMLProvider": self.saml_view(&idp) }))
    }

    async fn get_saml(&self, p: &Params) -> Result<Value, Error> {
        let name = p.required("SAMLProviderName")?;
        let idp = self.provider(name, Protocol::Saml).await?;
        let stored = self
            .fed
            .get_saml_metadata(&self.ctx, name, Protocol::Saml.as_str())
            .await?;
        let mut view = self.saml_view(&idp);
        view["EncodedSAMLMetadataDocument"] = Value::String(STANDARD.encode(stored.data.as_bytes()));
        Ok(json!({ "SAMLProvider": view }))
    }

    async fn update_saml(&self, p: &Params, now: i64) -> Result<Value, Error> {
        let name = p.required("SAMLProviderName")?;
        self.provider(name, Protocol::Saml).await?;
        if let Some(encoded) = p.get("NewEncodedSAMLMetadataDocument") {
            let import = self.metadata_import("NewEncodedSAMLMetadataDocument", encoded)?;
            self.fed
                .import_saml_metadata(&self.ctx, name, Protocol::Saml.as_str(), import, now)
                .await?;
        }
        let input = IdpInput {
            description: p.owned("NewDescription"),
            ..IdpInput::default()
        };
        let idp = self.fed.update_idp(&self.ctx, name, input, now).await?;
        Ok(json!({ "SAMLProvider": self.saml_view(&idp) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alibaba_lists_are_comma_separated() {
        let cases = [
            (None, vec![]),
            (Some(""), vec![]),
            (Some("a"), vec!["a"]),
            (Some("a, b,,c "), vec!["a", "b", "c"]),
        ];
        for (text, want) in cases {
            assert_eq!(list(text), want, "{text:?}");
        }
    }
}
