//! The entry points the fuzz targets drive, one function per target, each taking the raw input
//! and calling fedgate's public functions as the service does, with fixed keys, fixed
//! expectations and a fixed `now`. The fuzz targets (`fuzz_targets/`) are one line each over
//! these; `tests/journeys/fuzz_regressions.rs` includes this file as a module and replays the
//! committed reproducers (`fuzz/regressions/<target>/`) through the same functions.
//!
//! Each function returns `Ok` with a short summary of what was accepted, or `Err` with the
//! refusal's `Debug` text, which the regression test matches. A panic, or an entry point that
//! takes long or allocates much on a small input, is the finding.
//!
//! Keys and documents come from `tests/fixtures/independent` (made by xmlsec1, PyJWT and the
//! openssl command line, dated 2027-01-15T08:00:00Z), so the committed seeds verify.

use std::io::Cursor;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fedgate::mapping::report::{Assertions, MappingTest, map_one, run_mapping_test};
use fedgate::mapping::{Mapping, assertion_from_json};
use fedgate::oidc::{Expectations, KeySet, key_set, verify_id_token};
use fedgate::saml::parse_idp_metadata;
use fedgate::saml::request::read_ecp_envelope;
use fedgate::saml::response::{ResponseExpectations, SignedPart, validate_response};
use fedgate::sts::policy::SessionPolicy;
use fedgate::sts::signing::{self, Received};
use fedgate::sts::{StsError, acs3, bce};
use fedgate::token::{
    KeyRing, LoginToken, RevocationEvent, RevocationList, Sealed, TemporaryCredential, TokenKey, TokenPayload,
};
use openssl::pkey::{PKey, Private};
use samael::crypto::CertificateDer;
use serde_json::Value;

pub type Outcome = Result<String, String>;

fn refused(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

// ---------------------------------------------------------------------------------------
// SAML

/// The instant the independent fixtures were made for (2027-01-15T08:00:10Z).
pub const SAML_NOW: i64 = 1_800_000_010;
const SAML_IDP: &str = "https://idp.independent.example/saml";
const SAML_SP: &str = "https://sp.independent.example";
const SAML_ACS: &str = "https://sp.independent.example/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST";

struct SamlTrust {
    certificates: Vec<CertificateDer>,
    sp_key: PKey<Private>,
    destinations: Vec<String>,
}

fn certificate(pem: &str) -> CertificateDer {
    let der = openssl::x509::X509::from_pem(pem.as_bytes())
        .and_then(|c| c.to_der())
        .expect("the committed test certificate reads");
    CertificateDer::from(der)
}

fn saml_trust() -> &'static SamlTrust {
    static TRUST: OnceLock<SamlTrust> = OnceLock::new();
    // xmlsec's reports of each refusal go to `tracing` (nowhere here), not to stderr.
    fedgate::service::xmlsec_log::install();
    TRUST.get_or_init(|| SamlTrust {
        certificates: vec![
            certificate(include_str!(
                "../../tests/fixtures/independent/keys/test-only-saml-idp-rsa.crt"
            )),
            certificate(include_str!(
                "../../tests/fixtures/independent/keys/test-only-saml-idp-p256.crt"
            )),
            certificate(include_str!(
                "../../tests/fixtures/independent/keys/test-only-saml-idp-p384.crt"
            )),
        ],
        sp_key: PKey::private_key_from_pem(include_bytes!(
            "../../tests/fixtures/independent/keys/test-only-saml-sp-encryption.pem"
        ))
        .expect("the committed test key reads"),
        destinations: vec![SAML_ACS.to_string()],
    })
}

/// The service's defaults for a provider: either part signed, no SHA-1, one minute of skew,
/// ten minutes of age, the SP's decryption key.
fn check_response(xml: &str) -> Outcome {
    let trust = saml_trust();
    let expect = ResponseExpectations {
        idp_entity_id: SAML_IDP,
        sp_entity_id: SAML_SP,
        destinations: &trust.destinations,
        certificates: &trust.certificates,
        signed_part: SignedPart::Either,
        allow_sha1: false,
        skew_secs: 60,
        max_age_secs: 600,
        decryption_key: Some(&trust.sp_key),
    };
    let valid = validate_response(xml, &expect, SAML_NOW).map_err(refused)?;
    Ok(format!(
        "response {} assertion {}",
        valid.response_id, valid.assertion_id
    ))
}

fn text(data: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(data).map_err(|_| "NotUtf8".to_string())
}

