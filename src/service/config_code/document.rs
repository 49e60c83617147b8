//! The configuration document `fedgate config export` writes and `fedgate config apply` reads:
//! per account (by name), its identity providers, mappings, protocols, OIDC configurations and
//! SAML metadata, each list sorted by its key. Serialised through `serde_json::Value`, whose
//! objects keep their keys sorted, so the same store always gives the same bytes.
//!
//! Reading checks the shape only (unknown fields, types; errors name the JSON path); what the
//! values may be is the federation use cases' rule, checked when a plan is made.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::oidc::{AccessMode, OidcConfig, OidcConfigInput};
use crate::saml::response::SignedPart;
use crate::service::saml_login::SamlIdpSettings;

/// The document format's version (`fedgate_config`).
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Accounts (domains) by name; an account the document leaves out is not touched.
    pub accounts: BTreeMap<String, Account>,
    pub fedgate_config: u32,
}

/// One account's federation configuration. A list left out is an empty list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    #[serde(default)]
    pub identity_providers: Vec<IdpEntry>,
    #[serde(default)]
    pub mappings: Vec<MappingEntry>,
    #[serde(default)]
    pub oidc_configs: Vec<OidcEntry>,
    #[serde(default)]
    pub protocols: Vec<ProtocolEntry>,
    #[serde(default)]
    pub saml_metadata: Vec<SamlEntry>,
}

/// An identity provider; `description`, `remote_ids` and `sso_type` default as the API's create
/// does, `enabled` must be written (leaving it out would disable a provider).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdpEntry {
    #[serde(default)]
    pub description: String,
    pub enabled: bool,
    pub id: String,
    /// A set: sorted when exported and compared.
    #[serde(default)]
    pub remote_ids: Vec<String>,
    #[serde(default = "virtual_user_sso")]
    pub sso_type: String,
}

fn virtual_user_sso() -> String {
    crate::model::SsoType::VirtualUserSso.as_str().to_string()
}

/// A mapping: its rules and schema version, as the API stores them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingEntry {
    pub id: String,
    pub rules: Value,
    #[serde(default)]
    pub schema_version: Option<String>,
}

/// A provider's protocol (`saml` or `oidc`) and the mapping its logins go through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolEntry {
    pub idp: String,
    pub mapping_id: String,
    pub protocol: String,
}

/// Every field of a provider's OpenID Connect configuration (`openid_connect_config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcEntry {
    pub access_mode: AccessMode,
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    pub client_id: String,
    #[serde(default)]
    pub fingerprints: Vec<String>,
    pub idp: String,
    pub idp_url: String,
    #[serde(default)]
    pub max_token_age: Option<i64>,
    #[serde(default)]
    pub max_token_lifetime: Option<i64>,
    #[serde(default)]
    pub other_client_ids: Vec<String>,
    #[serde(default)]
    pub replay_protection: Option<bool>,
    #[serde(default)]
    pub response_mode: Option<String>,
    #[serde(default)]
    pub response_type: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    /// The JWKS as JSON text, as the API takes it; null: keys are discovered.
    #[serde(default)]
    pub signing_key: Option<String>,
}

/// A provider's imported SAML metadata: the document as stored, with the import's choices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlEntry {
    pub idp: String,
    pub metadata: String,
    #[serde(default)]
    pub settings: SamlSettings,
    pub xaccount_type: String,
}

/// `SamlIdpSettings`, with unknown fields refused (the import body ignores them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    #[serde(default = "yes")]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub allow_sha1: bool,
    #[serde(default)]
    pub signed_part: SignedPart,
}

fn yes() -> bool {
    true
}

impl Default for SamlSettings {
    fn default() -> Self {
        SamlIdpSettings::default().into()
    }
}

impl From<SamlIdpSettings> for SamlSettings {
    fn from(s: SamlIdpSettings) -> Self {
        SamlSettings {
            allow_idp_initiated: s.allow_idp_initiated,
            allow_sha1: s.allow_sha1,
            signed_part: s.signed_part,
        }
    }
}

impl From<SamlSettings> for SamlIdpSettings {
    fn from(s: SamlSettings) -> Self {
        SamlIdpSettings {
            allow_idp_initiated: s.allow_idp_initiated,
            signed_part: s.signed_part,
            allow_sha1: s.allow_sha1,
        }
    }
}

