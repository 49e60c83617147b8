//! Every crash, timeout or memory blow-up the fuzz targets found (`scripts/fuzz`), replayed
//! through the same entry point its target drives: `fuzz/src/lib.rs`, included here as a
//! module. Each reproducer under `fuzz/regressions/<target>/` must be listed below with the
//! refusal it now gets; none may panic, and each must be refused quickly.

use std::time::{Duration, Instant};

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

/// (target, file, text the refusal's `Debug` form contains).
const EXPECTED: &[(&str, &str, &str)] = &[
    // `fedgate mapping test` mapped a line whose unread attribute held bytes that are not
    // UTF-8, which the dry run refuses as not JSON; now both refuse it (exit code 1).
    ("mapping_test", "not-utf8-in-an-unread-attribute.jsonl", "code 1 over"),
    // A line holding only a vertical tab got a result line, though the batch skips lines that
    // are whitespace as `str::trim` sees it; now it is skipped.
    ("mapping_test", "vertical-tab-line.jsonl", "code 1 over 9 lines"),
];

/// Far above what any of them takes; a hostile input that needs longer is itself a finding.
/// Generous because this binary is an unoptimised build on a shared machine.
const BOUND: Duration = Duration::from_secs(5);

#[test]
fn fuzz_reproducers_are_refused_without_panic() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for (target, run) in harness::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some((_, _, expected)) = EXPECTED.iter().find(|(t, f, _)| *t == target && *f == file) else {
                panic!("{target}/{file} is not listed in EXPECTED with the refusal it gets");
            };
            let input = std::fs::read(&path).unwrap();
            let started = Instant::now();
            let outcome = std::panic::catch_unwind(|| run(&input)).unwrap_or_else(|_| panic!("{target}/{file} panics"));
            let took = started.elapsed();
            match outcome {
                Err(refusal) => assert!(
                    refusal.contains(expected),
                    "{target}/{file}: refused as {refusal:?}, expected {expected:?}"
                ),
                Ok(accepted) => panic!("{target}/{file} is accepted ({accepted}), expected {expected:?}"),
            }
            assert!(took < BOUND, "{target}/{file} took {took:?}");
            replayed += 1;
        }
    }
    assert_eq!(
        replayed,
        EXPECTED.len(),
        "every listed reproducer is in fuzz/regressions"
    );
}
