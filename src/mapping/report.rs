//! `fedgate mapping test` and the dry-run API share this: parse rules and assertions, map,
//! and report in Keystone's mapped-properties shape, or as `{"error": {"code", "message"}}`.
//!
//! The batch path (`--assertions FILE.jsonl`) runs at the engine's pace: each line is parsed
//! straight into one reused assertion (its strings and lists kept from line to line), a
//! result is serialized from the engine's borrowed structs (no `serde_json::Value`), the
//! trace is built only when asked for, and output goes through one buffer.

use std::fmt;
use std::io::Write;

use serde::Serialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::{Assertion, Mapped, Mapping, MappingError, RuleTrace, SchemaVersion, assertion_from_json};

pub struct MappingTest {
    /// `{"rules": [...]}` or `{"mapping": {"rules": [...]}}`, as text.
    pub rules: String,
    pub assertions: Assertions,
    pub schema_version: Option<String>,
    pub trace: bool,
}

/// What `--assertion` / `--assertions` read.
pub enum Assertions {
    /// One JSON object (it may span lines).
    One(String),
    /// One JSON object per line; blank lines are skipped.
    Lines(String),
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

/// A result as a JSON value, with the trace when given; and whether it mapped.
fn result_value(result: Result<Mapped<'_>, MappingError>, trace: Option<Vec<RuleTrace>>) -> (Value, bool) {
    let (mut out, ok) = match result {
        Ok(mapped) => (json!(mapped), true),
        Err(e @ (MappingError::NoRuleMatched | MappingError::InvalidResult(_))) => (error(401, e.to_string()), false),
        Err(e @ MappingError::InvalidRules { .. }) => (error(400, e.to_string()), false),
    };
    if let Some(trace) = trace
        && let Some(obj) = out.as_object_mut()
    {
        obj.insert("trace".into(), json!(trace));
    }
    (out, ok)
}

/// Maps one assertion object; the result or a 401 error, with the trace when asked.
pub fn map_one(mapping: &Mapping, assertion: &serde_json::Map<String, Value>, trace: bool) -> (Value, bool) {
    let assertion = assertion_from_json(assertion);
    if trace {
        let (result, rule_trace) = mapping.evaluate_traced(&assertion);
        result_value(result, Some(rule_trace))
    } else {
        result_value(mapping.evaluate(&assertion), None)
    }
}

const NOT_AN_OBJECT: &str = "an assertion must be a JSON object of attribute -> string or array";

/// Writes one JSON line per assertion; returns the exit code (0 mapped, 1 rejected, 2 invalid).
pub fn run_mapping_test(req: &MappingTest, out: &mut dyn Write) -> std::io::Result<i32> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mapping = match compile_document(&req.rules, req.schema_version.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            writeln!(out, "{e}")?;
            out.flush()?;
            return Ok(2);
        }
    };
    let mut reader = Reader::default();
    let mut line_out = Vec::with_capacity(1 << 10);
    let mut code = 0;
    let mut map = |text: &[u8], out: &mut std::io::BufWriter<&mut dyn Write>| -> std::io::Result<()> {
        line_out.clear();
        if !reader.map_line(&mapping, text, req.trace, &mut line_out) {
            code = 1;
        }
        out.write_all(&line_out)
    };
    match &req.assertions {
        Assertions::One(text) => map(text.as_bytes(), &mut out)?,
        Assertions::Lines(text) => {
            for line in text.lines() {
                if !blank(line) {
                    map(line.as_bytes(), &mut out)?;
                }
            }
        }
    }
    out.flush()?;
    Ok(code)
}

/// Whitespace only (Unicode's, as `str::trim` sees it), without decoding the usual line.
fn blank(line: &str) -> bool {
    match line.bytes().find(|b| !b.is_ascii_whitespace()) {
        None => true,
        Some(b) if b.is_ascii() => false,
        Some(_) => line.trim().is_empty(),
    }
}

/// Parses assertion lines into one assertion whose allocations are reused from line to line.
#[derive(Default)]
struct Reader {
    assertion: Assertion,
    /// Value strings of earlier lines, emptied, for the next lines' values.
    spare: Vec<String>,
}

