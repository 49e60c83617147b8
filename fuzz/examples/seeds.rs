//! Writes the committed seed corpora, `fuzz/corpus/<target>/seed-*`, from the repository's
//! fixtures and test tables: the independent SAML Responses and id_tokens, the mapping
//! conformance corpus and the bench's assertions, and tokens, security tokens and signed
//! requests sealed and signed here with the fixed keys the targets use. Run it again only to
//! change the seeds: `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use fedgate::model::Protocol;
use fedgate::sts::signing::{self, Received};
use fedgate::sts::{acs3, bce};
use fedgate::token::{
    AgencySession, Federation, LoginToken, Methods, Scope, Sealed, TemporaryCredential, TokenPayload,
};
use fedgate_fuzz::{PERMANENT_SECRET, SIGNED_NOW, TOKEN_NOW_MS, TextRequest, key_ring};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Corpus {
    dir: PathBuf,
}

impl Corpus {
    fn new(target: &str) -> Corpus {
        let dir = root().join("fuzz/corpus").join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        Corpus { dir }
    }

    fn add(&self, name: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}

const SAML_FIXTURES: [&str; 9] = [
    "rsa-sha256",
    "rsa-sha384",
    "rsa-sha512",
    "ecdsa-sha256",
    "ecdsa-sha384",
    "ecdsa-sha512",
    "aes128-gcm",
    "aes192-gcm",
    "aes256-gcm",
];

fn saml_fixture(name: &str) -> String {
    read(&format!("tests/fixtures/independent/saml/{name}.xml"))
}

/// The Response without its XML declaration, as it sits in an envelope.
fn bare(xml: &str) -> &str {
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(xml, |(_, r)| r.trim_start()),
        None => xml,
    }
}

fn saml_response() {
    let corpus = Corpus::new("saml_response");
    for name in SAML_FIXTURES {
        corpus.add(name, saml_fixture(name));
    }
    // Shapes the checks refuse, from the signed document: no signature, a second assertion,
    // a comment in the NameID, a DOCTYPE, a wrapped assertion.
    let xml = saml_fixture("rsa-sha256");
    let signature = &xml[xml.find("<ds:Signature").unwrap()..xml.find("</ds:Signature>").unwrap() + 15];
    corpus.add("unsigned", xml.replace(signature, ""));
    let assertion = &xml[xml.find("<saml:Assertion").unwrap()..xml.find("</saml:Assertion>").unwrap() + 17];
    corpus.add(
        "two-assertions",
        xml.replace(assertion, &format!("{assertion}{assertion}")),
    );
    corpus.add(
        "comment",
        xml.replace(">alice@example.com<", ">alice@example.com<!---->.evil<"),
    );
    corpus.add("doctype", format!("<!DOCTYPE r [<!ENTITY e \"x\">]>{}", bare(&xml)));
    let wrapped = xml.replace(
        "<samlp:Status>",
        &format!(
            "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
            assertion.replace("_a-rsa-sha256", "_evil")
        ),
    );
    corpus.add("wrapped", wrapped);
}

fn metadata(certificates: &[&str], extra: &str) -> String {
    let keys: String = certificates
        .iter()
        .map(|cert| {
            let b64: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}\
                 </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?>\n<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://idp.independent.example/saml\">\
         <md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{keys}\
         <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
         Location=\"https://idp.independent.example/sso/redirect\"/>\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"https://idp.independent.example/sso/post\"/>\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:SOAP\" \
         Location=\"https://idp.independent.example/sso/soap\"/>{extra}\
         </md:IDPSSODescriptor></md:EntityDescriptor>\n"
    )
}

fn saml_metadata() {
    let corpus = Corpus::new("saml_metadata");
    let rsa = read("tests/fixtures/independent/keys/test-only-saml-idp-rsa.crt");
    let p256 = read("tests/fixtures/independent/keys/test-only-saml-idp-p256.crt");
    corpus.add("one-key", metadata(&[&rsa], ""));
    corpus.add("rollover", metadata(&[&rsa, &p256], ""));
    corpus.add(
        "entities",
        format!(
            "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\">{}</md:EntitiesDescriptor>",
            bare(&metadata(&[&p256], ""))
        ),
    );
    corpus.add(
        "extensions",
        metadata(
            &[&rsa],
            "<md:Extensions><alg:SigningMethod xmlns:alg=\"urn:oasis:names:tc:SAML:metadata:algsupport\" \
             Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/></md:Extensions>",
        ),
    );
    // A signature that cannot verify: the parser must look for it and refuse.
    let signature = fedgate::saml::request::enveloped_signature_template(
        "",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        None,
    );
    corpus.add(
        "signed",
        metadata(&[&rsa], "").replace("<md:IDPSSODescriptor", &format!("{signature}<md:IDPSSODescriptor")),
    );
}

