//! `fedgate mapping test` and the dry-run API share this: parse rules and assertions, map,
//! and report in Keystone's mapped-properties shape, or as `{"error": {"code", "message"}}`.
//!
//! The batch path (`--assertions FILE.jsonl`) runs at the engine's pace: one worker per core
//! takes the next block of whole lines and maps it; results wait for their turn (a few blocks
//! at most) while their worker maps the next block, and whoever finds the sink free writes
//! every block whose turn has come, so reading and writing overlap with mapping and a worker
//! held up stops nobody. A usual line (string
//! values without escapes) lends its values to the engine as slices of itself, split on `;`
//! and never copied, and the rest is skipped unread; other lines go through serde. A result
//! is serialized from the engine's borrowed structs (no `serde_json::Value`), values lent by
//! the line copied without an escaping pass; the trace is built only when asked for.

use std::fmt;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::sync::{Condvar, Mutex, PoisonError};

use serde::Serialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use super::eval::ValueRef;
use super::rules::{find_first_of, same_bytes};
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
    Lines(Box<dyn Read + Send>),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
pub fn run_mapping_test(req: MappingTest, out: &mut (dyn Write + Send)) -> io::Result<Outcome> {
    let mapping = match compile_document(&req.rules, req.schema_version.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            writeln!(out, "{e}")?;
            out.flush()?;
            return Ok(Outcome {
                code: 2,
                ..Outcome::default()
            });
        }
    };
    let outcome = match req.assertions {
        Assertions::One(text) => {
            let mut outcome = Outcome::default();
            let mut part = Part::new(&mapping);
            let mut result = Vec::new();
            part.map_lines(&mapping, [Ok(text.as_str())], req.trace, &mut result);
            out.write_all(&result)?;
            part.add_to(&mut outcome);
            outcome
        }
        Assertions::Lines(mut input) => {
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WORKERS));
            map_stream(&mapping, &mut *input, req.trace, out, workers)?
        }
    };
    out.flush()?;
    Ok(outcome)
}

/// Input is read this much at a time: a block is one worker's share, its lines mapped in
/// one go and their results written in one call.
const BLOCK: usize = 1 << 18;

/// Workers beyond this would wait on reading and writing, which are done one at a time.
const MAX_WORKERS: usize = 8;

/// What the workers share of the input: the reader, the start of a line the last block cut
/// off, and the number the next block gets.
struct Input<'r> {
    source: &'r mut (dyn Read + Send),
    carry: Vec<u8>,
    next: u64,
    eof: bool,
}

/// What they share of the output: the sink (taken by the worker writing to it), the block it
/// needs next and the blocks it has written, the results of blocks done before their turn,
/// emptied buffers to map into, and how the run went.
struct Output<'w> {
    sink: Option<&'w mut (dyn Write + Send)>,
    next: u64,
    written: u64,
    waiting: Vec<(u64, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    outcome: Outcome,
    error: Option<io::Error>,
}

/// Results a worker may hand over ahead of the sink, per worker: blocks waiting for their
/// turn or being written, besides each worker's own. Enough that one held up (a shared
/// machine's core taken away for a while) does not stop the others, few enough to bound the
/// memory held.
const AHEAD_PER_WORKER: u64 = 2;

/// Maps a stream of lines with `workers` threads: each takes the next block of whole lines and
/// maps it on its own; results are written in the blocks' order. Reading and writing are done
/// one block at a time; mapping, the bulk of the work, in parallel.
fn map_stream(
    mapping: &Mapping,
    source: &mut (dyn Read + Send),
    trace: bool,
    sink: &mut (dyn Write + Send),
    workers: usize,
) -> io::Result<Outcome> {
    let input = Mutex::new(Input {
        source,
        carry: Vec::new(),
        next: 0,
        eof: false,
    });
    let output = Mutex::new(Output {
        sink: Some(sink),
        next: 0,
        written: 0,
        waiting: Vec::new(),
        spare: Vec::new(),
        outcome: Outcome::default(),
        error: None,
    });
    let turn = Condvar::new();
    let ahead = AHEAD_PER_WORKER * workers as u64;
    let work = || work_on_blocks(mapping, trace, ahead, &input, &output, &turn);
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work);
        }
        work();
    });
    let output = output.into_inner().unwrap_or_else(PoisonError::into_inner);
    match output.error {
        Some(e) => Err(e),
        None => Ok(output.outcome),
    }
}