/// Bounds on what a `Reader` keeps between lines: a file whose lines name ever new attributes
/// must not grow it without end.
const MAX_KEPT_ATTRIBUTES: usize = 1_024;
const MAX_SPARE_VALUES: usize = 4_096;

impl Reader {
    /// Maps one line and appends its JSON result and a newline to `out`; false when the
    /// assertion was not mapped.
    fn map_line(&mut self, mapping: &Mapping, line: &[u8], trace: bool, out: &mut Vec<u8>) -> bool {
        let ok = match self.parse(line) {
            Err(_) => {
                write_error(out, 400, NOT_AN_OBJECT);
                false
            }
            Ok(()) if trace => {
                let (result, rule_trace) = mapping.evaluate_traced(&self.assertion);
                let (value, ok) = result_value(result, Some(rule_trace));
                write_json(out, &value);
                ok
            }
            Ok(()) => match mapping.evaluate(&self.assertion) {
                Ok(mapped) => {
                    write_json(out, &mapped);
                    true
                }
                Err(e @ (MappingError::NoRuleMatched | MappingError::InvalidResult(_))) => {
                    write_error(out, 401, &e.to_string());
                    false
                }
                Err(e @ MappingError::InvalidRules { .. }) => {
                    write_error(out, 400, &e.to_string());
                    false
                }
            },
        };
        out.push(b'\n');
        ok
    }

    /// Reads `line` as `assertion_from_json` reads a JSON object. Attributes of earlier lines
    /// stay with no values, which evaluation does not tell from absent ones.
    fn parse(&mut self, line: &[u8]) -> serde_json::Result<()> {
        if self.assertion.len() > MAX_KEPT_ATTRIBUTES {
            self.assertion.clear();
        }
        for values in self.assertion.values_mut() {
            recycle(values, &mut self.spare);
        }
        self.spare.truncate(MAX_SPARE_VALUES);
        let mut de = serde_json::Deserializer::from_slice(line);
        let parsed = Fill(self).deserialize(&mut de).and_then(|()| de.end());
        if parsed.is_err() {
            // Half a line must not be evaluated later as if it were an assertion.
            for values in self.assertion.values_mut() {
                recycle(values, &mut self.spare);
            }
        }
        parsed
    }
}

fn recycle(values: &mut Vec<String>, spare: &mut Vec<String>) {
    spare.extend(values.drain(..).map(|mut s| {
        s.clear();
        s
    }));
}

fn push_value(values: &mut Vec<String>, spare: &mut Vec<String>, text: &str) {
    let mut s = spare.pop().unwrap_or_default();
    s.push_str(text);
    values.push(s);
}

fn write_json(out: &mut Vec<u8>, value: &impl Serialize) {
    // Writing to a Vec fails only for maps with non-string keys, which these have none of.
    let _ = serde_json::to_writer(out, value);
}

#[derive(Serialize)]
struct ErrorLine<'m> {
    error: ErrorBody<'m>,
}

/// Fields in key order, as `serde_json::Value` writes them.
#[derive(Serialize)]
struct ErrorBody<'m> {
    code: u16,
    message: &'m str,
}

fn write_error(out: &mut Vec<u8>, code: u16, message: &str) {
    write_json(
        out,
        &ErrorLine {
            error: ErrorBody { code, message },
        },
    );
}

/// The whole line: a JSON object of attribute -> string (split on `;`) or array of strings;
/// other values are skipped, as `assertion_from_json` skips them.
struct Fill<'r>(&'r mut Reader);

impl<'de> DeserializeSeed<'de> for Fill<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fill<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Reader { assertion, spare } = self.0;
        while let Some(key) = map.next_key_seed(Key)? {
            let values = match assertion.get_mut(key.as_ref()) {
                Some(values) => values,
                None => assertion.entry(key.into_owned()).or_default(),
            };
            // A repeated attribute: the last one wins, as in a `serde_json::Map`.
            recycle(values, spare);
            map.next_value_seed(Values { values, spare })?;
        }
        Ok(())
    }
}

