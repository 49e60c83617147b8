//! Session policies: the optional `policy` of a temporary credential (reference §5.2, L3256;
//! grammar and error codes from the policy reference, IAM.1024-IAM.1059). A credential's
//! effective permissions are the intersection of its principal's and every policy it carries,
//! so a policy can only narrow; fedgate validates it when the credential is issued, carries it
//! sealed in the security token, and hands it to the services that enforce it.

use serde_json::{Map, Value};

/// The reference's limit for a temporary credential's policy (L3256).
pub const MAX_POLICY_CHARS: usize = 2048;
const MAX_STATEMENTS: usize = 8;
const MAX_ACTIONS: usize = 100;
const MAX_ACTION_CHARS: usize = 128;
const MAX_RESOURCES: usize = 10;
const MAX_RESOURCE_CHARS: usize = 1500;
const MAX_CONDITIONS: usize = 10;
const MAX_CONDITION_VALUES: usize = 10;
const MAX_CONDITION_VALUE_CHARS: usize = 1024;

/// Condition operators of the policy grammar; `ForAnyValue:`/`ForAllValues:` may lead and
/// `IfExists` may follow.
const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "StringMatch",
    "StringNotMatch",
    "StringStartWith",
    "StringEndWith",
    "StringNotStartWith",
    "StringNotEndWith",
    "NumberEquals",
    "NumberNotEquals",
    "NumberLessThan",
    "NumberLessThanEquals",
    "NumberGreaterThan",
    "NumberGreaterThanEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "Null",
];

/// Why a policy is refused: the reference's IAM code and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PolicyError {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> PolicyError {
    PolicyError {
        code,
        message: message.into(),
    }
}

/// A validated session policy, kept as the compact JSON text it was given as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicy(String);

impl SessionPolicy {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads a policy carried in a security token (validated when it was issued).
    pub fn from_sealed(text: String) -> SessionPolicy {
        SessionPolicy(text)
    }

    /// Validates `value` (the request's `policy` object).
    pub fn parse(value: &Value) -> Result<SessionPolicy, PolicyError> {
        let text = value.to_string();
        if text.chars().count() > MAX_POLICY_CHARS {
            return Err(refuse(
                "IAM.1021",
                format!(
                    "The size {} of the policy exceeds {MAX_POLICY_CHARS} characters.",
                    text.chars().count()
                ),
            ));
        }
        let policy = value
            .as_object()
            .ok_or_else(|| refuse("IAM.1020", "The policy must be a JSONObject."))?;
        only_keys(policy, &["Version", "Statement"])?;
        if policy.get("Version").and_then(Value::as_str) != Some("1.1") {
            return Err(refuse(
                "IAM.1024",
                "The version of a fine-grained policy must be '1.1'.",
            ));
        }
        let statements = policy
            .get("Statement")
            .and_then(Value::as_array)
            .ok_or_else(|| refuse("IAM.1027", "The Statement must be a JSONArray."))?;
        if statements.is_empty() || statements.len() > MAX_STATEMENTS {
            return Err(refuse(
                "IAM.1028",
                format!(
                    "The number of statements {} must be greater than 0 and less than or equal to {MAX_STATEMENTS}.",
                    statements.len()
                ),
            ));
        }
        for statement in statements {
            check_statement(statement)?;
        }
        Ok(SessionPolicy(text))
    }
}

impl SessionPolicy {
    fn statements(&self) -> Vec<Statement> {
        // Validated when issued; a policy that no longer parses allows nothing.
        let Ok(value) = serde_json::from_str::<Value>(&self.0) else {
            return Vec::new();
        };
        let Some(list) = value.get("Statement").and_then(Value::as_array) else {
            return Vec::new();
        };
        list.iter().filter_map(Statement::read).collect()
    }

    /// Whether the policy lets `action` (`service:type:verb`) through on fedgate itself: any
    /// matching Deny refuses, whatever its condition or resources (erring towards refusal);
    /// otherwise an Allow must match without a Condition, for `iam` resources or all.
    pub fn allows(&self, action: &str) -> bool {
        let statements = self.statements();
        if statements.iter().any(|s| !s.allow && s.matches(action)) {
            return false;
        }
        statements
            .iter()
            .any(|s| s.allow && !s.conditional && s.for_iam && s.matches(action))
    }