/// A decoded SAML Response, as the POST and Redirect consumers hand it on.
pub fn saml_response(data: &[u8]) -> Outcome {
    check_response(text(data)?)
}

/// IdP metadata as an administrator uploads it or fedgate fetches it.
pub fn saml_metadata(data: &[u8]) -> Outcome {
    fedgate::service::xmlsec_log::install();
    let metadata = parse_idp_metadata(text(data)?).map_err(refused)?;
    Ok(format!(
        "{} with {} certificates",
        metadata.entity_id,
        metadata.signing_certificates.len()
    ))
}

/// The SOAP envelope an ECP client posts, then the Response it carries, as the ECP consumer
/// reads them.
pub fn saml_ecp(data: &[u8]) -> Outcome {
    let relay = read_ecp_envelope(text(data)?).map_err(refused)?;
    check_response(&relay.response_xml).map_err(|e| format!("Response: {e}"))
}

// ---------------------------------------------------------------------------------------
// OpenID Connect

/// The instant the independent id_tokens were made for.
pub const OIDC_NOW: i64 = 1_800_000_010;

struct OidcTrust {
    keys: KeySet,
    expect: Expectations,
    ed25519: PKey<Private>,
}

fn oidc_trust() -> &'static OidcTrust {
    static TRUST: OnceLock<OidcTrust> = OnceLock::new();
    TRUST.get_or_init(|| OidcTrust {
        keys: key_set(include_str!("../../tests/fixtures/independent/jwt/jwks.json"))
            .expect("the committed JWKS reads"),
        expect: Expectations {
            issuer: "https://op.independent.example".into(),
            client_id: "fedgate-independent".into(),
            other_client_ids: vec!["fedgate-other".into()],
            skew_secs: 60,
            max_age_secs: 600,
            max_lifetime_secs: 3600,
        },
        ed25519: PKey::private_key_from_pem(include_bytes!(
            "../../tests/fixtures/independent/keys/test-only-jwt-ed25519.pem"
        ))
        .expect("the committed test key reads"),
    })
}

fn check_id_token(token: &str) -> Outcome {
    let trust = oidc_trust();
    let verified = verify_id_token(token, &trust.keys, &trust.expect, OIDC_NOW, None).map_err(refused)?;
    let attributes = verified.attributes().map_err(refused)?;
    Ok(format!("{} with {} attributes", verified.subject, attributes.len()))
}

/// A compact id_token, verified as it came; then its header and payload signed again with the
/// trusted Ed25519 key, so that every claim check behind the signature is reached too.
pub fn id_token(data: &[u8]) -> Outcome {
    let token = text(data)?;
    let as_sent = check_id_token(token);
    let Some((signed_part, _)) = token.rsplit_once('.') else {
        return as_sent;
    };
    let mut signer = openssl::sign::Signer::new_without_digest(&oidc_trust().ed25519).expect("Ed25519 signer");
    let signature = signer
        .sign_oneshot_to_vec(signed_part.as_bytes())
        .expect("Ed25519 signs any input");
    let resigned = format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(signature));
    check_id_token(&resigned)
        .map(|ok| format!("{ok} (signed again)"))
        .or(as_sent)
}

// ---------------------------------------------------------------------------------------
// Mapping

const MAPPING_RULES: &str = include_str!("../../benches/fixtures/mapping_rules.json");

fn bench_mapping() -> &'static Mapping {
    static MAPPING: OnceLock<Mapping> = OnceLock::new();
    MAPPING.get_or_init(|| {
        let doc: Value = serde_json::from_str(MAPPING_RULES).expect("the bench rules are JSON");
        Mapping::compile(&doc, None).expect("the bench rules compile")
    })
}

/// Rules as an administrator writes them (`PUT .../mappings/{id}`), compiled as the service
/// does; rules that compile are then run on an assertion giving every attribute they read a
/// few values, with and without a trace.
pub fn mapping_compile(data: &[u8]) -> Outcome {
    let doc: Value = serde_json::from_slice(data).map_err(|_| "NotJson".to_string())?;
    let mapping = Mapping::compile(&doc, None).map_err(refused)?;
    let values = ["alice", "admins;devs", "", "x@corp.example", "['a', 'b']"];
    let assertion = mapping
        .attributes()
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                name.clone(),
                values[..=i % values.len()].iter().map(|v| v.to_string()).collect(),
            )
        })
        .collect();
    let (traced, _trace) = mapping.evaluate_traced(&assertion);
    let plain = mapping.evaluate(&assertion);
    if traced.is_ok() != plain.is_ok() {
        panic!("the traced and plain evaluations disagree: {traced:?} / {plain:?}");
    }
    match plain {
        Ok(mapped) => Ok(format!(
            "mapped {} groups",
            mapped.group_names.len() + mapped.group_ids.len()
        )),
        Err(e) => Ok(format!("compiled; the probe assertion is refused: {e}")),
    }
}

