//! User-based SSO of an account (Alibaba's `SetUserSsoSettings`, Baidu's IAM-user federation):
//! the account's one `iam_user_sso` identity provider, with the `saml` protocol, its mapping
//! and imported metadata. A provider made here is `iam-user-sso-<random>`, with the mapping
//! `<provider>-mapping`; one made through the identity API is found too, as an account holds
//! at most one.
//!
//! The auxiliary domain has no field of its own: it is the mapping's rule. The provider may
//! sign in only NameIDs `<anything>@<auxiliary domain>` (so it cannot speak for names outside
//! the domain it was given), and the whole NameID must be a user's `xuser_id` (fedgate's
//! `iam_user_sso` rule: a user is bound, `xuser_type` `TenantIdp`, before it federates). The
//! domain is read back from that rule, so the mapping stays the one truth; a mapping rewritten
//! through the identity API shows `""`.

use serde_json::{Value, json};

use super::federation::IdpInput;
use super::saml::MetadataImport;
use super::{AuthContext, Error, FederationConfig, Result};
use crate::model::{IdentityProvider, Protocol, SsoType, StoredSamlMetadata};

/// The NameID rule's start: any local part, then the domain.
const NAME_ID_PREFIX: &str = "(?i)^[^@]+@";

/// An account's user SSO as configured.
pub struct UserSso {
    pub provider: IdentityProvider,
    pub metadata: Option<StoredSamlMetadata>,
    /// `""` when the mapping is not the one this module writes.
    pub auxiliary_domain: String,
}