/// One worker: blocks until the input ends or anything fails. A finished block's results join
/// the others waiting for their turn; a worker that finds the sink free takes it and, without
/// the lock, writes every block whose turn has come, so neither a long write nor a worker held
/// up in one stops the others from mapping.
fn work_on_blocks(
    mapping: &Mapping,
    trace: bool,
    ahead: u64,
    input: &Mutex<Input>,
    output: &Mutex<Output>,
    turn: &Condvar,
) {
    let _guard = WakeOthersOnPanic { output, turn };
    let mut part = Part::new(mapping);
    let mut results = Vec::with_capacity(RESULTS_CAPACITY);
    let mut buf = Vec::new();
    loop {
        let (number, len) = match next_block(input, &mut buf) {
            Ok(Some(block)) => block,
            Ok(None) => return,
            Err(e) => return fail(output, turn, e),
        };
        part.map_lines(mapping, lines(&buf[..len]), trace, &mut results);
        let mut out = output.lock().unwrap_or_else(PoisonError::into_inner);
        while number >= out.written + ahead && out.error.is_none() {
            out = turn.wait(out).unwrap_or_else(PoisonError::into_inner);
        }
        if out.error.is_some() {
            return;
        }
        part.add_to(&mut out.outcome);
        let spare = out.spare.pop();
        out.waiting.push((number, std::mem::take(&mut results)));
        while let Some(sink) = out.sink.take() {
            let due = take_due(&mut out);
            if due.is_empty() {
                out.sink = Some(sink);
                break;
            }
            drop(out);
            let written = due.iter().try_for_each(|block| sink.write_all(block));
            out = output.lock().unwrap_or_else(PoisonError::into_inner);
            out.sink = Some(sink);
            out.written += due.len() as u64;
            out.spare.extend(due.into_iter().map(|mut block| {
                block.clear();
                // A block of one huge line does not keep its room for the rest of the run.
                block.shrink_to(RESULTS_CAPACITY);
                block
            }));
            if let Err(e) = written {
                out.error.get_or_insert(e);
            }
            turn.notify_all();
            if out.error.is_some() {
                return;
            }
        }
        drop(out);
        results = spare.unwrap_or_else(|| Vec::with_capacity(RESULTS_CAPACITY));
    }
}

/// The waiting results whose turn has come, in order; the turn moves past them.
fn take_due(out: &mut Output) -> Vec<Vec<u8>> {
    let mut due = Vec::new();
    while let Some(i) = out.waiting.iter().position(|(n, _)| *n == out.next) {
        due.push(out.waiting.swap_remove(i).1);
        out.next += 1;
    }
    due
}

/// Room for a block's results, about twice its input, so the buffer is rarely regrown.
const RESULTS_CAPACITY: usize = BLOCK * 3;

/// A worker that panics leaves an error for the others, so none waits for its block; the
/// panic itself reaches the caller when the scope ends.
struct WakeOthersOnPanic<'a, 'w> {
    output: &'a Mutex<Output<'w>>,
    turn: &'a Condvar,
}

impl Drop for WakeOthersOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            fail(self.output, self.turn, io::Error::other("a mapping worker panicked"));
        }
    }
}

fn fail(output: &Mutex<Output>, turn: &Condvar, e: io::Error) {
    let mut out = output.lock().unwrap_or_else(PoisonError::into_inner);
    out.error.get_or_insert(e);
    drop(out);
    turn.notify_all();
}

/// Reads the next block of whole lines into `buf` (the last line may lack its newline at
/// the end of input): its number and its length, or None at the end.
fn next_block(input: &Mutex<Input>, buf: &mut Vec<u8>) -> io::Result<Option<(u64, usize)>> {
    let mut input = input.lock().unwrap_or_else(PoisonError::into_inner);
    let input = &mut *input;
    if input.eof && input.carry.is_empty() {
        return Ok(None);
    }
    let mut filled = input.carry.len();
    buf.resize(BLOCK.max(filled * 2), 0);
    buf[..filled].copy_from_slice(&input.carry);
    input.carry.clear();
    let end = loop {
        while !input.eof && filled < buf.len() {
            match input.source.read(&mut buf[filled..]) {
                Ok(0) => input.eof = true,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    input.eof = true;
                    return Err(e);
                }
            }
        }
        match memchr::memrchr(b'\n', &buf[..filled]) {
            _ if input.eof => break filled,
            Some(i) => break i + 1,
            // One line longer than the buffer: make room for it.
            None => buf.resize(buf.len() * 2, 0),
        }
    };
    input.carry.extend_from_slice(&buf[end..filled]);
    if end == 0 {
        return Ok(None);
    }
    let number = input.next;
    input.next += 1;
    Ok(Some((number, end)))
}