fn envelope(response: &str, relay_state: &str) -> String {
    format!(
        "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <S:Header><ecp:RelayState xmlns:ecp=\"urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp\" \
         S:actor=\"http://schemas.xmlsoap.org/soap/actor/next\" S:mustUnderstand=\"1\">{relay_state}</ecp:RelayState>\
         </S:Header><S:Body>{response}</S:Body></S:Envelope>"
    )
}

fn saml_ecp() {
    let corpus = Corpus::new("saml_ecp");
    for name in ["rsa-sha256", "ecdsa-sha256", "aes128-gcm"] {
        corpus.add(name, envelope(bare(&saml_fixture(name)), "ss:mem:4b6c"));
    }
    corpus.add(
        "no-relay-state",
        envelope(bare(&saml_fixture("rsa-sha384")), "").replace("<S:Header>", "<S:Header><x/>"),
    );
    corpus.add("empty-body", envelope("", "r"));
}

fn id_token() {
    let corpus = Corpus::new("id_token");
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ] {
        let token = read(&format!("tests/fixtures/independent/jwt/{alg}.jwt"));
        corpus.add(alg, token.trim());
    }
    // Claims the checks read, under the Ed25519 key (the target signs them again).
    let b64 = |v: Value| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, v.to_string());
    let header = b64(json!({"alg": "EdDSA", "kid": "ed25519", "typ": "JWT"}));
    let claims = [
        json!({"iss": "https://op.independent.example", "aud": ["fedgate-independent", "fedgate-other"],
            "azp": "fedgate-independent", "sub": "repo:acme/app", "iat": 1_800_000_000, "exp": 1_800_000_300,
            "nbf": 1_800_000_000, "jti": "j1", "groups": ["a", "b"], "realm_access": {"roles": ["r"]},
            "email_verified": true, "n": 1.5}),
        json!({"iss": "https://op.independent.example", "aud": "fedgate-independent", "sub": "s",
            "iat": 1_800_000_000, "exp": 1_800_000_300, "nonce": "n", "auth_time": 1_799_999_000}),
    ];
    for (i, c) in claims.into_iter().enumerate() {
        corpus.add(&format!("claims-{i}"), format!("{header}.{}.", b64(c)));
    }
}

fn mapping() {
    let cases: Vec<Value> = serde_json::from_str(&read("tests/mapping_corpus/corpus.json")).unwrap();
    let compile = Corpus::new("mapping_compile");
    let mut rules_seen = BTreeSet::new();
    let mut assertions_seen = BTreeSet::new();
    for case in &cases {
        let doc = json!({"rules": case["rules"], "schema_version": case["schema_version"]});
        if rules_seen.insert(doc.to_string()) {
            compile.add(&format!("{:03}", rules_seen.len()), doc.to_string());
        }
        assertions_seen.insert(case["assertion"].to_string());
    }
    compile.add("bench", read("benches/fixtures/mapping_rules.json"));

    let eval = Corpus::new("mapping_eval");
    let bench_lines = read("benches/fixtures/mapping_assertions.jsonl");
    for (i, line) in bench_lines.lines().take(16).enumerate() {
        eval.add(&format!("bench-{i:02}"), line);
    }
    for (i, assertion) in assertions_seen.iter().enumerate() {
        eval.add(&format!("corpus-{i:03}"), assertion);
    }

    let batch = Corpus::new("mapping_test");
    let lines: Vec<&str> = bench_lines.lines().collect();
    for (i, chunk) in lines.chunks(8).take(4).enumerate() {
        batch.add(&format!("bench-{i}"), chunk.join("\n") + "\n");
    }
    batch.add(
        "odd-lines",
        "{\"UserName\": \"a\", \"Mail\": [\"a@corp.example\"]}\n\n  \n[1]\nnot json\n{\"UserName\": 7}\r\n{}\n\
         {\"Json\": \"JSON:{\\\"name\\\": \\\"g\\\", \\\"domain\\\": {\\\"id\\\": \\\"d\\\"}}\", \"Dept\": \"eng\"}",
    );
}

