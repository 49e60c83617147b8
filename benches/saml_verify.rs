//! SAML Response validation as the ACS runs it (signature by the metadata's certificate under
//! the allow-list, issuer, audience, destination, recipient, bearer and condition times,
//! attributes), on a signed Response of about 4 KB from the journeys' test IdP.
//!
//! With BENCH_SAML_CORPUS=N it also writes, for `scripts/bench-saml`, N distinct signed
//! Responses (as form bodies, one per line) for an SP at BENCH_SAML_SP, the IdP's metadata,
//! and the first Response as XML, to target/bench-saml/.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use fedgate::saml::response::{ResponseExpectations, SignedPart, validate_response};
use samael::crypto::CertificateDer;

#[path = "../tests/journeys/saml_idp.rs"]
#[allow(dead_code)]
mod saml_idp;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Response of about 4 KB: NameID, a handful of attributes, the signing certificate in KeyInfo.
fn spec(idp: &saml_idp::TestIdp, sp: &str, now: i64) -> saml_idp::Spec {
    let mut spec = idp.spec(sp, now);
    spec.bearer_not_on_or_after = now + 1800;
    spec.not_on_or_after = now + 1800;
    spec.attributes.push((
        "urn:oid:2.5.4.42".into(),
        Some("givenName".into()),
        vec!["Alice".into()],
    ));
    spec
}

fn bench(c: &mut Criterion) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let sp = std::env::var("BENCH_SAML_SP").unwrap_or_else(|_| "https://fedgate.example".into());
    let idp = saml_idp::TestIdp::new("https://idp.bench.example/saml");
    let response = idp.response(&spec(&idp, &sp, now));
    let certificates = [CertificateDer::from(STANDARD.decode(&idp.signer.cert_b64).unwrap())];
    let destinations = [format!("{sp}/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST")];
    let expect = ResponseExpectations {
        idp_entity_id: &idp.entity_id,
        sp_entity_id: &sp,
        destinations: &destinations,
        certificates: &certificates,
        signed_part: SignedPart::Either,
        allow_sha1: false,
        skew_secs: 60,
        max_age_secs: 600,
        decryption_key: None,
    };
    validate_response(&response, &expect, now).expect("the bench Response validates");

    let mut group = c.benchmark_group("saml");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("validate_response_{}b", response.len()), |b| {
        b.iter(|| validate_response(black_box(&response), &expect, now).unwrap())
    });
    group.finish();

    let Some(count) = std::env::var("BENCH_SAML_CORPUS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return;
    };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-saml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/idp-metadata.xml"), idp.metadata(&["redirect"])).unwrap();
    std::fs::write(format!("{dir}/idp-cert.b64"), &idp.signer.cert_b64).unwrap();
    std::fs::write(format!("{dir}/response.xml"), &response).unwrap();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let lines: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (idp, sp) = (&idp, &sp);
                scope.spawn(move || {
                    (t..count)
                        .step_by(threads)
                        .map(|_| {
                            let xml = idp.response(&spec(idp, sp, now));
                            serde_urlencoded::to_string([("SAMLResponse", STANDARD.encode(xml))]).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    std::fs::write(format!("{dir}/responses.txt"), lines.join("\n") + "\n").unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
