//! Evaluating compiled rules against an assertion, as Keystone's `RuleProcessor.process` and
//! `_transform` do, with an optional trace of each rule's outcome.
//!
//! The result borrows from the mapping and the assertion: a login copies only the text a
//! template builds (`{0}@example.com`), never a value that is used as it is. Each matched
//! rule's locals are folded into the result as the rule matches, in Keystone's order.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};
use smallvec::SmallVec;

use super::MappingError;
use super::python::{Piece, literal_list, repr_list};
use super::rules::{
    GroupTemplate, LocalTemplate, Mapping, Matcher, Remote, RemoteKind, Rule, SchemaVersion, Template, UserTemplate,
    backtrack_limit_hits, same_bytes,
};

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

static NULL: Value = Value::Null;

/// A JSON value in a mapping result: lent by the mapping (a literal in the rules) or built
/// for this assertion and shared by the entries that name it.
#[derive(Debug, Clone)]
pub enum ValueRef<'a> {
    Lent(&'a Value),
    Built(Arc<Value>),
}

impl std::ops::Deref for ValueRef<'_> {
    type Target = Value;

    #[inline]
    fn deref(&self) -> &Value {
        match self {
            ValueRef::Lent(v) => v,
            ValueRef::Built(v) => v,
        }
    }
}

impl PartialEq for ValueRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        // The usual case, the same literal of the rules, without walking it.
        if let (ValueRef::Lent(a), ValueRef::Lent(b)) = (self, other)
            && std::ptr::eq(*a, *b)
        {
            return true;
        }
        **self == **other
    }
}

impl Serialize for ValueRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

/// A group named in the mapping result: a name with its domain, or a whole group object given
/// as `JSON:{...}`. Fields in key order, as for `Mapped`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GroupName<'a> {
    Named { domain: ValueRef<'a>, name: Cow<'a, str> },
    Json(Box<Value>),
}

impl GroupName<'_> {
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserType {
    #[default]
    Ephemeral,
    Local,
}

/// Keystone's mapped user. Fields are in the order Keystone's dict serializes (sorted).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MappedUser<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<ValueRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    pub kind: UserType,
}

/// Keystone's mapped properties. Fields are in key order, so serializing this directly
/// writes the same bytes as serializing it through a `serde_json::Value` (whose keys are
/// sorted): `fedgate mapping test` does the first, the dry-run API the second.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mapped<'a> {
    pub group_ids: Vec<Cow<'a, str>>,
    pub group_names: Vec<GroupName<'a>>,
    pub projects: Vec<Value>,
    pub user: MappedUser<'a>,
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
    /// A look-around or back-reference pattern of this rule gave up on a value at its
    /// backtracking limit (and did not admit it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub backtrack_limit: bool,
}

/// The assertion's values for each of the mapping's attributes, by `Remote::slot`: owned
/// strings (an `Assertion`) or text borrowed from an input line (`fedgate mapping test`).
type Found<'a, S> = [Option<&'a [S]>];

