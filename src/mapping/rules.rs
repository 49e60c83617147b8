//! Rule validation (Keystone's JSON schema, versions 1.0-3.0) and compilation.
//!
//! Stricter than Keystone, so that whatever is accepted can always be evaluated: list values
//! must be strings, regexes must compile, templates may only use `{N}`/`{}` placeholders that
//! exist in the rule, and sizes are bounded.
//!
//! Regexes are Python's: `python_re` rewrites each into the `regex` crate's syntax with the
//! same matches. They run on the linear-time `regex` crate; only a pattern that needs what it
//! lacks (look-ahead, look-behind, back-references, Python's `\b`) goes to fancy-regex, a
//! backtracking engine, bounded in pattern size and in backtracking steps per value: a value
//! it cannot decide within the limit never admits (see `Pattern::is_match`).

use std::cell::Cell;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::MappingError;
use super::python::{Piece, parse_template};
use super::python_re::translate;

const MAX_RULES: usize = 1_000;
const MAX_REMOTES: usize = 100;
const MAX_LIST: usize = 1_000;
const MAX_TEXT: usize = 4_096;
const MAX_REGEX_BYTES: usize = 1 << 20;
/// Backtracking patterns: longer ones are refused (Keystone rules' look-arounds are short).
pub(super) const MAX_BACKTRACKING_PATTERN: usize = 1_000;
/// Backtracking steps one value may cost one pattern (about a millisecond), so a
/// catastrophic pattern cannot hold a login.
pub(super) const BACKTRACK_LIMIT: usize = 100_000;
const MAX_BACKTRACKING_PROGRAM: usize = 10_000;

thread_local! {
    /// Evaluations on this thread that hit `BACKTRACK_LIMIT`, so that callers (which may log;
    /// this module may not) and traces can tell. A counter, not a list: nothing to reset.
    static LIMIT_HITS: Cell<u64> = const { Cell::new(0) };
}

