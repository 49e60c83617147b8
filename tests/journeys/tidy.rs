//! Architecture rules checked on the source text (rust-analyzer's tidy idea): pure protocol
//! modules stay pure, only `service` reads the clock, and request paths do not unwrap.

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

#[test]
fn module_boundaries_hold() {
    const PURE_PROTOCOL: &[&str] = &[
        "use axum",
        "use sqlx",
        "use tokio",
        "reqwest",
        "tracing::",
        "SystemTime::now",
        "crate::store",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let rules: &[(&str, &[&str])] = &[
        (
            "token/",
            &[
                "use axum",
                "use sqlx",
                "use tokio",
                "use tracing",
                "SystemTime::now",
                "OsRng",
                "thread_rng",
            ],
        ),
        (
            "store/",
            &["use axum", "crate::service", "crate::http", "SystemTime::now"],
        ),
        // The other pure protocol modules: no I/O, no clock, no logging.
        ("oidc/", PURE_PROTOCOL),
        ("mapping/", PURE_PROTOCOL),
        ("saml/", PURE_PROTOCOL),
        // The egress policy judges text and addresses; `upstream` resolves and connects.
        ("egress.rs", PURE_PROTOCOL),
        // Request ids and encryption keys come from the caller.
        ("saml/", &["OsRng", "thread_rng"]),
        ("upstream/", &["use axum", "use sqlx", "crate::service", "crate::store"]),
        ("service/", &["use axum", "crate::http"]),
        ("http/", &["use sqlx", "SystemTime::now"]),
    ];
    let mut violations = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let text = production_text(file);
        for (prefix, forbidden) in rules {
            if rel.starts_with(prefix) {
                for f in *forbidden {
                    if text.contains(f) {
                        violations.push(format!("{rel} uses {f}"));
                    }
                }
            }
        }
        if rel.contains("SystemTime::now") || (text.contains("SystemTime::now") && rel != "service/mod.rs") {
            violations.push(format!("{rel} reads the clock; take `now` as a parameter"));
        }
        if (rel.starts_with("http/") || rel.starts_with("service/"))
            && (text.contains(".unwrap()") || text.contains(".expect("))
        {
            violations.push(format!("{rel} unwraps on a request path"));
        }
    }
    assert!(
        violations.is_empty(),
        "architecture rules broken:\n{}",
        violations.join("\n")
    );
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
    for name in names("sqlite") {
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