/// The values one `{N}` slot receives: a subset of one attribute's values, in their order.
/// Attributes of up to 64 values (all but freak assertions) use a bit mask, so picking
/// copies nothing.
#[derive(Debug, Clone)]
enum Picked<'a, S> {
    All(&'a [S]),
    Mask { values: &'a [S], mask: u64 },
    List(Vec<&'a str>),
}

impl<'a, S: AsRef<str>> Picked<'a, S> {
    /// The values that pass `keep`; with `dedup`, only the first of equal values (Keystone
    /// builds these from sets; fedgate keeps the assertion's order).
    fn select(values: &'a [S], dedup: bool, keep: impl Fn(&str) -> bool) -> Picked<'a, S> {
        if values.len() > 64 {
            let mut list: Vec<&'a str> = Vec::new();
            for v in values.iter().map(S::as_ref).filter(|v| keep(v)) {
                if !dedup || !list.contains(&v) {
                    list.push(v);
                }
            }
            return Picked::List(list);
        }
        let mut mask = 0u64;
        for (i, v) in values.iter().enumerate() {
            let v = v.as_ref();
            let repeated =
                || (0..i).any(|j| mask & (1 << j) != 0 && same_bytes(values[j].as_ref().as_bytes(), v.as_bytes()));
            if keep(v) && !(dedup && repeated()) {
                mask |= 1 << i;
            }
        }
        Picked::Mask { values, mask }
    }

    fn len(&self) -> usize {
        match self {
            Picked::All(values) => values.len(),
            Picked::Mask { mask, .. } => mask.count_ones() as usize,
            Picked::List(list) => list.len(),
        }
    }

    fn iter(&self) -> PickedIter<'_, 'a, S> {
        match self {
            Picked::All(values) => PickedIter::All(values.iter()),
            Picked::Mask { values, mask } => PickedIter::Mask { values, mask: *mask },
            Picked::List(list) => PickedIter::List(list.iter()),
        }
    }

    /// The value, when there is exactly one.
    fn single(&self) -> Option<&'a str> {
        match self {
            Picked::All([one]) => Some(one.as_ref()),
            Picked::Mask { values, mask } if mask.count_ones() == 1 => {
                values.get(mask.trailing_zeros() as usize).map(S::as_ref)
            }
            Picked::List(list) if list.len() == 1 => Some(list[0]),
            _ => None,
        }
    }
}

enum PickedIter<'s, 'a, S> {
    All(std::slice::Iter<'a, S>),
    Mask { values: &'a [S], mask: u64 },
    List(std::slice::Iter<'s, &'a str>),
}

impl<'a, S: AsRef<str>> Iterator for PickedIter<'_, 'a, S> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        match self {
            PickedIter::All(it) => it.next().map(S::as_ref),
            PickedIter::Mask { values, mask } => {
                if *mask == 0 {
                    return None;
                }
                let i = mask.trailing_zeros() as usize;
                *mask &= *mask - 1;
                values.get(i).map(S::as_ref)
            }
            PickedIter::List(it) => it.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match self {
            PickedIter::All(it) => it.len(),
            PickedIter::Mask { mask, .. } => mask.count_ones() as usize,
            PickedIter::List(it) => it.len(),
        };
        (n, Some(n))
    }
}

/// The slots of one rule: on the stack for the usual handful of remotes.
type Slots<'a, S> = SmallVec<[Picked<'a, S>; 8]>;

impl Matcher {
    /// `undecided`: the answer for a value a backtracking pattern could not decide within
    /// its limit; the side that does not admit (see `Pattern::is_match`).
    #[inline]
    fn is_match(&self, value: &str, undecided: bool) -> bool {
        match self {
            Matcher::Exact(set) => set.contains(value),
            Matcher::Patterns(list) => list.may_match(value) && list.any_match(value, undecided),
        }
    }

    fn matches_any<S: AsRef<str>>(&self, values: &[S], undecided: bool) -> bool {
        values.iter().any(|v| self.is_match(v.as_ref(), undecided))
    }
}

impl Remote {
    /// The assertion's values for this remote's attribute.
    fn values_in<'a, S>(&self, found: &Found<'a, S>) -> Option<&'a [S]> {
        found.get(self.slot).copied().flatten()
    }
}

/// Why a rule did not apply: the remote's index and the check. Cheap, so evaluations without
/// a trace allocate nothing for rules that do not match.
#[derive(Clone, Copy)]
struct Stop {
    remote: usize,
    check: &'static str,
}

/// Fills `slots` with the values for the rule's `{N}` slots (Keystone's
/// `_verify_all_requirements`), or says where the rule stopped. The caller reuses `slots`
/// from rule to rule.
fn verify_requirements<'a, S: AsRef<str>>(
    rule: &Rule,
    found: &Found<'a, S>,
    slots: &mut Slots<'a, S>,
) -> Result<(), Stop> {
    slots.clear();
    for (i, remote) in rule.remote.iter().enumerate() {
        let values = match remote.values_in(found) {
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
                if !m.matches_any(values, false) {
                    return Err(Stop {
                        remote: i,
                        check: "any_one_of",
                    });
                }
            }
            RemoteKind::NotAnyOf(m) => {
                if m.matches_any(values, true) {
                    return Err(Stop {
                        remote: i,
                        check: "not_any_of",
                    });
                }
            }
            RemoteKind::Value => slots.push(Picked::All(values)),
            RemoteKind::Whitelist(m) => {
                // Keystone: a list comprehension for regexes (order and duplicates kept), a
                // set otherwise.
                let dedup = matches!(m, Matcher::Exact(_));
                slots.push(Picked::select(values, dedup, |v| m.is_match(v, false)));
            }
            RemoteKind::Blacklist(m) => slots.push(Picked::select(values, true, |v| !m.is_match(v, true))),
        }
    }
    Ok(())
}