/// An assertion (attribute -> string or array) mapped by the bench's rules, as a login and the
/// dry-run API map them.
pub fn mapping_eval(data: &[u8]) -> Outcome {
    let value: Value = serde_json::from_slice(data).map_err(|_| "NotJson".to_string())?;
    let object = value.as_object().ok_or("NotAnObject")?;
    let assertion = assertion_from_json(object);
    let mapping = bench_mapping();
    let (traced, _trace) = mapping.evaluate_traced(&assertion);
    let mapped = mapping.evaluate(&assertion).map_err(refused)?;
    if traced.as_ref().ok() != Some(&mapped) {
        panic!("the traced and plain evaluations disagree: {traced:?} / {mapped:?}");
    }
    serde_json::to_string(&mapped).map_err(refused)
}

/// Rules for the batch target: every result shape the batch writes (user with email, groups
/// by name with their domain, group ids, `JSON:` groups, projects), without regexes, whose
/// compilation on every run would take most of the target's time.
const BATCH_RULES: &str = r#"{"schema_version": "2.0", "rules": [
    {"remote": [{"type": "UserName"}, {"type": "Mail", "any_one_of": ["a@corp.example", "b@corp.example"]}],
     "local": [{"user": {"name": "{0}", "email": "{0}@corp.example"}}]},
    {"remote": [{"type": "UserName"}, {"type": "memberOf", "whitelist": ["admins", "devs", "ops"]}],
     "local": [{"groups": "{1}", "domain": {"name": "corp"}}]},
    {"remote": [{"type": "memberOf", "blacklist": ["tmp-x", "everyone"]}],
     "local": [{"groups": "{0}", "domain": {"name": "mirror"}}]},
    {"remote": [{"type": "Status", "not_any_of": ["disabled", "suspended"]}, {"type": "UserName"}],
     "local": [{"group": {"name": "active", "domain": {"name": "corp"}}}]},
    {"remote": [{"type": "ExtraIds"}], "local": [{"group_ids": "{0}"}]},
    {"remote": [{"type": "Json"}], "local": [{"groups": "{0}"}]},
    {"remote": [{"type": "Dept", "any_one_of": ["eng", "research"]}],
     "local": [{"group": {"id": "0123456789abcdef0123456789abcdef"}},
               {"projects": [{"name": "p", "roles": [{"name": "member"}]}]}]}
]}"#;

fn batch_mapping() -> &'static Mapping {
    static MAPPING: OnceLock<Mapping> = OnceLock::new();
    MAPPING.get_or_init(|| {
        let doc: Value = serde_json::from_str(BATCH_RULES).expect("the batch rules are JSON");
        Mapping::compile(&doc, None).expect("the batch rules compile")
    })
}

/// `fedgate mapping test --assertions FILE.jsonl`: the input is the file. An input of odd
/// length asks for traces. Each result line must be what the dry-run path
/// (`report::map_one`, through `serde_json::Value`) gives for the same line.
pub fn mapping_test(data: &[u8]) -> Outcome {
    let trace = data.len() % 2 == 1;
    let request = MappingTest {
        rules: BATCH_RULES.to_string(),
        assertions: Assertions::Lines(Box::new(Cursor::new(data.to_vec()))),
        schema_version: None,
        trace,
    };
    let mut out = Vec::new();
    let outcome = run_mapping_test(request, &mut out).map_err(refused)?;
    assert_ne!(outcome.code, 2, "the batch rules compile");
    let inputs: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !std::str::from_utf8(l).is_ok_and(|l| l.trim().is_empty()))
        .collect();
    let results: Vec<&[u8]> = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    assert_eq!(inputs.len(), results.len(), "one result line per assertion line");
    for (input, result) in inputs.iter().zip(&results) {
        let got: Value = serde_json::from_slice(result).expect("result lines are JSON");
        let want = match serde_json::from_slice::<Value>(input) {
            Ok(Value::Object(assertion)) => map_one(batch_mapping(), &assertion, trace).0,
            _ => serde_json::json!({"error": {"code": 400, "message": NOT_AN_OBJECT}}),
        };
        assert_eq!(
            got,
            want,
            "the batch and the dry run map {:?} alike",
            String::from_utf8_lossy(input)
        );
    }
    match outcome.code {
        0 => Ok(format!("{} mapped", results.len())),
        code => Err(format!("code {code} over {} lines", results.len())),
    }
}

