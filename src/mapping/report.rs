//! `fedgate mapping test` and the dry-run API share this: parse rules and assertions, map,
//! and report in Keystone's mapped-properties shape, or as `{"error": {"code", "message"}}`.
//!
//! The batch path (`--assertions FILE.jsonl`) runs at the engine's pace: the input is read a
//! block at a time, each block's lines split between two threads; a line is parsed straight
//! into the values of the attributes the rules read (strings and lists reused from line to
//! line, other attributes skipped); a result is serialized from the engine's borrowed structs
//! (no `serde_json::Value`); the trace is built only when asked for.

use std::fmt;
use std::io::{Read, Write};

use serde::Serialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::eval::ValueRef;
use super::{GroupName, Mapped, Mapping, MappingError, RuleTrace, SchemaVersion, UserType, assertion_from_json};

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
    /// One JSON object per line, read as a stream; blank lines are skipped.
    Lines(Box<dyn Read>),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// 0: every assertion mapped; 1: one was rejected; 2: the rules are invalid.
    pub code: i32,
    /// Values a look-around or back-reference pattern gave up on (and did not admit).
    pub backtrack_limit_hits: u64,
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

/// Writes one JSON line per assertion, in order.
pub fn run_mapping_test(req: MappingTest, out: &mut dyn Write) -> std::io::Result<Outcome> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mapping = match compile_document(&req.rules, req.schema_version.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            writeln!(out, "{e}")?;
            out.flush()?;
            return Ok(Outcome {
                code: 2,
                backtrack_limit_hits: 0,
            });
        }
    };
    let mut outcome = Outcome {
        code: 0,
        backtrack_limit_hits: 0,
    };
    match req.assertions {
        Assertions::One(text) => {
            let mut part = Part::new(&mapping);
            part.map_lines(&mapping, [text.as_bytes()], req.trace);
            out.write_all(&part.out)?;
            part.add_to(&mut outcome);
        }
        Assertions::Lines(input) => map_stream(&mapping, input, req.trace, &mut out, &mut outcome)?,
    }
    out.flush()?;
    Ok(outcome)
}

/// Input is read this much at a time; each block's lines are split between two threads when
/// the machine has two cores, and their output written in order before the next block.
const BLOCK: usize = 1 << 20;

fn map_stream(
    mapping: &Mapping,
    mut input: Box<dyn Read>,
    trace: bool,
    out: &mut impl Write,
    outcome: &mut Outcome,
) -> std::io::Result<()> {
    let parallel = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let (mut first, mut second) = (Part::new(mapping), Part::new(mapping));
    let mut buf = vec![0u8; BLOCK];
    let (mut filled, mut eof) = (0, false);
    while !eof || filled > 0 {
        while !eof && filled < buf.len() {
            match input.read(&mut buf[filled..]) {
                Ok(0) => eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Whole lines only, but for the last one.
        let end = match memchr::memrchr(b'\n', &buf[..filled]) {
            _ if eof => filled,
            Some(i) => i + 1,
            None => {
                // One line longer than the buffer: make room for it.
                buf.resize(buf.len() * 2, 0);
                continue;
            }
        };
        let block = &buf[..end];
        let middle = match memchr::memchr(b'\n', &block[block.len() / 2..]) {
            Some(i) if parallel && block.len() >= BLOCK / 4 => block.len() / 2 + i + 1,
            _ => block.len(),
        };
        let (a, b) = block.split_at(middle);
        if b.is_empty() {
            first.map_lines(mapping, lines(a), trace);
        } else {
            std::thread::scope(|scope| {
                scope.spawn(|| second.map_lines(mapping, lines(b), trace));
                first.map_lines(mapping, lines(a), trace);
            });
        }
        for part in [&mut first, &mut second] {
            out.write_all(&part.out)?;
            part.add_to(outcome);
        }
        buf.copy_within(end..filled, 0);
        filled -= end;
    }
    Ok(())
}

/// The lines of `block`, found with memchr.
fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = block;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        Some(line)
    })
}

/// One thread's share of a block: its reader, its output and what it saw.
struct Part {
    reader: Reader,
    out: Vec<u8>,
    rejected: bool,
    hits: u64,
}

impl Part {
    fn new(mapping: &Mapping) -> Part {
        Part {
            reader: Reader::new(mapping),
            out: Vec::with_capacity(BLOCK * 2),
            rejected: false,
            hits: 0,
        }
    }

