//! Keystone-compatible federation mapping: validate and compile rules once (regexes and
//! `{N}` templates precompiled), then evaluate assertions against them, optionally with a
//! trace of which rule and condition decided.
//!
//! Follows Keystone's `RuleProcessor` (schema versions 1.0, 2.0 and 3.0), including its
//! accidents, which the conformance corpus in `tests/mapping_corpus` pins down against the
//! real Keystone. Deliberate differences are listed in `tests/mapping_corpus/README.md`.
//! This module does no I/O: it does not look groups or users up, and it does not read the
//! clock.

mod eval;
mod python;
mod python_re;
pub mod report;
mod rules;

pub use eval::{Assertion, FailedCondition, GroupName, Mapped, MappedUser, RuleTrace, UserType, assertion_from_json};
pub use rules::{Mapping, SchemaVersion, backtrack_limit_hits};

/// Why rules were refused or an assertion could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The rules are invalid; `path` is the JSON path of the offending element.
    #[error("{path} {message}")]
    InvalidRules { path: String, message: String },
    /// No rule matched the assertion (Keystone: "Could not map any federated user
    /// properties to identity values").
    #[error("no rule matched the assertion")]
    NoRuleMatched,
    /// Rules matched but their result is unusable (Keystone raises ValidationError).
    #[error("mapping result is invalid: {0}")]
    InvalidResult(String),
}