fn payloads() -> Vec<(&'static str, TokenPayload)> {
    let now = TOKEN_NOW_MS;
    let base = TokenPayload {
        methods: Methods::PASSWORD,
        user_id: "7116d09f88fa41908676fdd4b039e1a2".into(),
        issued_at_ms: now - 1_000,
        authenticated_at_ms: now - 1_000,
        expires_at_ms: now + 86_400_000,
        audit_ids: vec![[1; 16]],
        scope: Scope::Unscoped,
        federation: None,
        agency: None,
    };
    let federated = TokenPayload {
        methods: Methods::MAPPED,
        scope: Scope::Project("aa2d97d7e62c4b7da3ffdfc11551f0c1".into()),
        federation: Some(Federation {
            idp_id: "acme-idp".into(),
            protocol_id: Protocol::Saml,
            user_name: "alice@example.com".into(),
            domain_id: "d0a7c9e1f2b34c5d6e7f8091a2b3c4d5".into(),
            group_ids: vec!["0f1e2d3c4b5a69788796a5b4c3d2e1f0".into()],
            local_user: false,
        }),
        ..base.clone()
    };
    let derived = TokenPayload {
        methods: Methods::TOKEN,
        authenticated_at_ms: now - 60_000,
        audit_ids: vec![[2; 16], [1; 16]],
        scope: Scope::Domain("d0a7c9e1f2b34c5d6e7f8091a2b3c4d5".into()),
        agency: Some(AgencySession {
            agency_id: "5e4d3c2b1a0f9e8d7c6b5a4938271605".into(),
            session_user: Some("ci-job".into()),
        }),
        ..base.clone()
    };
    vec![("password", base), ("federated", federated), ("agency", derived)]
}

fn credential(payload: TokenPayload, policies: Vec<String>) -> TemporaryCredential {
    TemporaryCredential {
        access: "HST3WQ7ZK9P2M4R8T6YB".into(),
        secret: "Vq1zG8uJc0pXkR3dLm5nB7tY2wE4aS6hF9iK1oPq".into(),
        token: payload,
        policies,
    }
}

fn token() {
    let corpus = Corpus::new("token");
    let ring = key_ring();
    let policy = r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["iam:users:*"]}]}"#.to_string();
    for (name, payload) in payloads() {
        corpus.add(&format!("{name}-sealed"), ring.seal(&payload, [3; 12]));
        corpus.add(&format!("{name}-plain"), payload.encode());
        let cred = credential(payload.clone(), vec![policy.clone()]);
        corpus.add(&format!("{name}-security-token"), ring.seal_credential(&cred, [4; 12]));
        corpus.add(&format!("{name}-credential-plain"), cred.encode());
        let login = LoginToken {
            token: payload,
            policies: vec![policy.clone()],
        };
        corpus.add(&format!("{name}-login-token"), ring.seal_login_token(&login, [5; 12]));
        corpus.add(&format!("{name}-login-plain"), login.encode());
    }
    corpus.add("wrong-kind", ring.seal_bytes(Sealed::LoginToken, b"\x01", [6; 12]));
}

