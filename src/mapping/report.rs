//! `fedgate mapping test` and the dry-run API share this: parse rules and assertions, map,
//! and report in Keystone's mapped-properties shape, or as `{"error": {"code", "message"}}`.

use serde_json::{Value, json};

use super::{Mapping, MappingError, SchemaVersion, assertion_from_json};

pub struct MappingTest {
    /// `{"rules": [...]}` or `{"mapping": {"rules": [...]}}`, as text.
    pub rules: String,
    /// One JSON object per assertion, as text.
    pub assertions: Vec<String>,
    pub schema_version: Option<String>,
    pub trace: bool,
}

fn error(code: u16, message: impl Into<String>) -> Value {
    json!({"error": {"code": code, "message": message.into()}})
}

/// Parses the rules document: the mapping may be wrapped in `{"mapping": ...}`.
pub fn compile_document(text: &str, version: Option<&str>) -> Result<Mapping, Value> {
    let doc: Value = serde_json::from_str(text).map_err(|e| error(400, format!("rules are not JSON: {e}")))?;
    let doc = doc.get("mapping").cloned().unwrap_or(doc);
    let version = match version {
        Some(v) => Some(SchemaVersion::parse(v).ok_or_else(|| error(400, "schema version must be 1.0, 2.0 or 3.0"))?),
        None => None,
    };
    Mapping::compile(&doc, version).map_err(|e| error(400, e.to_string()))
}

/// Maps one assertion object; the result or a 401 error, with the trace when asked.
pub fn map_one(mapping: &Mapping, assertion: &serde_json::Map<String, Value>, trace: bool) -> (Value, bool) {
    let assertion = assertion_from_json(assertion);
    let (result, rule_trace) = mapping.evaluate_traced(&assertion);
    let (mut out, ok) = match result {
        Ok(mapped) => (json!(mapped), true),
        Err(e @ (MappingError::NoRuleMatched | MappingError::InvalidResult(_))) => (error(401, e.to_string()), false),
        Err(e @ MappingError::InvalidRules { .. }) => (error(400, e.to_string()), false),
    };
    if trace && let Some(obj) = out.as_object_mut() {
        obj.insert("trace".into(), json!(rule_trace));
    }
    (out, ok)
}

/// Writes one JSON line per assertion; returns the exit code (0 mapped, 1 rejected, 2 invalid).
pub fn run_mapping_test(req: &MappingTest, out: &mut dyn std::io::Write) -> std::io::Result<i32> {
    let mapping = match compile_document(&req.rules, req.schema_version.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            writeln!(out, "{e}")?;
            return Ok(2);
        }
    };
    let mut code = 0;
    for line in &req.assertions {
        let result = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(obj)) => {
                let (result, ok) = map_one(&mapping, &obj, req.trace);
                if !ok {
                    code = 1;
                }
                result
            }
            _ => {
                code = code.max(1);
                error(
                    400,
                    "an assertion must be a JSON object of attribute -> string or array",
                )
            }
        };
        writeln!(out, "{result}")?;
    }
    Ok(code)
}