/// How many times a backtracking pattern has hit its limit on this thread so far; compare
/// before and after an evaluation.
pub fn backtrack_limit_hits() -> u64 {
    LIMIT_HITS.with(Cell::get)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVersion {
    V1,
    V2,
    V3,
}

impl SchemaVersion {
    pub fn parse(text: &str) -> Option<SchemaVersion> {
        match text {
            "1.0" => Some(SchemaVersion::V1),
            "2.0" => Some(SchemaVersion::V2),
            "3.0" => Some(SchemaVersion::V3),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SchemaVersion::V1 => "1.0",
            SchemaVersion::V2 => "2.0",
            SchemaVersion::V3 => "3.0",
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Matcher {
    Exact(ExactSet),
    Patterns(PatternList),
}

/// A set of bytes, one bit each.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ByteSet([u64; 4]);

impl ByteSet {
    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    #[inline]
    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
}

/// A list of exact values with a cheap first test: most values an assertion carries are not
/// in the list, and their length or first byte already says so.
#[derive(Debug, Clone)]
pub(super) struct ExactSet {
    items: Vec<String>,
    /// Bit `n` set when an item is `n` bytes long (63 stands for 63 or more).
    lengths: u64,
    first_bytes: ByteSet,
}

impl ExactSet {
    pub fn new(items: Vec<String>) -> ExactSet {
        let mut set = ExactSet {
            items: Vec::new(),
            lengths: 0,
            first_bytes: ByteSet::default(),
        };
        for item in &items {
            set.lengths |= 1 << item.len().min(63);
            if let Some(&b) = item.as_bytes().first() {
                set.first_bytes.insert(b);
            }
        }
        set.items = items;
        set
    }

    #[inline]
    pub fn contains(&self, value: &str) -> bool {
        let bytes = value.as_bytes();
        if self.lengths & (1 << bytes.len().min(63)) == 0 {
            return false;
        }
        if let Some(&b) = bytes.first()
            && !self.first_bytes.contains(b)
        {
            return false;
        }
        self.items.iter().any(|item| same_bytes(item.as_bytes(), bytes))
    }
}

/// The patterns of one condition, with a cheap first test when all are literals (group
/// prefixes such as `^tmp-`, domain suffixes): most values are shorter than every needle or,
/// when every needle starts the value, start with a byte none starts with.
#[derive(Debug, Clone)]
pub(super) struct PatternList {
    patterns: Vec<Pattern>,
    /// No matching value is shorter (in bytes).
    min_len: usize,
    /// The bytes a matching value can start with; None when it can start with any.
    first_bytes: Option<ByteSet>,
}

impl PatternList {
    pub fn new(patterns: Vec<Pattern>) -> PatternList {
        let literals: Option<Vec<&Literal>> = patterns
            .iter()
            .map(|p| match &p.engine {
                Engine::Literal { literal, .. } => Some(literal),
                _ => None,
            })
            .collect();
        let literals = literals.unwrap_or_default();
        // A folded needle can match a value whose characters are longer than its own (KELVIN
        // SIGN for `k`), never shorter: byte lengths still bound it from below. This rests on
        // `Literal::parse` refusing non-ASCII needles under `(?i)` and on folding mapping one
        // character to one (neither Python nor `regex` folds `ß` to `ss`).
        let min_len = literals.iter().map(|l| l.needle.len()).min().unwrap_or(0);
        let all_start = !literals.is_empty() && literals.iter().all(|l| l.at_start && !l.needle.is_empty());
        let first_bytes = all_start.then(|| {
            let mut set = ByteSet::default();
            for (l, &b) in literals.iter().filter_map(|l| Some((l, l.needle.as_bytes().first()?))) {
                set.insert(b);
                if l.ascii_fold {
                    set.insert(b.to_ascii_uppercase());
                    // A non-ASCII value goes to the regex, where it may fold to the needle.
                    (0x80..=0xff).for_each(|b| set.insert(b));
                }
            }
            set
        });
        PatternList {
            patterns,
            min_len,
            first_bytes,
        }
    }

    /// Whether a pattern occurs in `value` (unanchored, as Keystone's `re.search`). Out of
    /// line: inlined, its frame is paid by every exact test and every value `may_match`
    /// turns away.
    #[inline(never)]
    pub fn any_match(&self, value: &str, undecided: bool) -> bool {
        self.patterns.iter().any(|p| p.is_match(value, undecided))
    }

    /// False when no pattern can match `value`; true when one may.
    #[inline]
    pub fn may_match(&self, value: &str) -> bool {
        let bytes = value.as_bytes();
        bytes.len() >= self.min_len
            && self
                .first_bytes
                .is_none_or(|set| bytes.first().is_some_and(|&b| set.contains(b)))
    }
}

/// Equality for the short strings mappings compare, inline: a `memcmp` call costs more than
/// comparing a name of a few words. A word at a time, the last word overlapping.
#[inline]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 4 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    if n < 8 {
        let word = |s: &[u8], at: usize| {
            s.get(at..at + 4)
                .and_then(|w| w.try_into().ok())
                .map(u32::from_ne_bytes)
        };
        return word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4);
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map(u64::from_ne_bytes)
    };
    (0..n - 8).step_by(8).all(|at| word(a, at) == word(b, at)) && word(a, n - 8) == word(b, n - 8)
}

/// Marks the first byte of `word` (in memory order) that equals `b` with its high bit. Bytes
/// after it may be marked too (the subtraction borrows out of a matching byte into the next),
/// bytes before it never: only the lowest bit set is to be trusted.
#[inline]
pub(super) fn first_of(word: u64, b: u8) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let x = word ^ u64::from_ne_bytes([b; 8]);
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The index of the first byte at or after `from` that is one of `set`, eight bytes at a time
/// (a short value, a JSON key or value, in one or two steps; memchr's setup costs more).
#[inline]
pub(super) fn find_first_of<const N: usize>(bytes: &[u8], from: usize, set: [u8; N]) -> Option<usize> {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let hits = set.iter().fold(0, |hits, &b| hits | first_of(word, b));
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    Some(at + bytes.get(at..)?.iter().position(|b| set.contains(b))?)
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub engine: Engine,
}

#[derive(Debug, Clone)]
pub(super) enum Engine {
    /// The `regex` crate: linear time, what every pattern it accepts uses.
    Linear(Regex),
    /// A pattern that is only a literal with optional `^`, `$` and `(?i)` (most mapping
    /// regexes are domain suffixes and group prefixes), answered by string comparison. Its
    /// regex (syntax checked at compilation) is built the first time the literal cannot answer
    /// (folding a non-ASCII value), which most runs never need: building one costs as much as
    /// mapping thousands of assertions.
    Literal {
        literal: Literal,
        pattern: Box<str>,
        regex: std::sync::OnceLock<Option<Regex>>,
    },
    /// fancy-regex, for look-around and back-references only.
    Backtracking(Box<fancy_regex::Regex>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Literal {
    pub needle: String,
    pub at_start: bool,
    pub at_end: bool,
    /// `(?i)` on an ASCII needle (kept in lower case). Unicode case folding relates some non-ASCII characters to
    /// ASCII ones (KELVIN SIGN and `k`), so non-ASCII values still go to the regex.
    pub ascii_fold: bool,
}

impl Literal {
    /// Reads `(?i)?^?literal$?`, where the literal may escape punctuation; None for anything
    /// else. Anchors have Python's meaning (see `is_match`).
    pub fn parse(pattern: &str) -> Option<Literal> {
        let (ascii_fold, rest) = match pattern.strip_prefix("(?i)") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let (at_start, rest) = match rest.strip_prefix('^') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let mut needle = String::with_capacity(rest.len());
        let mut at_end = false;
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) if e.is_ascii_punctuation() && e != '<' && e != '>' => needle.push(e),
                    _ => return None,
                },
                '$' if chars.as_str().is_empty() => at_end = true,
                '.' | '^' | '$' | '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' => return None,
                c => needle.push(c),
            }
        }
        if ascii_fold {
            if !needle.is_ascii() {
                return None;
            }
            needle.make_ascii_lowercase();
        }
        Some(Literal {
            needle,
            at_start,
            at_end,
            ascii_fold,
        })
    }

    /// The regex's answer, or None when only the regex can tell (folding a non-ASCII value).
    pub fn is_match(&self, value: &str) -> Option<bool> {
        if self.ascii_fold && !value.is_ascii() {
            return None;
        }
        let hay = value.as_bytes();
        // Python's `$` is the end, or before a newline that ends the value.
        Some(
            self.occurs_in(hay) || (self.at_end && hay.last() == Some(&b'\n') && self.occurs_in(&hay[..hay.len() - 1])),
        )
    }

    /// With `at_end`, whether the value ends with the needle.
    fn occurs_in(&self, hay: &[u8]) -> bool {
        let needle = self.needle.as_bytes();
        let n = needle.len();
        let Some(last_start) = hay.len().checked_sub(n) else {
            return false;
        };
        let fold = self.ascii_fold;
        let same = |at: usize| {
            let window = &hay[at..at + n];
            if fold {
                window.eq_ignore_ascii_case(needle)
            } else {
                same_bytes(window, needle)
            }
        };
        match (self.at_start, self.at_end) {
            (true, true) => n == hay.len() && same(0),
            (true, false) => same(0),
            (false, true) => same(last_start),
            (false, false) => {
                let Some(&first) = needle.first() else {
                    return true;
                };
                // Candidates start where the first byte matches (in either case, folding;
                // the needle is kept in lower case); past `last_start` the needle no longer fits.
                if hay.len() < SHORT_VALUE {
                    let upper = if fold { first.to_ascii_uppercase() } else { first };
                    let mut at = 0;
                    while let Some(candidate) = find_first_of(hay, at, [first, upper]) {
                        if candidate > last_start {
                            return false;
                        }
                        if same(candidate) {
                            return true;
                        }
                        at = candidate + 1;
                    }
                    false
                } else if fold {
                    memchr::memchr2_iter(first, first.to_ascii_uppercase(), &hay[..=last_start]).any(same)
                } else {
                    memchr::memchr_iter(first, &hay[..=last_start]).any(same)
                }
            }
        }
    }
}