/// The lines of `block`, found with memchr, each as text or, when it is not UTF-8, as bytes.
/// The block is checked once: a newline is ASCII, so every line of UTF-8 text is UTF-8 too;
/// only in a block that is not are the lines checked one by one.
fn lines(block: &[u8]) -> impl Iterator<Item = Result<&str, &[u8]>> {
    let text = std::str::from_utf8(block).ok();
    let mut start = 0;
    std::iter::from_fn(move || {
        let rest = block.get(start..).filter(|rest| !rest.is_empty())?;
        let end = start + memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = text
            .and_then(|text| text.get(start..end))
            .ok_or(&block[start..end])
            .or_else(|line| std::str::from_utf8(line).map_err(|_| line));
        start = end + 1;
        Some(line)
    })
}

/// One worker's share of the run: its reader and what it saw since it last reported.
struct Part {
    reader: Reader,
    rejected: bool,
    hits: u64,
}

impl Part {
    fn new(mapping: &Mapping) -> Part {
        Part {
            reader: Reader::new(mapping),
            rejected: false,
            hits: 0,
        }
    }

    /// Appends a result line per line that is not blank to `out`.
    fn map_lines<'l>(
        &mut self,
        mapping: &Mapping,
        lines: impl IntoIterator<Item = Result<&'l str, &'l [u8]>>,
        trace: bool,
        out: &mut Vec<u8>,
    ) {
        let hits = super::backtrack_limit_hits();
        let mut lent = LineValues::new(mapping);
        for line in lines {
            let bytes = line.map_or_else(|bytes| bytes, str::as_bytes);
            if !blank(bytes) && !self.reader.map_text(mapping, line.ok(), &mut lent, trace, out) {
                self.rejected = true;
            }
        }
        // Counted per thread: this one's part of the run.
        self.hits += super::backtrack_limit_hits() - hits;
    }

    /// Adds what this part saw to `outcome` and starts afresh.
    fn add_to(&mut self, outcome: &mut Outcome) {
        if self.rejected {
            outcome.code = outcome.code.max(1);
        }
        outcome.backtrack_limit_hits += self.hits;
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

/// Maps lines: the usual line is read by `LineValues::read`, which lends its values from the
/// line; any other by serde into owned values, the strings and lists reused from line to line.
struct Reader {
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
            index: AttributeIndex::new(mapping.attributes()),
            values: vec![Vec::new(); mapping.attributes().len()],
            spare: Vec::new(),
            writer: ResultWriter::default(),
        }
    }

    /// Maps one line and appends its JSON result and a newline to `out`; false when the
    /// assertion was not mapped.
    #[cfg(test)]
    fn map_line<'l>(
        &mut self,
        mapping: &Mapping,
        line: &'l [u8],
        lent: &mut LineValues<'l>,
        trace: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        self.map_text(mapping, std::str::from_utf8(line).ok(), lent, trace, out)
    }

    /// `map_line` for a line already checked: its text, or None when it is not UTF-8.
    fn map_text<'l>(
        &mut self,
        mapping: &Mapping,
        line: Option<&'l str>,
        lent: &mut LineValues<'l>,
        trace: bool,
        out: &mut Vec<u8>,
    ) -> bool {
        // JSON text is UTF-8 (RFC 8259 §8.1), and the dry run refuses a line that is not. Read
        // from bytes, serde_json would skip the strings of attributes the rules never read
        // without checking them, and map such a line: the whole line is checked first.
        let ok = match line {
            Some(text) if lent.read(&self.index, text) => {
                // Every value lent by the line is free of what JSON escapes (`read` takes no
                // other line), so the writer copies it as it is.
                let values = lent.spans.iter().map(|span| &lent.flat[span.clone()]);
                write_result(mapping, values, trace, &mut self.writer, Some(text.as_bytes()), out)
            }
            Some(text) if self.parse(text).is_ok() => {
                let values = self.values.iter().map(Vec::as_slice);
                write_result(mapping, values, trace, &mut self.writer, None, out)
            }
            _ => {
                write_error(out, 400, NOT_AN_OBJECT);
                false
            }
        };
        out.push(b'\n');
        ok
    }

    /// Reads `line` as `assertion_from_json` reads a JSON object, keeping only the
    /// attributes the rules read.
    fn parse(&mut self, line: &str) -> serde_json::Result<()> {
        self.recycle_values();
        self.spare.truncate(MAX_SPARE_VALUES);
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
}