fn describe<S: AsRef<str>>(rule: &Rule, stop: Stop, found: &Found<'_, S>) -> FailedCondition {
    let remote = &rule.remote[stop.remote];
    FailedCondition {
        remote: stop.remote,
        attribute: remote.attribute.clone(),
        check: stop.check,
        seen: remote
            .values_in(found)
            .map(|values| values.iter().map(|v| v.as_ref().to_string()).collect())
            .unwrap_or_default(),
    }
}

fn render_text<'a, S: AsRef<str>>(pieces: &'a [Piece], slots: &Slots<'a, S>) -> Cow<'a, str> {
    match pieces {
        [Piece::Literal(s)] => return Cow::Borrowed(s),
        [Piece::Slot(n)] => {
            if let Some(one) = slots.get(*n).and_then(Picked::single) {
                return Cow::Borrowed(one);
            }
        }
        _ => {}
    }
    let capacity = pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(s) => s.len(),
            Piece::Slot(n) => slots.get(*n).map_or(0, |v| v.iter().map(|s| s.len() + 4).sum()),
        })
        .sum();
    let mut out = String::with_capacity(capacity);
    for p in pieces {
        match p {
            Piece::Literal(s) => out.push_str(s),
            // Compilation checked every slot index against the rule's remotes.
            Piece::Slot(n) => {
                if let Some(picked) = slots.get(*n) {
                    match picked.single() {
                        Some(one) => out.push_str(one),
                        None => out.push_str(&repr_list(&picked.iter().collect::<Vec<_>>())),
                    }
                }
            }
        }
    }
    Cow::Owned(out)
}

fn render<'a, S: AsRef<str>>(t: &'a Template, slots: &Slots<'a, S>) -> Value {
    match t {
        Template::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), render(v, slots))).collect()),
        Template::Array(items) => Value::Array(items.iter().map(|i| render(i, slots)).collect()),
        Template::Text(pieces) => Value::String(render_text(pieces, slots).into_owned()),
        Template::Verbatim(v) => v.clone(),
        Template::Constant(v) => (**v).clone(),
    }
}

/// A subtree without placeholders is lent from the mapping; others are built.
fn render_value<'a, S: AsRef<str>>(t: &'a Template, slots: &Slots<'a, S>) -> ValueRef<'a> {
    match t {
        Template::Constant(v) => ValueRef::Lent(v),
        other => ValueRef::Built(Arc::new(render(other, slots))),
    }
}

fn render_str<'a, S: AsRef<str>>(t: &'a Template, slots: &Slots<'a, S>) -> Cow<'a, str> {
    match t {
        Template::Text(pieces) => render_text(pieces, slots),
        other => Cow::Owned(value_text(&render(other, slots))),
    }
}

/// A list-valued local (`groups`, `group_ids`). Exactly one slot with several values gives
/// them as they are, which is what Keystone gets back after formatting them as Python list
/// text and parsing it again; anything else is text read as Keystone reads it.
fn render_list<'s, 'a, S: AsRef<str>>(t: &'a Template, slots: &'s Slots<'a, S>) -> Listed<'s, 'a, S> {
    if let Template::Text(pieces) = t
        && let [Piece::Slot(n)] = pieces.as_slice()
        && let Some(values) = slots.get(*n)
        && values.len() != 1
    {
        return Listed::Values(values);
    }
    let text = render_str(t, slots);
    if !text.trim_start().starts_with('[') {
        return Listed::One(text);
    }
    Listed::Parsed(literal_list(&text).into_iter().map(Cow::Owned).collect())
}

