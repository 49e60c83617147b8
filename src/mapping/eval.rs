//! Evaluating compiled rules against an assertion, as Keystone's `RuleProcessor.process` and
//! `_transform` do, with an optional trace of each rule's outcome.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::MappingError;
use super::python::{Piece, literal_list, repr_list};
use super::rules::{GroupTemplate, LocalTemplate, Mapping, Matcher, RemoteKind, Rule, SchemaVersion, Template};

/// Attribute name -> values. Keystone receives multi-valued attributes joined by `;`.
pub type Assertion = BTreeMap<String, Vec<String>>;

/// Builds an assertion from JSON: a string is split on `;` (as Keystone does); an array of
/// strings gives its elements (a fedgate extension: Keystone ignores non-string values, as
/// fedgate does for everything else).
pub fn assertion_from_json(obj: &Map<String, Value>) -> Assertion {
    obj.iter()
        .filter_map(|(k, v)| {
            let values = match v {
                Value::String(s) => s.split(';').map(str::to_string).collect(),
                Value::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
                _ => return None,
            };
            Some((k.clone(), values))
        })
        .collect()
}

/// A group named in the mapping result: a name with its domain (shared, not copied, when the
/// rule wrote it literally), or a whole group object given as `JSON:{...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GroupName {
    Named { name: String, domain: Arc<Value> },
    Json(Value),
}

impl GroupName {
    pub fn name(&self) -> Option<&str> {
        match self {
            GroupName::Named { name, .. } => Some(name),
            GroupName::Json(v) => v.get("name").and_then(Value::as_str),
        }
    }

    pub fn domain(&self) -> Option<&Value> {
        match self {
            GroupName::Named { domain, .. } => Some(domain),
            GroupName::Json(v) => v.get("domain"),
        }
    }
}

/// Keystone's mapped properties.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mapped {
    pub user: Map<String, Value>,
    pub group_ids: Vec<String>,
    pub group_names: Vec<GroupName>,
    pub projects: Vec<Value>,
}

/// The condition that stopped a rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedCondition {
    pub remote: usize,
    pub attribute: String,
    /// `missing attribute`, `any_one_of`, or `not_any_of`.
    pub check: &'static str,
    /// The assertion's values for the attribute.
    pub seen: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleTrace {
    pub rule: usize,
    pub matched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedCondition>,
    /// Values substituted for {0}, {1}, ... when the rule matched.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<Vec<String>>,
}

impl Matcher {
    fn matches_any(&self, values: &[String]) -> bool {
        match self {
            Matcher::Exact(list) => values.iter().any(|v| list.contains(v)),
            Matcher::Regex(res) => values.iter().any(|v| res.iter().any(|r| r.is_match(v))),
        }
    }

    /// The assertion values this matcher selects: Keystone's `_evaluate_requirement` without
    /// the final step. Regex matching is unanchored (`re.search`).
    fn matches<'a>(&self, values: &'a [String]) -> Vec<&'a String> {
        match self {
            Matcher::Exact(list) => values.iter().filter(|v| list.contains(v)).collect(),
            Matcher::Regex(res) => values.iter().filter(|v| res.iter().any(|r| r.is_match(v))).collect(),
        }
    }
}