/// Maps one assertion, given as the values of `Mapping::attributes()`, and writes the result
/// (without its newline); false when it was not mapped. `clean`: the line the values were
/// lent by, when none of its strings needs escaping.
fn write_result<'a, S: AsRef<str> + 'a>(
    mapping: &'a Mapping,
    values: impl IntoIterator<Item = &'a [S]>,
    trace: bool,
    writer: &mut ResultWriter,
    clean: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> bool {
    if trace {
        let (result, rule_trace) = mapping.evaluate_values_traced(values);
        let (value, ok) = result_value(result, Some(rule_trace));
        write_json(out, &value);
        return ok;
    }
    match mapping.evaluate_values(values) {
        Ok(mapped) => {
            writer.mapped(out, &mapped, clean);
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
    }
}

/// The values of the attributes the rules read, lent by one line: attribute `i` has
/// `flat[spans[i]]`. Kept from line to line of a block, so its lists are allocated once.
struct LineValues<'l> {
    flat: Vec<&'l str>,
    spans: Vec<Range<usize>>,
}

impl<'l> LineValues<'l> {
    fn new(mapping: &Mapping) -> LineValues<'l> {
        LineValues {
            flat: Vec::with_capacity(64),
            spans: vec![0..0; mapping.attributes().len()],
        }
    }

    /// Reads the usual line without serde: one object whose keys and values are all strings
    /// free of escapes, with no control character anywhere. False for anything else, and
    /// serde reads the line; both readings agree where both apply
    /// (`line_reader_agrees_with_serde_*`).
    fn read(&mut self, index: &AttributeIndex, text: &'l str) -> bool {
        self.flat.clear();
        self.spans.fill(0..0);
        self.read_object(index, text).is_some()
    }

    fn read_object(&mut self, index: &AttributeIndex, text: &'l str) -> Option<()> {
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
            if bytes.get(at) != Some(&b'"') {
                return None;
            }
            let key_end = find_quote(bytes, at + 1)?;
            let key = text.get(at + 1..key_end)?;
            at = past(bytes, key_end + 1, b':')?;
            if bytes.get(at) != Some(&b'"') {
                return None;
            }
            let start = at + 1;
            let end = match index.find(key) {
                Some(i) => {
                    // A repeated attribute: the last one wins, as in a `serde_json::Map`.
                    let first = self.flat.len();
                    let end = self.split_values(text, start)?;
                    self.spans[i] = first..self.flat.len();
                    end
                }
                None => find_quote(bytes, start)?,
            };
            match past(bytes, end + 1, b',') {
                Some(next) => at = next,
                None => {
                    let close = skip_spaces(bytes, end + 1);
                    return (bytes.get(close) == Some(&b'}') && skip_spaces(bytes, close + 1) == bytes.len())
                        .then_some(());
                }
            }
        }
    }

    /// `text[start..end].split(';')` into `flat`, where `end` is the closing quote's index,
    /// which is returned. None at an escape or the end of the line. Eight bytes at a time:
    /// most values are shorter than that.
    fn split_values(&mut self, text: &'l str, start: usize) -> Option<usize> {
        let bytes = text.as_bytes();
        let mut from = start;
        loop {
            let i = find_first_of(bytes, from, [b'"', b'\\', b';'])?;
            // Quotes and `;` are ASCII, so both ends are character boundaries.
            self.flat.push(text.get(from..i)?);
            match bytes[i] {
                b';' => from = i + 1,
                b'"' => return Some(i),
                _ => return None,
            }
        }
    }
}