impl OidcEntry {
    pub fn from_config(idp: &str, c: OidcConfig) -> Self {
        OidcEntry {
            access_mode: c.access_mode,
            authorization_endpoint: c.authorization_endpoint,
            client_id: c.client_id,
            fingerprints: c.fingerprints,
            idp: idp.to_string(),
            idp_url: c.idp_url,
            max_token_age: c.max_token_age,
            max_token_lifetime: c.max_token_lifetime,
            other_client_ids: c.other_client_ids,
            replay_protection: c.replay_protection,
            response_mode: c.response_mode,
            response_type: c.response_type,
            scope: c.scope,
            signing_key: c.signing_key,
        }
    }

    /// The API's body for this configuration: every field named, lists included, so a write
    /// leaves nothing of an older configuration behind but what the API cannot remove.
    pub fn to_input(&self) -> OidcConfigInput {
        OidcConfigInput {
            access_mode: Some(self.access_mode),
            idp_url: Some(self.idp_url.clone()),
            client_id: Some(self.client_id.clone()),
            authorization_endpoint: self.authorization_endpoint.clone(),
            scope: self.scope.clone(),
            response_type: self.response_type.clone(),
            response_mode: self.response_mode.clone(),
            signing_key: self.signing_key.clone(),
            replay_protection: self.replay_protection,
            max_token_age: self.max_token_age,
            max_token_lifetime: self.max_token_lifetime,
            fingerprints: Some(self.fingerprints.clone()),
            other_client_ids: Some(self.other_client_ids.clone()),
        }
    }
}