/// Keeps the first occurrence of each value. Keystone builds these lists from Python sets, so
/// their order there is arbitrary; fedgate keeps the assertion's order.
fn dedup(values: Vec<&String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

/// Why a rule did not apply: the remote's index and the check. Cheap, so evaluations without
/// a trace allocate nothing for rules that do not match.
#[derive(Clone, Copy)]
struct Stop {
    remote: usize,
    check: &'static str,
}

/// The values for the rule's `{N}` slots, or where it stopped.
fn verify_requirements<'a>(rule: &Rule, assertion: &'a Assertion) -> Result<Vec<Cow<'a, [String]>>, Stop> {
    let mut direct = Vec::new();
    for (i, remote) in rule.remote.iter().enumerate() {
        let values = match assertion.get(&remote.attribute) {
            Some(v) if !v.is_empty() => v,
            _ => {
                return Err(Stop {
                    remote: i,
                    check: "missing attribute",
                });
            }
        };
        match &remote.kind {
            RemoteKind::AnyOneOf(m) => {
                if !m.matches_any(values) {
                    return Err(Stop {
                        remote: i,
                        check: "any_one_of",
                    });
                }
            }
            RemoteKind::NotAnyOf(m) => {
                if m.matches_any(values) {
                    return Err(Stop {
                        remote: i,
                        check: "not_any_of",
                    });
                }
            }
            RemoteKind::Value => direct.push(Cow::Borrowed(values.as_slice())),
            RemoteKind::Whitelist(m) => direct.push(Cow::Owned(match m {
                // Keystone: a list comprehension, so order and duplicates are kept.
                Matcher::Regex(_) => m.matches(values).into_iter().cloned().collect(),
                Matcher::Exact(_) => dedup(m.matches(values)),
            })),
            RemoteKind::Blacklist(m) => {
                let hits = m.matches(values);
                direct.push(Cow::Owned(dedup(values.iter().filter(|v| !hits.contains(v)).collect())));
            }
        }
    }
    Ok(direct)
}

fn describe(rule: &Rule, stop: Stop, assertion: &Assertion) -> FailedCondition {
    let attribute = rule.remote[stop.remote].attribute.clone();
    let seen = assertion.get(&attribute).cloned().unwrap_or_default();
    FailedCondition {
        remote: stop.remote,
        attribute,
        check: stop.check,
        seen,
    }
}

type Slots<'a> = [Cow<'a, [String]>];

fn render_text(pieces: &[Piece], slots: &Slots) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Literal(s) => out.push_str(s),
            // Compilation checked every slot index against the rule's remotes.
            Piece::Slot(n) => match slots.get(*n).map(|v| v.as_ref()) {
                Some([one]) => out.push_str(one),
                Some(many) => out.push_str(&repr_list(many)),
                None => {}
            },
        }
    }
    out
}

fn render(t: &Template, slots: &Slots) -> Value {
    match t {
        Template::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), render(v, slots))).collect()),
        Template::Array(items) => Value::Array(items.iter().map(|i| render(i, slots)).collect()),
        Template::Text(pieces) => Value::String(render_text(pieces, slots)),
        Template::Verbatim(v) => v.clone(),
        Template::Constant(v) => (**v).clone(),
    }
}

fn render_shared(t: &Template, slots: &Slots) -> Arc<Value> {
    match t {
        Template::Constant(v) => v.clone(),
        other => Arc::new(render(other, slots)),
    }
}

fn render_string(t: &Template, slots: &Slots) -> String {
    match t {
        Template::Text(pieces) => render_text(pieces, slots),
        other => value_text(&render(other, slots)),
    }
}

/// A list-valued local (`groups`, `group_ids`). Exactly one slot with several values gives
/// them as they are, which is what Keystone gets back after formatting them as Python list
/// text and parsing it again; anything else is text read as Keystone reads it.
fn render_list(t: &Template, slots: &Slots) -> Vec<String> {
    if let Template::Text(pieces) = t
        && let [Piece::Slot(n)] = pieces.as_slice()
        && let Some(values) = slots.get(*n)
        && values.len() != 1
    {
        return values.to_vec();
    }
    literal_list(&render_string(t, slots))
}

/// Group names of one domain in first-seen order, with their latest domain object.
type NamedGroups = Vec<(String, Arc<Value>)>;

enum RenderedGroup {
    Id(String),
    Name { name: String, domain: Arc<Value> },
}

/// One local element after substitution: Keystone's `identity_value`.
#[derive(Default)]
struct IdentityValue {
    user: Option<Map<String, Value>>,
    group: Option<RenderedGroup>,
    groups: Option<Vec<String>>,
    group_ids: Option<Vec<String>>,
    domain: Option<Arc<Value>>,
    projects: Option<Value>,
    projects_json: Option<Value>,
}