    /// The first action this policy allows that `parent` does not: a policy derived from a
    /// credential that already carries `parent` may only narrow it.
    pub fn widening_of(&self, parent: &SessionPolicy) -> Option<String> {
        let granted: Vec<Statement> = parent
            .statements()
            .into_iter()
            .filter(|s| s.allow && !s.conditional && !s.negated)
            .collect();
        for statement in self.statements().iter().filter(|s| s.allow) {
            if statement.negated {
                // "everything but" cannot be shown to be inside the parent's list.
                return Some(format!("NotAction {:?}", statement.actions));
            }
            for action in &statement.actions {
                // The parent's pattern must match this one's text, wildcards included.
                if !granted
                    .iter()
                    .any(|g| g.actions.iter().any(|p| wildcard_match(p, action)))
                {
                    return Some(action.clone());
                }
            }
        }
        None
    }
}

/// One statement as evaluation needs it.
struct Statement {
    allow: bool,
    /// NotAction: matches every action not listed.
    negated: bool,
    actions: Vec<String>,
    conditional: bool,
    /// No Resource, or one that names `iam` or any service.
    for_iam: bool,
}

impl Statement {
    fn read(value: &Value) -> Option<Statement> {
        let allow = value.get("Effect")?.as_str()?.eq_ignore_ascii_case("allow");
        let (list, negated) = match (value.get("Action"), value.get("NotAction")) {
            (Some(a), None) => (a, false),
            (None, Some(a)) => (a, true),
            _ => return None,
        };
        let actions = strings(list)?.into_iter().map(str::to_string).collect();
        // A Resource list narrows to named objects fedgate does not match requests against,
        // so only "everything" (`*`, or `*`/`iam` followed by wildcards) grants here.
        let for_iam = match value.get("Resource").and_then(strings) {
            None => true,
            Some(resources) => resources.iter().any(|r| {
                let mut segments = r.split(':');
                let service = segments.next().unwrap_or("");
                (service == "*" || service.eq_ignore_ascii_case("iam")) && segments.all(|s| s == "*")
            }),
        };
        Some(Statement {
            allow,
            negated,
            actions,
            conditional: value.get("Condition").is_some(),
            for_iam,
        })
    }

    fn matches(&self, action: &str) -> bool {
        self.actions.iter().any(|p| wildcard_match(p, action)) != self.negated
    }
}

/// `*` matches any run of characters and `?` one, ASCII case-insensitively (IAM action names
/// are case-insensitive).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

fn only_keys(obj: &Map<String, Value>, allowed: &[&str]) -> Result<(), PolicyError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(refuse("IAM.1059", format!("Invalid key '{key}'."))),
        None => Ok(()),
    }
}

fn check_statement(statement: &Value) -> Result<(), PolicyError> {
    let statement = statement
        .as_object()
        .ok_or_else(|| refuse("IAM.1027", "Each statement must be a JSONObject."))?;
    only_keys(statement, &["Effect", "Action", "NotAction", "Resource", "Condition"])?;
    match statement.get("Effect").and_then(Value::as_str) {
        Some(effect) if effect.eq_ignore_ascii_case("allow") || effect.eq_ignore_ascii_case("deny") => {}
        _ => return Err(refuse("IAM.1029", "The value of Effect must be 'allow' or 'deny'.")),
    }
    let actions = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(_), Some(_)) => {
            return Err(refuse(
                "IAM.1031",
                "The Action and NotAction cannot be set at the same time in a statement.",
            ));
        }
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => return Err(refuse("IAM.1030", "The Action or NotAction must be a JSONArray.")),
    };
    let actions = strings(actions).ok_or_else(|| refuse("IAM.1030", "The Action or NotAction must be a JSONArray."))?;
    if actions.is_empty() || actions.len() > MAX_ACTIONS {
        return Err(refuse(
            "IAM.1033",
            format!("The number of actions {} exceeds {MAX_ACTIONS}.", actions.len()),
        ));
    }
    for action in actions {
        check_action(action)?;
    }
    if let Some(resources) = statement.get("Resource") {
        let resources = strings(resources).ok_or_else(|| refuse("IAM.1049", "The Resource must be a JSONArray."))?;
        if resources.is_empty() || resources.len() > MAX_RESOURCES {
            return Err(refuse(
                "IAM.1040",
                format!(
                    "The number of resources {} must be greater than 0 and less than or equal to {MAX_RESOURCES}.",
                    resources.len()
                ),
            ));
        }
        for resource in resources {
            check_resource(resource)?;
        }
    }
    if let Some(condition) = statement.get("Condition") {
        check_condition(condition)?;
    }
    Ok(())
}

