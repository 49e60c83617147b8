//! The plan: what applying a document changes, found by comparing one account's stored
//! configuration with the document's (both already in the document's normalised form), and
//! its rendering as a readable diff. Pure: no store, no use case.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::document::{Account, IdpEntry, MappingEntry, OidcEntry, ProtocolEntry, SamlEntry};
use crate::service::NameRef;

/// What kind of object a change is about, in the order creates and updates are carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    IdentityProvider,
    Mapping,
    Protocol,
    OidcConfig,
    SamlMetadata,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IdentityProvider => "identity_provider",
            Kind::Mapping => "mapping",
            Kind::Protocol => "protocol",
            Kind::OidcConfig => "oidc_config",
            Kind::SamlMetadata => "saml_metadata",
        }
    }

    /// Deletions run in reverse: protocols, then providers (with what hangs on them), then
    /// the mappings no protocol names any more. OIDC configurations and metadata have no
    /// delete of their own in the API.
    fn delete_rank(self) -> Option<u8> {
        match self {
            Kind::Protocol => Some(0),
            Kind::IdentityProvider => Some(1),
            Kind::Mapping => Some(2),
            Kind::OidcConfig | Kind::SamlMetadata => None,
        }
    }
}

/// One object of the document: what a change creates or updates, or what it deletes.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Idp(IdpEntry),
    Mapping(MappingEntry),
    Protocol(ProtocolEntry),
    Oidc(OidcEntry),
    Saml(SamlEntry),
}

impl Entry {
    pub fn kind(&self) -> Kind {
        match self {
            Entry::Idp(_) => Kind::IdentityProvider,
            Entry::Mapping(_) => Kind::Mapping,
            Entry::Protocol(_) => Kind::Protocol,
            Entry::Oidc(_) => Kind::OidcConfig,
            Entry::Saml(_) => Kind::SamlMetadata,
        }
    }

    /// What names the object: its id, `idp/protocol` for a protocol, the provider's id for
    /// what belongs to one provider.
    pub fn key(&self) -> String {
        match self {
            Entry::Idp(e) => e.id.clone(),
            Entry::Mapping(e) => e.id.clone(),
            Entry::Protocol(e) => format!("{}/{}", e.idp, e.protocol),
            Entry::Oidc(e) => e.idp.clone(),
            Entry::Saml(e) => e.idp.clone(),
        }
    }

    fn fields(&self) -> Map<String, Value> {
        let value = match self {
            Entry::Idp(e) => serde_json::to_value(e),
            Entry::Mapping(e) => serde_json::to_value(e),
            Entry::Protocol(e) => serde_json::to_value(e),
            Entry::Oidc(e) => serde_json::to_value(e),
            Entry::Saml(e) => serde_json::to_value(e),
        };
        match value {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// One field an update changes.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub stored: Value,
    pub wanted: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create,
    Update(Vec<FieldChange>),
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub account: NameRef,
    pub action: Action,
    /// The document's object (create, update) or the stored one (delete).
    pub entry: Entry,
}

impl Change {
    /// `+ identity_provider acme`, `~ mapping acme-map: rules changed`, `- protocol acme/saml`.
    pub fn headline(&self) -> String {
        let (kind, key) = (self.entry.kind().as_str(), self.entry.key());
        match &self.action {
            Action::Create => format!("+ {kind} {key}"),
            Action::Delete => format!("- {kind} {key}"),
            Action::Update(fields) => {
                let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                format!("~ {kind} {key}: {} changed", names.join(", "))
            }
        }
    }
}

/// Whether `apply` deletes what the document leaves out of the accounts it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prune {
    Keep,
    Delete,
}

/// The changes in the order they are carried out, and what will not be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Stored objects the document leaves out that `--prune` cannot remove.
    pub notes: Vec<(String, String)>,
    /// Stored objects the document leaves out, kept because `--prune` was not given.
    pub unlisted: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Adds one account's differences: creates and updates by kind (providers, mappings,
    /// protocols, OIDC configurations, metadata), then deletions in reverse, each kind by key.
    pub fn add_account(&mut self, account: &NameRef, stored: &Account, wanted: &Account, prune: Prune) {
        let stored = entries(stored);
        let wanted = entries(wanted);
        let mut writes = Vec::new();
        let mut deletes = Vec::new();
        for (key, entry) in &wanted {
            let action = match stored.get(key) {
                None => Action::Create,
                Some(old) => match field_changes(old, entry) {
                    fields if fields.is_empty() => continue,
                    fields => Action::Update(fields),
                },
            };
            writes.push(change(account, action, entry));
        }
        let gone: BTreeSet<&(Kind, String)> = stored.keys().filter(|k| !wanted.contains_key(*k)).collect();
        for key in &gone {
            let entry = &stored[*key];
            if prune == Prune::Keep {
                self.unlisted += 1;
                continue;
            }
            if key.0.delete_rank().is_some() {
                deletes.push(change(account, Action::Delete, entry));
                continue;
            }
            // What hangs on a provider (or on its saml protocol) goes with it.
            let idp_goes = gone.contains(&(Kind::IdentityProvider, key.1.clone()));
            let protocol_goes = gone.contains(&(Kind::Protocol, format!("{}/saml", key.1)));
            if idp_goes || (key.0 == Kind::SamlMetadata && protocol_goes) {
                continue;
            }
            self.notes.push((
                account.name.clone(),
                format!(
                    "! {} {}: not in the file, kept (the API removes it only with its {})",
                    key.0.as_str(),
                    key.1,
                    if key.0 == Kind::SamlMetadata {
                        "saml protocol"
                    } else {
                        "identity provider"
                    }
                ),
            ));
        }
        deletes.sort_by_key(|c| (c.entry.kind().delete_rank(), c.entry.key()));
        self.changes.extend(writes);
        self.changes.extend(deletes);
    }