const NOT_AN_OBJECT: &str = "an assertion must be a JSON object of attribute -> string or array";

// ---------------------------------------------------------------------------------------
// Tokens

/// Milliseconds; inside the lifetime of `fixed_payload`.
pub const TOKEN_NOW_MS: i64 = 1_800_000_000_000;

pub fn key_ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        KeyRing::new(&[TokenKey::new(1, [1; 32]), TokenKey::new(2, [2; 32])]).expect("a ring of two keys")
    })
}

fn revocations() -> &'static RevocationList {
    static LIST: OnceLock<RevocationList> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut list = RevocationList::default();
        list.insert(RevocationEvent::AuditId([7; 16]), TOKEN_NOW_MS + 1_000);
        list.insert(
            RevocationEvent::User {
                user_id: "7116d09f88fa41908676fdd4b039e1a2".into(),
                authenticated_before_ms: TOKEN_NOW_MS - 1_000,
            },
            TOKEN_NOW_MS + 1_000,
        );
        list
    })
}

/// Token text as it arrives in X-Auth-Token, X-Security-Token and a console login token,
/// opened by the ring; then the same bytes as the decrypted plaintext of each kind (sealed
/// with the ring's key, so decoding runs behind a real open), and each decoded value must
/// encode to a value that decodes to itself.
pub fn token(data: &[u8]) -> Outcome {
    let ring = key_ring();
    let mut first = None;
    if let Ok(text) = std::str::from_utf8(data) {
        KeyRing::peek_key_id(text);
        let opened = ring.open(text, TOKEN_NOW_MS).map(|p| revocations().is_revoked(&p));
        let credential = ring.open_credential(text, TOKEN_NOW_MS);
        let login = ring.open_login_token(text, TOKEN_NOW_MS);
        first = Some(match (opened, credential, login) {
            (Ok(_), _, _) => Ok("token".to_string()),
            (_, Ok(_), _) => Ok("security token".to_string()),
            (_, _, Ok(_)) => Ok("login token".to_string()),
            (Err(e), _, _) => Err(refused(e)),
        });
    }
    let nonce = [9; 12];
    let payload = ring
        .open(&ring.seal_bytes(Sealed::Token, data, nonce), TOKEN_NOW_MS)
        .map(|p| {
            revocations().is_revoked(&p);
            round_trip(&p, TokenPayload::encode, TokenPayload::decode)
        });
    let credential = ring
        .open_credential(&ring.seal_bytes(Sealed::SecurityToken, data, nonce), TOKEN_NOW_MS)
        .map(|c| round_trip(&c, TemporaryCredential::encode, TemporaryCredential::decode));
    let login = ring
        .open_login_token(&ring.seal_bytes(Sealed::LoginToken, data, nonce), TOKEN_NOW_MS)
        .map(|l| round_trip(&l, LoginToken::encode, LoginToken::decode));
    let decoded = match (payload, credential, login) {
        (Ok(()), _, _) => Ok("payload".to_string()),
        (_, Ok(()), _) => Ok("credential".to_string()),
        (_, _, Ok(())) => Ok("login token".to_string()),
        (Err(e), _, _) => Err(refused(e)),
    };
    match (first, decoded) {
        (Some(Ok(opened)), _) => Ok(opened),
        (_, Ok(decoded)) => Ok(format!("{decoded} (sealed here)")),
        (Some(Err(text)), Err(decoded)) => Err(format!("{text}; sealed here: {decoded}")),
        (None, Err(decoded)) => Err(format!("not UTF-8; sealed here: {decoded}")),
    }
}

fn round_trip<T: PartialEq + std::fmt::Debug>(
    value: &T,
    encode: impl Fn(&T) -> Vec<u8>,
    decode: impl Fn(&[u8]) -> Result<T, fedgate::token::TokenError>,
) {
    let again = decode(&encode(value)).unwrap_or_else(|e| panic!("{value:?} re-encoded does not decode: {e}"));
    assert_eq!(&again, value, "a decoded value re-encodes to itself");
}

// ---------------------------------------------------------------------------------------
// Signed requests