/// Renders a request in the target's text form.
fn render(method: &str, target: &str, headers: &[(&str, String)], body: &str) -> String {
    let mut out = format!("{method} {target}\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out.push('\n');
    out.push_str(body);
    out
}

/// `render` once with an unsigned Authorization, read back as the target reads it, and the
/// signature `sign` computes from that put in.
fn signed(
    method: &str,
    target: &str,
    headers: &[(&str, String)],
    body: &str,
    sign: impl Fn(&Received<'_>, &str) -> [u8; 32],
) -> String {
    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    let unsigned = render(method, target, headers, body);
    let request = TextRequest::parse(unsigned.as_bytes()).unwrap();
    let pairs = request.header_pairs();
    let received = request.received(&pairs);
    let authorization = headers.iter().find(|(k, _)| *k == "Authorization").unwrap().1.clone();
    let signature = hex::encode(sign(&received, &authorization));
    unsigned.replace(ZERO, &signature)
}

fn signed_request() {
    let corpus = Corpus::new("signed_request");
    let zero = "0".repeat(64);
    let sdk_date = "20261206T101500Z".to_string();
    let iso_date = "2026-12-06T10:15:00Z".to_string();
    let sdk = |secret: Vec<u8>| {
        move |req: &Received<'_>, authorization: &str| {
            let auth = signing::Authorization::parse(authorization).unwrap();
            let canonical = signing::canonical_request(req, &auth).unwrap();
            signing::signature(&secret, &signing::string_to_sign(b"20261206T101500Z", &canonical))
        }
    };
    let mut payload = payloads().remove(0).1;
    payload.issued_at_ms = SIGNED_NOW * 1000 - 1_000;
    payload.authenticated_at_ms = payload.issued_at_ms;
    payload.expires_at_ms = SIGNED_NOW * 1000 + 900_000;
    let security_token = key_ring().seal_credential(&credential(payload, Vec::new()), [7; 12]);
    let huawei = |access: &str| {
        format!(
            "SDK-HMAC-SHA256 Access={access}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature={zero}"
        )
    };
    let get = vec![
        ("Authorization", huawei("AKPERMANENT0001")),
        ("Content-Type", "application/json".into()),
        ("Host", "iam.example.com".into()),
        ("X-Project-Id", "aa2d97d7e62c4b7da3ffdfc11551f0c1".into()),
        ("X-Sdk-Date", sdk_date.clone()),
    ];
    corpus.add(
        "huawei-get",
        signed(
            "GET",
            "/v3/projects?name=ap-southeast-1&limit=10",
            &get,
            "",
            sdk(PERMANENT_SECRET.to_vec()),
        ),
    );
    let mut temporary = get.clone();
    temporary[0].1 = huawei("HST3WQ7ZK9P2M4R8T6YB");
    temporary.push(("X-Security-Token", security_token.clone()));
    corpus.add(
        "huawei-temporary",
        signed(
            "POST",
            "/v3.0/OS-CREDENTIAL/securitytokens",
            &temporary,
            "{\"auth\":{\"identity\":{\"methods\":[\"token\"]}}}",
            sdk(b"Vq1zG8uJc0pXkR3dLm5nB7tY2wE4aS6hF9iK1oPq".to_vec()),
        ),
    );
    let mut unsigned_payload = get.clone();
    unsigned_payload[0].1 = format!(
        "SDK-HMAC-SHA256 Access=AKPERMANENT0001, SignedHeaders=host;x-sdk-content-sha256;x-sdk-date, Signature={zero}"
    );
    unsigned_payload.push(("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD".into()));
    corpus.add(
        "huawei-unsigned-payload",
        signed(
            "PUT",
            "/v3/users/u%20x/",
            &unsigned_payload,
            "body",
            sdk(PERMANENT_SECRET.to_vec()),
        ),
    );

    let empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string();
    let acs = |secret: Vec<u8>| {
        move |req: &Received<'_>, authorization: &str| {
            let auth = acs3::Authorization::parse(authorization).unwrap();
            let canonical = acs3::canonical_request(req, &auth).unwrap();
            signing::signature(&secret, &acs3::string_to_sign(&canonical))
        }
    };
    let alibaba = vec![
        (
            "Authorization",
            format!(
                "ACS3-HMAC-SHA256 Credential=LTAI5tQ7ZK9P2M4R8T6YB,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-security-token;x-acs-signature-nonce;x-acs-version,Signature={zero}"
            ),
        ),
        ("host", "sts.example.com".into()),
        ("x-acs-version", "2015-04-01".into()),
        ("x-acs-action", "AssumeRole".into()),
        ("x-acs-date", iso_date.clone()),
        ("x-acs-signature-nonce", "3f2a9c1e7b5d4a6f8e0c2b4d6f8a0c1e".into()),
        ("x-acs-content-sha256", empty_sha.clone()),
        ("x-acs-security-token", security_token.clone()),
    ];
    let mut alibaba_temporary = alibaba.clone();
    alibaba_temporary[0].1 = alibaba_temporary[0]
        .1
        .replace("LTAI5tQ7ZK9P2M4R8T6YB", "HST3WQ7ZK9P2M4R8T6YB");
    corpus.add(
        "alibaba-temporary",
        signed(
            "POST",
            "/?DurationSeconds=900&RoleArn=acs%3Aram%3A%3A1234567890123456%3Arole%2Fci&RoleSessionName=ci+job",
            &alibaba_temporary,
            "",
            acs(b"Vq1zG8uJc0pXkR3dLm5nB7tY2wE4aS6hF9iK1oPq".to_vec()),
        ),
    );
    let mut alibaba_permanent: Vec<(&str, String)> = alibaba
        .iter()
        .filter(|(k, _)| *k != "x-acs-security-token")
        .cloned()
        .collect();
    alibaba_permanent[0].1 = alibaba_permanent[0].1.replace("x-acs-security-token;", "");
    corpus.add(
        "alibaba-permanent",
        signed("POST", "/", &alibaba_permanent, "", acs(PERMANENT_SECRET.to_vec())),
    );

    let baidu_sign = |secret: Vec<u8>| {
        move |req: &Received<'_>, authorization: &str| {
            let auth = bce::Authorization::parse(authorization).unwrap();
            let canonical = bce::canonical_request(req, &auth).unwrap();
            let key = hex::encode(signing::signature(&secret, auth.key_text.as_bytes()));
            signing::signature(key.as_bytes(), &canonical)
        }
    };
    let body = "{\"name\": \"alice\"}";
    let baidu = vec![
        (
            "Authorization",
            format!("bce-auth-v1/a1b2c3d4e5f60718293a4b5c6d7e8f90/{iso_date}/1800//{zero}"),
        ),
        ("Content-Type", "application/json; charset=utf-8".into()),
        ("Host", "iam.example.com".into()),
        ("Content-Length", body.len().to_string()),
        ("x-bce-date", iso_date.clone()),
    ];
    corpus.add(
        "baidu-default-headers",
        signed("POST", "/v1/user", &baidu, body, baidu_sign(PERMANENT_SECRET.to_vec())),
    );
    let mut listed = baidu.clone();
    listed[0].1 = format!("bce-auth-v1/a1b2c3d4e5f60718293a4b5c6d7e8f90/{iso_date}/1800/host;x-bce-date/{zero}");
    listed.push(("x-bce-content-sha256", empty_sha));
    corpus.add(
        "baidu-listed",
        signed(
            "GET",
            "/v1/user/alice?accessKey&marker=a%20b",
            &listed,
            "",
            baidu_sign(PERMANENT_SECRET.to_vec()),
        ),
    );
    // Checked against `SIGNED_NOW` by the target: keep the seeds inside its window.
    assert_eq!(signing::parse_sdk_date(sdk_date.as_bytes()), Ok(SIGNED_NOW));
}