/// The entries of a list-valued local, lent where they are the assertion's values.
enum Listed<'s, 'a, S> {
    Values(&'s Picked<'a, S>),
    One(Cow<'a, str>),
    Parsed(Vec<Cow<'a, str>>),
}

impl<'a, S: AsRef<str>> Listed<'_, 'a, S> {
    fn len(&self) -> usize {
        match self {
            Listed::Values(values) => values.len(),
            Listed::One(_) => 1,
            Listed::Parsed(list) => list.len(),
        }
    }

    fn for_each(&self, mut f: impl FnMut(Cow<'a, str>)) {
        match self {
            Listed::Values(values) => values.iter().for_each(|v| f(Cow::Borrowed(v))),
            Listed::One(text) => f(text.clone()),
            Listed::Parsed(list) => list.iter().for_each(|v| f(v.clone())),
        }
    }

    fn any(&self, f: impl Fn(&str) -> bool) -> bool {
        match self {
            Listed::Values(values) => values.iter().any(f),
            Listed::One(text) => f(text),
            Listed::Parsed(list) => list.iter().any(|v| f(v)),
        }
    }
}

fn render_user<'a, S: AsRef<str>>(u: &'a UserTemplate, slots: &Slots<'a, S>) -> MappedUser<'a> {
    let text = |t: &'a Option<Template>| t.as_ref().map(|t| render_str(t, slots));
    MappedUser {
        domain: u.domain.as_ref().map(|t| render_value(t, slots)),
        email: text(&u.email),
        id: text(&u.id),
        name: text(&u.name),
        kind: if u.local == Some(true) {
            UserType::Local
        } else {
            UserType::Ephemeral
        },
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

/// Keystone keys groups-by-name on the domain's name, else its id.
fn domain_key<'a>(domain: &ValueRef<'a>) -> ValueRef<'a> {
    fn pick(d: &Value) -> &Value {
        match d.get("name").filter(|n| truthy(Some(n))) {
            Some(name) => name,
            None => d.get("id").unwrap_or(&NULL),
        }
    }
    match domain {
        ValueRef::Lent(d) => ValueRef::Lent(pick(d)),
        ValueRef::Built(d) => ValueRef::Built(Arc::new(pick(d).clone())),
    }
}

/// Room for a typical login's group names at the first, so the list is not regrown.
const GROUP_NAMES_CAPACITY: usize = 16;

type NamedGroups<'a> = SmallVec<[(Cow<'a, str>, ValueRef<'a>); 4]>;

/// Keystone's `_transform`, fed one local element at a time.
#[derive(Default)]
struct Transform<'a> {
    locals: usize,
    user: Option<MappedUser<'a>>,
    group_ids: Vec<Cow<'a, str>>,
    group_names: Vec<GroupName<'a>>,
    /// Group names of each domain in first-seen order, with their latest domain object.
    by_domain: SmallVec<[(ValueRef<'a>, NamedGroups<'a>); 2]>,
    projects: Vec<Value>,
    /// The domain of the last local element: the user's domain when it names none.
    last_domain: Option<ValueRef<'a>>,
}

impl<'a> Transform<'a> {
    /// Room for a typical login's results up front: growing them costs more than the rare
    /// unused allocation.
    fn with_room() -> Transform<'a> {
        Transform {
            group_ids: Vec::with_capacity(4),
            group_names: Vec::with_capacity(GROUP_NAMES_CAPACITY),
            ..Transform::default()
        }
    }

    fn add<S: AsRef<str>>(
        &mut self,
        version: SchemaVersion,
        l: &'a LocalTemplate,
        slots: &Slots<'a, S>,
    ) -> Result<(), MappingError> {
        self.locals += 1;
        let domain = l.domain.as_ref().map(|t| render_value(t, slots));
        if l.projects.is_some() || l.projects_json.is_some() {
            let projects = l.projects.as_ref().map(|t| render(t, slots));
            let projects_json = l.projects_json.as_ref().map(|t| render(t, slots));
            self.projects = extract_projects(version, projects, projects_json, domain.as_deref())?;
        }
        if self.user.is_none()
            && let Some(u) = &l.user
            && !u.is_empty()
        {
            self.user = Some(render_user(u, slots));
        }
        match &l.group {
            Some(GroupTemplate::ById(id)) => push_unique(&mut self.group_ids, render_str(id, slots)),
            Some(GroupTemplate::ByName { name, domain }) => {
                self.add_named(render_str(name, slots), render_value(domain, slots))
            }
            None => {}
        }
        if let Some(t) = &l.groups {
            normalize_groups(&render_list(t, slots), domain.as_ref(), &mut self.group_names)?;
        }
        if let Some(t) = &l.group_ids {
            render_list(t, slots).for_each(|id| push_unique(&mut self.group_ids, id));
        }
        self.last_domain = domain;
        Ok(())
    }