/// Seconds; the seeds are signed around it.
pub const SIGNED_NOW: i64 = 1_796_552_100;
/// The secret of every permanent access key in this lookup.
pub const PERMANENT_SECRET: &[u8] = b"Vq1zG8uJc0pXkR3dLm5nB7tY2wE4aS6hF9iK1oPq";

/// A request as text: `METHOD TARGET` on the first line, then `name: value` header lines
/// (names as a client may send them, values any bytes but a newline), an empty line, and the
/// body.
pub struct TextRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl TextRequest {
    /// What the HTTP layer would hand on: header names lower-cased, values without surrounding
    /// whitespace (a header line no HTTP parser accepts is dropped), `\r` at a line end removed.
    pub fn parse(data: &[u8]) -> Option<TextRequest> {
        let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
            Some(i) => (&data[..i], data[i + 2..].to_vec()),
            None => (data, Vec::new()),
        };
        let mut lines = head.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let request_line = std::str::from_utf8(lines.next()?).ok()?;
        let (method, target) = request_line.split_once(' ')?;
        // What `http::Uri` keeps of a request target: visible ASCII, the fragment cut off.
        if method.is_empty() || !method.bytes().all(is_token_char) || !target.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let target = target.split_once('#').map_or(target, |(t, _)| t);
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (target, None),
        };
        let headers = lines
            .filter_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                let name = &line[..colon];
                if name.is_empty() || !name.iter().all(|&b| is_token_char(b)) {
                    return None;
                }
                let value = &line[colon + 1..];
                // `HeaderValue` refuses control characters but the tab.
                if !value.iter().all(|&b| b == b'\t' || (b >= b' ' && b != 0x7f)) {
                    return None;
                }
                let name = String::from_utf8(name.to_ascii_lowercase()).ok()?;
                Some((name, value.trim_ascii().to_vec()))
            })
            .collect();
        Some(TextRequest {
            method: method.to_string(),
            path: path.to_string(),
            query,
            headers,
            body,
        })
    }

    /// The headers as `received` borrows them.
    pub fn header_pairs(&self) -> Vec<(&str, &[u8])> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect()
    }

    /// The request as `http::signed` hands it to the verifiers; `pairs` from `header_pairs`.
    pub fn received<'a>(&'a self, pairs: &'a [(&'a str, &'a [u8])]) -> Received<'a> {
        Received {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: pairs,
            body: &self.body,
            body_sha256: None,
        }
    }

    /// A header's value as `HeaderValue::to_str` gives it: visible ASCII, spaces and tabs.
    fn header_text(&self, name: &str) -> Option<&str> {
        let (_, value) = self.headers.iter().find(|(k, _)| k == name)?;
        if !value.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            return None;
        }
        std::str::from_utf8(value).ok()
    }
}

/// The key that signed for `access`: the temporary credential a security token seals (which
/// must be that token's own), else a permanent key every access key id names here, so that
/// verification is reached for any well-formed header.
fn secret_for(access: &str, security_token: Option<&str>) -> Result<Vec<u8>, String> {
    match security_token {
        Some(token) => {
            let credential = key_ring().open_credential(token, SIGNED_NOW * 1000).map_err(refused)?;
            if credential.access != access {
                return Err("AccessKeyNotTheSecurityTokens".to_string());
            }
            Ok(credential.secret.as_bytes().to_vec())
        }
        None => Ok(PERMANENT_SECRET.to_vec()),
    }
}