    /// The plan as a reader checks it before applying: per account, one line per change and,
    /// under an update, each changed field (`old -> new`, or a unified diff of the pretty JSON
    /// or text when longer), then a summary. `label` names the document in diffs.
    pub fn render(&self, label: &str) -> String {
        let mut out = String::new();
        let mut accounts: Vec<&str> = self.changes.iter().map(|c| c.account.name.as_str()).collect();
        accounts.extend(self.notes.iter().map(|(a, _)| a.as_str()));
        accounts.sort_unstable();
        accounts.dedup();
        for account in accounts {
            out.push_str(&format!("account {account}\n"));
            for c in self.changes.iter().filter(|c| c.account.name == account) {
                out.push_str(&c.headline());
                out.push('\n');
                if let Action::Update(fields) = &c.action {
                    for f in fields {
                        render_field(&mut out, f, label);
                    }
                }
            }
            for (_, note) in self.notes.iter().filter(|(a, _)| a == account) {
                out.push_str(note);
                out.push('\n');
            }
        }
        let count = |want: fn(&Action) -> bool| self.changes.iter().filter(|c| want(&c.action)).count();
        if self.changes.is_empty() {
            out.push_str("nothing to change\n");
        } else {
            out.push_str(&format!(
                "{} change(s): {} to create, {} to update, {} to delete\n",
                self.changes.len(),
                count(|a| *a == Action::Create),
                count(|a| matches!(a, Action::Update(_))),
                count(|a| *a == Action::Delete),
            ));
        }
        if self.unlisted > 0 {
            out.push_str(&format!(
                "{} stored object(s) not in the file are kept (--prune deletes them)\n",
                self.unlisted
            ));
        }
        out
    }
}

fn change(account: &NameRef, action: Action, entry: &Entry) -> Change {
    Change {
        account: account.clone(),
        action,
        entry: entry.clone(),
    }
}

/// Every object of an account by (kind, key); the map's order is the order writes run in.
fn entries(account: &Account) -> BTreeMap<(Kind, String), Entry> {
    let all = account
        .identity_providers
        .iter()
        .cloned()
        .map(Entry::Idp)
        .chain(account.mappings.iter().cloned().map(Entry::Mapping))
        .chain(account.protocols.iter().cloned().map(Entry::Protocol))
        .chain(account.oidc_configs.iter().cloned().map(Entry::Oidc))
        .chain(account.saml_metadata.iter().cloned().map(Entry::Saml));
    all.map(|e| ((e.kind(), e.key()), e)).collect()
}

fn field_changes(stored: &Entry, wanted: &Entry) -> Vec<FieldChange> {
    let (old, new) = (stored.fields(), wanted.fields());
    let names: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (a, b) = (
                old.get(name).unwrap_or(&Value::Null),
                new.get(name).unwrap_or(&Value::Null),
            );
            (a != b).then(|| FieldChange {
                field: name.clone(),
                stored: a.clone(),
                wanted: b.clone(),
            })
        })
        .collect()
}