fn render_local(l: &LocalTemplate, slots: &Slots) -> IdentityValue {
    IdentityValue {
        user: l.user.as_ref().map(|t| match render(t, slots) {
            Value::Object(m) => m,
            _ => Map::new(),
        }),
        group: l.group.as_ref().map(|g| match g {
            GroupTemplate::ById(id) => RenderedGroup::Id(render_string(id, slots)),
            GroupTemplate::ByName { name, domain } => RenderedGroup::Name {
                name: render_string(name, slots),
                domain: render_shared(domain, slots),
            },
        }),
        groups: l.groups.as_ref().map(|t| render_list(t, slots)),
        group_ids: l.group_ids.as_ref().map(|t| render_list(t, slots)),
        domain: l.domain.as_ref().map(|t| render_shared(t, slots)),
        projects: l.projects.as_ref().map(|t| render(t, slots)),
        projects_json: l.projects_json.as_ref().map(|t| render(t, slots)),
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Number(_)) => true,
    }
}

impl Mapping {
    pub fn evaluate(&self, assertion: &Assertion) -> Result<Mapped, MappingError> {
        self.run(assertion, None)
    }

    /// Evaluates and records, for every rule, whether it matched and what stopped it.
    pub fn evaluate_traced(&self, assertion: &Assertion) -> (Result<Mapped, MappingError>, Vec<RuleTrace>) {
        let mut trace = Vec::with_capacity(self.rules.len());
        let result = self.run(assertion, Some(&mut trace));
        (result, trace)
    }