/// A signed request as `http::signed` and the service verify it, by the scheme its
/// Authorization header names. When the only fault is the signature, the request is signed
/// again with the same secret and must then verify (the canonical request is a function of
/// what was received).
pub fn signed_request(data: &[u8]) -> Outcome {
    let request = TextRequest::parse(data).ok_or("NotARequest")?;
    let headers = request.header_pairs();
    let received = request.received(&headers);
    let authorization = request.header_text("authorization").unwrap_or("");
    if authorization.starts_with(signing::ALGORITHM) {
        signing::check_unambiguous(received.path, received.query).map_err(refused)?;
        let auth = signing::Authorization::parse(authorization).map_err(refused)?;
        let secret = secret_for(auth.access, request.header_text("x-security-token"))?;
        let verified = match signing::verify(&received, &auth, &secret, SIGNED_NOW) {
            Err(StsError::BadSignature) => {
                let date = headers
                    .iter()
                    .find(|(k, _)| *k == "x-sdk-date")
                    .map(|(_, v)| v.trim_ascii())
                    .expect("a verify that reached the signature read the date");
                let canonical = signing::canonical_request(&received, &auth).expect("verify built it");
                let mut resigned = auth.clone();
                resigned.signature = signing::signature(&secret, &signing::string_to_sign(date, &canonical));
                signing::verify(&received, &resigned, &secret, SIGNED_NOW).expect("signed again, it verifies");
                return Err(refused(StsError::BadSignature));
            }
            other => other.map_err(refused)?,
        };
        if !verified.body_signed {
            return Err(refused(StsError::BodyUnsigned));
        }
        return Ok(format!("SDK-HMAC-SHA256 by {}", verified.access));
    }
    if authorization.starts_with(acs3::ALGORITHM) {
        let auth = acs3::Authorization::parse(authorization).map_err(refused)?;
        let secret = secret_for(auth.access, request.header_text("x-acs-security-token"))?;
        let verified = match acs3::verify(&received, &auth, &secret, SIGNED_NOW) {
            Err(StsError::BadSignature) => {
                let canonical = acs3::canonical_request(&received, &auth).expect("verify built it");
                let mut resigned = auth.clone();
                resigned.signature = signing::signature(&secret, &acs3::string_to_sign(&canonical));
                acs3::verify(&received, &resigned, &secret, SIGNED_NOW).expect("signed again, it verifies");
                return Err(refused(StsError::BadSignature));
            }
            other => other.map_err(refused)?,
        };
        return Ok(format!("ACS3-HMAC-SHA256 nonce {}", verified.nonce));
    }
    if authorization.starts_with(bce::PREFIX) {
        if !received.path.starts_with("/v1/") {
            return Err("NotBaiduPath".to_string());
        }
        let auth = bce::Authorization::parse(authorization).map_err(refused)?;
        let secret = secret_for(auth.access, request.header_text("x-bce-security-token"))?;
        let verified = match bce::verify(&received, &auth, &secret, SIGNED_NOW) {
            Err(StsError::BadSignature) => {
                let canonical = bce::canonical_request(&received, &auth).expect("verify built it");
                let key = hex::encode(signing::signature(&secret, auth.key_text.as_bytes()));
                let mut resigned = auth.clone();
                resigned.signature = signing::signature(key.as_bytes(), &canonical);
                bce::verify(&received, &resigned, &secret, SIGNED_NOW).expect("signed again, it verifies");
                return Err(refused(StsError::BadSignature));
            }
            other => other.map_err(refused)?,
        };
        return Ok(format!("bce-auth-v1, body signed: {}", verified.body_signed));
    }
    Err("NotSigned".to_string())
}

// ---------------------------------------------------------------------------------------
// Session policies

const PARENT_POLICY: &str = r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["iam:users:list*","iam:groups:*","iam:*:get*"]},{"Effect":"Deny","Action":["iam:credentials:*"]}]}"#;
const ACTIONS: [&str; 6] = [
    "iam:users:listUsers",
    "iam:groups:createGroup",
    "iam:credentials:createCredential",
    "iam:projects:getProject",
    "sts:tokens:assume",
    "",
];

/// The `policy` of a security-token request, validated as the service does when issuing;
/// a valid one is then evaluated for fedgate's actions and compared with a parent's both
/// ways, as it is when carried in a security token.
pub fn session_policy(data: &[u8]) -> Outcome {
    let value: Value = serde_json::from_slice(data).map_err(|_| "NotJson".to_string())?;
    let policy = SessionPolicy::parse(&value).map_err(refused)?;
    let sealed = SessionPolicy::from_sealed(policy.as_str().to_string());
    let allowed = ACTIONS.iter().filter(|a| sealed.allows(a)).count();
    let parent = SessionPolicy::from_sealed(PARENT_POLICY.to_string());
    let widening = sealed.widening_of(&parent);
    parent.widening_of(&sealed);
    sealed.widening_of(&sealed);
    Ok(format!("allows {allowed} of {}; widens by {widening:?}", ACTIONS.len()))
}

/// What every target runs.
pub type Target = fn(&[u8]) -> Outcome;

/// Every target by name, for the regression replay.
pub const TARGETS: [(&str, Target); 10] = [
    ("saml_response", saml_response),
    ("saml_metadata", saml_metadata),
    ("saml_ecp", saml_ecp),
    ("id_token", id_token),
    ("mapping_compile", mapping_compile),
    ("mapping_eval", mapping_eval),
    ("mapping_test", mapping_test),
    ("token", token),
    ("signed_request", signed_request),
    ("session_policy", session_policy),
];