    /// Keystone re-emits every group-by-name seen so far each time one is added, grouped by
    /// domain; reproduced for compatibility (see the corpus notes).
    fn add_named(&mut self, name: Cow<'a, str>, domain: ValueRef<'a>) {
        let key = domain_key(&domain);
        let slot = match self.by_domain.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.by_domain.push((key, NamedGroups::new()));
                self.by_domain.len() - 1
            }
        };
        let groups = &mut self.by_domain[slot].1;
        match groups
            .iter_mut()
            .find(|(n, _)| same_bytes(n.as_bytes(), name.as_bytes()))
        {
            Some(existing) => existing.1 = domain,
            None => groups.push((name, domain)),
        }
        let count: usize = self.by_domain.iter().map(|(_, gs)| gs.len()).sum();
        self.group_names.reserve(count);
        for (n, d) in self.by_domain.iter().flat_map(|(_, gs)| gs.iter()) {
            self.group_names.push(GroupName::Named {
                name: n.clone(),
                domain: d.clone(),
            });
        }
    }

    fn finish(&mut self, version: SchemaVersion) -> Result<Mapped<'a>, MappingError> {
        if self.locals == 0 {
            return Err(MappingError::NoRuleMatched);
        }
        let mut user = self.user.take().unwrap_or_default();
        if version != SchemaVersion::V1 && !truthy(user.domain.as_deref()) {
            user.domain = Some(self.last_domain.take().unwrap_or(ValueRef::Lent(&NULL)));
        }
        Ok(Mapped {
            user,
            group_ids: std::mem::take(&mut self.group_ids),
            group_names: std::mem::take(&mut self.group_names),
            projects: std::mem::take(&mut self.projects),
        })
    }
}

impl Mapping {
    pub fn evaluate<'a>(&'a self, assertion: &'a Assertion) -> Result<Mapped<'a>, MappingError> {
        self.with_assertion(assertion, |found| self.run(found, None))
    }