/// What a dialect asks to set; each part already read and checked by the dialect's parsers.
#[derive(Default)]
pub struct UserSsoInput {
    pub metadata: Option<MetadataImport>,
    /// From [`parse_auxiliary_domain`].
    pub auxiliary_domain: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// The id of a provider this module makes: random, as ids are global and one derived from
/// the account could be taken first by another account, blocking this one's user SSO.
fn new_provider_id() -> String {
    format!("iam-user-sso-{}", &super::new_id()[..16])
}

fn mapping_id(provider: &str) -> String {
    format!("{provider}-mapping")
}

/// A DNS name of at least two labels (letters, digits, inner `-`), lower case.
pub fn parse_auxiliary_domain(field: &str, text: &str) -> Result<String> {
    let domain = text.trim().to_ascii_lowercase();
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if domain.len() > 253 || domain.split('.').count() < 2 || !domain.split('.').all(label_ok) {
        return Err(Error::invalid(field, "must be a domain name such as example.com"));
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

impl FederationConfig {
    /// The caller's account's `iam_user_sso` provider, if it has one.
    async fn user_sso_provider(&self, ctx: &AuthContext) -> Result<Option<IdentityProvider>> {
        let account = self.default_domain(ctx);
        Ok(self
            .list_idps(ctx)
            .await?
            .into_iter()
            .find(|i| i.domain_id == account && i.sso_type == SsoType::IamUserSso))
    }

    /// The mapping the provider's `saml` protocol uses, if it has one.
    async fn saml_mapping(&self, ctx: &AuthContext, idp: &IdentityProvider) -> Result<Option<String>> {
        match self.get_protocol(ctx, &idp.id, Protocol::Saml.as_str()).await {
            Ok(p) => Ok(Some(p.mapping_id)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The caller's account's user SSO, if configured.
    pub async fn user_sso(&self, ctx: &AuthContext) -> Result<Option<UserSso>> {
        let Some(provider) = self.user_sso_provider(ctx).await? else {
            return Ok(None);
        };
        let metadata = match self.get_saml_metadata(ctx, &provider.id, Protocol::Saml.as_str()).await {
            Ok(m) => Some(m),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let auxiliary_domain = match self.saml_mapping(ctx, &provider).await? {
            Some(id) => auxiliary_domain_of(&self.get_mapping(ctx, &id).await?.document),
            None => String::new(),
        };
        Ok(Some(UserSso {
            provider,
            metadata,
            auxiliary_domain,
        }))
    }

    /// Configures the caller's account's user SSO: a new provider (disabled unless `enabled`
    /// says otherwise) from metadata and an auxiliary domain, or what `input` names of the
    /// existing one. A failed create undoes what it made, and only that.
    pub async fn set_user_sso(&self, ctx: &AuthContext, input: UserSsoInput, now_ms: i64) -> Result<UserSso> {
        match self.user_sso_provider(ctx).await? {
            None => self.create_user_sso(ctx, input, now_ms).await?,
            Some(idp) => self.reconfigure_user_sso(ctx, &idp, input, now_ms).await?,
        }
        self.user_sso(ctx)
            .await?
            .ok_or_else(|| Error::not_found("identity provider", "user SSO"))
    }

    async fn create_user_sso(&self, ctx: &AuthContext, input: UserSsoInput, now_ms: i64) -> Result<()> {
        let import = input.metadata.ok_or_else(|| Error::MissingField {
            field: "metadata".into(),
        })?;
        let domain = input.auxiliary_domain.ok_or_else(|| Error::MissingField {
            field: "auxiliary domain".into(),
        })?;
        let id = new_provider_id();
        let mapping = mapping_id(&id);
        match self.get_mapping(ctx, &mapping).await {
            Err(Error::NotFound { .. }) => {}
            Ok(_) | Err(Error::Forbidden(_)) => {
                return Err(Error::Conflict(format!("mapping {mapping}, which user SSO would use")));
            }
            Err(e) => return Err(e),
        }
        let idp = IdpInput {
            sso_type: Some(SsoType::IamUserSso.as_str().to_string()),
            description: input.description,
            enabled: Some(input.enabled.unwrap_or(false)),
            remote_ids: None,
        };
        self.create_idp(ctx, &id, idp, now_ms).await?;
        let mut mapping_made = false;
        let made = async {
            self.create_mapping(ctx, &mapping, rules(&domain), now_ms).await?;
            mapping_made = true;
            self.create_protocol(ctx, &id, Protocol::Saml.as_str(), Some(mapping.clone()))
                .await?;
            self.import_saml_metadata(ctx, &id, Protocol::Saml.as_str(), import, now_ms)
                .await
        }
        .await;
        if let Err(e) = made {
            let _ = self.delete_idp(ctx, &id, now_ms).await;
            if mapping_made {
                let _ = self.delete_mapping(ctx, &mapping).await;
            }
            return Err(e);
        }
        Ok(())
    }

    async fn reconfigure_user_sso(
        &self,
        ctx: &AuthContext,
        idp: &IdentityProvider,
        input: UserSsoInput,
        now_ms: i64,
    ) -> Result<()> {
        if let Some(import) = input.metadata {
            self.import_saml_metadata(ctx, &idp.id, Protocol::Saml.as_str(), import, now_ms)
                .await?;
        }
        if let Some(domain) = input.auxiliary_domain {
            let mapping = self
                .saml_mapping(ctx, idp)
                .await?
                .ok_or_else(|| Error::not_found("protocol", "saml"))?;
            self.update_mapping(ctx, &mapping, rules(&domain), now_ms).await?;
        }
        if input.description.is_some() || input.enabled.is_some() {
            let change = IdpInput {
                description: input.description,
                enabled: input.enabled,
                ..IdpInput::default()
            };
            self.update_idp(ctx, &idp.id, change, now_ms).await?;
        }
        Ok(())
    }

    /// Removes the caller's account's user SSO: the provider, its protocol and metadata, and
    /// the mapping made for it (unless another provider uses it); tokens it signed in are
    /// revoked.
    pub async fn delete_user_sso(&self, ctx: &AuthContext, now_ms: i64) -> Result<()> {
        let idp = self
            .user_sso_provider(ctx)
            .await?
            .ok_or_else(|| Error::not_found("identity provider", "user SSO"))?;
        // Deleting the provider deletes all its protocols: refuse while it serves one besides
        // `saml` (added through the identity API), which user SSO does not own.
        let protocols = self.list_protocols(ctx, &idp.id).await?;
        if let Some(other) = protocols.iter().find(|p| p.id != Protocol::Saml) {
            return Err(Error::Conflict(format!(
                "identity provider {} also serves {}; delete that protocol first",
                idp.id,
                other.id.as_str()
            )));
        }
        let own_mapping = protocols
            .iter()
            .any(|p| p.id == Protocol::Saml && p.mapping_id == mapping_id(&idp.id));
        self.delete_idp(ctx, &idp.id, now_ms).await?;
        if !own_mapping {
            return Ok(());
        }
        match self.delete_mapping(ctx, &mapping_id(&idp.id)).await {
            Ok(()) | Err(Error::NotFound { .. }) | Err(Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
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
            assert_eq!(parse_auxiliary_domain("d", text).ok().as_deref(), want, "{text:?}");
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