    fn map_lines<'l>(&mut self, mapping: &Mapping, lines: impl IntoIterator<Item = &'l [u8]>, trace: bool) {
        let hits = super::backtrack_limit_hits();
        for line in lines {
            if !blank(line) && !self.reader.map_line(mapping, line, trace, &mut self.out) {
                self.rejected = true;
            }
        }
        // Counted per thread: this one's part of the run.
        self.hits += super::backtrack_limit_hits() - hits;
    }

    /// Adds what this part saw to `outcome` and empties it for the next block.
    fn add_to(&mut self, outcome: &mut Outcome) {
        if self.rejected {
            outcome.code = outcome.code.max(1);
        }
        outcome.backtrack_limit_hits += self.hits;
        self.out.clear();
        self.rejected = false;
        self.hits = 0;
    }
}

/// Whitespace only (Unicode's, as `str::trim` sees it), without decoding the usual line.
fn blank(line: &[u8]) -> bool {
    // `u8::is_ascii_whitespace` leaves out the vertical tab, which `str::trim` removes (found
    // by `fuzz/` target `mapping_test`).
    match line.iter().find(|&&b| !(b.is_ascii_whitespace() || b == 0x0b)) {
        None => true,
        Some(b) if b.is_ascii() => false,
        Some(_) => std::str::from_utf8(line).is_ok_and(|l| l.trim().is_empty()),
    }
}

/// Parses assertion lines straight into the values of the attributes the rules read (the
/// rest is skipped unread); the strings and lists are reused from line to line.
struct Reader {
    /// `Mapping::attributes()`, in order.
    attributes: Vec<String>,
    index: AttributeIndex,
    values: Vec<Vec<String>>,
    /// Value strings of earlier lines, emptied, for the next lines' values.
    spare: Vec<String>,
    writer: ResultWriter,
}

/// Bound on the spare strings a `Reader` keeps between lines.
const MAX_SPARE_VALUES: usize = 4_096;

impl Reader {
    fn new(mapping: &Mapping) -> Reader {
        Reader {
            attributes: mapping.attributes().to_vec(),
            index: AttributeIndex::new(mapping.attributes()),
            values: vec![Vec::new(); mapping.attributes().len()],
            spare: Vec::new(),
            writer: ResultWriter::default(),
        }
    }