    /// Evaluates and records, for every rule, whether it matched and what stopped it.
    pub fn evaluate_traced<'a>(
        &'a self,
        assertion: &'a Assertion,
    ) -> (Result<Mapped<'a>, MappingError>, Vec<RuleTrace>) {
        let mut trace = Vec::with_capacity(self.rules.len());
        let result = self.with_assertion(assertion, |found| self.run(found, Some(&mut trace)));
        (result, trace)
    }

    /// The assertion's values for every attribute the rules read: a merge of two sorted
    /// lists, or lookups when the assertion is much larger than what the rules read.
    fn lookup<'a>(&self, assertion: &'a Assertion, found: &mut Found<'a, String>) {
        if assertion.len() > 4 * self.attributes.len() {
            for (slot, name) in found.iter_mut().zip(&self.attributes) {
                *slot = assertion.get(name).map(Vec::as_slice);
            }
            return;
        }
        let mut entries = assertion.iter().peekable();
        for (slot, name) in self.attributes.iter().enumerate() {
            while let Some(&(key, values)) = entries.peek() {
                // Names mostly differ in their first byte: decide there without a memcmp.
                let order = match (key.as_bytes().first(), name.as_bytes().first()) {
                    (Some(a), Some(b)) if a != b => a.cmp(b),
                    _ => key.as_str().cmp(name.as_str()),
                };
                match order {
                    std::cmp::Ordering::Less => {
                        entries.next();
                    }
                    std::cmp::Ordering::Equal => {
                        found[slot] = Some(values.as_slice());
                        entries.next();
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
        }
    }

    /// The attributes the rules read, sorted and distinct: `evaluate_values` takes their
    /// values in this order.
    pub fn attributes(&self) -> &[String] {
        &self.attributes
    }

    /// Evaluates an assertion given as the values of `attributes()`, position by position
    /// (an empty list is an absent attribute): for callers that read assertions straight
    /// into that shape and skip what the rules never read (`fedgate mapping test`, which
    /// lends slices of its input line).
    pub fn evaluate_values<'a, S: AsRef<str> + 'a>(
        &'a self,
        values: impl IntoIterator<Item = &'a [S]>,
    ) -> Result<Mapped<'a>, MappingError> {
        self.with_values(values, |found| self.run(found, None))
    }

    /// `evaluate_values` with a trace, as `evaluate_traced`.
    pub fn evaluate_values_traced<'a, S: AsRef<str> + 'a>(
        &'a self,
        values: impl IntoIterator<Item = &'a [S]>,
    ) -> (Result<Mapped<'a>, MappingError>, Vec<RuleTrace>) {
        let mut trace = Vec::with_capacity(self.rules.len());
        let result = self.with_values(values, |found| self.run(found, Some(&mut trace)));
        (result, trace)
    }

    fn with_values<'a, S: 'a, T>(
        &'a self,
        values: impl IntoIterator<Item = &'a [S]>,
        f: impl FnOnce(&Found<'a, S>) -> T,
    ) -> T {
        self.with_found(|found| {
            for (slot, v) in found.iter_mut().zip(values) {
                *slot = Some(v);
            }
            f(found)
        })
    }

    fn with_assertion<'a, T>(&'a self, assertion: &'a Assertion, f: impl FnOnce(&Found<'a, String>) -> T) -> T {
        self.with_found(|found| {
            self.lookup(assertion, found);
            f(found)
        })
    }

    /// Room for one value list per attribute: on the stack for the usual handful.
    fn with_found<'a, S: 'a, T>(&self, f: impl FnOnce(&mut Found<'a, S>) -> T) -> T {
        let mut on_stack = [None; 32];
        let mut on_heap = Vec::new();
        let found: &mut Found<'a, S> = if self.attributes.len() <= on_stack.len() {
            &mut on_stack[..self.attributes.len()]
        } else {
            on_heap.resize(self.attributes.len(), None);
            &mut on_heap
        };
        f(found)
    }

    fn run<'a, S: AsRef<str>>(
        &'a self,
        found: &Found<'a, S>,
        mut trace: Option<&mut Vec<RuleTrace>>,
    ) -> Result<Mapped<'a>, MappingError> {
        let mut transform = Transform::with_room();
        // Keystone evaluates every rule and then fails at the first unusable local.
        let mut failure = None;
        let mut slots = Slots::with_capacity(self.max_slots);
        for (i, rule) in self.rules.iter().enumerate() {
            // Read only when tracing: a thread-local read per rule is not free.
            let hits_before = trace.is_some().then(backtrack_limit_hits);
            let verified = verify_requirements(rule, found, &mut slots);
            let backtrack_limit = hits_before.is_some_and(|before| backtrack_limit_hits() != before);
            match verified {
                Err(stop) => {
                    if let Some(t) = trace.as_deref_mut() {
                        t.push(RuleTrace {
                            rule: i,
                            matched: false,
                            failed: Some(describe(rule, stop, found)),
                            values: Vec::new(),
                            backtrack_limit,
                        });
                    }
                }
                Ok(()) => {
                    if failure.is_none() {
                        failure = rule
                            .local
                            .iter()
                            .try_for_each(|l| transform.add(self.version, l, &slots))
                            .err();
                    }
                    if let Some(t) = trace.as_deref_mut() {
                        t.push(RuleTrace {
                            rule: i,
                            matched: true,
                            failed: None,
                            values: slots
                                .iter()
                                .map(|s| s.iter().map(|v| v.to_string()).collect())
                                .collect(),
                            backtrack_limit,
                        });
                    }
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => transform.finish(self.version),
        }
    }
}