fn session_policy() {
    let corpus = Corpus::new("session_policy");
    let policies = [
        json!({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["iam:users:listUsers", "iam:groups:*"]}]}),
        json!({"Version": "1.1", "Statement": [{
            "Effect": "Allow",
            "Action": ["obs:object:GetObject", "obs:bucket:ListBucket"],
            "Resource": ["obs:*:*:object:my-bucket/public/*"],
            "Condition": {"StringEquals": {"obs:prefix": ["public"]}}
        }]}),
        json!({"Version": "1.1", "Statement": [
            {"Effect": "deny", "NotAction": ["iam:*:get*"],
             "Condition": {"ForAnyValue:StringLikeIfExists": {"g:UserName": ["ops-*"]},
                           "NumberLessThan": {"g:n": ["3"]}, "IpAddress": {"g:SourceIp": ["10.0.0.0/8"]}}},
            {"Effect": "Allow", "Action": ["*:*:*"], "Resource": ["iam:*:*"]}
        ]}),
        json!({"Version": "1.1", "Statement": [{"Effect": "Allow", "Action": ["iam:?sers:l*t*"]}]}),
    ];
    for (i, p) in policies.iter().enumerate() {
        corpus.add(&format!("{i}"), p.to_string());
    }
}

fn main() {
    saml_response();
    saml_metadata();
    saml_ecp();
    id_token();
    mapping();
    token();
    signed_request();
    session_policy();
    // Every seed is one the target reads.
    for (target, run) in fedgate_fuzz::TARGETS {
        let dir = root().join("fuzz/corpus").join(target);
        let mut accepted = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            match run(&std::fs::read(&path).unwrap()) {
                Ok(_) => accepted += 1,
                Err(refusal) if std::env::var_os("SEEDS_VERBOSE").is_some() => {
                    println!("  {}: {refusal}", path.file_name().unwrap().to_string_lossy())
                }
                Err(_) => {}
            }
        }
        println!(
            "{target}: {accepted} of {} seeds accepted",
            std::fs::read_dir(&dir).unwrap().count()
        );
    }
}