    /// Maps one line and appends its JSON result and a newline to `out`; false when the
    /// assertion was not mapped.
    fn map_line(&mut self, mapping: &Mapping, line: &[u8], trace: bool, out: &mut Vec<u8>) -> bool {
        let ok = match self.parse(line) {
            Err(_) => {
                write_error(out, 400, NOT_AN_OBJECT);
                false
            }
            Ok(()) if trace => {
                let (result, rule_trace) = mapping.evaluate_values_traced(&self.values);
                let (value, ok) = result_value(result, Some(rule_trace));
                write_json(out, &value);
                ok
            }
            Ok(()) => match mapping.evaluate_values(&self.values) {
                Ok(mapped) => {
                    self.writer.mapped(out, &mapped);
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

    /// Reads `line` as `assertion_from_json` reads a JSON object, keeping only the
    /// attributes the rules read.
    fn parse(&mut self, line: &[u8]) -> serde_json::Result<()> {
        self.recycle_values();
        self.spare.truncate(MAX_SPARE_VALUES);
        // JSON text is UTF-8 (RFC 8259 §8.1), and the dry run refuses a line that is not. Read
        // from bytes, serde_json would skip the strings of attributes the rules never read
        // without checking them, and map such a line: the whole line is checked first.
        let Ok(line) = std::str::from_utf8(line) else {
            return Err(serde::de::Error::custom("the line is not UTF-8"));
        };
        if self.parse_flat(line).is_some() {
            return Ok(());
        }
        self.recycle_values();
        let mut de = serde_json::Deserializer::from_str(line);
        let parsed = Fill(self).deserialize(&mut de).and_then(|()| de.end());
        if parsed.is_err() {
            // Half a line must not be evaluated later as if it were an assertion.
            self.recycle_values();
        }
        parsed
    }

    fn recycle_values(&mut self) {
        for values in &mut self.values {
            recycle(values, &mut self.spare);
        }
    }

    /// The usual line, read without serde: one object whose keys and values are all strings
    /// free of escapes, with no control character anywhere. Anything else gives None, with
    /// what was kept left for `parse` to drop, and serde reads the line; both readings agree
    /// where both apply (`parse_flat_agrees_with_serde`).
    fn parse_flat(&mut self, text: &str) -> Option<()> {
        let bytes = text.as_bytes();
        if any_byte(bytes, |b| b < 0x20) {
            return None;
        }
        let mut at = skip_spaces(bytes, 0);
        if bytes.get(at) != Some(&b'{') {
            return None;
        }
        at = skip_spaces(bytes, at + 1);
        if bytes.get(at) == Some(&b'}') {
            return (skip_spaces(bytes, at + 1) == bytes.len()).then_some(());
        }
        loop {
            let (key, next) = plain_string(text, at)?;
            at = skip_spaces(bytes, next);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            let (value, next) = plain_string(text, skip_spaces(bytes, at + 1))?;
            at = skip_spaces(bytes, next);
            if let Some(i) = self.index.find(&self.attributes, key) {
                // A repeated attribute: the last one wins, as in a `serde_json::Map`.
                recycle(&mut self.values[i], &mut self.spare);
                split_values(&mut self.values[i], &mut self.spare, value);
            }
            match bytes.get(at) {
                Some(b',') => at = skip_spaces(bytes, at + 1),
                Some(b'}') => return (skip_spaces(bytes, at + 1) == bytes.len()).then_some(()),
                _ => return None,
            }
        }
    }
}

/// Whether any byte passes `test`: every byte is looked at (no early exit), which lets the
/// compiler test 32 at a time.
#[inline]
fn any_byte(bytes: &[u8], test: impl Fn(u8) -> bool) -> bool {
    bytes.iter().fold(false, |seen, &b| seen | test(b))
}

/// The attributes the rules read, by name length: a key is compared only with the names of
/// its length, mostly none or one.
struct AttributeIndex {
    by_len: Vec<Vec<usize>>,
}

impl AttributeIndex {
    fn new(attributes: &[String]) -> AttributeIndex {
        let longest = attributes.iter().map(String::len).max().unwrap_or(0);
        let mut by_len = vec![Vec::new(); longest + 1];
        for (i, a) in attributes.iter().enumerate() {
            by_len[a.len()].push(i);
        }
        AttributeIndex { by_len }
    }

    #[inline]
    fn find(&self, attributes: &[String], key: &str) -> Option<usize> {
        self.by_len
            .get(key.len())?
            .iter()
            .copied()
            .find(|&i| attributes[i].as_bytes() == key.as_bytes())
    }
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at) == Some(&b' ') {
        at += 1;
    }
    at
}

/// The JSON string starting at `at`, when it has no escape: its text and the index after it.
fn plain_string(text: &str, at: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let end = at + 1 + memchr::memchr2(b'"', b'\\', bytes.get(at + 1..)?)?;
    // Quotes are ASCII, so both ends are character boundaries.
    (bytes[end] == b'"').then(|| (&text[at + 1..end], end + 1))
}

/// `text.split(';')` into `values`, with memchr.
fn split_values(values: &mut Vec<String>, spare: &mut Vec<String>, text: &str) {
    let mut rest = text;
    while let Some(i) = memchr::memchr(b';', rest.as_bytes()) {
        push_value(values, spare, &rest[..i]);
        rest = &rest[i + 1..];
    }
    push_value(values, spare, rest);
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

/// Writes a mapped result with the bytes `serde_json` writes for it (and for the
/// `serde_json::Value` it converts to: keys in order, the same escapes), faster: strings
/// without anything to escape are copied, and the mapping's own values (domains named in the
/// rules) are serialized once per run.
#[derive(Default)]
struct ResultWriter {
    /// Serialized values lent by the mapping, by address: the mapping outlives the run and
    /// never changes, so an address names one value.
    lent: Vec<(usize, Vec<u8>)>,
}

/// Lent values remembered per run (a mapping names a handful of domains).
const MAX_LENT: usize = 64;

impl ResultWriter {
    fn mapped(&mut self, out: &mut Vec<u8>, m: &Mapped<'_>) {
        out.extend_from_slice(b"{\"group_ids\":[");
        for (i, id) in m.group_ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, id);
        }
        out.extend_from_slice(b"],\"group_names\":[");
        for (i, g) in m.group_names.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match g {
                GroupName::Named { domain, name } => {
                    out.extend_from_slice(b"{\"domain\":");
                    self.value(out, domain);
                    out.extend_from_slice(b",\"name\":");
                    write_str(out, name);
                    out.push(b'}');
                }
                GroupName::Json(v) => write_json(out, v),
            }
        }
        out.extend_from_slice(b"],\"projects\":");
        write_json(out, &m.projects);
        out.extend_from_slice(b",\"user\":{");
        let u = &m.user;
        if let Some(domain) = &u.domain {
            out.extend_from_slice(b"\"domain\":");
            self.value(out, domain);
            out.push(b',');
        }
        for (key, text) in [
            (&b"\"email\":"[..], &u.email),
            (b"\"id\":", &u.id),
            (b"\"name\":", &u.name),
        ] {
            if let Some(text) = text {
                out.extend_from_slice(key);
                write_str(out, text);
                out.push(b',');
            }
        }
        out.extend_from_slice(match u.kind {
            UserType::Ephemeral => b"\"type\":\"ephemeral\"}}",
            UserType::Local => b"\"type\":\"local\"}}",
        });
    }

    fn value(&mut self, out: &mut Vec<u8>, v: &ValueRef<'_>) {
        let ValueRef::Lent(lent) = v else {
            return write_json(out, &**v);
        };
        let address = std::ptr::from_ref::<Value>(lent) as usize;
        if let Some((_, bytes)) = self.lent.iter().find(|(a, _)| *a == address) {
            return out.extend_from_slice(bytes);
        }
        let start = out.len();
        write_json(out, lent);
        if self.lent.len() < MAX_LENT {
            self.lent.push((address, out[start..].to_vec()));
        }
    }
}

/// A JSON string as serde_json writes it: only control characters, `"` and `\` are escaped.
fn write_str(out: &mut Vec<u8>, s: &str) {
    if !any_byte(s.as_bytes(), |b| b < 0x20 || b == b'"' || b == b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        write_json(out, s);
    }
}

fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
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
        let Reader {
            attributes,
            index,
            values,
            spare,
            ..
        } = self.0;
        while let Some(key) = map.next_key_seed(Key)? {
            match index.find(attributes, key.as_ref()) {
                Some(i) => {
                    // A repeated attribute: the last one wins, as in a `serde_json::Map`.
                    recycle(&mut values[i], spare);
                    map.next_value_seed(Values {
                        values: &mut values[i],
                        spare,
                    })?;
                }
                // Not read by any rule: checked as JSON, nothing kept.
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// An attribute name, borrowed from the line unless it has escapes.
enum KeyText<'de> {
    Borrowed(&'de str),
    Owned(String),
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

/// Visitor methods that skip what an attribute value cannot be: objects, and scalars other
/// than strings (Keystone's assertions carry strings only).
macro_rules! skip_objects_and_scalars {
    () => {
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
    };
}

impl<'de> Visitor<'de> for Values<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        split_values(self.values, self.spare, v);
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

    skip_objects_and_scalars!();
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

    skip_objects_and_scalars!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream of several blocks (split between threads, lines across block boundaries, one
    /// line longer than a block, no newline at the end) gives each line's result in order.
    #[test]
    fn streams_map_every_line_in_order_across_blocks() {
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}, {"type": "G", "whitelist": ["a"]}],
            "local": [{"user": {"name": "{0}"}}, {"groups": "{1}", "domain": {"name": "d"}}]}]});
        let mut input = String::new();
        let mut want = String::new();
        for i in 0..60_000 {
            let line = if i == 31_000 {
                format!(r#"{{"UserName": "{}", "G": "a"}}"#, "x".repeat(BLOCK + 10))
            } else if i % 7 == 0 {
                format!(r#"{{"Other": "{i}"}}"#)
            } else {
                format!(r#"{{"UserName": "user{i}", "G": "a;b"}}"#)
            };
            let obj: serde_json::Map<String, Value> = serde_json::from_str(&line).unwrap();
            let mapping = Mapping::compile(&rules, None).unwrap();
            want.push_str(&format!("{}\n", map_one(&mapping, &obj, false).0));
            input.push_str(&line);
            input.push('\n');
        }
        input.pop();
        let req = MappingTest {
            rules: rules.to_string(),
            assertions: Assertions::Lines(Box::new(std::io::Cursor::new(input.into_bytes()))),
            schema_version: None,
            trace: false,
        };
        let mut out = Vec::new();
        let outcome = run_mapping_test(req, &mut out).unwrap();
        assert_eq!(outcome.code, 1);
        assert!(String::from_utf8(out).unwrap() == want, "streamed output differs");
    }

    /// Lines of whitespace only, as `str::trim` sees it, are skipped; anything else gets a
    /// result line.
    #[test]
    fn blank_lines_are_skipped_as_str_trim_sees_them() {
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]});
        let cases: [(&[u8], bool); 8] = [
            (b"", true),
            (b" \t\r", true),
            (b"\x0b", true),
            (b"\x0c \x0b", true),
            ("\u{2003}\u{a0}".as_bytes(), true),
            (b"\x0e", false),
            (b"\x0b\xff", false),
            (b"{}", false),
        ];
        for (line, skipped) in cases {
            let req = MappingTest {
                rules: rules.to_string(),
                assertions: Assertions::Lines(Box::new(std::io::Cursor::new(line.to_vec()))),
                schema_version: None,
                trace: false,
            };
            let mut out = Vec::new();
            run_mapping_test(req, &mut out).unwrap();
            assert_eq!(out.is_empty(), skipped, "{line:?}");
            assert_eq!(
                std::str::from_utf8(line).is_ok_and(|l| l.trim().is_empty()),
                skipped,
                "{line:?}"
            );
        }
    }

    /// The batch path writes, line for line, what mapping each line through a
    /// `serde_json::Value` wrote before: results, rejections, odd values, repeated and
    /// vanishing attributes, lines that are not objects or not UTF-8 (even where only an
    /// attribute the rules never read is not; found by `fuzz/` target `mapping_test`).
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
        let lines: [&[u8]; 25] = [
            br#"{"UserName": "alice", "Groups": "admins;x;ops", "Mail": "a@corp.example"}"#,
            br#"{"Mail": "b@corp.example"}"#,
            br#"{"UserName": "bob", "Groups": ["ops", 5, null, ["admins"]], "Extra": {"a": 1}}"#,
            br#"{"UserName": "q\"uote\u00e9", "Groups": "admins", "UserName": "second"}"#,
            br#"{"Other": "1"}"#,
            br#"{"UserName": 5}"#,
            br#"{"Json": "JSON:{\"name\": \"g\", \"domain\": {\"id\": \"d\"}, \"n\": [1.5, -2, 1e300]}"}"#,
            br#"{"User\u004eame": "escaped key", "Groups": "ops"}"#,
            br#"{"Json": "JSON:{broken"}"#,
            br#"[1, 2]"#,
            br#"{"UserName": "x"} trailing"#,
            br#"{"UserName": "x", "Groups": "#,
            br#"{"UserName": "carol", "Groups": ""}"#,
            b"{\"UserName\": \"x\", \"Other\": \"\xff\xfe\"}",
            b"{\"UserName\": \"\xc3\"}",
            // Lines the flat reader takes, and lines it must leave to serde.
            br#"{"UserName":"dave","Groups":"ops","UserName":"erin"}"#,
            br#"   {  "UserName"  :  "frank" ,  "Groups" : "admins;ops"  }   "#,
            br#"{}"#,
            b"{\"UserName\": \"tab\there\"}",
            b"{\"UserName\": \"x\"}\t",
            br#"{"UserName": "x",}"#,
            br#"{"UserName" "x"}"#,
            br#"{"UserName": "x"}}"#,
            br#"{"UserName": "unterminated}"#,
            br#"{"UserName": "slash\/", "Groups": "ops"}"#,
        ];
        let mut reader = Reader::new(&mapping);
        for trace in [false, true] {
            for line in lines {
                let want = match serde_json::from_slice::<Value>(line) {
                    Ok(Value::Object(obj)) => map_one(&mapping, &obj, trace),
                    _ => (error(400, NOT_AN_OBJECT), false),
                };
                let mut got = Vec::new();
                let ok = reader.map_line(&mapping, line, trace, &mut got);
                let line = String::from_utf8_lossy(line);
                assert_eq!(String::from_utf8(got).unwrap(), format!("{}\n", want.0), "{line}");
                assert_eq!(ok, want.1, "{line}");
            }
        }
    }

    /// The batch reader's answer for `line` (flat reader first, serde after it) is what mapping
    /// the line's `serde_json::Value` gives, or the same rejection.
    fn batch_agrees_with_serde(line: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}, {"type": "G"}],
            "local": [{"user": {"name": "{0}"}}, {"groups": "{1}", "domain": {"name": "d"}}]}]});
        let mapping = Mapping::compile(&rules, None).unwrap();
        let want = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(obj)) => map_one(&mapping, &obj, false),
            _ => (error(400, NOT_AN_OBJECT), false),
        };
        let mut reader = Reader::new(&mapping);
        let mut got = Vec::new();
        let ok = reader.map_line(&mapping, line.as_bytes(), false, &mut got);
        proptest::prop_assert_eq!(String::from_utf8(got).unwrap(), format!("{}\n", want.0), "{:?}", line);
        proptest::prop_assert_eq!(ok, want.1, "{:?}", line);
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// Lines made of JSON's own punctuation, spaces, escapes, control characters and a
        /// repeated attribute: the batch reader (flat reader first, serde after it) gives
        /// what mapping the `serde_json::Value` of the line gives, or the same rejection.
        #[test]
        fn parse_flat_agrees_with_serde_on_object_shaped_lines(
            pairs in proptest::collection::vec((
                proptest::sample::select(vec!["", " ", "  ", "\t", "\r", "\n", "\u{a0}"]),
                proptest::sample::select(vec!["\"UserName\"", "\"G\"", "\"Other\"", "\"User\\u004eame\"",
                    "\"\"", "UserName", "\"G\\\"\"", "\"G\u{1}\"", "\"\u{7f}\""]),
                proptest::sample::select(vec![":", " :", ": ", "", "::"]),
                proptest::sample::select(vec!["\"a\"", "\"a;b\"", "\";\"", "\"\"", "\"é;\u{2028}\"",
                    "\"a\\\"b\"", "\"a\\/b\"", "\"\\u00e9\"", "1", "null", "[\"a\"]", "{}", "\"a\u{9}b\"",
                    "\"unterminated", "\"\u{7f}\"", "true"]),
                proptest::sample::select(vec!["", " ", "\t"]),
            ), 0..5),
            seps in proptest::collection::vec(proptest::sample::select(vec![",", " , ", ",,", "", ";"]), 5),
            open in proptest::sample::select(vec!["{", " {", "[", "{{", ""]),
            close in proptest::sample::select(vec!["}", "} ", "}\t", "}}", "", "} x", "}\n"]),
        ) {
            let mut line = open.to_string();
            for (i, (ws, key, colon, value, ws2)) in pairs.iter().enumerate() {
                if i > 0 {
                    line.push_str(seps[i]);
                }
                line.push_str(&format!("{ws}{key}{ws2}{colon}{ws}{value}{ws2}"));
            }
            line.push_str(close);
            batch_agrees_with_serde(&line)?;
        }

        #[test]
        fn parse_flat_agrees_with_serde_on_arbitrary_lines(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "{", "}", "\"", ":", ",", " ", "\t", "\\", "\\\"", "\\u0041", "U", "UserName",
                "\"UserName\"", "\"G\"", "a", ";", "1", "[", "]", "null", "\u{7f}", "\u{1}", "é",
                "\u{2028}", "\r", "\n", "\u{feff}",
            ]), 0..24),
        ) {
            let line: String = parts.concat();
            batch_agrees_with_serde(&line)?;
        }
    }

    /// The flat reader takes the usual lines itself (so the fast path is the one measured),
    /// and leaves every line with an escape, a non-string value or a control character.
    #[test]
    fn parse_flat_takes_the_usual_lines_and_leaves_the_rest() {
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}, {"type": "Groups"}],
            "local": [{"user": {"name": "{0}"}}]}]});
        let mapping = Mapping::compile(&rules, None).unwrap();
        let mut reader = Reader::new(&mapping);
        assert_eq!(mapping.attributes(), ["Groups", "UserName"]);
        let taken: [(&str, &[&[&str]]); 4] = [
            (
                r#"{"UserName": "alice", "Groups": "a;b", "Other": "z"}"#,
                &[&["a", "b"], &["alice"]],
            ),
            (r#"{"Groups":"","UserName":"x","UserName":"y"}"#, &[&[""], &["y"]]),
            (r#" { } "#, &[&[], &[]]),
            (r#"{"UserName": "é;ü"}"#, &[&[], &["é", "ü"]]),
        ];
        for (line, want) in taken {
            reader.recycle_values();
            assert!(reader.parse_flat(line).is_some(), "{line}");
            let got: Vec<Vec<&str>> = reader
                .values
                .iter()
                .map(|v| v.iter().map(String::as_str).collect())
                .collect();
            assert_eq!(got, want.iter().map(|v| v.to_vec()).collect::<Vec<_>>(), "{line}");
        }
        for line in [
            r#"{"UserName": "a\"b"}"#,
            r#"{"UserName": ["a"]}"#,
            r#"{"UserName": 1}"#,
            r#"{"User\u004eame": "a"}"#,
            "{\"UserName\": \"a\tb\"}",
            r#"{"UserName": "a",}"#,
            r#"{"UserName": "a"} x"#,
            r#"["UserName"]"#,
        ] {
            reader.recycle_values();
            assert!(reader.parse_flat(line).is_none(), "{line}");
        }
    }
}