/// An array of strings, or None.
fn strings(value: &Value) -> Option<Vec<&str>> {
    value.as_array()?.iter().map(Value::as_str).collect()
}

/// `service:resource-type:action`: lower-case service, wildcards allowed.
fn check_action(action: &str) -> Result<(), PolicyError> {
    if action.chars().count() > MAX_ACTION_CHARS {
        return Err(refuse(
            "IAM.1034",
            format!(
                "The length {} of an action URN exceeds {MAX_ACTION_CHARS} characters.",
                action.len()
            ),
        ));
    }
    let parts: Vec<&str> = action.split(':').collect();
    let name_ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'_' | b'?'))
    };
    let service_ok = parts.first().is_some_and(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'*')
    });
    if parts.len() != 3 || !service_ok || !parts.iter().all(|p| name_ok(p)) {
        return Err(refuse(
            "IAM.1035",
            format!("Action URN '{action}' contains invalid characters."),
        ));
    }
    Ok(())
}

/// `service:region:domain-id:type:path`.
fn check_resource(resource: &str) -> Result<(), PolicyError> {
    if resource.is_empty() || resource.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse(
            "IAM.1041",
            "The resource URI cannot be left blank or contain spaces.",
        ));
    }
    if resource.chars().count() > MAX_RESOURCE_CHARS {
        return Err(refuse(
            "IAM.1042",
            format!(
                "The length {} of a resource URI exceeds {MAX_RESOURCE_CHARS} characters.",
                resource.len()
            ),
        ));
    }
    let parts: Vec<&str> = resource.splitn(5, ':').collect();
    let [service, region, domain, kind, path] = parts.as_slice() else {
        return Err(refuse(
            "IAM.1045",
            format!("Resource URI '{resource}' or service is invalid."),
        ));
    };
    if region.is_empty() {
        return Err(refuse("IAM.1043", "A region must be specified."));
    }
    let segment_ok = |s: &str| !s.is_empty() && s.chars().count() <= 50;
    if !segment_ok(service) || !segment_ok(region) || !segment_ok(domain) || !segment_ok(kind) {
        return Err(refuse(
            "IAM.1046",
            format!("Resource URI '{resource}' or resource type is invalid."),
        ));
    }
    if path.is_empty() || path.chars().count() > 1200 {
        return Err(refuse(
            "IAM.1048",
            format!("Resource URI '{resource}' is too long or contains invalid characters."),
        ));
    }
    Ok(())
}