/// Below this length a byte loop finds a needle's candidates sooner than memchr, whose
/// setup costs more than a short value's whole scan.
const SHORT_VALUE: usize = 64;

impl Pattern {
    /// Whether the pattern occurs in `value`. A backtracking pattern that hits its limit
    /// answers `undecided`: callers pass `false` where a match admits (any_one_of,
    /// whitelist) and `true` where it excludes (not_any_of, blacklist), so an undecidable
    /// value never lets a login through or a group in.
    #[inline]
    pub fn is_match(&self, value: &str, undecided: bool) -> bool {
        match &self.engine {
            Engine::Literal { literal, .. } => match literal.is_match(value) {
                Some(answer) => answer,
                None => self.regex_match(value, undecided),
            },
            _ => self.regex_match(value, undecided),
        }
    }

    /// Out of line: inlined, the regex engine's frame is paid by every literal test too.
    #[inline(never)]
    fn regex_match(&self, value: &str, undecided: bool) -> bool {
        match &self.engine {
            Engine::Linear(regex) => regex.is_match(value),
            Engine::Literal { pattern, regex, .. } => {
                let regex = regex.get_or_init(|| RegexBuilder::new(pattern).size_limit(MAX_REGEX_BYTES).build().ok());
                // Built from a pattern checked at compilation, it is there; were it not, the
                // answer that admits nothing.
                regex.as_ref().map_or(undecided, |regex| regex.is_match(value))
            }
            // The only runtime error is the backtracking limit.
            Engine::Backtracking(regex) => regex.is_match(value).unwrap_or_else(|_| {
                LIMIT_HITS.with(|hits| hits.set(hits.get() + 1));
                undecided
            }),
        }
    }
}

/// Compiles one pattern, read as Python reads it (`python_re`): a plain literal is answered
/// by comparison, what needs no look-around or back-reference runs on `regex`, the rest on
/// fancy-regex under its limits.
pub(super) fn compile_pattern(pattern: &str) -> Result<Pattern, String> {
    let translated = translate(pattern).map_err(|e| format!("is not a valid regular expression: {e}"))?;
    if !translated.backtracking {
        if let Some(literal) = Literal::parse(pattern)
            && regex_syntax::Parser::new().parse(&translated.text).is_ok()
        {
            return Ok(Pattern {
                engine: Engine::Literal {
                    literal,
                    pattern: translated.text.into(),
                    regex: std::sync::OnceLock::new(),
                },
            });
        }
        return match RegexBuilder::new(&translated.text).size_limit(MAX_REGEX_BYTES).build() {
            Ok(regex) => Ok(Pattern {
                engine: Engine::Linear(regex),
            }),
            Err(e) => Err(format!("is not a valid regular expression: {e}")),
        };
    }
    if pattern.len() > MAX_BACKTRACKING_PATTERN {
        return Err(format!(
            "uses look-around, back-references or a `$` before more pattern, allowed in patterns of at most {MAX_BACKTRACKING_PATTERN} bytes"
        ));
    }
    let backtracking = fancy_regex::RegexBuilder::new(&translated.text)
        .backtrack_limit(BACKTRACK_LIMIT)
        .delegate_size_limit(MAX_REGEX_BYTES)
        .delegate_dfa_size_limit(MAX_REGEX_BYTES)
        .max_prog_size(MAX_BACKTRACKING_PROGRAM)
        .build();
    match backtracking {
        Ok(regex) => Ok(Pattern {
            engine: Engine::Backtracking(Box::new(regex)),
        }),
        Err(fancy_regex::Error::CompileError(e)) => match *e {
            fancy_regex::CompileError::PatternTooComplex | fancy_regex::CompileError::InnerError(_) => {
                Err(format!("is too complex a regular expression: {e}"))
            }
            other => Err(format!("is not a valid regular expression: {other}")),
        },
        Err(e) => Err(format!("is not a valid regular expression: {e}")),
    }
}

#[derive(Debug, Clone)]
pub(super) enum RemoteKind {
    /// Contributes the attribute's values to the next `{N}` slot.
    Value,
    /// Contributes the values that match (whitelist) or do not (blacklist).
    Whitelist(Matcher),
    Blacklist(Matcher),
    /// Conditions only: decide whether the rule applies.
    AnyOneOf(Matcher),
    NotAnyOf(Matcher),
}

impl RemoteKind {
    /// Only value, whitelist and blacklist remotes fill `{0}`, `{1}`, ...
    pub fn fills_slot(&self) -> bool {
        matches!(
            self,
            RemoteKind::Value | RemoteKind::Whitelist(_) | RemoteKind::Blacklist(_)
        )
    }
}

#[derive(Debug, Clone)]
pub(super) struct Remote {
    pub attribute: String,
    /// Index of `attribute` in `Mapping::attributes`.
    pub slot: usize,
    pub kind: RemoteKind,
}

