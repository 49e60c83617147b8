//! Per-assertion mapping cost on a realistic mapping (10 rules: whitelist and blacklist group
//! lists, regex any_one_of, group ids), over 50 varied assertions. `scripts/bench-mapping` runs
//! Keystone's RuleProcessor on the same files in the same run and prints the ratio.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use fedgate::mapping::{Assertion, Mapping, assertion_from_json};
use serde_json::Value;

// The server binary's allocator, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn fixtures() -> (Mapping, Vec<Assertion>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/fixtures");
    let rules: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/mapping_rules.json")).unwrap()).unwrap();
    let mapping = Mapping::compile(&rules, None).unwrap();
    let assertions = std::fs::read_to_string(format!("{dir}/mapping_assertions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| assertion_from_json(serde_json::from_str::<Value>(l).unwrap().as_object().unwrap()))
        .collect();
    (mapping, assertions)
}

fn bench(c: &mut Criterion) {
    let (mapping, assertions) = fixtures();
    let mut group = c.benchmark_group("mapping");
    group.throughput(Throughput::Elements(assertions.len() as u64));
    group.bench_function("evaluate 50 assertions (10 rules)", |b| {
        b.iter(|| {
            for a in &assertions {
                let _ = black_box(mapping.evaluate(black_box(a)));
            }
        })
    });
    let rules: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/fixtures/mapping_rules.json"
        ))
        .unwrap(),
    )
    .unwrap();
    group.throughput(Throughput::Elements(1));
    group.bench_function("compile the mapping (on write, not per login)", |b| {
        b.iter(|| black_box(Mapping::compile(black_box(&rules), None).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