/// An attribute name, borrowed from the line unless it has escapes.
enum KeyText<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl KeyText<'_> {
    fn into_owned(self) -> String {
        match self {
            KeyText::Borrowed(s) => s.to_string(),
            KeyText::Owned(s) => s,
        }
    }
}

impl AsRef<str> for KeyText<'_> {
    fn as_ref(&self) -> &str {
        match self {
            KeyText::Borrowed(s) => s,
            KeyText::Owned(s) => s,
        }
    }
}

struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = KeyText<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<KeyText<'de>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = KeyText<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<KeyText<'de>, E> {
        Ok(KeyText::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<KeyText<'de>, E> {
        Ok(KeyText::Owned(v.to_string()))
    }
}

/// An attribute's value: a string holds `;`-joined values, an array its string items.
struct Values<'v> {
    values: &'v mut Vec<String>,
    spare: &'v mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Values<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Values<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        for part in v.split(';') {
            push_value(self.values, self.spare, part);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Item {
                values: &mut *self.values,
                spare: &mut *self.spare,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
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

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// One array item: a string is a value; anything else is skipped.
struct Item<'v> {
    values: &'v mut Vec<String>,
    spare: &'v mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Item<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Item<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        push_value(self.values, self.spare, v);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
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

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batch path writes, line for line, what mapping each line through a
    /// `serde_json::Value` wrote before: results, rejections, odd values, repeated and
    /// vanishing attributes, lines that are not objects.
    #[test]
    fn batch_lines_match_the_value_path_byte_for_byte() {
        let rules = json!({"rules": [
            {"remote": [{"type": "UserName"}, {"type": "Groups", "whitelist": ["admins", "ops"]}],
             "local": [{"user": {"name": "{0}", "email": "{0}@x"}}, {"groups": "{1}", "domain": {"name": "corp", "id": "7"}}]},
            {"remote": [{"type": "Mail", "any_one_of": ["@corp\\.example$"], "regex": true}],
             "local": [{"group": {"id": "g-mail"}}, {"projects": [{"name": "p", "roles": [{"name": "r"}]}]}]},
            {"remote": [{"type": "Json"}], "local": [{"groups": "{0}"}]},
        ]});
        let mapping = Mapping::compile(&rules, Some(SchemaVersion::V2)).unwrap();
        let lines = [
            r#"{"UserName": "alice", "Groups": "admins;x;ops", "Mail": "a@corp.example"}"#,
            r#"{"Mail": "b@corp.example"}"#,
            r#"{"UserName": "bob", "Groups": ["ops", 5, null, ["admins"]], "Extra": {"a": 1}}"#,
            r#"{"UserName": "q\"uote\u00e9", "Groups": "admins", "UserName": "second"}"#,
            r#"{"Other": "1"}"#,
            r#"{"UserName": 5}"#,
            r#"{"Json": "JSON:{\"name\": \"g\", \"domain\": {\"id\": \"d\"}, \"n\": [1.5, -2, 1e300]}"}"#,
            r#"{"User\u004eame": "escaped key", "Groups": "ops"}"#,
            r#"{"Json": "JSON:{broken"}"#,
            r#"[1, 2]"#,
            r#"{"UserName": "x"} trailing"#,
            r#"{"UserName": "x", "Groups": "#,
            r#"{"UserName": "carol", "Groups": ""}"#,
        ];
        let mut reader = Reader::default();
        for trace in [false, true] {
            for line in lines {
                let want = match serde_json::from_str::<Value>(line) {
                    Ok(Value::Object(obj)) => map_one(&mapping, &obj, trace),
                    _ => (error(400, NOT_AN_OBJECT), false),
                };
                let mut got = Vec::new();
                let ok = reader.map_line(&mapping, line.as_bytes(), trace, &mut got);
                assert_eq!(String::from_utf8(got).unwrap(), format!("{}\n", want.0), "{line}");
                assert_eq!(ok, want.1, "{line}");
            }
        }
    }
}