/// A local element with its strings compiled into templates.
#[derive(Debug, Clone)]
pub(super) enum Template {
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Text(Vec<Piece>),
    /// Numbers, booleans and nulls, kept as they are.
    Verbatim(Value),
    /// A subtree without placeholders, built once and shared by every evaluation.
    Constant(Arc<Value>),
}

impl Template {
    /// The value of a template that has no placeholders.
    fn without_slots(&self) -> Value {
        match self {
            Template::Object(fields) => {
                Value::Object(fields.iter().map(|(k, t)| (k.clone(), t.without_slots())).collect())
            }
            Template::Array(items) => Value::Array(items.iter().map(Template::without_slots).collect()),
            Template::Text(pieces) => Value::String(
                pieces
                    .iter()
                    .filter_map(|p| match p {
                        Piece::Literal(s) => Some(s.as_str()),
                        Piece::Slot(_) => None,
                    })
                    .collect(),
            ),
            Template::Verbatim(v) => v.clone(),
            Template::Constant(v) => (**v).clone(),
        }
    }

    fn has_slots(&self) -> bool {
        match self {
            Template::Object(fields) => fields.iter().any(|(_, t)| t.has_slots()),
            Template::Array(items) => items.iter().any(Template::has_slots),
            Template::Text(pieces) => pieces.iter().any(|p| matches!(p, Piece::Slot(_))),
            Template::Verbatim(_) | Template::Constant(_) => false,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum GroupTemplate {
    ById(Template),
    ByName { name: Template, domain: Template },
}

/// A local `user`: its string fields are templates, `type` is literal (validated), `domain`
/// an object template.
#[derive(Debug, Clone, Default)]
pub(super) struct UserTemplate {
    pub id: Option<Template>,
    pub name: Option<Template>,
    pub email: Option<Template>,
    pub domain: Option<Template>,
    pub local: Option<bool>,
}

impl UserTemplate {
    /// Keystone takes the first user dict that is not empty.
    pub fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.name.is_none()
            && self.email.is_none()
            && self.domain.is_none()
            && self.local.is_none()
    }
}

/// One `local` element, by field. Keystone reads these keys and ignores nothing else (the
/// schema admits no other keys).
#[derive(Debug, Clone, Default)]
pub(super) struct LocalTemplate {
    pub user: Option<UserTemplate>,
    pub group: Option<GroupTemplate>,
    pub groups: Option<Template>,
    pub group_ids: Option<Template>,
    pub domain: Option<Template>,
    pub projects: Option<Template>,
    pub projects_json: Option<Template>,
}

#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub local: Vec<LocalTemplate>,
    pub remote: Vec<Remote>,
}

/// Validated, compiled rules.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub version: SchemaVersion,
    pub(super) rules: Vec<Rule>,
    /// Every attribute the rules read, sorted and distinct, so an assertion's values are
    /// looked up once per evaluation, not once per remote.
    pub(super) attributes: Vec<String>,
    /// The most `{N}` slots any rule fills.
    pub(super) max_slots: usize,
}

fn invalid(path: &str, message: impl Into<String>) -> MappingError {
    MappingError::InvalidRules {
        path: path.to_string(),
        message: message.into(),
    }
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, MappingError> {
    v.as_object().ok_or_else(|| invalid(path, "must be an object"))
}

fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, MappingError> {
    let a = v.as_array().ok_or_else(|| invalid(path, "must be an array"))?;
    if a.len() > MAX_LIST {
        return Err(invalid(path, format!("must have at most {MAX_LIST} items")));
    }
    Ok(a)
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, MappingError> {
    let s = v.as_str().ok_or_else(|| invalid(path, "must be a string"))?;
    if s.len() > MAX_TEXT {
        return Err(invalid(path, format!("must be at most {MAX_TEXT} bytes")));
    }
    Ok(s)
}

fn only_keys(obj: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), MappingError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(&format!("{path}.{k}"), "is not an allowed property")),
        None => Ok(()),
    }
}

fn required<'a>(obj: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a Value, MappingError> {
    obj.get(key)
        .ok_or_else(|| invalid(path, format!("needs the property '{key}'")))
}

fn check_domain(v: &Value, path: &str) -> Result<(), MappingError> {
    let obj = object(v, path)?;
    only_keys(obj, path, &["id", "name"])?;
    for (k, val) in obj {
        string(val, &format!("{path}.{k}"))?;
    }
    Ok(())
}

fn check_projects(v: &Value, path: &str, version: SchemaVersion) -> Result<(), MappingError> {
    for (i, p) in array(v, path)?.iter().enumerate() {
        let pp = format!("{path}[{i}]");
        let obj = object(p, &pp)?;
        let allowed: &[&str] = if version == SchemaVersion::V1 {
            &["name", "roles"]
        } else {
            &["name", "roles", "domain"]
        };
        only_keys(obj, &pp, allowed)?;
        string(required(obj, &pp, "name")?, &format!("{pp}.name"))?;
        for (j, r) in array(required(obj, &pp, "roles")?, &format!("{pp}.roles"))?
            .iter()
            .enumerate()
        {
            let rp = format!("{pp}.roles[{j}]");
            let robj = object(r, &rp)?;
            only_keys(robj, &rp, &["name"])?;
            string(required(robj, &rp, "name")?, &format!("{rp}.name"))?;
        }
        if let Some(d) = obj.get("domain") {
            check_domain(d, &format!("{pp}.domain"))?;
        }
    }
    Ok(())
}