fn extract_projects(
    version: SchemaVersion,
    projects: Option<Value>,
    projects_json: Option<Value>,
    domain: Option<&Value>,
) -> Result<Vec<Value>, MappingError> {
    let mut projects = match projects {
        Some(Value::Array(p)) => p,
        // Schema 3.0 treats a string `projects` like `projects_json`.
        Some(Value::String(s)) if version == SchemaVersion::V3 => parse_projects_json(&s)?,
        _ => Vec::new(),
    };
    if version == SchemaVersion::V3
        && let Some(Value::String(text)) = &projects_json
    {
        projects.extend(parse_projects_json(text)?);
    }
    if version != SchemaVersion::V1 {
        let default_domain = domain.cloned().unwrap_or(Value::Null);
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

fn push_unique<'a>(list: &mut Vec<Cow<'a, str>>, value: Cow<'a, str>) {
    if !list.iter().any(|v| same_bytes(v.as_bytes(), value.as_bytes())) {
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
fn normalize_groups<'a, S: AsRef<str>>(
    names: &Listed<'_, 'a, S>,
    domain: Option<&ValueRef<'a>>,
    out: &mut Vec<GroupName<'a>>,
) -> Result<(), MappingError> {
    let missing_domain = || MappingError::InvalidResult("both 'groups' and 'domain' must be specified".into());
    if names.any(|n| n.starts_with("JSON:")) {
        let mut entries = Vec::with_capacity(names.len());
        names.for_each(|n| entries.push(n));
        for n in entries {
            let body = n.trim_start_matches(['J', 'S', 'O', 'N', ':']);
            let group: Value = serde_json::from_str(body)
                .map_err(|e| MappingError::InvalidResult(format!("groups entry is not JSON: {e}")))?;
            if group.get("domain").is_none() {
                return Err(missing_domain());
            }
            out.push(GroupName::Json(Box::new(group)));
        }
        return Ok(());
    }
    let domain = domain.ok_or_else(missing_domain)?;
    out.reserve(names.len());
    names.for_each(|name| {
        out.push(GroupName::Named {
            name,
            domain: domain.clone(),
        })
    });
    Ok(())
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
    use serde_json::json;

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
            // Patterns Python accepts (`^*` is not one, though `regex` takes it).
            let values: Vec<String> =
                values.into_iter().filter(|v| super::super::python_re::translate(v).is_ok()).collect();
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

    /// Up to 64 values are picked with a bit mask, more with a list: both keep the
    /// assertion's order, drop repeats where Keystone uses a set, and keep them where it
    /// uses a list comprehension (regex whitelist).
    #[test]
    fn picking_agrees_below_and_above_sixty_four_values() {
        let doc = json!({"rules": [{
            "remote": [
                {"type": "g", "whitelist": ["g1", "g3", "absent"]},
                {"type": "g", "blacklist": ["^g[0-9]*[02-9]$"], "regex": true},
                {"type": "g", "whitelist": ["^g1$"], "regex": true},
            ],
            "local": [
                {"groups": "{0}", "domain": {"name": "white"}},
                {"groups": "{1}", "domain": {"name": "black"}},
                {"groups": "{2}", "domain": {"name": "regex"}},
            ],
        }]});
        let mapping = Mapping::compile(&doc, None).unwrap();
        for count in [5, 64, 65, 72] {
            // g0..g{count-3}, then g1 and g3 again.
            let mut values: Vec<String> = (0..count - 2).map(|i| format!("g{i}")).collect();
            values.extend(["g1".to_string(), "g3".to_string()]);
            let assertion: Assertion = [("g".to_string(), values)].into_iter().collect();
            let mapped = mapping.evaluate(&assertion).unwrap();
            let names = |domain: &str| -> Vec<&str> {
                mapped
                    .group_names
                    .iter()
                    .filter(|g| g.domain().and_then(|d| d.get("name")) == Some(&json!(domain)))
                    .filter_map(GroupName::name)
                    .collect()
            };
            assert_eq!(names("white"), vec!["g1", "g3"], "{count} values");
            let black: Vec<String> = (0..count - 2)
                .map(|i| format!("g{i}"))
                .filter(|g| g.ends_with('1'))
                .collect();
            assert_eq!(names("black"), black, "{count} values");
            assert_eq!(names("regex"), vec!["g1", "g1"], "{count} values");
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