/// The index of the first `"` at or after `from`; None at a `\` first or at the end.
#[inline]
fn find_quote(bytes: &[u8], from: usize) -> Option<usize> {
    let i = find_first_of(bytes, from, [b'"', b'\\'])?;
    (bytes[i] != b'\\').then_some(i)
}

/// Whether any byte passes `test`: every byte is looked at (no early exit), which lets the
/// compiler test 32 at a time.
#[inline]
fn any_byte(bytes: &[u8], test: impl Fn(u8) -> bool) -> bool {
    bytes.iter().fold(false, |seen, &b| seen | test(b))
}

/// The attributes the rules read, bucketed by a name's length and last byte: a key is compared
/// with the names of its bucket, mostly none or one.
struct AttributeIndex {
    buckets: Vec<Vec<(Box<[u8]>, usize)>>,
}

impl AttributeIndex {
    const BUCKETS: usize = 64;

    fn new(attributes: &[String]) -> AttributeIndex {
        let mut buckets = vec![Vec::new(); Self::BUCKETS];
        for (i, a) in attributes.iter().enumerate() {
            buckets[Self::bucket(a.as_bytes())].push((a.as_bytes().into(), i));
        }
        AttributeIndex { buckets }
    }

    #[inline]
    fn bucket(name: &[u8]) -> usize {
        name.len()
            .wrapping_mul(31)
            .wrapping_add(usize::from(name.last().copied().unwrap_or(0)))
            % Self::BUCKETS
    }

    #[inline]
    fn find(&self, key: &str) -> Option<usize> {
        let key = key.as_bytes();
        self.buckets[Self::bucket(key)]
            .iter()
            .find(|(name, _)| same_bytes(name, key))
            .map(|&(_, i)| i)
    }
}

/// Where the text after `sep` starts, spaces before and after it skipped; None when the next
/// byte after spaces is not `sep`. The usual `: "` and `, "` in one comparison.
#[inline]
fn past(bytes: &[u8], at: usize, sep: u8) -> Option<usize> {
    let usual = bytes.get(at..at + 3).and_then(|w| <[u8; 3]>::try_from(w).ok()) == Some([sep, b' ', b'"']);
    if usual {
        return Some(at + 2);
    }
    let at = skip_spaces(bytes, at);
    (bytes.get(at) == Some(&sep)).then(|| skip_spaces(bytes, at + 1))
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at) == Some(&b' ') {
        at += 1;
    }
    at
}