/// `{operator: {attribute: [values]}}`.
fn check_condition(condition: &Value) -> Result<(), PolicyError> {
    let operators = condition
        .as_object()
        .ok_or_else(|| refuse("IAM.1050", "The Condition must be a JSONObject."))?;
    let count: usize = operators.values().map(|v| v.as_object().map_or(1, Map::len)).sum();
    if operators.is_empty() || count > MAX_CONDITIONS {
        return Err(refuse(
            "IAM.1050",
            format!(
                "The number of conditions {count} must be greater than 0 and less than or equal to {MAX_CONDITIONS}."
            ),
        ));
    }
    for (operator, attributes) in operators {
        let bare = operator
            .strip_prefix("ForAnyValue:")
            .or_else(|| operator.strip_prefix("ForAllValues:"))
            .unwrap_or(operator);
        let bare = bare.strip_suffix("IfExists").unwrap_or(bare);
        if !OPERATORS.contains(&bare) {
            return Err(refuse(
                "IAM.1051",
                format!("The operator '{operator}' is not one of the policy grammar's."),
            ));
        }
        let attributes = attributes.as_object().filter(|a| !a.is_empty()).ok_or_else(|| {
            refuse(
                "IAM.1051",
                format!("The values of Operator '{operator}' cannot be null."),
            )
        })?;
        for (attribute, values) in attributes {
            let key_ok = !attribute.is_empty()
                && attribute.len() <= 128
                && attribute
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.' | b'/'));
            if !key_ok {
                return Err(refuse("IAM.1052", format!("Invalid attribute '{attribute}'.")));
            }
            let values = strings(values)
                .ok_or_else(|| refuse("IAM.1053", format!("Attribute '{attribute}' must be a JSONArray.")))?;
            if values.is_empty() || values.len() > MAX_CONDITION_VALUES {
                return Err(refuse(
                    "IAM.1054",
                    format!(
                        "The number {} of attributes '{attribute}' for operator '{operator}' must be greater than 0 and less than or equal to {MAX_CONDITION_VALUES}.",
                        values.len()
                    ),
                ));
            }
            for value in values {
                if value.is_empty() || value.chars().count() > MAX_CONDITION_VALUE_CHARS {
                    return Err(refuse(
                        "IAM.1056",
                        format!(
                            "The length of attribute '{attribute}' for operator '{operator}' must be 1 to {MAX_CONDITION_VALUE_CHARS} characters."
                        ),
                    ));
                }
                if value.chars().any(char::is_control) {
                    return Err(refuse(
                        "IAM.1057",
                        format!("Value of attribute {attribute} for operator {operator} contains invalid characters."),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obs_policy() -> Value {
        json!({"Version": "1.1", "Statement": [{
            "Effect": "Allow",
            "Action": ["obs:object:GetObject", "obs:bucket:ListBucket"],
            "Resource": ["obs:*:*:object:my-bucket/public/*"],
            "Condition": {"StringEquals": {"obs:prefix": ["public"]}}
        }]})
    }

    #[test]
    fn the_reference_example_and_its_variations_are_accepted() {
        let ok = |v: Value| SessionPolicy::parse(&v).map(|p| p.as_str().to_string());
        assert_eq!(ok(obs_policy()), Ok(obs_policy().to_string()));
        let mut deny = obs_policy();
        deny["Statement"][0]["Effect"] = json!("deny");
        deny["Statement"][0]["Condition"] = json!({"ForAnyValue:StringLikeIfExists": {"g:UserName": ["ops-*"]}});
        assert!(ok(deny).is_ok());
        let mut not_action = obs_policy();
        let actions = not_action["Statement"][0]
            .as_object_mut()
            .unwrap()
            .remove("Action")
            .unwrap();
        not_action["Statement"][0]["NotAction"] = actions;
        assert!(ok(not_action).is_ok());
        let wildcard = json!({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["*:*:*"]}]});
        assert!(ok(wildcard).is_ok());
    }

    #[test]
    fn each_rule_of_the_grammar_refuses_with_its_code() {
        type Change = Box<dyn Fn(&mut Value)>;
        let statement = |f: fn(&mut Value)| -> Change { Box::new(move |p: &mut Value| f(&mut p["Statement"][0])) };
        let cases: Vec<(&str, Change, &str)> = vec![
            ("not an object", Box::new(|p| *p = json!([])), "IAM.1020"),
            ("version 1.0", Box::new(|p| p["Version"] = json!("1.0")), "IAM.1024"),
            (
                "no version",
                Box::new(|p| {
                    p.as_object_mut().unwrap().remove("Version");
                }),
                "IAM.1024",
            ),
            ("unknown key", Box::new(|p| p["Depends"] = json!([])), "IAM.1059"),
            (
                "statement not a list",
                Box::new(|p| p["Statement"] = json!({})),
                "IAM.1027",
            ),
            ("no statement", Box::new(|p| p["Statement"] = json!([])), "IAM.1028"),
            (
                "nine statements",
                Box::new(|p| {
                    let s = p["Statement"][0].clone();
                    p["Statement"] = json!(vec![s; 9]);
                }),
                "IAM.1028",
            ),
            ("effect maybe", statement(|s| s["Effect"] = json!("Maybe")), "IAM.1029"),
            (
                "no effect",
                statement(|s| {
                    s.as_object_mut().unwrap().remove("Effect");
                }),
                "IAM.1029",
            ),
            (
                "action and not-action",
                statement(|s| s["NotAction"] = json!(["obs:*:*"])),
                "IAM.1031",
            ),
            (
                "no action",
                statement(|s| {
                    s.as_object_mut().unwrap().remove("Action");
                }),
                "IAM.1030",
            ),
            (
                "action a string",
                statement(|s| s["Action"] = json!("obs:*:*")),
                "IAM.1030",
            ),
            ("no actions", statement(|s| s["Action"] = json!([])), "IAM.1033"),
            (
                "101 actions",
                statement(|s| s["Action"] = json!(vec!["obs:*:*"; 101])),
                "IAM.1033",
            ),
            (
                "action too long",
                statement(|s| s["Action"] = json!([format!("obs:object:{}", "a".repeat(130))])),
                "IAM.1034",
            ),
            (
                "action of two parts",
                statement(|s| s["Action"] = json!(["obs:GetObject"])),
                "IAM.1035",
            ),
            (
                "upper-case service",
                statement(|s| s["Action"] = json!(["OBS:object:GetObject"])),
                "IAM.1035",
            ),
            (
                "action with a space",
                statement(|s| s["Action"] = json!(["obs:object:Get Object"])),
                "IAM.1035",
            ),
            (
                "resource an object",
                statement(|s| s["Resource"] = json!({"uri": []})),
                "IAM.1049",
            ),
            ("no resources", statement(|s| s["Resource"] = json!([])), "IAM.1040"),
            (
                "resource with a space",
                statement(|s| s["Resource"] = json!(["obs:*:*:object:a b"])),
                "IAM.1041",
            ),
            (
                "resource without path",
                statement(|s| s["Resource"] = json!(["obs:*:*:object"])),
                "IAM.1045",
            ),
            (
                "resource without region",
                statement(|s| s["Resource"] = json!(["obs::*:object:x"])),
                "IAM.1043",
            ),
            (
                "resource too long",
                statement(|s| s["Resource"] = json!([format!("obs:*:*:object:{}", "p".repeat(1500))])),
                "IAM.1042",
            ),
            (
                "unknown operator",
                statement(|s| s["Condition"] = json!({"StringSortOf": {"obs:prefix": ["x"]}})),
                "IAM.1051",
            ),
            (
                "operator without attributes",
                statement(|s| s["Condition"] = json!({"StringEquals": {}})),
                "IAM.1051",
            ),
            (
                "odd attribute",
                statement(|s| s["Condition"] = json!({"StringEquals": {"obs prefix": ["x"]}})),
                "IAM.1052",
            ),
            (
                "values not a list",
                statement(|s| s["Condition"] = json!({"StringEquals": {"obs:prefix": "x"}})),
                "IAM.1053",
            ),
            (
                "eleven values",
                statement(|s| s["Condition"] = json!({"StringEquals": {"obs:prefix": vec!["x"; 11]}})),
                "IAM.1054",
            ),
            (
                "empty value",
                statement(|s| s["Condition"] = json!({"StringEquals": {"obs:prefix": [""]}})),
                "IAM.1056",
            ),
            (
                "value with a newline",
                statement(|s| s["Condition"] = json!({"StringEquals": {"obs:prefix": ["a\nb"]}})),
                "IAM.1057",
            ),
            (
                "too long",
                statement(|s| s["Resource"] = json!(vec![format!("obs:*:*:object:{}", "p".repeat(300)); 8])),
                "IAM.1021",
            ),
        ];
        for (name, change, code) in cases {
            let mut policy = obs_policy();
            change(&mut policy);
            match SessionPolicy::parse(&policy) {
                Err(e) => assert_eq!(e.code, code, "{name}: {}", e.message),
                Ok(_) => panic!("{name}: accepted"),
            }
        }
    }

    fn policy(statements: Value) -> SessionPolicy {
        SessionPolicy::parse(&json!({"Version": "1.1", "Statement": statements})).unwrap()
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        for (pattern, text, want) in [
            ("iam:*:*", "iam:projects:list", true),
            ("iam:projects:*", "iam:projects:list", true),
            ("iam:projects:*", "iam:users:list", false),
            ("IAM:Projects:List", "iam:projects:list", true),
            ("iam:projects:l?st", "iam:projects:list", true),
            ("iam:projects:l?st", "iam:projects:lst", false),
            ("*", "", true),
            ("obs:object:Get*", "obs:object:*", false),
            ("obs:*:*", "obs:object:*", true),
        ] {
            assert_eq!(wildcard_match(pattern, text), want, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn deny_wins_and_allow_must_match_unconditionally() {
        let cases = [
            (
                "allow all iam",
                json!([{"Effect": "Allow", "Action": ["iam:*:*"]}]),
                true,
            ),
            ("obs only", json!([{"Effect": "Allow", "Action": ["obs:*:*"]}]), false),
            (
                "allow then deny",
                json!([{"Effect": "Allow", "Action": ["iam:*:*"]}, {"Effect": "Deny", "Action": ["iam:projects:*"]}]),
                false,
            ),
            (
                "conditional allow counts for nothing",
                json!([{"Effect": "Allow", "Action": ["iam:*:*"], "Condition": {"StringEquals": {"g:DomainName": ["x"]}}}]),
                false,
            ),
            (
                "conditional deny still denies",
                json!([{"Effect": "Allow", "Action": ["*:*:*"]}, {"Effect": "Deny", "Action": ["iam:*:*"], "Condition": {"StringEquals": {"g:DomainName": ["x"]}}}]),
                false,
            ),
            (
                "allow on one named iam resource only",
                json!([{"Effect": "Allow", "Action": ["iam:*:*"], "Resource": ["iam:*:*:user:bob"]}]),
                false,
            ),
            (
                "allow on every iam resource",
                json!([{"Effect": "Allow", "Action": ["iam:*:*"], "Resource": ["iam:*:*:*:*"]}]),
                true,
            ),
            (
                "allow on obs resources only",
                json!([{"Effect": "Allow", "Action": ["*:*:*"], "Resource": ["obs:*:*:object:*"]}]),
                false,
            ),
            (
                "NotAction allow",
                json!([{"Effect": "Allow", "NotAction": ["obs:*:*"]}]),
                true,
            ),
            (
                "NotAction deny",
                json!([{"Effect": "Allow", "Action": ["iam:*:*"]}, {"Effect": "Deny", "NotAction": ["iam:tokens:*"]}]),
                false,
            ),
        ];
        for (name, statements, want) in cases {
            assert_eq!(policy(statements).allows("iam:projects:list"), want, "{name}");
        }
    }

    #[test]
    fn a_derived_policy_may_only_narrow() {
        let parent = policy(json!([{"Effect": "Allow", "Action": ["obs:object:*", "iam:projects:list"]}]));
        let cases = [
            ("same", json!([{"Effect": "Allow", "Action": ["obs:object:*"]}]), None),
            (
                "narrower",
                json!([{"Effect": "Allow", "Action": ["obs:object:GetObject"]}]),
                None,
            ),
            ("deny only", json!([{"Effect": "Deny", "Action": ["*:*:*"]}]), None),
            (
                "wider",
                json!([{"Effect": "Allow", "Action": ["obs:*:*"]}]),
                Some("obs:*:*".to_string()),
            ),
            (
                "another service",
                json!([{"Effect": "Allow", "Action": ["ecs:server:list"]}]),
                Some("ecs:server:list".to_string()),
            ),
            (
                "everything but",
                json!([{"Effect": "Allow", "NotAction": ["ecs:*:*"]}]),
                Some("NotAction [\"ecs:*:*\"]".to_string()),
            ),
        ];
        for (name, statements, want) in cases {
            assert_eq!(policy(statements).widening_of(&parent), want, "{name}");
        }
    }
}