/// Short values as `field: old -> new`; longer ones as a unified diff of their text.
fn render_field(out: &mut String, f: &FieldChange, label: &str) {
    let (old, new) = (compact(&f.stored), compact(&f.wanted));
    if old.len() + new.len() <= 80 {
        out.push_str(&format!("    {}: {old} -> {new}\n", f.field));
        return;
    }
    let (old, new) = (diff_text(&f.stored), diff_text(&f.wanted));
    let diff = similar::TextDiff::from_lines(&old, &new);
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(false)
        .header("stored", label)
        .to_string();
    out.push_str(&format!("    {}:\n", f.field));
    for line in unified.lines() {
        out.push_str("      ");
        out.push_str(line);
        out.push('\n');
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The text a long value is compared by: pretty JSON; a string as itself, or pretty when it
/// holds a JSON document (an OIDC `signing_key`); always ending in a newline.
fn diff_text(v: &Value) -> String {
    let mut text = match v {
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(inner @ (Value::Object(_) | Value::Array(_))) => {
                serde_json::to_string_pretty(&inner).unwrap_or_default()
            }
            _ => s.clone(),
        },
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn acme() -> NameRef {
        NameRef {
            id: "d1".into(),
            name: "acme".into(),
        }
    }

    fn idp(id: &str, enabled: bool) -> IdpEntry {
        IdpEntry {
            description: String::new(),
            enabled,
            id: id.into(),
            remote_ids: vec![],
            sso_type: "virtual_user_sso".into(),
        }
    }

    fn mapping(id: &str, group: &str) -> MappingEntry {
        MappingEntry {
            id: id.into(),
            rules: json!([{"local": [{"user": {"name": "{0}"}}, {"group": {"id": group}}], "remote": [{"type": "uid"}]}]),
            schema_version: None,
        }
    }

    fn protocol(idp: &str, protocol: &str, mapping: &str) -> ProtocolEntry {
        ProtocolEntry {
            idp: idp.into(),
            mapping_id: mapping.into(),
            protocol: protocol.into(),
        }
    }

    fn stored() -> Account {
        Account {
            identity_providers: vec![idp("corp", true), idp("old", true)],
            mappings: vec![mapping("corp-map", "g1"), mapping("old-map", "g1")],
            protocols: vec![protocol("corp", "saml", "corp-map"), protocol("old", "saml", "old-map")],
            ..Account::default()
        }
    }

    fn wanted() -> Account {
        Account {
            identity_providers: vec![idp("corp", false), idp("new", true)],
            mappings: vec![mapping("corp-map", "g2"), mapping("new-map", "g1")],
            protocols: vec![protocol("corp", "saml", "corp-map"), protocol("new", "oidc", "new-map")],
            ..Account::default()
        }
    }

    fn headlines(plan: &Plan) -> Vec<String> {
        plan.changes.iter().map(Change::headline).collect()
    }

    #[test]
    fn writes_run_by_kind_and_deletions_in_reverse_only_when_pruning() {
        let cases = [
            (
                Prune::Keep,
                vec![
                    "~ identity_provider corp: enabled changed",
                    "+ identity_provider new",
                    "~ mapping corp-map: rules changed",
                    "+ mapping new-map",
                    "+ protocol new/oidc",
                ],
                3,
            ),
            (
                Prune::Delete,
                vec![
                    "~ identity_provider corp: enabled changed",
                    "+ identity_provider new",
                    "~ mapping corp-map: rules changed",
                    "+ mapping new-map",
                    "+ protocol new/oidc",
                    "- protocol old/saml",
                    "- identity_provider old",
                    "- mapping old-map",
                ],
                0,
            ),
        ];
        for (prune, want, unlisted) in cases {
            let mut plan = Plan::default();
            plan.add_account(&acme(), &stored(), &wanted(), prune);
            assert_eq!(headlines(&plan), want, "{prune:?}");
            assert_eq!(plan.unlisted, unlisted, "{prune:?}");
        }
    }

    #[test]
    fn the_same_configuration_plans_nothing() {
        let mut plan = Plan::default();
        plan.add_account(&acme(), &stored(), &stored(), Prune::Delete);
        assert!(plan.is_empty());
        assert_eq!(plan.render("f.json"), "nothing to change\n");
    }

    #[test]
    fn changed_fields_show_as_old_and_new_or_as_a_unified_diff() {
        let mut plan = Plan::default();
        plan.add_account(&acme(), &stored(), &wanted(), Prune::Keep);
        let text = plan.render("acme.json");
        let want = "account acme
~ identity_provider corp: enabled changed
    enabled: true -> false
+ identity_provider new
~ mapping corp-map: rules changed
    rules:
      --- stored
      +++ acme.json
      @@ -8,7 +8,7 @@
             },
             {
               \"group\": {
      -          \"id\": \"g1\"
      +          \"id\": \"g2\"
               }
             }
           ],
+ mapping new-map
+ protocol new/oidc
5 change(s): 3 to create, 2 to update, 0 to delete
3 stored object(s) not in the file are kept (--prune deletes them)
";
        assert_eq!(text, want);
    }

    #[test]
    fn what_the_api_cannot_delete_is_kept_with_a_note_unless_its_owner_goes() {
        let oidc = |idp: &str| OidcEntry {
            access_mode: crate::oidc::AccessMode::Program,
            authorization_endpoint: None,
            client_id: "client".into(),
            fingerprints: vec![],
            idp: idp.into(),
            idp_url: "https://issuer.example".into(),
            max_token_age: None,
            max_token_lifetime: None,
            other_client_ids: vec![],
            replay_protection: None,
            response_mode: None,
            response_type: None,
            scope: None,
            signing_key: None,
        };
        let mut stored = stored();
        stored.protocols.push(protocol("corp", "oidc", "corp-map"));
        stored.oidc_configs = vec![oidc("corp"), oidc("old")];
        let mut wanted = stored.clone();
        wanted.identity_providers.retain(|i| i.id != "old");
        wanted.protocols.retain(|p| p.idp != "old");
        wanted.oidc_configs.clear();
        let mut plan = Plan::default();
        plan.add_account(&acme(), &stored, &wanted, Prune::Delete);
        assert_eq!(
            headlines(&plan),
            ["- protocol old/saml", "- identity_provider old"],
            "old's configuration goes with it"
        );
        assert_eq!(
            plan.notes,
            [(
                "acme".to_string(),
                "! oidc_config corp: not in the file, kept (the API removes it only with its identity provider)"
                    .to_string()
            )]
        );
    }
}