    fn run(&self, assertion: &Assertion, mut trace: Option<&mut Vec<RuleTrace>>) -> Result<Mapped, MappingError> {
        let mut identity_values: Vec<IdentityValue> = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            match verify_requirements(rule, assertion) {
                Err(stop) => {
                    if let Some(t) = trace.as_deref_mut() {
                        t.push(RuleTrace {
                            rule: i,
                            matched: false,
                            failed: Some(describe(rule, stop, assertion)),
                            values: Vec::new(),
                        });
                    }
                }
                Ok(slots) => {
                    identity_values.extend(rule.local.iter().map(|l| render_local(l, &slots)));
                    if let Some(t) = trace.as_deref_mut() {
                        t.push(RuleTrace {
                            rule: i,
                            matched: true,
                            failed: None,
                            values: slots.into_iter().map(Cow::into_owned).collect(),
                        });
                    }
                }
            }
        }
        self.transform(identity_values)
    }

    fn transform(&self, identity_values: Vec<IdentityValue>) -> Result<Mapped, MappingError> {
        if identity_values.is_empty() {
            return Err(MappingError::NoRuleMatched);
        }
        let mut user: Map<String, Value> = Map::new();
        let mut group_ids: Vec<String> = Vec::new();
        let mut group_names: Vec<GroupName> = Vec::new();
        // Keystone re-emits every group-by-name seen so far each time one is added, grouped
        // by domain; reproduced for compatibility (see the corpus notes).
        let mut by_domain: Vec<(Value, NamedGroups)> = Vec::new();
        let mut projects: Vec<Value> = Vec::new();
        let last_domain = identity_values
            .last()
            .and_then(|iv| iv.domain.as_deref())
            .cloned()
            .unwrap_or(Value::Null);
        for iv in identity_values {
            if iv.projects.is_some() || iv.projects_json.is_some() {
                projects = self.extract_projects(&iv)?;
            }
            if let Some(u) = iv.user
                && user.is_empty()
            {
                user = u;
            }
            match iv.group {
                Some(RenderedGroup::Id(id)) => push_unique(&mut group_ids, id),
                Some(RenderedGroup::Name { name, domain }) => {
                    let key = match domain.get("name").filter(|n| truthy(Some(n))) {
                        Some(n) => n.clone(),
                        None => domain.get("id").cloned().unwrap_or(Value::Null),
                    };
                    let slot = match by_domain.iter().position(|(k, _)| *k == key) {
                        Some(i) => i,
                        None => {
                            by_domain.push((key, Vec::new()));
                            by_domain.len() - 1
                        }
                    };
                    let groups = &mut by_domain[slot].1;
                    match groups.iter_mut().find(|(n, _)| *n == name) {
                        Some(existing) => existing.1 = domain,
                        None => groups.push((name, domain)),
                    }
                    group_names.extend(by_domain.iter().flat_map(|(_, gs)| {
                        gs.iter().map(|(n, d)| GroupName::Named {
                            name: n.clone(),
                            domain: d.clone(),
                        })
                    }));
                }
                None => {}
            }
            if let Some(names) = iv.groups {
                group_names.extend(normalize_groups(names, iv.domain.as_ref())?);
            }
            if let Some(ids) = iv.group_ids {
                for id in ids {
                    push_unique(&mut group_ids, id);
                }
            }
        }
        match user.get("type") {
            None | Some(Value::Null) => {
                user.insert("type".into(), json!("ephemeral"));
            }
            Some(Value::String(t)) if t == "ephemeral" || t == "local" => {}
            Some(other) => {
                return Err(MappingError::InvalidResult(format!(
                    "user type {} not supported",
                    value_text(other)
                )));
            }
        }
        if self.version != SchemaVersion::V1 && !truthy(user.get("domain")) {
            user.insert("domain".into(), last_domain);
        }
        Ok(Mapped {
            user,
            group_ids,
            group_names,
            projects,
        })
    }

    fn extract_projects(&self, iv: &IdentityValue) -> Result<Vec<Value>, MappingError> {
        let mut projects = match &iv.projects {
            Some(Value::Array(p)) => p.clone(),
            // Schema 3.0 treats a string `projects` like `projects_json`.
            Some(Value::String(s)) if self.version == SchemaVersion::V3 => parse_projects_json(s)?,
            _ => Vec::new(),
        };
        if self.version == SchemaVersion::V3
            && let Some(Value::String(text)) = &iv.projects_json
        {
            projects.extend(parse_projects_json(text)?);
        }
        if self.version != SchemaVersion::V1 {
            let default_domain = iv.domain.as_deref().cloned().unwrap_or(Value::Null);
            for p in projects.iter_mut() {
                if let Some(obj) = p.as_object_mut()
                    && !truthy(obj.get("domain"))
                {
                    obj.insert("domain".into(), default_domain.clone());
                }
            }
        }
        Ok(projects)
    }
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `groups` holds one name or the text of a list of names; each joins the rule's `domain`.
/// Entries prefixed `JSON:` are whole group objects carrying their own domain.
fn normalize_groups(names: Vec<String>, domain: Option<&Arc<Value>>) -> Result<Vec<GroupName>, MappingError> {
    if names.iter().any(|n| n.starts_with("JSON:")) {
        return names
            .iter()
            .map(|n| {
                let body = n.trim_start_matches(['J', 'S', 'O', 'N', ':']);
                let group: Value = serde_json::from_str(body)
                    .map_err(|e| MappingError::InvalidResult(format!("groups entry is not JSON: {e}")))?;
                if group.get("domain").is_none() {
                    return Err(MappingError::InvalidResult(
                        "both 'groups' and 'domain' must be specified".into(),
                    ));
                }
                Ok(GroupName::Json(group))
            })
            .collect();
    }
    let domain =
        domain.ok_or_else(|| MappingError::InvalidResult("both 'groups' and 'domain' must be specified".into()))?;
    Ok(names
        .into_iter()
        .map(|name| GroupName::Named {
            name,
            domain: domain.clone(),
        })
        .collect())
}