/// `text.split(';')` into `values`.
fn split_values(values: &mut Vec<String>, spare: &mut Vec<String>, text: &str) {
    for value in text.split(';') {
        push_value(values, spare, value);
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

/// Writes a mapped result with the bytes `serde_json` writes for it (and for the
/// `serde_json::Value` it converts to: keys in order, the same escapes), faster: strings
/// without anything to escape are copied, and the mapping's own values (domains named in the
/// rules) are serialized once per run.
#[derive(Default)]
struct ResultWriter {
    /// Serialized values lent by the mapping, by address: the mapping outlives the run and
    /// never changes, so an address names one value.
    lent: Vec<(usize, Vec<u8>)>,
    /// The same for the start of a group name in a domain the mapping lends:
    /// `{"domain":<value>,"name":`.
    group_starts: Vec<(usize, Vec<u8>)>,
}

/// Lent values remembered per run (a mapping names a handful of domains).
const MAX_LENT: usize = 64;

impl ResultWriter {
    fn mapped(&mut self, out: &mut Vec<u8>, m: &Mapped<'_>, clean: Option<&[u8]>) {
        out.extend_from_slice(b"{\"group_ids\":[");
        for (i, id) in m.group_ids.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_text(out, id, clean);
        }
        out.extend_from_slice(b"],\"group_names\":[");
        for (i, g) in m.group_names.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            match g {
                GroupName::Named { domain, name } => {
                    self.group_start(out, domain);
                    write_text(out, name, clean);
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
        for (key, value) in [
            (&b"\"email\":"[..], &u.email),
            (b"\"id\":", &u.id),
            (b"\"name\":", &u.name),
        ] {
            if let Some(value) = value {
                out.extend_from_slice(key);
                write_text(out, value, clean);
                out.push(b',');
            }
        }
        out.extend_from_slice(match u.kind {
            UserType::Ephemeral => b"\"type\":\"ephemeral\"}}",
            UserType::Local => b"\"type\":\"local\"}}",
        });
    }

    fn value(&mut self, out: &mut Vec<u8>, v: &ValueRef<'_>) {
        remembered(&mut self.lent, out, v, write_json);
    }

    fn group_start(&mut self, out: &mut Vec<u8>, domain: &ValueRef<'_>) {
        remembered(&mut self.group_starts, out, domain, |out, domain| {
            out.extend_from_slice(b"{\"domain\":");
            write_json(out, domain);
            out.extend_from_slice(b",\"name\":");
        });
    }
}

/// Writes what `write` writes for `v`, from `memory` when `v` is lent by the mapping and was
/// written before.
#[inline]
fn remembered(
    memory: &mut Vec<(usize, Vec<u8>)>,
    out: &mut Vec<u8>,
    v: &ValueRef<'_>,
    write: impl Fn(&mut Vec<u8>, &Value),
) {
    let ValueRef::Lent(lent) = v else {
        return write(out, v);
    };
    let address = std::ptr::from_ref::<Value>(lent) as usize;
    if let Some((_, bytes)) = memory.iter().find(|(a, _)| *a == address) {
        return out.extend_from_slice(bytes);
    }
    let start = out.len();
    write(out, lent);
    if memory.len() < MAX_LENT {
        memory.push((address, out[start..].to_vec()));
    }
}

/// A string as JSON: copied as it is when it lies in `clean`, text known to need no escape.
#[inline]
fn write_text(out: &mut Vec<u8>, s: &str, clean: Option<&[u8]>) {
    match clean {
        Some(clean) if clean.as_ptr_range().contains(&s.as_ptr()) => write_clean(out, s),
        _ => write_str(out, s),
    }
}

/// A JSON string as serde_json writes it: only control characters, `"` and `\` are escaped.
fn write_str(out: &mut Vec<u8>, s: &str) {
    if !any_byte(s.as_bytes(), |b| b < 0x20 || b == b'"' || b == b'\\') {
        write_clean(out, s);
    } else {
        write_json(out, s);
    }
}

/// A JSON string with nothing to escape.
#[inline]
fn write_clean(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'), "{s:?}");
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
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
            index, values, spare, ..
        } = self.0;
        while let Some(key) = map.next_key_seed(Key)? {
            match index.find(key.as_ref()) {
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
        let mapping = Mapping::compile(&rules, None).unwrap();
        for workers in [1, 2, 3, 5] {
            let mut out = Vec::new();
            let outcome = map_stream(&mapping, &mut input.as_bytes(), false, &mut out, workers).unwrap();
            assert_eq!(outcome.code, 1, "{workers} workers");
            assert!(
                String::from_utf8(out).unwrap() == want,
                "streamed output differs with {workers} workers"
            );
        }
    }

    /// A write that stalls (a core taken away from its worker) does not reorder the output:
    /// the other workers map ahead, up to their bound, and their blocks follow in turn.
    #[test]
    fn a_stalled_write_keeps_the_output_in_order() {
        struct StallsOnce {
            out: Vec<u8>,
            stalled: bool,
        }
        impl Write for StallsOnce {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if !self.stalled {
                    self.stalled = true;
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                self.out.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]});
        let mapping = Mapping::compile(&rules, None).unwrap();
        let input: String = (0..200_000).map(|i| format!("{{\"UserName\": \"u{i}\"}}\n")).collect();
        let one: serde_json::Map<String, Value> = serde_json::from_str(r#"{"UserName": "NAME"}"#).unwrap();
        let template = format!("{}\n", map_one(&mapping, &one, false).0);
        let want: String = (0..200_000)
            .map(|i| template.replace("NAME", &format!("u{i}")))
            .collect();
        for workers in [2, 3] {
            let mut sink = StallsOnce {
                out: Vec::new(),
                stalled: false,
            };
            let outcome = map_stream(&mapping, &mut input.as_bytes(), false, &mut sink, workers).unwrap();
            assert_eq!(outcome.code, 0, "{workers} workers");
            assert!(
                sink.out == want.as_bytes(),
                "output out of order with {workers} workers"
            );
        }
    }

    /// A block checked for UTF-8 at once maps each line as checking it alone would: a line
    /// that is not UTF-8 gets its error, the lines around it (multi-byte text included) map.
    #[test]
    fn a_line_that_is_not_utf8_spoils_only_itself() {
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]});
        let mapping = Mapping::compile(&rules, None).unwrap();
        let blocks: [(&[u8], usize); 4] = [
            ("{\"UserName\": \"é\"}\n{\"UserName\": \"b\"}".as_bytes(), 0),
            (
                b"{\"UserName\": \"a\"}\n{\"UserName\": \"\xff\"}\n{\"UserName\": \"b\"}\n",
                1,
            ),
            // Cut inside a character; then `é`, UTF-8 but not an object.
            (
                b"{\"UserName\": \"\xc3\"}\n\xc3\xa9\n \n{\"UserName\": \"\xc3\xa9\"}",
                2,
            ),
            (b"\n\n\xff", 1),
        ];
        for (block, errors) in blocks {
            let mut want = Vec::new();
            let mut reader = Reader::new(&mapping);
            for line in block.split(|&b| b == b'\n').filter(|line| !blank(line)) {
                reader.map_line(&mapping, line, &mut LineValues::new(&mapping), false, &mut want);
            }
            let mut got = Vec::new();
            Part::new(&mapping).map_lines(&mapping, lines(block), false, &mut got);
            let shown = String::from_utf8_lossy(block);
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{shown}");
            assert_eq!(want.windows(7).filter(|w| w == b"\"code\":").count(), errors, "{shown}");
        }
    }

    /// A failed read or write ends the run with that error, whichever worker meets it.
    #[test]
    fn a_failed_read_or_write_ends_the_run() {
        struct FailsAfter(usize);
        impl Read for FailsAfter {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk gone"));
                }
                let line = b"{\"UserName\": \"u\"}\n";
                let n = buf.len().min(line.len());
                buf[..n].copy_from_slice(&line[..n]);
                self.0 -= 1;
                Ok(n)
            }
        }
        impl Write for FailsAfter {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                self.0 -= 1;
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]});
        let mapping = Mapping::compile(&rules, None).unwrap();
        for workers in [1, 2, 3] {
            let read = map_stream(&mapping, &mut FailsAfter(100_000), false, &mut io::sink(), workers);
            assert_eq!(read.unwrap_err().to_string(), "disk gone", "{workers} workers");
            let mut lines = io::repeat(b'\n').take(0).chain(FailsAfter(usize::MAX));
            let wrote = map_stream(&mapping, &mut lines, false, &mut FailsAfter(2), workers);
            assert_eq!(
                wrote.unwrap_err().kind(),
                io::ErrorKind::BrokenPipe,
                "{workers} workers"
            );
        }
    }

    /// A worker that panics (here, in its write) ends the run with that panic; the others do
    /// not wait for its block forever.
    #[test]
    fn a_panicking_worker_ends_the_run() {
        struct PanicsOnWrite;
        impl Write for PanicsOnWrite {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                panic!("the sink broke");
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]});
        let mapping = Mapping::compile(&rules, None).unwrap();
        let input = "{\"UserName\": \"u\"}\n".repeat(100_000);
        for workers in [2, 3] {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                map_stream(&mapping, &mut input.as_bytes(), false, &mut PanicsOnWrite, workers)
            }));
            assert!(run.is_err(), "{workers} workers");
        }
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
            // Lines the line reader takes, and lines it must leave to serde.
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
        let mut lent = LineValues::new(&mapping);
        for trace in [false, true] {
            for line in lines {
                let want = match serde_json::from_slice::<Value>(line) {
                    Ok(Value::Object(obj)) => map_one(&mapping, &obj, trace),
                    _ => (error(400, NOT_AN_OBJECT), false),
                };
                let mut got = Vec::new();
                let ok = reader.map_line(&mapping, line, &mut lent, trace, &mut got);
                let line = String::from_utf8_lossy(line);
                assert_eq!(String::from_utf8(got).unwrap(), format!("{}\n", want.0), "{line}");
                assert_eq!(ok, want.1, "{line}");
            }
        }
    }

    /// The batch reader's answer for `line` (line reader first, serde after it) is what mapping
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
        let ok = reader.map_line(
            &mapping,
            line.as_bytes(),
            &mut LineValues::new(&mapping),
            false,
            &mut got,
        );
        proptest::prop_assert_eq!(String::from_utf8(got).unwrap(), format!("{}\n", want.0), "{:?}", line);
        proptest::prop_assert_eq!(ok, want.1, "{:?}", line);
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// Lines made of JSON's own punctuation, spaces, escapes, control characters and a
        /// repeated attribute: the batch reader (line reader first, serde after it) gives
        /// what mapping the `serde_json::Value` of the line gives, or the same rejection.
        #[test]
        fn line_reader_agrees_with_serde_on_object_shaped_lines(
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
        fn line_reader_agrees_with_serde_on_arbitrary_lines(
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

    /// The line reader takes the usual lines itself (so the fast path is the one measured),
    /// and leaves every line with an escape, a non-string value or a control character.
    #[test]
    fn line_reader_takes_the_usual_lines_and_leaves_the_rest() {
        let rules = json!({"rules": [{"remote": [{"type": "UserName"}, {"type": "Groups"}],
            "local": [{"user": {"name": "{0}"}}]}]});
        let mapping = Mapping::compile(&rules, None).unwrap();
        let reader = Reader::new(&mapping);
        let mut lent = LineValues::new(&mapping);
        assert_eq!(mapping.attributes(), ["Groups", "UserName"]);
        let taken: [(&str, &[&[&str]]); 4] = [
            (
                r#"{"UserName": "alice", "Groups": "a;b", "Other": "z"}"#,
                &[&["a", "b"], &["alice"]],
            ),
            (r#"{"Groups":"","UserName":"x","UserName":"y"}"#, &[&[""], &["y"]]),
            (r#" { } "#, &[&[], &[]]),
            (
                r#"{"UserName": "é;ü;;long value;with ; spaces"}"#,
                &[&[], &["é", "ü", "", "long value", "with ", " spaces"]],
            ),
        ];
        for (line, want) in taken {
            assert!(lent.read(&reader.index, line), "{line}");
            let got: Vec<&[&str]> = lent.spans.iter().map(|span| &lent.flat[span.clone()]).collect();
            assert_eq!(got, want.to_vec(), "{line}");
        }
        for line in [
            r#"{"UserName": "a\"b"}"#,
            r#"{"UserName": "a long value then\"b"}"#,
            r#"{"UserName": ["a"]}"#,
            r#"{"UserName": 1}"#,
            r#"{"User\u004eame": "a"}"#,
            r#"{"Unread key with\"": "a"}"#,
            "{\"UserName\": \"a\tb\"}",
            r#"{"UserName": "a",}"#,
            r#"{"UserName": "a"} x"#,
            r#"{"UserName": "unterminated value"#,
            r#"["UserName"]"#,
        ] {
            assert!(!lent.read(&reader.index, line), "{line}");
        }
    }

    /// The word-at-a-time searches find what a byte loop finds, at every offset and length:
    /// the closing quote, and the values `split(';')` gives before it.
    #[test]
    fn word_searches_agree_with_a_byte_loop() {
        let alphabet = ["a", "\"", "\\", ";", "é", "\u{ffff}", "\0", "\u{1}", "#", "!"];
        let mapping = compile_document(
            r#"{"rules": [{"local": [{"user": {"name": "x"}}], "remote": [{"type": "a"}]}]}"#,
            None,
        )
        .expect("rules compile");
        let mut state = 7u64;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 59) as usize;
            let text: String = (0..len)
                .map(|i| alphabet[((state >> (i * 2 % 56)) as usize + i) % alphabet.len()])
                .collect();
            let bytes = text.as_bytes();
            for from in 0..=bytes.len() {
                let quote = bytes[from..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')
                    .map(|i| from + i)
                    .filter(|&i| bytes[i] != b'\\');
                assert_eq!(find_quote(bytes, from), quote, "{text:?} from {from}");
                let Some(from_text) = text.get(from..) else { continue };
                let mut values = LineValues::new(&mapping);
                let want = quote.map(|q| (q, text[from..q].split(';').collect::<Vec<_>>()));
                let got = values.split_values(&text, from).map(|q| (q, values.flat.clone()));
                assert_eq!(got, want, "{from_text:?}");
            }
        }
    }
}