fn check_local(v: &Value, path: &str, version: SchemaVersion) -> Result<(), MappingError> {
    let obj = object(v, path)?;
    let mut allowed = vec!["user", "projects", "group", "groups", "group_ids", "domain"];
    if version == SchemaVersion::V3 {
        allowed.push("projects_json");
    }
    only_keys(obj, path, &allowed)?;
    for (key, val) in obj {
        let p = format!("{path}.{key}");
        match key.as_str() {
            "user" => {
                let user = object(val, &p)?;
                only_keys(user, &p, &["id", "name", "email", "domain", "type"])?;
                for (k, field) in user {
                    let fp = format!("{p}.{k}");
                    match k.as_str() {
                        "domain" => check_domain(field, &fp)?,
                        "type" => {
                            let t = string(field, &fp)?;
                            if t != "ephemeral" && t != "local" {
                                return Err(invalid(&fp, "must be 'ephemeral' or 'local'"));
                            }
                        }
                        _ => {
                            string(field, &fp)?;
                        }
                    }
                }
            }
            "projects" => check_projects(val, &p, version)?,
            "group" => {
                let group = object(val, &p)?;
                if group.contains_key("id") {
                    only_keys(group, &p, &["id"])?;
                    string(&group["id"], &format!("{p}.id"))?;
                } else {
                    only_keys(group, &p, &["name", "domain"])?;
                    string(required(group, &p, "name")?, &format!("{p}.name"))?;
                    check_domain(required(group, &p, "domain")?, &format!("{p}.domain"))?;
                }
            }
            "groups" | "group_ids" | "projects_json" => {
                string(val, &p)?;
            }
            "domain" => check_domain(val, &p)?,
            _ => unreachable!("only_keys admitted {key}"),
        }
    }
    Ok(())
}

fn compile_matcher(v: &Value, path: &str, regex: bool) -> Result<Matcher, MappingError> {
    let items = array(v, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| string(item, &format!("{path}[{i}]")).map(str::to_string))
        .collect::<Result<Vec<_>, _>>()?;
    if !regex {
        return Ok(Matcher::Exact(ExactSet::new(items)));
    }
    let compiled = items
        .iter()
        .enumerate()
        .map(|(i, pattern)| compile_pattern(pattern).map_err(|why| invalid(&format!("{path}[{i}]"), why)))
        .collect::<Result<Vec<_>, MappingError>>()?;
    Ok(Matcher::Patterns(PatternList::new(compiled)))
}

fn compile_remote(v: &Value, path: &str) -> Result<Remote, MappingError> {
    let obj = object(v, path)?;
    only_keys(
        obj,
        path,
        &["type", "any_one_of", "not_any_of", "whitelist", "blacklist", "regex"],
    )?;
    let attribute = string(required(obj, path, "type")?, &format!("{path}.type"))?.to_string();
    let lists: Vec<&str> = ["any_one_of", "not_any_of", "whitelist", "blacklist"]
        .into_iter()
        .filter(|k| obj.contains_key(*k))
        .collect();
    if lists.len() > 1 {
        return Err(invalid(path, format!("may hold only one of {}", lists.join(", "))));
    }
    let regex = match obj.get("regex") {
        None => false,
        Some(r) => {
            if lists.is_empty() {
                return Err(invalid(&format!("{path}.regex"), "is only allowed beside a value list"));
            }
            r.as_bool()
                .ok_or_else(|| invalid(&format!("{path}.regex"), "must be a boolean"))?
        }
    };
    let kind = match lists.first() {
        None => RemoteKind::Value,
        Some(&key) => {
            let m = compile_matcher(&obj[key], &format!("{path}.{key}"), regex)?;
            match key {
                "any_one_of" => RemoteKind::AnyOneOf(m),
                "not_any_of" => RemoteKind::NotAnyOf(m),
                "whitelist" => RemoteKind::Whitelist(m),
                _ => RemoteKind::Blacklist(m),
            }
        }
    };
    Ok(Remote {
        attribute,
        slot: 0,
        kind,
    })
}

/// Compiles a validated local value; `slots` is the number of value-contributing remotes.
/// Subtrees without placeholders become shared constants.
fn compile_template(v: &Value, path: &str, slots: usize) -> Result<Template, MappingError> {
    let t = compile_tree(v, path, slots)?;
    if matches!(t, Template::Object(_) | Template::Array(_)) && !t.has_slots() {
        // Formatted once: `{{` in the rules is `{` in the result, as with every evaluation.
        return Ok(Template::Constant(Arc::new(t.without_slots())));
    }
    Ok(t)
}

fn compile_tree(v: &Value, path: &str, slots: usize) -> Result<Template, MappingError> {
    Ok(match v {
        Value::Object(obj) => Template::Object(
            obj.iter()
                .map(|(k, val)| Ok((k.clone(), compile_template(val, &format!("{path}.{k}"), slots)?)))
                .collect::<Result<_, MappingError>>()?,
        ),
        Value::Array(items) => Template::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| compile_template(item, &format!("{path}[{i}]"), slots))
                .collect::<Result<_, _>>()?,
        ),
        Value::String(s) => {
            let pieces = parse_template(s).map_err(|e| invalid(path, e))?;
            if let Some(Piece::Slot(n)) = pieces.iter().find(|p| matches!(p, Piece::Slot(n) if *n >= slots)) {
                return Err(invalid(
                    path,
                    format!("refers to {{{n}}} but the rule's remote has only {slots} value(s) to substitute"),
                ));
            }
            Template::Text(pieces)
        }
        other => Template::Verbatim(other.clone()),
    })
}