/// Schema 3.0 `projects_json`: a JSON array of `{name, roles: [{name}], domain?}`.
fn parse_projects_json(text: &str) -> Result<Vec<Value>, MappingError> {
    let bad = |why: &str| MappingError::InvalidResult(format!("projects_json {why}"));
    let value: Value = serde_json::from_str(text).map_err(|_| bad("is not JSON"))?;
    let projects = value.as_array().ok_or_else(|| bad("is not an array"))?;
    for p in projects {
        let obj = p.as_object().ok_or_else(|| bad("holds a non-object"))?;
        if obj.keys().any(|k| !matches!(k.as_str(), "name" | "roles" | "domain"))
            || !obj.get("name").is_some_and(Value::is_string)
        {
            return Err(bad("holds an invalid project"));
        }
        let roles = obj
            .get("roles")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("project without roles"))?;
        if roles.iter().any(|r| {
            r.as_object()
                .is_none_or(|o| o.len() != 1 || !o.get("name").is_some_and(Value::is_string))
        }) {
            return Err(bad("holds an invalid role"));
        }
        if let Some(d) = obj.get("domain")
            && d.as_object().is_none_or(|o| {
                o.iter()
                    .any(|(k, v)| !matches!(k.as_str(), "id" | "name") || !v.is_string())
            })
        {
            return Err(bad("holds an invalid domain"));
        }
    }
    Ok(projects.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z{}0-9 ;'\"\\\\]{0,12}".prop_map(Value::String),
            prop::sample::select(vec![
                "type",
                "user",
                "name",
                "{0}",
                "{1}",
                "regex",
                "any_one_of",
                "whitelist"
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let keys = prop::sample::select(vec![
                "rules",
                "local",
                "remote",
                "type",
                "any_one_of",
                "not_any_of",
                "whitelist",
                "blacklist",
                "regex",
                "user",
                "name",
                "id",
                "group",
                "groups",
                "group_ids",
                "domain",
                "projects",
                "roles",
                "projects_json",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(keys, inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
            ]
        })
    }

    fn arb_assertion() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map(
            prop::sample::select(vec!["a", "b", "UserName", "Groups", "type"]),
            prop_oneof![
                "[a-z;'\\[\\]{}]{0,10}".prop_map(Value::String),
                prop::collection::vec("[a-z]{0,4}", 0..3).prop_map(|v| json!(v)),
            ],
            0..4,
        )
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary documents never panic the compiler; whatever compiles evaluates without
        /// panicking on arbitrary assertions.
        #[test]
        fn arbitrary_rules_and_assertions_never_panic(doc in arb_json(), assertion in arb_assertion()) {
            let doc = json!({"rules": [doc]});
            if let Ok(mapping) = Mapping::compile(&doc, None) {
                let _ = mapping.evaluate_traced(&assertion_from_json(&assertion));
            }
        }

        /// Well-formed rules built from parts: compilation accepts them, and evaluation only
        /// ever ends in a result, no match, or a mapped-result error.
        #[test]
        fn accepted_rules_always_evaluate(
            attr in prop::sample::select(vec!["a", "b", "UserName"]),
            cond in prop::sample::select(vec!["any_one_of", "not_any_of", "whitelist", "blacklist"]),
            values in prop::collection::vec("[a-z.*^$]{0,4}", 0..3),
            regex in any::<bool>(),
            assertion in arb_assertion(),
        ) {
            let values: Vec<String> = values.into_iter().filter(|v| regex::Regex::new(v).is_ok()).collect();
            let doc = json!({"rules": [{
                "remote": [{"type": "UserName"}, {"type": attr, cond: values, "regex": regex}],
                "local": [{"user": {"name": "{0}"}}, {"groups": "{0}", "domain": {"name": "d"}}],
            }]});
            let mapping = Mapping::compile(&doc, None).expect("well-formed rules compile");
            match mapping.evaluate(&assertion_from_json(&assertion)) {
                Ok(_) | Err(MappingError::NoRuleMatched) | Err(MappingError::InvalidResult(_)) => {}
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }

    #[test]
    fn trace_names_the_first_failed_condition_and_what_it_saw() {
        let doc = json!({"rules": [
            {"remote": [{"type": "UserName"}, {"type": "Dept", "any_one_of": ["eng"]}], "local": [{"user": {"name": "{0}"}}]},
            {"remote": [{"type": "Mail"}], "local": [{"user": {"name": "{0}"}}]},
        ]});
        let mapping = Mapping::compile(&doc, None).unwrap();
        let assertion = assertion_from_json(json!({"UserName": "u", "Dept": "ops;sales"}).as_object().unwrap());
        let (result, trace) = mapping.evaluate_traced(&assertion);
        assert_eq!(result, Err(MappingError::NoRuleMatched));
        assert_eq!(trace[0].failed.as_ref().unwrap().check, "any_one_of");
        assert_eq!(trace[0].failed.as_ref().unwrap().seen, vec!["ops", "sales"]);
        assert_eq!(trace[1].failed.as_ref().unwrap().check, "missing attribute");
        assert_eq!(trace[1].failed.as_ref().unwrap().attribute, "Mail");
    }
}