impl Document {
    /// Reads a document; the error names the JSON path of what is wrong.
    pub fn parse(text: &str) -> Result<Document, String> {
        refuse_repeated_keys(text)?;
        let mut reader = serde_json::Deserializer::from_str(text);
        let doc: Document = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // `?` or `.`: the document itself, not one of its values.
            if path == "." || path == "?" {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            }
        })?;
        reader.end().map_err(|e| format!("after the document: {e}"))?;
        if doc.fedgate_config != FORMAT_VERSION {
            return Err(format!(
                "fedgate_config: {} is not a format this fedgate reads (it reads {FORMAT_VERSION})",
                doc.fedgate_config
            ));
        }
        Ok(doc)
    }

    /// Pretty JSON with sorted keys, ending in a newline.
    pub fn to_text(&self) -> String {
        // Through `Value`: its objects sort their keys, whatever the structs' field order.
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_names_the_path_of_what_is_wrong() {
        let cases = [
            ("not JSON", "{", "EOF while parsing an object at line 1 column 1"),
            (
                "unknown field",
                r#"{"fedgate_config": 1, "accounts": {"a": {"identity_provider": []}}}"#,
                "accounts.a.identity_provider: unknown field `identity_provider`, expected one of `identity_providers`, `mappings`, `oidc_configs`, `protocols`, `saml_metadata` at line 1 column 60",
            ),
            (
                "enabled missing",
                r#"{"fedgate_config": 1, "accounts": {"a": {"identity_providers": [{"id": "x"}]}}}"#,
                "accounts.a.identity_providers[0]: missing field `enabled` at line 1 column 75",
            ),
            (
                "wrong type",
                r#"{"fedgate_config": 1, "accounts": {"a": {"protocols": [{"idp": "x", "protocol": "saml", "mapping_id": 3}]}}}"#,
                "accounts.a.protocols[0].mapping_id: invalid type: integer `3`, expected a string at line 1 column 103",
            ),
            (
                "access mode",
                r#"{"fedgate_config": 1, "accounts": {"a": {"oidc_configs": [{"idp": "x", "access_mode": "web", "idp_url": "u", "client_id": "c"}]}}}"#,
                "accounts.a.oidc_configs[0].access_mode: unknown variant `web`, expected `program` or `program_console` at line 1 column 91",
            ),
            (
                "settings typo",
                r#"{"fedgate_config": 1, "accounts": {"a": {"saml_metadata": [{"idp": "x", "metadata": "m", "xaccount_type": "", "settings": {"allow_sha": true}}]}}}"#,
                "accounts.a.saml_metadata[0].settings.allow_sha: unknown field `allow_sha`, expected one of `allow_idp_initiated`, `allow_sha1`, `signed_part` at line 1 column 134",
            ),
            (
                "version",
                r#"{"fedgate_config": 2, "accounts": {}}"#,
                "fedgate_config: 2 is not a format this fedgate reads (it reads 1)",
            ),
            (
                "trailing text",
                r#"{"fedgate_config": 1, "accounts": {}} x"#,
                "after the document: trailing characters at line 1 column 39",
            ),
        ];
        let got: Vec<(&str, String)> = cases
            .iter()
            .map(|(name, text, _)| (*name, Document::parse(text).unwrap_err()))
            .collect();
        let want: Vec<(&str, String)> = cases.iter().map(|(name, _, want)| (*name, want.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn written_documents_read_back_with_sorted_keys_and_a_final_newline() {
        let text = r#"{"fedgate_config": 1, "accounts": {"b": {}, "a": {"identity_providers": [{"id": "x", "enabled": true}]}}}"#;
        let doc = Document::parse(text).unwrap();
        let written = doc.to_text();
        assert!(written.ends_with("}\n"));
        assert!(written.find("\"a\"").unwrap() < written.find("\"b\"").unwrap());
        assert!(written.find("\"description\"").unwrap() < written.find("\"enabled\"").unwrap());
        assert_eq!(Document::parse(&written).unwrap(), doc);
        assert_eq!(
            doc.accounts["a"].identity_providers[0].sso_type, "virtual_user_sso",
            "the API's default"
        );
    }
}

/// Refuses a document with an object that names a key twice. serde (and the API's
/// `serde_json::Value`) keep the last one silently, so a document a person reviews could say
/// one thing and apply another: an account written twice, the second time empty (with
/// `--prune`, everything in it deleted), or a mapping rule's `local` written twice.
fn refuse_repeated_keys(text: &str) -> Result<(), String> {
    use serde::de::DeserializeSeed;
    let mut reader = serde_json::Deserializer::from_str(text);
    // Malformed JSON is left to the typed reading, whose messages name the path.
    match UniqueKeys.deserialize(&mut reader) {
        Err(e) if e.to_string().contains(REPEATED) => Err(e.to_string()),
        _ => Ok(()),
    }
}

const REPEATED: &str = "appears twice in one object";

/// Walks any JSON value, failing at the first object that repeats a key.
struct UniqueKeys;

impl<'de> serde::de::DeserializeSeed<'de> for UniqueKeys {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for UniqueKeys {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(serde::de::Error::custom(format!("the key {key:?} {REPEATED}")));
            }
            map.next_value_seed(UniqueKeys)?;
            seen.insert(key);
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(UniqueKeys)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod repeated_keys {
    use super::Document;

    /// A key written twice anywhere is refused, with where; serde kept the last one.
    #[test]
    fn a_key_written_twice_is_refused() {
        let cases = [
            (
                r#"{"fedgate_config": 1, "accounts": {"acme": {"identity_providers": [{"id": "a", "enabled": true}]}, "acme": {}}}"#,
                r#"the key "acme" appears twice in one object at line 1 column 105"#,
            ),
            (
                r#"{"fedgate_config": 1, "accounts": {"acme": {"mappings": [{"id": "m", "rules": [{"local": [{"group": {"id": "devs"}}], "local": [{"group": {"id": "admins"}}], "remote": [{"type": "x"}]}]}]}}}"#,
                r#"the key "local" appears twice in one object at line 1 column 125"#,
            ),
            (
                r#"{"fedgate_config": 1, "fedgate_config": 1, "accounts": {}}"#,
                r#"the key "fedgate_config" appears twice in one object at line 1 column 38"#,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Document::parse(text).err().as_deref(), Some(want), "{text}");
        }
        let fine = r#"{"fedgate_config": 1, "accounts": {"acme": {}, "beta": {"mappings": [{"id": "m", "rules": [{"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "x"}]}, {"local": [], "remote": []}]}]}}}"#;
        assert!(Document::parse(fine).is_ok());
    }
}
