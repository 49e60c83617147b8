//! Architecture rules checked on the source text (rust-analyzer's tidy idea): pure protocol
//! modules and the audit event builder stay pure, only `service` reads the clock, and request
//! paths do not unwrap.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Source text before the first `#[cfg(test)]`: tests may unwrap.
fn production_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// What tidy forbids: (path prefix under src/, forbidden text).
const RULES: &[(&str, &[&str])] = &[
    ("token/", &["use axum", "use sqlx", "use tokio", "use tracing"]),
    ("token/", RANDOMNESS),
    ("store/", &["use axum", "crate::service", "crate::http"]),
    // The other pure protocol modules: no I/O, no logging.
    ("oidc/", PURE_PROTOCOL),
    ("mapping/", PURE_PROTOCOL),
    ("saml/", PURE_PROTOCOL),
    ("sts/", PURE_PROTOCOL),
    ("sts/", RANDOMNESS),
    // The egress policy judges text and addresses; `upstream` resolves and connects.
    ("egress.rs", PURE_PROTOCOL),
    // Audit events are built from values, `now` and random bytes the service passes in.
    ("audit.rs", PURE_PROTOCOL),
    ("audit.rs", RANDOMNESS),
    // Request ids and encryption keys come from the caller.
    ("saml/", RANDOMNESS),
    ("upstream/", &["use axum", "use sqlx", "crate::service", "crate::store"]),
    ("service/", &["use axum", "crate::http"]),
    // The edge reaches records only through use cases; records themselves are `model`.
    ("http/", &["use sqlx", "crate::store"]),
    // The domain model is plain data: no persistence, protocol or framework.
    (
        "model.rs",
        &["use axum", "use sqlx", "crate::store", "crate::service", "crate::http"],
    ),
];

/// Ways to draw randomness (`service::fill_random` is the one fedgate uses).
const RANDOMNESS: &[&str] = &["OsRng", "thread_rng", "getrandom", "fill_random"];

const PURE_PROTOCOL: &[&str] = &[
    "use axum",
    "use sqlx",
    "use tokio",
    "reqwest",
    "tracing::",
    "crate::store",
];

/// Ways to read the wall clock; only `service/mod.rs` (`now_ms`) may.
const CLOCK_READS: &[&str] = &["SystemTime::now", "OffsetDateTime::now", "Utc::now", "Local::now"];

/// The rules a source file at `rel` (relative to src/) with `text` breaks.
fn violations(rel: &str, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (prefix, forbidden) in RULES {
        if rel.starts_with(prefix) {
            for f in *forbidden {
                if text.contains(f) {
                    out.push(format!("{rel} uses {f}"));
                }
            }
        }
    }
    if rel != "service/mod.rs" {
        for clock in CLOCK_READS {
            if text.contains(clock) {
                out.push(format!("{rel} reads the clock ({clock}); take `now` as a parameter"));
            }
        }
    }
    if (rel.starts_with("http/") || rel.starts_with("service/"))
        && (text.contains(".unwrap()") || text.contains(".expect("))
    {
        out.push(format!("{rel} unwraps on a request path"));
    }
    out
}

#[test]
fn module_boundaries_hold() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut broken = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        broken.extend(violations(&rel, &production_text(file)));
    }
    assert!(broken.is_empty(), "architecture rules broken:\n{}", broken.join("\n"));
}

/// The rules catch what they name (the clock rule used to test the file's path, which never
/// holds the text, alongside its contents).
#[test]
fn tidy_rules_catch_what_they_forbid() {
    let cases: &[(&str, &str, usize)] = &[
        ("token/keyring.rs", "let t = std::time::SystemTime::now();", 1),
        ("oidc/id_token.rs", "let t = time::OffsetDateTime::now_utc();", 1),
        ("service/mod.rs", "std::time::SystemTime::now()", 0),
        ("service/auth.rs", "SystemTime::now()", 1),
        ("saml/response.rs", "tracing::info!(\"x\")", 1),
        ("saml/request.rs", "rand::rngs::OsRng.fill_bytes(&mut b)", 1),
        ("saml/request.rs", "crate::service::fill_random(&mut b)", 1),
        ("token/keyring.rs", "getrandom::fill(&mut nonce)", 1),
        ("http/auth.rs", "let v = x.unwrap();", 1),
        ("http/auth.rs", "use sqlx::Row;", 1),
        ("http/views.rs", "use crate::store::StoreError;", 1),
        ("http/views.rs", "use crate::model::User;", 0),
        ("model.rs", "use crate::store::Store;", 1),
        ("store/sql.rs", "use crate::service::Error;", 1),
        ("mapping/eval.rs", "let x = 1;", 0),
        ("egress.rs", "let c = reqwest::Client::new();", 1),
        ("sts/signing.rs", "tracing::debug!(\"x\")", 1),
        ("audit.rs", "tracing::info!(target: \"audit\", \"x\")", 1),
        ("audit.rs", "crate::service::fill_random(&mut id)", 1),
    ];
    for (rel, text, want) in cases {
        assert_eq!(violations(rel, text).len(), *want, "{rel}: {text}");
    }
}

/// The two backends' migrations are the same SQL apart from the one identity column SQLite and
/// PostgreSQL spell differently; this keeps them from drifting apart.
#[test]
fn migrations_match_across_backends() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names("sqlite"),
        names("postgres"),
        "both backends have the same migrations"
    );
    // PostgreSQL-only machinery with no SQLite counterpart (the change feed's triggers: SQLite
    // serves one process); SQLite's file of the same name only keeps the versions in step.
    const ONE_BACKEND_ONLY: &[&str] = &["0010_change_feed.sql", "0011_change_feed_additions.sql"];
    for name in names("sqlite") {
        if ONE_BACKEND_ONLY.contains(&name.as_str()) {
            continue;
        }
        let sqlite = std::fs::read_to_string(root.join("sqlite").join(&name)).unwrap();
        let postgres = std::fs::read_to_string(root.join("postgres").join(&name)).unwrap();
        let normalised = sqlite.replace(
            "id INTEGER PRIMARY KEY AUTOINCREMENT",
            "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        );
        assert_eq!(
            normalised, postgres,
            "{name} differs between backends beyond the identity column"
        );
    }
}
