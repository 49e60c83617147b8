//! Unit tables for id_token verification: JSON spelling, header strictness, token types,
//! nesting, every claim check at its boundaries, and every allow-listed algorithm with tokens
//! PyJWT signed (tests/fixtures/independent). Each case names the exact refusal.

use super::*;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::json;

const NOW: i64 = 1_800_000_000;

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

/// One RSA key under kid `k`, trusted for `https://idp.example/` and client `fedgate`.
struct Rig {
    key: PKey<Private>,
    keys: KeySet,
    expect: Expectations,
}

impl Rig {
    fn new() -> Rig {
        let rsa = Rsa::generate(2048).unwrap();
        let jwks =
            json!({"keys": [{"kty": "RSA", "kid": "k", "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())}]});
        Rig {
            key: PKey::from_rsa(rsa).unwrap(),
            keys: serde_json::from_value(jwks).unwrap(),
            expect: Expectations {
                issuer: "https://idp.example/".into(),
                client_id: "fedgate".into(),
                other_client_ids: vec!["fedgate-ci".into()],
                skew_secs: 60,
                max_age_secs: 600,
                max_lifetime_secs: 3600,
            },
        }
    }

    fn sign_with(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
        format!(
            "{input}.{}",
            b64(&signer.sign_oneshot_to_vec(input.as_bytes()).unwrap())
        )
    }

    fn sign(&self, payload: &str) -> String {
        self.sign_with(r#"{"alg":"RS256","kid":"k"}"#, payload)
    }

    fn verify(&self, token: &str) -> Result<VerifiedIdToken, IdTokenError> {
        verify_id_token(token, &self.keys, &self.expect, NOW, None)
    }
}

/// Claims that pass every check at `NOW`, with `extra` members merged in (null removes one).
fn claims(extra: Value) -> String {
    let mut c = json!({"iss": "https://idp.example/", "sub": "u", "aud": "fedgate", "exp": NOW + 60, "iat": NOW});
    for (k, v) in extra.as_object().unwrap() {
        match v {
            Value::Null => c.as_object_mut().unwrap().remove(k),
            v => c.as_object_mut().unwrap().insert(k.clone(), v.clone()),
        };
    }
    c.to_string()
}

/// `got` is `want`; serde's messages (`Malformed*`) need only start with the wanted text.
fn assert_refusal(name: &str, got: Result<VerifiedIdToken, IdTokenError>, want: &IdTokenError) {
    match (got, want) {
        (Err(IdTokenError::MalformedClaims(g)), IdTokenError::MalformedClaims(w))
        | (Err(IdTokenError::MalformedHeader(g)), IdTokenError::MalformedHeader(w)) => {
            assert!(g.starts_with(w.as_str()), "{name}: {g}")
        }
        (Err(got), want) => assert_eq!(&got, want, "{name}"),
        (Ok(v), want) => panic!("{name}: accepted {v:?}, wanted {want}"),
    }
}

/// Claims written with JSON escapes or as fractions verify like plain ones; a claims array, a
/// repeated claim and a string date do not, nor do headers with `crit` (even null), a repeated
/// member, array form or a non-string kid.
#[test]
fn claims_are_read_whatever_their_json_spelling() {
    let rig = Rig::new();
    let escaped = format!(
        r#"{{"iss":"https:\/\/idp.example\/","sub":"u\u0031","aud":["other","fed\u0067ate"],"azp":"fedgate","exp":{}.5,"iat":{}}}"#,
        NOW + 60,
        NOW
    );
    assert_eq!(rig.verify(&rig.sign(&escaped)).unwrap().subject, "u1");
    let fraction = format!(
        r#"{{"iss":"https://idp.example/","sub":"u","aud":"fedgate","exp":{},"iat":{},"nbf":{}.9}}"#,
        NOW + 60,
        NOW,
        NOW
    );
    assert_eq!(rig.verify(&rig.sign(&fraction)).unwrap().subject, "u");
    let payloads = [
        (
            format!(r#"["https://idp.example/","u","fedgate",{},{}]"#, NOW + 60, NOW),
            IdTokenError::NotJsonObject(JwsPart::Payload),
        ),
        (
            format!(
                r#"{{"iss":"https://evil.example/","iss":"https://idp.example/","sub":"u","aud":"fedgate","exp":{},"iat":{}}}"#,
                NOW + 60,
                NOW
            ),
            IdTokenError::MalformedClaims("duplicate field `iss`".into()),
        ),
        (
            claims(json!({"exp": (NOW + 60).to_string()})),
            IdTokenError::MalformedClaims("invalid type: string".into()),
        ),
        (
            claims(json!({"aud": 5})),
            IdTokenError::MalformedClaims("invalid type: integer".into()),
        ),
    ];
    for (payload, want) in &payloads {
        assert_refusal(payload, rig.verify(&rig.sign(payload)), want);
    }
    // Headers are read as strictly, before any key is chosen.
    let headers = [
        (r#"{"alg":"RS256","kid":"k","crit":null}"#, IdTokenError::CriticalHeader),
        (
            r#"{"alg":"RS256","alg":"none","kid":"k"}"#,
            IdTokenError::MalformedHeader("duplicate field `alg`".into()),
        ),
        (r#"["RS256","k"]"#, IdTokenError::NotJsonObject(JwsPart::Header)),
        (
            r#"{"alg":"RS256","kid":5}"#,
            IdTokenError::MalformedHeader("invalid type: integer `5`".into()),
        ),
        (r#"{"kid":"k"}"#, IdTokenError::AlgorithmNotAllowed(String::new())),
        (
            r#"{"alg":"rs256","kid":"k"}"#,
            IdTokenError::AlgorithmNotAllowed("rs256".into()),
        ),
    ];
    for (header, want) in &headers {
        assert_refusal(header, rig.verify(&rig.sign_with(header, &claims(json!({})))), want);
    }
    assert!(
        rig.verify(&rig.sign(&claims(json!({})))).is_ok(),
        "the control verifies"
    );
}

/// Access tokens, logout tokens and other JWTs signed by the same provider are not id_tokens:
/// `typ` must be absent or name a plain JWT, and an `events` claim marks a logout token.
#[test]
fn only_id_tokens_are_accepted() {
    let rig = Rig::new();
    let header = |typ: Value| json!({"alg": "RS256", "kid": "k", "typ": typ}).to_string();
    for typ in ["JWT", "jwt", "application/jwt", "Application/JWT"] {
        let token = rig.sign_with(&header(json!(typ)), &claims(json!({})));
        assert!(rig.verify(&token).is_ok(), "typ {typ:?}");
    }
    for typ in [
        "at+jwt",
        "application/at+jwt",
        "logout+jwt",
        "secevent+jwt",
        "JOSE",
        "JWS",
        "",
        "JWT ",
        "id_token+jwt",
    ] {
        let token = rig.sign_with(&header(json!(typ)), &claims(json!({})));
        assert_refusal(typ, rig.verify(&token), &IdTokenError::TypeNotAllowed(typ.into()));
    }
    let token = rig.sign_with(&header(json!(["JWT"])), &claims(json!({})));
    assert_refusal(
        "typ array",
        rig.verify(&token),
        &IdTokenError::MalformedHeader("invalid type".into()),
    );
    let events = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    for (name, extra) in [
        ("logout token", json!({"events": events, "sid": "s1", "jti": "j1"})),
        ("events without exp", json!({"events": events, "exp": null})),
        ("events of any value", json!({"events": 0})),
    ] {
        assert_refusal(name, rig.verify(&rig.sign(&claims(extra))), &IdTokenError::LogoutToken);
    }
    // A logout token typed as one is refused by its type, before its signature is looked at.
    let token = rig.sign_with(&header(json!("logout+jwt")), &claims(json!({"events": events})));
    assert_refusal(
        "typed logout token",
        rig.verify(&token),
        &IdTokenError::TypeNotAllowed("logout+jwt".into()),
    );
}

/// Headers and payloads nesting deeper than `MAX_JSON_DEPTH` are refused before serde reads
/// them, even when signed; brackets inside strings do not count.
#[test]
fn json_nesting_is_bounded_before_parsing() {
    let rig = Rig::new();
    // `levels` arrays inside the top-level object: depth levels + 1.
    let nested = |levels: usize| format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    let deepest = MAX_JSON_DEPTH - 1;
    let header = |levels: usize| format!(r#"{{"alg":"RS256","kid":"k","x5c_like":{}}}"#, nested(levels));
    let payload = |levels: usize| claims(json!({})).replacen('{', &format!(r#"{{"deep":{},"#, nested(levels)), 1);
    assert!(rig.verify(&rig.sign_with(&header(deepest), &claims(json!({})))).is_ok());
    assert!(rig.verify(&rig.sign(&payload(deepest))).is_ok());
    assert_refusal(
        "header one level too deep",
        rig.verify(&rig.sign_with(&header(deepest + 1), &claims(json!({})))),
        &IdTokenError::TooDeep {
            part: JwsPart::Header,
            limit: MAX_JSON_DEPTH,
        },
    );
    assert_refusal(
        "signed payload one level too deep",
        rig.verify(&rig.sign(&payload(deepest + 1))),
        &IdTokenError::TooDeep {
            part: JwsPart::Payload,
            limit: MAX_JSON_DEPTH,
        },
    );
    // Far past serde_json's own recursion limit (128): refused by the bound, not by serde.
    assert_refusal(
        "payload 4000 levels deep",
        rig.verify(&rig.sign(&payload(4_000))),
        &IdTokenError::TooDeep {
            part: JwsPart::Payload,
            limit: MAX_JSON_DEPTH,
        },
    );
    let in_strings = claims(json!({"brackets": "[".repeat(100), "quoted": format!("\"{}", "{".repeat(100))}));
    assert!(
        rig.verify(&rig.sign(&in_strings)).is_ok(),
        "brackets in strings are text"
    );
    assert!(nests_deeper_than(br#"{"a":"\\","b":[[[]]]}"#, 3));
    assert!(!nests_deeper_than(br#"{"a":"\"[[[[","b":[[]]}"#, 3));
    assert!(
        !nests_deeper_than(br#"{"k":"v\\\"[[[[[["}"#, 3),
        "escaped backslash, then quote"
    );
    assert!(!nests_deeper_than(br#"{"a":"[[[[\"#, 3), "unterminated: for the parser");
    assert!(nests_deeper_than(b"[[[[", 3));
}

/// Each claim check refuses with its own variant, and the time checks have their boundaries
/// exactly at the skew (60 s): `exp` is exclusive, `iat` and `nbf` inclusive.
#[test]
fn every_claim_check_has_its_own_refusal() {
    let rig = Rig::new();
    let skew = rig.expect.skew_secs;
    let ok = |extra: Value| (extra, None::<IdTokenError>);
    let no = |extra: Value, want: IdTokenError| (extra, Some(want));
    let cases = [
        no(json!({"iss": null}), IdTokenError::MissingClaim("iss")),
        no(json!({"sub": null}), IdTokenError::MissingClaim("sub")),
        no(json!({"aud": null}), IdTokenError::MissingClaim("aud")),
        no(json!({"exp": null}), IdTokenError::MissingClaim("exp")),
        no(json!({"iat": null}), IdTokenError::MissingClaim("iat")),
        no(
            json!({"iss": "https://idp.example"}),
            IdTokenError::IssuerMismatch {
                expected: "https://idp.example/".into(),
                got: "https://idp.example".into(),
            },
        ),
        no(
            json!({"aud": ["a", "b"]}),
            IdTokenError::AudienceMismatch {
                expected: "fedgate".into(),
                got: vec!["a".into(), "b".into()],
            },
        ),
        no(json!({"aud": ["fedgate", "b"]}), IdTokenError::AzpMissing),
        // A further client id counts as ours, for aud and azp alike.
        ok(json!({"aud": "fedgate-ci"})),
        ok(json!({"aud": ["fedgate-ci", "b"], "azp": "fedgate-ci"})),
        no(
            json!({"aud": "fedgate-c"}),
            IdTokenError::AudienceMismatch {
                expected: "fedgate".into(),
                got: vec!["fedgate-c".into()],
            },
        ),
        ok(json!({"aud": ["fedgate", "b"], "azp": "fedgate"})),
        no(
            json!({"azp": "other"}),
            IdTokenError::AzpMismatch {
                expected: "fedgate".into(),
                got: "other".into(),
            },
        ),
        ok(json!({"exp": NOW - skew + 1})),
        no(json!({"exp": NOW - skew}), IdTokenError::Expired { exp: NOW - skew }),
        no(
            json!({"exp": NOW - skew - 1}),
            IdTokenError::Expired { exp: NOW - skew - 1 },
        ),
        ok(json!({"iat": NOW + skew - 1})),
        ok(json!({"iat": NOW + skew})),
        no(
            json!({"iat": NOW + skew + 1}),
            IdTokenError::IssuedInFuture { iat: NOW + skew + 1 },
        ),
        ok(json!({"nbf": NOW + skew - 1})),
        ok(json!({"nbf": NOW + skew})),
        no(
            json!({"nbf": NOW + skew + 1}),
            IdTokenError::NotYetValid { nbf: NOW + skew + 1 },
        ),
        ok(json!({"iat": NOW - 600})),
        no(
            json!({"iat": NOW - 601}),
            IdTokenError::TooOld {
                age_secs: 601,
                limit_secs: 600,
            },
        ),
        ok(json!({"exp": NOW + 3600})),
        no(
            json!({"exp": NOW + 3601}),
            IdTokenError::LifetimeTooLong {
                lifetime_secs: 3601,
                limit_secs: 3600,
            },
        ),
        no(json!({"jti": 5}), IdTokenError::JtiUnusable),
        no(json!({"jti": ""}), IdTokenError::JtiUnusable),
        no(json!({"jti": "x".repeat(256)}), IdTokenError::JtiUnusable),
        ok(json!({"jti": "x".repeat(255)})),
        no(json!({"sub": ""}), IdTokenError::EmptySubject),
    ];
    for (extra, want) in cases {
        let got = rig.verify(&rig.sign(&claims(extra.clone())));
        match want {
            None => assert!(got.is_ok(), "{extra}: {got:?}"),
            Some(want) => assert_refusal(&extra.to_string(), got, &want),
        }
    }
    // The nonce of the browser flow.
    let token = rig.sign(&claims(json!({"nonce": "n1"})));
    let with_nonce = |n| verify_id_token(&token, &rig.keys, &rig.expect, NOW, Some(n));
    assert_eq!(with_nonce("n1").unwrap().nonce.as_deref(), Some("n1"));
    assert_refusal("other nonce", with_nonce("n2"), &IdTokenError::NonceMismatch);
    let no_nonce = rig.sign(&claims(json!({})));
    let got = verify_id_token(&no_nonce, &rig.keys, &rig.expect, NOW, Some("n1"));
    assert_refusal("no nonce", got, &IdTokenError::NonceMismatch);
    // No jti is no reason to refuse: replay protection keys on the token's digest instead.
    assert!(verify_id_token(&no_nonce, &rig.keys, &rig.expect, NOW, None).is_ok());
}

/// The compact form, the key choice and the signature, each with its refusal.
#[test]
fn form_key_and_signature_have_their_own_refusals() {
    let rig = Rig::new();
    let good = rig.sign(&claims(json!({})));
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut flipped = URL_SAFE_NO_PAD.decode(signature).unwrap();
    flipped[0] ^= 1;
    let cases = [
        (
            "x".repeat(MAX_ID_TOKEN_BYTES + 1),
            IdTokenError::TooLarge {
                len: MAX_ID_TOKEN_BYTES + 1,
                limit: MAX_ID_TOKEN_BYTES,
            },
        ),
        (format!("{good}.x.y"), IdTokenError::Encrypted),
        (format!("{good}.x"), IdTokenError::PartCount(4)),
        (String::new(), IdTokenError::PartCount(1)),
        (
            format!("{head}+.{payload}.{signature}"),
            IdTokenError::NotBase64Url(JwsPart::Header),
        ),
        (
            format!("{head}.{payload}=.{signature}"),
            IdTokenError::NotBase64Url(JwsPart::Payload),
        ),
        (
            format!("{head}.{payload}.{signature}/"),
            IdTokenError::NotBase64Url(JwsPart::Signature),
        ),
        (
            format!("{head}.{payload}.A"),
            IdTokenError::NotBase64Url(JwsPart::Signature),
        ),
        (format!("{head}.{payload}."), IdTokenError::SignatureInvalid),
        (
            format!("{head}.{payload}.{}", b64(&flipped)),
            IdTokenError::SignatureInvalid,
        ),
        (
            rig.sign_with(r#"{"alg":"RS256","kid":"other"}"#, &claims(json!({}))),
            IdTokenError::UnknownKey("other".into()),
        ),
        (
            rig.sign_with(r#"{"alg":"ES256","kid":"k"}"#, &claims(json!({}))),
            IdTokenError::NoMatchingKey,
        ),
    ];
    for (token, want) in &cases {
        assert_refusal(&want.to_string(), rig.verify(token), want);
    }
    assert!(rig.verify(&good).is_ok(), "the control verifies");
}

fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/independent/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// Every algorithm on the allow-list verifies a token PyJWT signed (keys from the openssl
/// command line, the JWKS as PyJWT writes it), and refuses it with one signature byte flipped.
#[test]
fn every_allowed_algorithm_verifies_tokens_signed_by_pyjwt() {
    let keys: KeySet = serde_json::from_str(&fixture("jwt/jwks.json")).unwrap();
    assert_eq!(keys.keys().len(), 4, "an entry of the fixture JWKS was skipped");
    let expect = Expectations {
        issuer: "https://op.independent.example".into(),
        client_id: "fedgate-independent".into(),
        other_client_ids: Vec::new(),
        skew_secs: 60,
        max_age_secs: 600,
        max_lifetime_secs: 3600,
    };
    for alg in super::super::jwk::SIGNING_ALGS {
        let token = fixture(&format!("jwt/{alg}.jwt")).trim().to_string();
        let (head, rest) = token.split_once('.').unwrap();
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
        assert_eq!(header["alg"], alg, "the fixture for {alg} is signed with {alg}");
        let verified = verify_id_token(&token, &keys, &expect, NOW + 10, None);
        let verified = verified.unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.subject, format!("signed-with-{alg}"));
        assert_eq!(
            verified.attributes().unwrap()["email"],
            vec!["alice@example.com".to_string()]
        );

        let (signed, signature) = token.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        let tampered = format!("{signed}.{}", b64(&bytes));
        assert_eq!(
            verify_id_token(&tampered, &keys, &expect, NOW + 10, None),
            Err(IdTokenError::SignatureInvalid),
            "{alg} with a flipped signature byte"
        );
        // And the signed bytes are what is checked: one payload byte changed.
        let payload = rest.split_once('.').unwrap().0;
        let other = claims_of(payload).replace("alice@", "mallory@");
        let swapped = format!("{head}.{}.{signature}", b64(other.as_bytes()));
        assert_eq!(
            verify_id_token(&swapped, &keys, &expect, NOW + 10, None),
            Err(IdTokenError::SignatureInvalid),
            "{alg} with a changed payload"
        );
    }
}

fn claims_of(payload_b64: &str) -> String {
    String::from_utf8(URL_SAFE_NO_PAD.decode(payload_b64).unwrap()).unwrap()
}

#[test]
fn claims_become_attributes_by_kind() {
    let claims = json!({
        "sub": "repo:acme/app:ref:refs/heads/main",
        "repository": "acme/app",
        "run_number": 42,
        "ref_protected": true,
        "groups": ["devs", "ops"],
        "aud": ["a", "b"],
        "realm_access": {"roles": ["admin"], "deep": {"x": 1}},
        "nothing": null,
    });
    let attrs = claims_to_attributes(claims.as_object().unwrap());
    let get = |k: &str| attrs.get(k).cloned();
    assert_eq!(get("repository"), Some(vec!["acme/app".to_string()]));
    assert_eq!(get("run_number"), Some(vec!["42".to_string()]));
    assert_eq!(get("ref_protected"), Some(vec!["true".to_string()]));
    assert_eq!(get("groups"), Some(vec!["devs".to_string(), "ops".to_string()]));
    assert_eq!(get("realm_access.roles"), Some(vec!["admin".to_string()]));
    assert_eq!(get("realm_access.deep.x"), Some(vec!["1".to_string()]));
    assert_eq!(get("nothing"), None);
    // A string with `;` stays one value: claims are not Keystone's joined environment.
    let attrs = claims_to_attributes(json!({"a": "x;y"}).as_object().unwrap());
    assert_eq!(attrs["a"], vec!["x;y".to_string()]);
}

#[test]
fn nesting_and_count_are_bounded() {
    let mut deep = json!("leaf");
    for _ in 0..50 {
        deep = json!({ "k": deep });
    }
    let attrs = claims_to_attributes(json!({ "d": deep }).as_object().unwrap());
    assert!(attrs.is_empty(), "objects past the depth limit are dropped: {attrs:?}");
    let many: Map<String, Value> = (0..1000).map(|i| (format!("c{i}"), json!(i))).collect();
    assert_eq!(claims_to_attributes(&many).len(), MAX_ATTRIBUTES);
}
