//! fedgate's mapping engine against Keystone's, case by case. `tests/mapping_corpus/corpus.json`
//! holds the inputs and what the real Keystone RuleProcessor produced for them
//! (`tests/mapping_corpus/generate` regenerates it). Lists Keystone builds from Python sets
//! (group ids, whitelist/blacklist results) are compared without order.

use fedgate::mapping::{Mapping, MappingError, SchemaVersion, assertion_from_json};
use serde_json::{Value, json};

/// Cases where fedgate deliberately differs, with the reason. Each must still differ.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "slot_without_value_remote/eng",
        "a {N} with no value remote to fill it: Keystone fails at login (DirectMappingError, 500); \
         fedgate refuses the rules when they are written",
    ),
    (
        "slot_without_value_remote/other",
        "same rules: Keystone only fails once the rule matches; fedgate refused them at write time",
    ),
    (
        "slot_beyond_value_remotes/one",
        "{1} with one value remote: Keystone fails at login (DirectMappingError); fedgate at write time",
    ),
    (
        "group_names_containing_name/username_team",
        "Keystone decides whether `groups` holds JSON objects by looking for the substring 'name' \
         anywhere in it, so a plain group called 'username-team' fails; fedgate reads entries \
         prefixed JSON: as objects and maps plain names normally",
    ),
    (
        "non_string_list_items/text_one",
        "any_one_of [1, \"1\"]: Keystone accepts non-string items (which can never match, or crash \
         with regex); fedgate requires strings when the rules are written",
    ),
    (
        "array_valued_assertion/array",
        "OIDC claims arrive as JSON arrays; fedgate treats them as multi-valued attributes, Keystone \
         only reads strings and ignores the attribute",
    ),
    (
        "projects_json_3/bad_json",
        "projects_json that is not JSON: Keystone raises an uncaught JSONDecodeError (500); \
         fedgate rejects the login as an invalid mapping result",
    ),
];

fn outcome(case: &Value) -> Value {
    let doc = case
        .get("mapping")
        .cloned()
        .unwrap_or_else(|| json!({"rules": case["rules"]}));
    let version = SchemaVersion::parse(case["schema_version"].as_str().unwrap());
    let mapping = match Mapping::compile(&doc, version) {
        Ok(m) => m,
        Err(_) => return json!({"error": "invalid_rules"}),
    };
    let assertion = assertion_from_json(case["assertion"].as_object().unwrap());
    match mapping.evaluate(&assertion) {
        Ok(mapped) => json!({"result": mapped}),
        Err(MappingError::NoRuleMatched) => json!({"error": "no_match"}),
        Err(MappingError::InvalidResult(_)) => json!({"error": "invalid_result"}),
        Err(MappingError::InvalidRules { .. }) => json!({"error": "invalid_rules"}),
    }
}

/// Order-insensitive where Keystone's order is a Python set's.
fn canonical(mut v: Value) -> Value {
    if let Some(r) = v.get_mut("result") {
        for key in ["group_ids", "group_names"] {
            if let Some(Value::Array(items)) = r.get_mut(key) {
                items.sort_by_key(|i| i.to_string());
            }
        }
    }
    v
}

#[test]
fn mapping_engine_agrees_with_keystone() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mapping_corpus/corpus.json");
    let corpus: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(corpus.len() >= 100, "corpus has {} cases", corpus.len());
    let mut disagreements = Vec::new();
    let mut deliberate_seen = Vec::new();
    for case in &corpus {
        let name = case["name"].as_str().unwrap();
        let ours = canonical(outcome(case));
        let theirs = canonical(case["keystone"].clone());
        let deliberate = DELIBERATE.iter().any(|(n, _)| *n == name);
        if ours != theirs {
            if deliberate {
                deliberate_seen.push(name);
            } else {
                disagreements.push(format!("{name}:\n  keystone: {theirs}\n  fedgate:  {ours}"));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    for (name, reason) in DELIBERATE {
        assert!(
            deliberate_seen.contains(name),
            "{name} is listed as a deliberate difference ({reason}) but agrees"
        );
    }
}