fn compile_rule(v: &Value, path: &str, version: SchemaVersion) -> Result<Rule, MappingError> {
    let obj = object(v, path)?;
    only_keys(obj, path, &["local", "remote"])?;
    let local = array(required(obj, path, "local")?, &format!("{path}.local"))?;
    let remote_values = array(required(obj, path, "remote")?, &format!("{path}.remote"))?;
    if remote_values.is_empty() {
        return Err(invalid(&format!("{path}.remote"), "must not be empty"));
    }
    if remote_values.len() > MAX_REMOTES {
        return Err(invalid(
            &format!("{path}.remote"),
            format!("must have at most {MAX_REMOTES} items"),
        ));
    }
    for (i, l) in local.iter().enumerate() {
        check_local(l, &format!("{path}.local[{i}]"), version)?;
    }
    let remote = remote_values
        .iter()
        .enumerate()
        .map(|(i, r)| compile_remote(r, &format!("{path}.remote[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let slots = remote.iter().filter(|r| r.kind.fills_slot()).count();
    let local = local
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let lp = format!("{path}.local[{i}]");
            // Keystone formats every local, even in a rule without value remotes (its
            // `if not direct_maps` never holds), so a slot there fails at login; refuse now.
            if let Some(pj) = l.get("projects_json").and_then(Value::as_str) {
                check_projects_json_slot(pj, &format!("{lp}.projects_json"), slots)?;
            }
            compile_local(l, &lp, slots)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule { local, remote })
}

fn compile_local(v: &Value, path: &str, slots: usize) -> Result<LocalTemplate, MappingError> {
    let obj = object(v, path)?;
    let field = |key: &str| -> Result<Option<Template>, MappingError> {
        obj.get(key)
            .map(|val| compile_template(val, &format!("{path}.{key}"), slots))
            .transpose()
    };
    let group = match obj.get("group").and_then(Value::as_object) {
        None => None,
        Some(g) => Some(match g.get("id") {
            Some(id) => GroupTemplate::ById(compile_template(id, &format!("{path}.group.id"), slots)?),
            None => GroupTemplate::ByName {
                name: compile_template(&g["name"], &format!("{path}.group.name"), slots)?,
                domain: compile_template(&g["domain"], &format!("{path}.group.domain"), slots)?,
            },
        }),
    };
    let user = match obj.get("user").and_then(Value::as_object) {
        None => None,
        Some(u) => {
            let field = |key: &str| {
                u.get(key)
                    .map(|val| compile_template(val, &format!("{path}.user.{key}"), slots))
                    .transpose()
            };
            Some(UserTemplate {
                id: field("id")?,
                name: field("name")?,
                email: field("email")?,
                domain: field("domain")?,
                local: u.get("type").and_then(Value::as_str).map(|t| t == "local"),
            })
        }
    };
    Ok(LocalTemplate {
        user,
        group,
        groups: field("groups")?,
        group_ids: field("group_ids")?,
        domain: field("domain")?,
        projects: field("projects")?,
        projects_json: field("projects_json")?,
    })
}

/// `projects_json` names a slot as `{N}` (Keystone reads `\{?(\d+)\}?`).
fn check_projects_json_slot(text: &str, path: &str, slots: usize) -> Result<(), MappingError> {
    let digits = text.trim_start_matches('{').trim_end_matches('}');
    match digits.parse::<usize>() {
        Ok(n) if n < slots && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(invalid(path, "must name an existing remote value as {N}")),
    }
}

impl Mapping {
    /// Validates and compiles `{"rules": [...], "schema_version"?: "1.0"|"2.0"|"3.0"}`.
    /// `version` (from the caller) wins over the document's `schema_version`.
    pub fn compile(doc: &Value, version: Option<SchemaVersion>) -> Result<Mapping, MappingError> {
        let obj = object(doc, "mapping")?;
        // Clients send `"schema_version": null` for "the default" (python-openstackclient does).
        let version = match (version, obj.get("schema_version").filter(|v| !v.is_null())) {
            (Some(v), _) => v,
            (None, None) => SchemaVersion::V1,
            (None, Some(v)) => {
                let text = string(v, "schema_version")?;
                SchemaVersion::parse(text).ok_or_else(|| invalid("schema_version", "must be 1.0, 2.0 or 3.0"))?
            }
        };
        let rules = array(required(obj, "mapping", "rules")?, "rules")?;
        if rules.is_empty() {
            return Err(invalid("rules", "must not be empty"));
        }
        if rules.len() > MAX_RULES {
            return Err(invalid("rules", format!("must have at most {MAX_RULES} items")));
        }
        let mut rules = rules
            .iter()
            .enumerate()
            .map(|(i, r)| compile_rule(r, &format!("rules[{i}]"), version))
            .collect::<Result<Vec<_>, _>>()?;
        let mut attributes: Vec<String> = rules
            .iter()
            .flat_map(|r| r.remote.iter().map(|rm| rm.attribute.clone()))
            .collect();
        attributes.sort();
        attributes.dedup();
        for remote in rules.iter_mut().flat_map(|r| r.remote.iter_mut()) {
            remote.slot = attributes.binary_search(&remote.attribute).unwrap_or_default();
        }
        let max_slots = rules
            .iter()
            .map(|r| r.remote.iter().filter(|rm| rm.kind.fills_slot()).count())
            .max()
            .unwrap_or_default();
        Ok(Mapping {
            version,
            rules,
            attributes,
            max_slots,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invalid_rules_name_the_offending_element() {
        let r = |remote: Value, local: Value| json!({"rules": [{"local": local, "remote": remote}]});
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "mapping must be an object"),
            (json!({"rules": []}), "rules must not be empty"),
            (
                r(json!([{"type": "a", "any_one_of": ["x"], "regex": "yes"}]), json!([])),
                "rules[0].remote[0].regex must be a boolean",
            ),
            (
                r(json!([{"type": 5}]), json!([])),
                "rules[0].remote[0].type must be a string",
            ),
            (
                r(json!([{"type": "a", "any_one_of": "x"}]), json!([])),
                "rules[0].remote[0].any_one_of must be an array",
            ),
            (
                r(json!([{"type": "a", "any_one_of": [1]}]), json!([])),
                "rules[0].remote[0].any_one_of[0] must be a string",
            ),
            (
                r(json!([{"type": "a", "any_one_of": ["("], "regex": true}]), json!([])),
                "rules[0].remote[0].any_one_of[0] is not a valid regular expression",
            ),
            (
                r(json!([{"type": "a"}]), json!([{"user": {"name": "{1}"}}])),
                "rules[0].local[0].user.name refers to {1}",
            ),
            (
                r(json!([{"type": "a"}]), json!([{"user": {"name": "{x}"}}])),
                "rules[0].local[0].user.name only {N} placeholders",
            ),
            (
                r(json!([{"type": "a"}]), json!([{"group": {"name": "g"}}])),
                "rules[0].local[0].group needs the property 'domain'",
            ),
            (
                r(json!([{"type": "a"}]), json!([{"usr": {}}])),
                "rules[0].local[0].usr is not an allowed property",
            ),
            (r(json!([]), json!([])), "rules[0].remote must not be empty"),
        ];
        for (doc, want) in cases {
            let err = Mapping::compile(&doc, None).unwrap_err().to_string();
            assert!(err.starts_with(want), "{doc}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn plain_patterns_are_recognised_as_literals() {
        let lit = |needle: &str, at_start, at_end, ascii_fold| {
            Some(Literal {
                needle: needle.into(),
                at_start,
                at_end,
                ascii_fold,
            })
        };
        let cases = [
            (r"@corp\.example$", lit("@corp.example", false, true, false)),
            ("^tmp-", lit("tmp-", true, false, false)),
            ("(?i)manager", lit("manager", false, false, true)),
            ("^admins$", lit("admins", true, true, false)),
            (r"\$x\^", lit("$x^", false, false, false)),
            ("a.c", None),
            ("a$b", None),
            (r"\d+", None),
            (r"\<x", None),
            ("(?i)émile", None),
            ("(a|b)", None),
        ];
        for (pattern, want) in cases {
            assert_eq!(Literal::parse(pattern), want, "{pattern}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// The literal shortcut answers exactly as the translated regex does, whenever it answers.
        #[test]
        fn literal_shortcut_agrees_with_the_regex(
            pattern in r"(\(\?i\))?\^?([a-zA-Z.@\-]|\\[.$^])*\$?",
            value in "[a-zA-Z.@\\-\u{212A}\u{17F}é$^\n]{0,8}",
        ) {
            let translated = translate(&pattern).map(|t| t.text);
            if let (Ok(regex), Some(literal)) = (Regex::new(translated.as_deref().unwrap_or("(")), Literal::parse(&pattern))
                && let Some(answer) = literal.is_match(&value)
            {
                proptest::prop_assert_eq!(answer, regex.is_match(&value), "{} on {:?}", pattern, value);
                // Long values, where the unanchored search goes through memchr instead.
                let long = format!("{}{value}", "-".repeat(SHORT_VALUE));
                let answer = literal.is_match(&long);
                proptest::prop_assert!(answer.is_none_or(|a| a == regex.is_match(&long)), "{} on {:?}", pattern, long);
            }
        }
    }

    /// A list's first test turns away what no pattern can match, and nothing one matches.
    #[test]
    fn pattern_list_first_test() {
        // (patterns, value, what the first test says, whether a pattern matches).
        let cases: &[(&[&str], &str, bool, bool)] = &[
            (&["^tmp-", "^test-"], "tmp-x", true, true),
            (&["^tmp-", "^test-"], "devs", false, false),
            (&["^tmp-", "^test-"], "team", true, false),
            (&["^tmp-", "^test-"], "tmp", false, false),
            (&["(?i)^manager"], "Manager of ops", true, true),
            (&["(?i)^manager"], "mANAGER", true, true),
            (&["(?i)^manager"], "Engineering Manager", false, false),
            // KELVIN SIGN folds to `k`: a non-ASCII first byte goes on to the regex.
            (&["(?i)^kelvin"], "\u{212A}elvin", true, true),
            (&["@corp\\.example$"], "a@corp.example", true, true),
            (&["@corp\\.example$"], "a@corp.example\n", true, true),
            (&["@corp\\.example$"], "x@corp", false, false),
            (&["^ab$"], "ab\n", true, true),
            // Not all literals: no first test.
            (&["^a", "b.c"], "zzz", true, false),
            (&["^a", "b.c"], "xbyc", true, true),
            // An empty needle matches everything.
            (&["^", "^tmp-"], "", true, true),
            (&["manager"], "Engineering manager", true, true),
            (&["manager"], "ops", false, false),
        ];
        for &(patterns, value, may, matches) in cases {
            let list = PatternList::new(patterns.iter().map(|p| compile_pattern(p).expect(p)).collect());
            assert_eq!(list.may_match(value), may, "{patterns:?} on {value:?}");
            assert_eq!(list.any_match(value, false), matches, "{patterns:?} on {value:?}");
        }
    }

    /// A long run of `a` with no `b`: `^(a|a)+\1b` (a back-reference, so backtracking) tries
    /// every way to split it.
    fn catastrophic_value() -> String {
        "a".repeat(40)
    }

    #[test]
    fn python_only_patterns_fall_back_to_backtracking_within_limits() {
        // (pattern, value, matches, engine: "literal" | "linear" | "backtracking").
        let cases = [
            ("^tmp-", "tmp-x", true, "literal"),
            ("(?i)^TMP-", "tmp-x", true, "literal"),
            ("(?i)k$", "\u{212a}", true, "literal"),
            ("(?i)k$", "\u{e9}", false, "literal"),
            (r"^(alice|bob)$", "bob", true, "linear"),
            ("^(?!guest)", "alice", true, "backtracking"),
            ("^(?!guest)", "guest-7", false, "backtracking"),
            (r"(?=.*admin)^team-", "team-admins", true, "backtracking"),
            (r"(?<=@)corp\.example$", "a@corp.example", true, "backtracking"),
            (r"(?<=@)corp\.example$", "corp.example", false, "backtracking"),
            (r"(?<!ext-)users$", "ext-users", false, "backtracking"),
            (r"(?<!ext-)users$", "int-users", true, "backtracking"),
            (r"^(\w+)-\1$", "ab-ab", true, "backtracking"),
            (r"^(\w+)-\1$", "ab-cd", false, "backtracking"),
            (r"^(?P<x>\w)(?P=x)", "aa", true, "backtracking"),
            (r"^(?P<x>\w)(?P=x)", "ab", false, "backtracking"),
        ];
        for (pattern, value, want, engine) in cases {
            let compiled = compile_pattern(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
            let kind = match compiled.engine {
                Engine::Linear(_) => "linear",
                Engine::Literal { .. } => "literal",
                Engine::Backtracking(_) => "backtracking",
            };
            assert_eq!(kind, engine, "{pattern}");
            for undecided in [false, true] {
                assert_eq!(compiled.is_match(value, undecided), want, "{pattern} on {value}");
            }
        }
    }

    #[test]
    fn a_pattern_at_its_backtracking_limit_never_admits() {
        let pattern = compile_pattern(r"^(a|a)+\1b").unwrap();
        assert!(matches!(pattern.engine, Engine::Backtracking(_)));
        let before = backtrack_limit_hits();
        let started = std::time::Instant::now();
        assert!(!pattern.is_match(&catastrophic_value(), false), "where a match admits");
        assert!(pattern.is_match(&catastrophic_value(), true), "where a match excludes");
        assert_eq!(backtrack_limit_hits() - before, 2);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "bounded");
        // Values decided within the limit are not affected.
        assert!(pattern.is_match("aaab", false));
        assert!(!pattern.is_match("aaac", true));
    }

    #[test]
    fn rules_with_backtracking_patterns_trace_the_limit_and_fail_closed() {
        let doc = json!({"rules": [
            {"remote": [{"type": "UserName"}, {"type": "UserName", "any_one_of": [r"^(a|a)+\1b"], "regex": true}],
             "local": [{"user": {"name": "{0}"}}]},
            {"remote": [{"type": "UserName"}, {"type": "UserName", "not_any_of": [r"^(a|a)+\1b"], "regex": true}],
             "local": [{"user": {"name": "{0}"}}]},
            {"remote": [{"type": "UserName"}, {"type": "UserName", "whitelist": [r"^(a|a)+\1b"], "regex": true}],
             "local": [{"groups": "{1}", "domain": {"name": "d"}}]},
            {"remote": [{"type": "UserName"}, {"type": "UserName", "blacklist": [r"^(a|a)+\1b"], "regex": true}],
             "local": [{"groups": "{1}", "domain": {"name": "d"}}]},
        ]});
        let mapping = Mapping::compile(&doc, None).unwrap();
        let assertion: super::super::Assertion = [("UserName".to_string(), vec![catastrophic_value()])].into();
        let (result, trace) = mapping.evaluate_traced(&assertion);
        assert!(matches!(result, Err(MappingError::NoRuleMatched)) || result.is_ok());
        let summary: Vec<(bool, bool)> = trace.iter().map(|t| (t.matched, t.backtrack_limit)).collect();
        // any_one_of: not admitted; not_any_of: excluded; whitelist keeps nothing and
        // blacklist drops the value, both still matching (Keystone's rule for lists).
        assert_eq!(summary, vec![(false, true), (false, true), (true, true), (true, true)]);
        assert!(
            result.unwrap().group_names.is_empty(),
            "no group from an undecided value"
        );
    }

    #[test]
    fn patterns_neither_engine_accepts_are_refused_with_their_path() {
        let long_lookahead = format!("(?!x){}", "a".repeat(MAX_BACKTRACKING_PATTERN));
        let huge = format!("\\w{{{}}}", 10_000);
        let cases = [
            ("(", "is not a valid regular expression"),
            ("(?!x", "is not a valid regular expression"),
            (r"\2(a)", "is not a valid regular expression"),
            (
                long_lookahead.as_str(),
                "uses look-around, back-references or a `$` before more pattern, allowed in patterns of at most 1000 bytes",
            ),
            (huge.as_str(), "is not a valid regular expression"),
        ];
        for (pattern, want) in cases {
            let doc =
                json!({"rules": [{"local": [], "remote": [{"type": "a", "any_one_of": [pattern], "regex": true}]}]});
            let err = Mapping::compile(&doc, None).unwrap_err().to_string();
            let want = format!("rules[0].remote[0].any_one_of[0] {want}");
            assert!(err.starts_with(&want), "{pattern:.40}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn schema_version_comes_from_the_caller_or_the_document() {
        let doc = json!({"schema_version": "2.0", "rules": [{"local": [], "remote": [{"type": "a"}]}]});
        assert_eq!(Mapping::compile(&doc, None).unwrap().version, SchemaVersion::V2);
        assert_eq!(
            Mapping::compile(&doc, Some(SchemaVersion::V3)).unwrap().version,
            SchemaVersion::V3
        );
        let null = json!({"schema_version": null, "rules": [{"local": [], "remote": [{"type": "a"}]}]});
        assert_eq!(
            Mapping::compile(&null, None).unwrap().version,
            SchemaVersion::V1,
            "null means the default"
        );
        let bad = json!({"schema_version": "9.9", "rules": []});
        assert!(Mapping::compile(&bad, None).is_err());
    }
}
