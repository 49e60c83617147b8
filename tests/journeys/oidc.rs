//! OpenID Connect id_token exchange: a CI provider restricted by its mapping to one repository
//! and protected branch, scoped and unscoped tokens, the Bearer endpoint keystoneauth1 uses,
//! replay protection, a table of hostile tokens that must all fail without creating anything,
//! and keys discovered from the provider and rotated while fedgate runs.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use fedgate::oidc::{IdTokenError, JwsPart};
use fedgate::service::oidc_login::IdTokenUse;
use fedgate::service::{Error, Refusal};

use crate::oidc_op::{DiscoveryServer, SigningKey, b64, hmac_sha256, jwt};
use crate::support::{Db, TestApp, no_redirects, spawn_app, spawn_app_with};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const AUDIENCE: &str = "https://github.com/acme";
pub const SUB: &str = "repo:acme/app:ref:refs/heads/main";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn claims() -> Value {
    let t = now();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": SUB,
        "repository": "acme/app", "ref": "refs/heads/main", "ref_protected": "true",
        "repository_owner": "acme", "job_workflow_ref": "acme/app/.github/workflows/deploy.yml@refs/heads/main",
        "iat": t - 5, "nbf": t - 5, "exp": t + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "kid": kid, "typ": "JWT"})
}

/// The CI mapping from the README: only acme/app on its protected main branch.
pub fn ci_mapping() -> Value {
    json!({"mapping": {"rules": [{
        "remote": [
            {"type": "sub"},
            {"type": "repository", "any_one_of": ["acme/app"]},
            {"type": "ref", "any_one_of": ["refs/heads/main"]},
            {"type": "ref_protected", "any_one_of": ["true"]}
        ],
        "local": [
            {"user": {"name": "{0}"}},
            {"group": {"name": "ci-deployers", "domain": {"name": "admin"}}}
        ]
    }]}})
}

pub async fn expect_status(app: &TestApp, method: &str, path: &str, body: Value, status: u16) -> Value {
    let (s, v) = app.call(method, path, &app.admin_token, Some(body)).await;
    assert_eq!(s, status, "{method} {path}: {v}");
    v
}

/// A provider `idp` with protocol oidc, the CI mapping, a `ci-deployers` group holding
/// `member` on the admin project, and the given OIDC configuration.
async fn provider(app: &TestApp, idp: &str, config: Value) {
    if app.ensure_member_group("ci-deployers").await {
        expect_status(app, "PUT", "/v3/OS-FEDERATION/mappings/ci", ci_mapping(), 201).await;
    }
    app.register_provider(idp, "oidc", "ci").await;
    let path = format!("/v3.0/OS-FEDERATION/identity-providers/{idp}/openid-connect-config");
    expect_status(app, "POST", &path, json!({"openid_connect_config": config}), 201).await;
}

fn jwks(keys: &[&SigningKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

/// POST /v3.0/OS-AUTH/id-token/tokens; returns (status, X-Subject-Token, body).
pub async fn exchange(app: &TestApp, idp: &str, token: &str, scope: Option<Value>) -> (u16, String, Value) {
    let mut auth = json!({"id_token": {"id": token}});
    if let Some(scope) = scope {
        auth["scope"] = scope;
    }
    let r = app
        .client
        .post(app.url("/v3.0/OS-AUTH/id-token/tokens"))
        .header("X-Idp-Id", idp)
        .json(&json!({"auth": auth}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let subject = r
        .headers()
        .get("x-subject-token")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, subject, r.json().await.unwrap_or(Value::Null))
}

/// POST /v3/OS-FEDERATION/identity_providers/{idp}/protocols/oidc/auth with a Bearer token.
async fn bearer(app: &TestApp, idp: &str, token: &str) -> (u16, String, Value) {
    let r = app
        .client
        .post(app.url(&format!(
            "/v3/OS-FEDERATION/identity_providers/{idp}/protocols/oidc/auth"
        )))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let subject = r
        .headers()
        .get("x-subject-token")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, subject, r.json().await.unwrap_or(Value::Null))
}

async fn id_token_exchange(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let rsa = SigningKey::rsa("rsa-1");
    let ec = SigningKey::ec("ec-1");
    provider(
        &app,
        "github",
        json!({"access_mode": "program", "idp_url": ISSUER, "client_id": AUDIENCE, "signing_key": jwks(&[&rsa, &ec])}),
    )
    .await;

    // Unscoped, RS256.
    let token = jwt(&header("RS256", "rsa-1"), &claims(), &rsa, "RS256");
    let (s, unscoped, body) = exchange(&app, "github", &token, None).await;
    assert_eq!(s, 201, "{body}");
    let user = &body["token"]["user"];
    assert_eq!(body["token"]["methods"], json!(["mapped"]));
    assert_eq!(user["name"], SUB);
    assert_eq!(user["OS-FEDERATION"]["identity_provider"]["id"], "github");
    assert_eq!(user["OS-FEDERATION"]["protocol"]["id"], "oidc");
    assert_eq!(user["OS-FEDERATION"]["groups"][0]["name"], "ci-deployers");
    assert!(body["token"].get("project").is_none());

    // The same token again: refused, replay protection is on for program-only providers.
    let (s, _, body) = exchange(&app, "github", &token, None).await;
    assert_eq!(s, 401, "replayed jti: {body}");
    assert_eq!(body["error_code"], "IAM.0001");

    // Scoped, ES256, one call.
    let token = jwt(&header("ES256", "ec-1"), &claims(), &ec, "ES256");
    let scope = json!({"project": {"name": "admin", "domain": {"name": "admin"}}});
    let (s, scoped, body) = exchange(&app, "github", &token, Some(scope)).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["token"]["project"]["name"], "admin");
    let roles: Vec<&str> = body["token"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["member"]);
    let (s, v) = app.validate(&app.admin_token, &scoped).await;
    assert_eq!(s, 200, "{v}");

    // The unscoped federated token rescopes through the token method.
    let (s, _, body) = app
        .post_auth(json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": {"project": {"name": "admin", "domain": {"name": "admin"}}}
        }}))
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["token"]["project"]["name"], "admin");

    // The Bearer endpoint answers Keystone's form.
    let token = jwt(&header("RS256", "rsa-1"), &claims(), &rsa, "RS256");
    let (s, subject, body) = bearer(&app, "github", &token).await;
    assert_eq!(s, 201, "{body}");
    assert!(!subject.is_empty());
    assert_eq!(
        body["token"]["user"]["OS-FEDERATION"]["identity_provider"]["id"],
        "github"
    );

    // The mapping admits one repository and its protected main branch only.
    for (claim, value) in [
        ("repository", "acme/other"),
        ("ref", "refs/heads/feature"),
        ("ref_protected", "false"),
    ] {
        let mut c = claims();
        c[claim] = json!(value);
        let token = jwt(&header("RS256", "rsa-1"), &c, &rsa, "RS256");
        let (s, _, body) = exchange(&app, "github", &token, None).await;
        assert_eq!(s, 401, "{claim}={value}: {body}");
    }

    // A scope the federated user has no role on is refused.
    let token = jwt(&header("RS256", "rsa-1"), &claims(), &rsa, "RS256");
    let (s, _, _) = exchange(&app, "github", &token, Some(json!({"domain": {"name": "admin"}}))).await;
    assert_eq!(s, 401);

    // Input errors.
    let r = app
        .client
        .post(app.url("/v3.0/OS-AUTH/id-token/tokens"))
        .json(&json!({"auth": {"id_token": {"id": "x"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "no X-Idp-Id");
    for body in [json!({"auth": {}}), json!({"auth": {"id_token": {"id": 5}}}), json!([])] {
        let r = app
            .client
            .post(app.url("/v3.0/OS-AUTH/id-token/tokens"))
            .header("X-Idp-Id", "github")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
    }
    let (s, _, _) = exchange(&app, "nope", &token, None).await;
    assert_eq!(s, 401, "unknown provider");
    let r = app
        .client
        .post(app.url("/v3/OS-FEDERATION/identity_providers/github/protocols/oidc/auth"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "no bearer token");

    // Disabling the provider stops its tokens.
    expect_status(
        &app,
        "PATCH",
        "/v3/OS-FEDERATION/identity_providers/github",
        json!({"identity_provider": {"enabled": false}}),
        200,
    )
    .await;
    let token = jwt(&header("RS256", "rsa-1"), &claims(), &rsa, "RS256");
    assert_eq!(exchange(&app, "github", &token, None).await.0, 401);
    app.stop().await;
}

/// Each entry: a name, the refusal it must get, and a function from (good claims, our RSA key,
/// our EC key, an attacker's key) to a token.
type Forge = Box<dyn Fn(&Value, &SigningKey, &SigningKey, &SigningKey) -> String>;

/// Whether a refusal is the one a case expects.
type Want = fn(&Refusal) -> bool;

/// A `Want` for the id_token check `pattern` (with an optional guard).
macro_rules! id_token {
    ($pattern:pat $(if $guard:expr)?) => {
        (|r: &Refusal| matches!(r, Refusal::IdToken($pattern) $(if $guard)?)) as Want
    };
}

fn hostile_tokens() -> Vec<(&'static str, Want, Forge)> {
    fn with(claims: &Value, f: impl Fn(&mut Value)) -> Value {
        let mut c = claims.clone();
        f(&mut c);
        c
    }
    fn without(claims: &Value, name: &str) -> Value {
        with(claims, |c| {
            c.as_object_mut().unwrap().remove(name);
        })
    }
    fn signed(c: &Value, rsa: &SigningKey) -> String {
        jwt(&header("RS256", "rsa-1"), c, rsa, "RS256")
    }
    let t = now();
    vec![
        (
            "alg none",
            id_token!(IdTokenError::AlgorithmNotAllowed(a) if a == "none"),
            Box::new(|c, rsa, _, _| jwt(&json!({"alg": "none", "kid": "rsa-1"}), c, rsa, "none")),
        ),
        (
            "alg none with a signature",
            id_token!(IdTokenError::AlgorithmNotAllowed(a) if a == "none"),
            Box::new(|c, rsa, _, _| {
                let good = signed(c, rsa);
                let sig = good.rsplit('.').next().unwrap().to_string();
                let unsigned = jwt(&json!({"alg": "none"}), c, rsa, "none");
                format!("{unsigned}{sig}")
            }),
        ),
        (
            "alg NONE",
            id_token!(IdTokenError::AlgorithmNotAllowed(a) if a == "NONE"),
            Box::new(|c, rsa, _, _| jwt(&json!({"alg": "NONE"}), c, rsa, "none")),
        ),
        (
            "HS256 keyed with the RSA public key (JWK n)",
            id_token!(IdTokenError::AlgorithmNotAllowed(a) if a == "HS256"),
            Box::new(|c, rsa, _, _| {
                let h = json!({"alg": "HS256", "kid": "rsa-1"});
                let input = format!("{}.{}", b64(h.to_string().as_bytes()), b64(c.to_string().as_bytes()));
                let n = rsa.jwk()["n"].as_str().unwrap().to_string();
                format!("{input}.{}", b64(&hmac_sha256(n.as_bytes(), input.as_bytes())))
            }),
        ),
        (
            "HS256 keyed with the RSA public key (PEM)",
            id_token!(IdTokenError::AlgorithmNotAllowed(a) if a == "HS256"),
            Box::new(|c, rsa, _, _| {
                let h = json!({"alg": "HS256"});
                let input = format!("{}.{}", b64(h.to_string().as_bytes()), b64(c.to_string().as_bytes()));
                let pem = rsa.key.public_key_to_pem().unwrap();
                format!("{input}.{}", b64(&hmac_sha256(&pem, input.as_bytes())))
            }),
        ),
        (
            "alg outside the allow-list (ES512)",
            id_token!(IdTokenError::AlgorithmNotAllowed(a) if a == "ES512"),
            Box::new(|c, rsa, _, _| {
                let good = signed(c, rsa);
                let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
                parts[0] = b64(json!({"alg": "ES512", "kid": "rsa-1"}).to_string().as_bytes());
                parts.join(".")
            }),
        ),
        (
            "unknown kid",
            id_token!(IdTokenError::UnknownKey(k) if k == "nope"),
            Box::new(|c, _, _, evil| jwt(&header("RS256", "nope"), c, evil, "RS256")),
        ),
        (
            "foreign signature under our kid",
            id_token!(IdTokenError::SignatureInvalid),
            Box::new(|c, _, _, evil| jwt(&header("RS256", "rsa-1"), c, evil, "RS256")),
        ),
        (
            "no kid, attacker key",
            id_token!(IdTokenError::SignatureInvalid),
            Box::new(|c, _, _, evil| jwt(&json!({"alg": "RS256"}), c, evil, "RS256")),
        ),
        (
            "embedded jwk names the attacker key",
            id_token!(IdTokenError::SignatureInvalid),
            Box::new(|c, _, _, evil| jwt(&json!({"alg": "RS256", "jwk": evil.jwk()}), c, evil, "RS256")),
        ),
        (
            "jku points at the attacker",
            id_token!(IdTokenError::UnknownKey(k) if k == "evil"),
            Box::new(|c, _, _, evil| {
                jwt(
                    &json!({"alg": "RS256", "kid": "evil", "jku": "https://attacker.example/jwks"}),
                    c,
                    evil,
                    "RS256",
                )
            }),
        ),
        (
            "x5u points at the attacker",
            id_token!(IdTokenError::SignatureInvalid),
            Box::new(|c, _, _, evil| {
                jwt(
                    &json!({"alg": "RS256", "x5u": "https://attacker.example/cert.pem"}),
                    c,
                    evil,
                    "RS256",
                )
            }),
        ),
        (
            "crit header",
            id_token!(IdTokenError::CriticalHeader),
            Box::new(|c, rsa, _, _| {
                jwt(
                    &json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]}),
                    c,
                    rsa,
                    "RS256",
                )
            }),
        ),
        (
            "ES256 header over an RSA key id",
            id_token!(IdTokenError::NoMatchingKey),
            Box::new(|c, rsa, _, _| jwt(&header("ES256", "rsa-1"), c, rsa, "RS256")),
        ),
        (
            "RS256 header over the EC key id",
            id_token!(IdTokenError::NoMatchingKey),
            Box::new(|c, _, ec, _| jwt(&header("RS256", "ec-1"), c, ec, "ES256")),
        ),
        (
            "RSA signature with SHA-1",
            id_token!(IdTokenError::SignatureInvalid),
            Box::new(|c, rsa, _, _| jwt(&header("RS256", "rsa-1"), c, rsa, "RS1")),
        ),
        (
            "stripped signature",
            id_token!(IdTokenError::SignatureInvalid),
            Box::new(|c, rsa, _, _| {
                let good = signed(c, rsa);
                format!("{}.", good.rsplit_once('.').unwrap().0)
            }),
        ),
        (
            "tampered payload",
            id_token!(IdTokenError::SignatureInvalid),
            Box::new(|c, rsa, _, _| {
                let good = signed(c, rsa);
                let parts: Vec<&str> = good.split('.').collect();
                let other = with(c, |c| c["repository"] = json!("acme/app2"));
                format!("{}.{}.{}", parts[0], b64(other.to_string().as_bytes()), parts[2])
            }),
        ),
        (
            "wrong issuer",
            id_token!(IdTokenError::IssuerMismatch { got, .. } if got == "https://evil.example"),
            Box::new(|c, rsa, _, _| signed(&with(c, |c| c["iss"] = json!("https://evil.example")), rsa)),
        ),
        (
            "issuer look-alike in Unicode",
            id_token!(IdTokenError::IssuerMismatch { got, .. } if got.ends_with(".c\u{043e}m")),
            Box::new(|c, rsa, _, _| {
                signed(
                    &with(c, |c| {
                        c["iss"] = json!("https://token.actions.githubusercontent.c\u{043e}m")
                    }),
                    rsa,
                )
            }),
        ),
        (
            "issuer with a trailing slash",
            id_token!(IdTokenError::IssuerMismatch { got, .. } if got.ends_with(".com/")),
            Box::new(|c, rsa, _, _| signed(&with(c, |c| c["iss"] = json!(format!("{ISSUER}/"))), rsa)),
        ),
        (
            "wrong audience",
            id_token!(IdTokenError::AudienceMismatch { got, .. } if got == &["https://github.com/evil"]),
            Box::new(|c, rsa, _, _| signed(&with(c, |c| c["aud"] = json!("https://github.com/evil")), rsa)),
        ),
        (
            "missing audience",
            id_token!(IdTokenError::MissingClaim("aud")),
            Box::new(|c, rsa, _, _| signed(&without(c, "aud"), rsa)),
        ),
        (
            "several audiences, no azp",
            id_token!(IdTokenError::AzpMissing),
            Box::new(|c, rsa, _, _| signed(&with(c, |c| c["aud"] = json!([AUDIENCE, "other"])), rsa)),
        ),
        (
            "azp of another client",
            id_token!(IdTokenError::AzpMismatch { got, .. } if got == "other"),
            Box::new(|c, rsa, _, _| signed(&with(c, |c| c["azp"] = json!("other")), rsa)),
        ),
        (
            "expired beyond the skew",
            id_token!(IdTokenError::Expired { .. }),
            Box::new(move |c, rsa, _, _| {
                signed(
                    &with(c, |c| {
                        c["exp"] = json!(t - 120);
                        c["iat"] = json!(t - 400);
                        c["nbf"] = json!(t - 400);
                    }),
                    rsa,
                )
            }),
        ),
        (
            "nbf in the future",
            id_token!(IdTokenError::NotYetValid { .. }),
            Box::new(move |c, rsa, _, _| signed(&with(c, |c| c["nbf"] = json!(t + 600)), rsa)),
        ),
        (
            "iat in the future",
            id_token!(IdTokenError::IssuedInFuture { .. }),
            Box::new(move |c, rsa, _, _| {
                signed(
                    &with(c, |c| {
                        c["iat"] = json!(t + 600);
                        c["exp"] = json!(t + 900);
                    }),
                    rsa,
                )
            }),
        ),
        (
            "issued too long ago",
            id_token!(IdTokenError::TooOld { limit_secs: 3600, .. }),
            Box::new(move |c, rsa, _, _| signed(&with(c, |c| c["iat"] = json!(t - 7200)), rsa)),
        ),
        (
            "lifetime over the limit",
            id_token!(IdTokenError::LifetimeTooLong { limit_secs: 86_400, .. }),
            Box::new(move |c, rsa, _, _| signed(&with(c, |c| c["exp"] = json!(t + 200_000)), rsa)),
        ),
        (
            "missing exp",
            id_token!(IdTokenError::MissingClaim("exp")),
            Box::new(|c, rsa, _, _| signed(&without(c, "exp"), rsa)),
        ),
        (
            "exp as a string",
            id_token!(IdTokenError::MalformedClaims(_)),
            Box::new(move |c, rsa, _, _| signed(&with(c, |c| c["exp"] = json!((t + 300).to_string())), rsa)),
        ),
        (
            "missing sub",
            id_token!(IdTokenError::MissingClaim("sub")),
            Box::new(|c, rsa, _, _| signed(&without(c, "sub"), rsa)),
        ),
        (
            "JWE compact form",
            id_token!(IdTokenError::Encrypted),
            Box::new(|_, _, _, _| {
                let h = b64(json!({"alg": "RSA-OAEP", "enc": "A256GCM"}).to_string().as_bytes());
                format!("{h}.{}.{}.{}.{}", b64(b"k"), b64(b"iv"), b64(b"ct"), b64(b"tag"))
            }),
        ),
        (
            "oversize",
            id_token!(IdTokenError::TooLarge { .. }),
            Box::new(|c, rsa, _, _| signed(&with(c, |c| c["pad"] = json!("x".repeat(17 * 1024))), rsa)),
        ),
        (
            "characters outside base64url",
            id_token!(IdTokenError::NotBase64Url(JwsPart::Signature)),
            Box::new(|c, rsa, _, _| {
                let good = signed(c, rsa);
                format!("{}+/==", good)
            }),
        ),
        (
            "trailing data",
            id_token!(IdTokenError::PartCount(4)),
            Box::new(|c, rsa, _, _| format!("{}.AAAA", signed(c, rsa))),
        ),
        (
            "header is not an object",
            id_token!(IdTokenError::NotJsonObject(JwsPart::Header)),
            Box::new(|c, rsa, _, _| {
                let good = signed(c, rsa);
                let parts: Vec<&str> = good.split('.').collect();
                format!("{}.{}.{}", b64(b"[\"RS256\"]"), parts[1], parts[2])
            }),
        ),
        (
            "empty token",
            id_token!(IdTokenError::PartCount(1)),
            Box::new(|_, _, _, _| String::new()),
        ),
        // Other JWTs the same provider signs are not id_tokens.
        (
            "access token (typ at+jwt)",
            id_token!(IdTokenError::TypeNotAllowed(t) if t == "at+jwt"),
            Box::new(|c, rsa, _, _| jwt(&typed("at+jwt"), c, rsa, "RS256")),
        ),
        (
            "access token (typ application/at+jwt)",
            id_token!(IdTokenError::TypeNotAllowed(t) if t == "application/at+jwt"),
            Box::new(|c, rsa, _, _| jwt(&typed("application/at+jwt"), c, rsa, "RS256")),
        ),
        (
            "logout token (typ logout+jwt)",
            id_token!(IdTokenError::TypeNotAllowed(t) if t == "logout+jwt"),
            Box::new(|c, rsa, _, _| jwt(&typed("logout+jwt"), c, rsa, "RS256")),
        ),
        (
            "security event token (typ secevent+jwt)",
            id_token!(IdTokenError::TypeNotAllowed(t) if t == "secevent+jwt"),
            Box::new(|c, rsa, _, _| jwt(&typed("secevent+jwt"), c, rsa, "RS256")),
        ),
        (
            "typ JOSE",
            id_token!(IdTokenError::TypeNotAllowed(t) if t == "JOSE"),
            Box::new(|c, rsa, _, _| jwt(&typed("JOSE"), c, rsa, "RS256")),
        ),
        (
            "logout token typed JWT (events claim)",
            id_token!(IdTokenError::LogoutToken),
            Box::new(|c, rsa, _, _| {
                let events = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
                signed(&with(c, |c| c["events"] = events.clone()), rsa)
            }),
        ),
        (
            "header nested 17 levels deep",
            id_token!(IdTokenError::TooDeep {
                part: JwsPart::Header,
                limit: 16
            }),
            Box::new(|c, rsa, _, _| {
                let mut h = header("RS256", "rsa-1");
                h["x"] = nested(16);
                jwt(&h, c, rsa, "RS256")
            }),
        ),
        (
            "claims nested 17 levels deep, signed",
            id_token!(IdTokenError::TooDeep {
                part: JwsPart::Payload,
                limit: 16
            }),
            Box::new(|c, rsa, _, _| signed(&with(c, |c| c["x"] = nested(16)), rsa)),
        ),
    ]
}

/// A header of our RSA key with `typ`.
fn typed(typ: &str) -> Value {
    json!({"alg": "RS256", "kid": "rsa-1", "typ": typ})
}

/// `levels` arrays, one inside the other.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

/// The typed reason of a refused sign-in; anything else fails the test.
pub fn refusal_of<T>(result: Result<T, Error>) -> Refusal {
    match result {
        Ok(_) => panic!("accepted"),
        Err(e) => e
            .refusal()
            .cloned()
            .unwrap_or_else(|| panic!("not a sign-in refusal: {e}")),
    }
}

async fn hostile_id_tokens(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let rsa = SigningKey::rsa("rsa-1");
    let ec = SigningKey::ec("ec-1");
    let evil = SigningKey::rsa("rsa-1");
    provider(
        &app,
        "github",
        json!({"access_mode": "program", "idp_url": ISSUER, "client_id": AUDIENCE, "signing_key": jwks(&[&rsa, &ec])}),
    )
    .await;
    let cases = hostile_tokens();
    assert!(cases.len() >= 30, "the issue asks for at least 30 hostile tokens");
    for (name, want, forge) in &cases {
        let token = forge(&claims(), &rsa, &ec, &evil);
        let r = app
            .client
            .post(app.url("/v3.0/OS-AUTH/id-token/tokens"))
            .header("X-Idp-Id", "github")
            .json(&json!({"auth": {"id_token": {"id": token}}}))
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        let subject = r
            .headers()
            .get("x-subject-token")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body: Value = r.json().await.unwrap();
        assert_eq!(s, 401, "{name}: {body}");
        assert!(subject.is_empty(), "{name}");
        assert_eq!(
            body["error_msg"], "The request you have made requires authentication.",
            "{name}: the caller learns nothing more"
        );
        // The same token through the service the endpoint calls: the exact refusal.
        let refused = app
            .sign_in()
            .oidc_login("github", &token, None, IdTokenUse::Exchange, fedgate::service::now_ms())
            .await;
        let refusal = refusal_of(refused);
        assert!(want(&refusal), "{name}: refused for another reason: {refusal:?}");
        if !token.is_empty() {
            let (s, _, body) = bearer(&app, "github", &token).await;
            assert_eq!(s, 401, "{name} (bearer): {body}");
        }
    }
    let users = app.store.list_federated_users("github").await.unwrap();
    assert!(users.is_empty(), "hostile tokens created users: {users:?}");
    // The control: the same setup admits a good token, so the refusals above are the checks'.
    let token = jwt(&header("RS256", "rsa-1"), &claims(), &rsa, "RS256");
    assert_eq!(exchange(&app, "github", &token, None).await.0, 201);
    assert_eq!(app.store.list_federated_users("github").await.unwrap().len(), 1);
    app.stop().await;
}

/// Keys from discovery, a rotation picked up through an unknown kid, rate-limited refetches,
/// and stale keys kept while the provider is down.
async fn discovered_keys_rotate(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let old = SigningKey::rsa("2026-1");
    let new = SigningKey::ec("2026-2");
    let mut op = DiscoveryServer::start(&[&old]).await;
    provider(
        &app,
        "corp",
        json!({"access_mode": "program", "idp_url": op.issuer, "client_id": "fedgate-client", "replay_protection": false}),
    )
    .await;
    let (s, v) = app
        .call(
            "GET",
            "/v3.0/OS-FEDERATION/identity-providers/corp/openid-connect-config",
            &app.admin_token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["openid_connect_config"]["signing_key"], Value::Null, "{v}");
    let issuer = op.issuer.clone();
    let claims_at = |t: i64| {
        json!({"iss": issuer, "aud": "fedgate-client", "sub": SUB, "repository": "acme/app",
            "ref": "refs/heads/main", "ref_protected": "true", "iat": t - 5, "exp": t + 300})
    };
    let token = jwt(&header("RS256", "2026-1"), &claims_at(now()), &old, "RS256");
    assert_eq!(exchange(&app, "corp", &token, None).await.0, 201);
    assert_eq!(
        bearer(&app, "corp", &token).await.0,
        201,
        "reuse is fine without replay protection"
    );
    assert_eq!(op.fetch_count(), 1, "keys are cached");

    // The provider rotates: a token under the new kid makes fedgate fetch once more.
    op.publish(&[&old, &new]);
    let later = fedgate::service::now_ms() + 6_000;
    let rotated = jwt(&header("ES256", "2026-2"), &claims_at(later / 1000), &new, "ES256");
    let issued = app
        .sign_in()
        .oidc_login("corp", &rotated, None, IdTokenUse::Exchange, later)
        .await;
    assert!(issued.is_ok(), "{:?}", issued.err());
    assert_eq!(op.fetch_count(), 2);
    // Unknown kids right after a fetch do not make fedgate fetch again.
    let ghost = jwt(&header("RS256", "ghost"), &claims_at(later / 1000), &old, "RS256");
    assert!(
        app.sign_in()
            .oidc_login("corp", &ghost, None, IdTokenUse::Exchange, later + 1)
            .await
            .is_err()
    );
    assert_eq!(op.fetch_count(), 2, "refetches are rate-limited");

    // Keys past their age: the request is answered with the keys held, without waiting on
    // the provider, and one refresh runs behind it.
    let aged = later + 3_700_000;
    let token = jwt(&header("RS256", "2026-1"), &claims_at(aged / 1000), &old, "RS256");
    let issued = app
        .sign_in()
        .oidc_login("corp", &token, None, IdTokenUse::Exchange, aged)
        .await;
    assert!(issued.is_ok(), "aged keys verify: {:?}", issued.err());
    for _ in 0..100 {
        if op.fetch_count() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(op.fetch_count(), 3, "refreshed behind the request");

    // The provider goes away; keys past their age are kept when the refresh fails.
    op.stop();
    let much_later = aged + 3_700_000;
    let token = jwt(&header("RS256", "2026-1"), &claims_at(much_later / 1000), &old, "RS256");
    let issued = app
        .sign_in()
        .oidc_login("corp", &token, None, IdTokenUse::Exchange, much_later)
        .await;
    assert!(issued.is_ok(), "stale keys still verify: {:?}", issued.err());

    // A provider whose key set is unusable is not asked again on every request.
    let empty = DiscoveryServer::start(&[]).await;
    provider(
        &app,
        "broken",
        json!({"access_mode": "program", "idp_url": empty.issuer, "client_id": "fedgate-client", "replay_protection": false}),
    )
    .await;
    let claims =
        json!({"iss": empty.issuer, "aud": "fedgate-client", "sub": SUB, "iat": now() - 5, "exp": now() + 300});
    let token = jwt(&header("RS256", "2026-1"), &claims, &old, "RS256");
    for _ in 0..3 {
        assert_eq!(exchange(&app, "broken", &token, None).await.0, 401);
    }
    assert_eq!(empty.fetch_count(), 1, "failed fetches are rate-limited too");
    app.stop().await;
}
const DASHBOARD: &str = "https://dashboard.example/auth/websso/";
const AUTHORIZE: &str = "https://login.corp.example/oauth2/authorize";

/// Starts browser sign-in; returns (state, nonce, binding cookie) from the redirect.
async fn websso_start(app: &TestApp, idp: &str) -> (String, String, String) {
    let r = no_redirects()
        .get(app.url(&format!(
            "/v3/auth/OS-FEDERATION/identity_providers/{idp}/protocols/oidc/websso?origin={}",
            url_escape(DASHBOARD)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("{AUTHORIZE}?")), "{location}");
    let query: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(location.split_once('?').unwrap().1).unwrap();
    assert_eq!(query["response_type"], "id_token");
    assert_eq!(query["client_id"], "fedgate-console");
    assert_eq!(query["response_mode"], "form_post");
    assert_eq!(query["scope"], "openid email");
    assert_eq!(
        query["redirect_uri"],
        app.url("/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback")
    );
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=None"));
    let binding = cookie.split(';').next().unwrap().to_string();
    (query["state"].clone(), query["nonce"].clone(), binding)
}

fn url_escape(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap()[2..].to_string()
}

async fn websso_callback(app: &TestApp, form: &[(&str, &str)], cookie: Option<&str>) -> (u16, HeaderMapText, String) {
    let mut request = app
        .client
        .post(app.url("/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback"))
        .form(form);
    if let Some(c) = cookie {
        request = request.header("Cookie", c);
    }
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    (status, headers, r.text().await.unwrap())
}

type HeaderMapText = std::collections::HashMap<String, String>;

/// Browser sign-in through an OpenID provider, as a dashboard uses it: redirect out with state
/// and nonce, the form_post answer back, the token handed to the trusted dashboard.
async fn websso_browser_sign_in(db: Db) {
    let Some(app) = spawn_app_with(db, |args| args.trusted_dashboards = vec![DASHBOARD.to_string()]).await else {
        return;
    };
    let rsa = SigningKey::rsa("rsa-1");
    provider(
        &app,
        "corp",
        json!({"access_mode": "program_console", "idp_url": ISSUER, "client_id": "fedgate-console",
            "authorization_endpoint": AUTHORIZE, "scope": "openid email", "response_type": "id_token",
            "response_mode": "form_post", "signing_key": jwks(&[&rsa])}),
    )
    .await;
    let console_claims = |nonce: &str| {
        let mut c = claims();
        c["aud"] = json!("fedgate-console");
        c["nonce"] = json!(nonce);
        c
    };

    let (state, nonce, binding) = websso_start(&app, "corp").await;
    let id_token = jwt(&header("RS256", "rsa-1"), &console_claims(&nonce), &rsa, "RS256");
    let form = [("id_token", id_token.as_str()), ("state", state.as_str())];
    let (s, headers, page) = websso_callback(&app, &form, Some(&binding)).await;
    assert_eq!(s, 200, "{page}");
    assert!(headers["content-type"].starts_with("text/html"));
    let csp = &headers["content-security-policy"];
    assert!(
        csp.contains("default-src 'none'") && csp.contains(&format!("form-action 'self' {DASHBOARD}")),
        "{csp}"
    );
    let script_nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(
        page.contains(&format!("<script nonce=\"{script_nonce}\">")),
        "only the page's own script runs"
    );
    assert!(page.contains(&format!("action=\"{DASHBOARD}\"")), "{page}");
    let token = page
        .split("name=\"token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let (s, v) = app.validate(&app.admin_token, token).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["token"]["user"]["OS-FEDERATION"]["identity_provider"]["id"], "corp");

    // The same answer again: the state is spent.
    let (s, headers, page) = websso_callback(&app, &form, Some(&binding)).await;
    assert_eq!(s, 401);
    assert!(headers["content-type"].starts_with("text/html"));
    assert!(
        page.contains("Sign-in failed") && page.contains(&headers["x-request-id"]),
        "{page}"
    );

    // Another browser (no binding cookie), a wrong nonce, an error answer, a forged state.
    let (state, nonce, binding) = websso_start(&app, "corp").await;
    let good = jwt(&header("RS256", "rsa-1"), &console_claims(&nonce), &rsa, "RS256");
    let (s, _, _) = websso_callback(&app, &[("id_token", &good), ("state", &state)], None).await;
    assert_eq!(s, 401, "no binding cookie");
    let (state, _, binding2) = websso_start(&app, "corp").await;
    let wrong_nonce = jwt(&header("RS256", "rsa-1"), &console_claims("other"), &rsa, "RS256");
    let (s, _, _) = websso_callback(&app, &[("id_token", &wrong_nonce), ("state", &state)], Some(&binding2)).await;
    assert_eq!(s, 401, "wrong nonce");
    let (s, _, _) = websso_callback(&app, &[("error", "access_denied"), ("state", "x")], Some(&binding)).await;
    assert_eq!(s, 401, "error answer");

    // Other JWTs the provider signs are refused at the callback too, each for being what it is.
    let events = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
    let others: [(&str, Value, Value, Want); 2] = [
        (
            "access token",
            json!({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"}),
            json!({}),
            id_token!(IdTokenError::TypeNotAllowed(t) if t == "at+jwt"),
        ),
        (
            "logout token",
            header("RS256", "rsa-1"),
            json!({"events": events}),
            id_token!(IdTokenError::LogoutToken),
        ),
    ];
    for (name, head, extra, want) in &others {
        let forge = |nonce: &str| {
            let mut c = console_claims(nonce);
            for (k, v) in extra.as_object().unwrap() {
                c[k] = v.clone();
            }
            jwt(head, &c, &rsa, "RS256")
        };
        let (state, nonce, binding) = websso_start(&app, "corp").await;
        let (s, _, _) = websso_callback(&app, &[("id_token", &forge(&nonce)), ("state", &state)], Some(&binding)).await;
        assert_eq!(s, 401, "{name} at the callback");
        // A fresh sign-in, through the service the callback calls, for the exact refusal.
        let (state, nonce, binding) = websso_start(&app, "corp").await;
        let cookie_value = binding.split_once('=').unwrap().1;
        let refused = app
            .sign_in()
            .finish_oidc_websso(&state, &forge(&nonce), Some(cookie_value), fedgate::service::now_ms())
            .await;
        let refusal = refusal_of(refused);
        assert!(want(&refusal), "{name}: refused for another reason: {refusal:?}");
    }
    let forged = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"i": "corp", "o": DASHBOARD, "n": nonce, "b": "x", "r": "y"}).to_string(),
    );
    let (s, _, _) = websso_callback(&app, &[("id_token", &good), ("state", &forged)], Some(&binding)).await;
    assert_eq!(s, 401, "forged state");

    // Only trusted dashboards, only console providers; the chooser lists who offers sign-in.
    let r = no_redirects()
        .get(app.url(&format!(
            "/v3/auth/OS-FEDERATION/identity_providers/corp/protocols/oidc/websso?origin={}",
            url_escape("https://evil.example/")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("not a trusted dashboard"));
    let r = app
        .client
        .get(app.url(&format!(
            "/v3/auth/OS-FEDERATION/websso/oidc?origin={}",
            url_escape(DASHBOARD)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("/v3/auth/OS-FEDERATION/identity_providers/corp/protocols/oidc/websso?origin="),
        "{page}"
    );
    let r = app
        .client
        .get(app.url("/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "the fragment relay page");
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains(csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap())
    );
    app.stop().await;
}

/// Whether an id_token may be presented twice depends on where (README, "Replay"): the CI
/// exchange and the browser callback take a token once for every provider (console providers'
/// tokens could be replayed there for an hour before), the Keystone bearer path lets
/// v3oidcaccesstoken present a console provider's token for every command until a single-use
/// endpoint spends it, and a token without `jti` is kept apart by the digest of its signed part
/// instead of being refused.
async fn id_tokens_are_single_use_where_they_should_be(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let rsa = SigningKey::rsa("rsa-1");
    let keys = jwks(&[&rsa]);
    provider(
        &app,
        "ci",
        json!({"access_mode": "program", "idp_url": ISSUER, "client_id": AUDIENCE, "signing_key": keys}),
    )
    .await;
    provider(
        &app,
        "corp",
        json!({"access_mode": "program_console", "idp_url": ISSUER, "client_id": AUDIENCE,
            "authorization_endpoint": "https://idp.example/authorize", "scope": "openid", "response_type": "id_token",
            "response_mode": "form_post", "signing_key": keys}),
    )
    .await;
    provider(
        &app,
        "lenient",
        json!({"access_mode": "program", "idp_url": ISSUER, "client_id": AUDIENCE, "signing_key": keys,
            "replay_protection": false}),
    )
    .await;
    let token = |jti: bool| {
        let mut c = claims();
        if !jti {
            c.as_object_mut().unwrap().remove("jti");
            // Tokens minted in the same second would be the same token.
            c["sid"] = json!(uuid::Uuid::new_v4().to_string());
        }
        jwt(&header("RS256", "rsa-1"), &c, &rsa, "RS256")
    };
    // (provider, endpoint, with jti, statuses of three presentations)
    let cases = [
        ("ci", "exchange", true, [201, 401, 401]),
        ("ci", "exchange", false, [201, 401, 401]),
        ("ci", "bearer", true, [201, 401, 401]),
        ("corp", "exchange", true, [201, 401, 401]),
        ("corp", "exchange", false, [201, 401, 401]),
        ("corp", "bearer", true, [201, 201, 201]),
        ("corp", "bearer", false, [201, 201, 201]),
        ("lenient", "exchange", true, [201, 201, 201]),
        ("lenient", "exchange", false, [201, 201, 201]),
    ];
    for (idp, endpoint, jti, want) in cases {
        let id_token = token(jti);
        let mut got = [0u16; 3];
        for status in &mut got {
            *status = match endpoint {
                "exchange" => exchange(&app, idp, &id_token, None).await.0,
                _ => bearer(&app, idp, &id_token).await.0,
            };
        }
        assert_eq!(got, want, "{idp} at the {endpoint}, jti {jti}");
    }
    // The bearer path records nothing for console providers, so a token presented there may
    // still be exchanged once; a token a single-use endpoint took is spent everywhere.
    for jti in [true, false] {
        let id_token = token(jti);
        assert_eq!(bearer(&app, "corp", &id_token).await.0, 201, "jti {jti}");
        assert_eq!(exchange(&app, "corp", &id_token, None).await.0, 201, "jti {jti}");
        assert_eq!(bearer(&app, "corp", &id_token).await.0, 401, "jti {jti}: spent");
    }
    app.stop().await;
}

/// An admin disables a federated user through Keystone's /v3/users API: its tokens stop at
/// once (the rescoped one too) and its next login is refused; enabling it lets it back in.
async fn a_disabled_federated_user_is_locked_out(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let rsa = SigningKey::rsa("rsa-1");
    provider(
        &app,
        "github",
        json!({"access_mode": "program", "idp_url": ISSUER, "client_id": AUDIENCE, "signing_key": jwks(&[&rsa])}),
    )
    .await;
    async fn login(app: &TestApp, rsa: &SigningKey) -> (u16, String, Value) {
        let token = jwt(&header("RS256", "rsa-1"), &claims(), rsa, "RS256");
        exchange(app, "github", &token, None).await
    }
    let (s, unscoped, body) = login(&app, &rsa).await;
    assert_eq!(s, 201, "{body}");
    let user_id = body["token"]["user"]["id"].as_str().unwrap().to_string();
    let (s, rescoped, _) = app
        .post_auth(json!({"auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": {"project": {"name": "admin", "domain": {"name": "admin"}}}
        }}))
        .await;
    assert_eq!(s, 201);
    let t = app.admin_token.as_str();
    let (s, shown) = app.call("GET", &format!("/v3/users/{user_id}"), t, None).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["user"]["name"], SUB);
    assert_eq!(shown["user"]["federated"][0]["idp_id"], "github");
    assert_eq!(shown["user"]["federated"][0]["protocols"][0]["protocol_id"], "oidc");
    let (s, listed) = app.call("GET", "/v3/users?idp_id=github", t, None).await;
    assert_eq!(s, 200);
    assert_eq!(listed["users"][0]["id"], user_id.as_str());
    // Its name comes from the provider: only `enabled` may be set.
    let (s, refused) = app
        .call(
            "PATCH",
            &format!("/v3/users/{user_id}"),
            t,
            Some(json!({"user": {"name": "x"}})),
        )
        .await;
    assert_eq!(s, 400, "{refused}");
    assert_eq!(
        refused["error"]["message"],
        "Invalid input for field 'user': a federated user's attributes come from its identity provider; only enabled can be set."
    );

    let (s, disabled) = app
        .call(
            "PATCH",
            &format!("/v3/users/{user_id}"),
            t,
            Some(json!({"user": {"enabled": false}})),
        )
        .await;
    assert_eq!(s, 200, "{disabled}");
    assert_eq!(disabled["user"]["enabled"], false);
    for token in [&unscoped, &rescoped] {
        assert_eq!(app.validate(t, token).await.0, 404, "tokens stop at once");
    }
    let (s, _, body) = login(&app, &rsa).await;
    assert_eq!(s, 401, "the next login is refused: {body}");
    assert!(
        crate::support::captured_logs().contains(&format!("federated user {user_id} is disabled")),
        "the log says why"
    );
    let (s, _) = app
        .call(
            "PATCH",
            &format!("/v3/users/{user_id}"),
            t,
            Some(json!({"user": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _, body) = login(&app, &rsa).await;
    assert_eq!(s, 201, "enabled again: {body}");
    app.stop().await;
}

/// An issuer that cannot be reached is said at once: a warning in the configuration's answer
/// (the configuration is stored all the same), and at login a refusal that names it, logged as
/// the provider having no keys rather than "keeping the previous ones".
async fn an_unreachable_issuer_is_said(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config = json!({"access_mode": "program", "idp_url": issuer, "client_id": "fedgate-client"});
    app.ensure_member_group("ci-deployers").await;
    expect_status(&app, "PUT", "/v3/OS-FEDERATION/mappings/ci", ci_mapping(), 201).await;
    app.register_provider("down", "oidc", "ci").await;
    let path = "/v3.0/OS-FEDERATION/identity-providers/down/openid-connect-config";
    let body = json!({"openid_connect_config": config});
    for (method, status) in [("POST", 201), ("PUT", 200)] {
        let v = expect_status(&app, method, path, body.clone(), status).await;
        assert_eq!(v["openid_connect_config"]["idp_url"], json!(issuer));
        let warnings = v["warnings"].as_array().unwrap_or_else(|| panic!("{method}: {v}"));
        assert_eq!(warnings.len(), 1, "{v}");
        let w = warnings[0].as_str().unwrap();
        assert!(
            w.starts_with(&format!("the keys of {issuer} could not be discovered now ("))
                && w.ends_with("); its id_tokens are refused until they can be"),
            "{w}"
        );
    }
    let key = SigningKey::rsa("k1");
    let claims = json!({"iss": issuer, "aud": "fedgate-client", "sub": SUB, "iat": now() - 5, "exp": now() + 300});
    let token = jwt(&header("RS256", "k1"), &claims, &key, "RS256");
    let login = app
        .sign_in()
        .oidc_login("down", &token, None, IdTokenUse::Exchange, fedgate::service::now_ms())
        .await;
    match refusal_of(login) {
        Refusal::NoProviderKeys { issuer: named, error } => {
            assert_eq!(named, issuer);
            assert!(!error.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(exchange(&app, "down", &token, None).await.0, 401);
    let logs = crate::support::captured_logs();
    let about: Vec<&str> = logs.lines().filter(|l| l.contains(&issuer)).collect();
    assert!(
        about
            .iter()
            .any(|l| l.contains("WARN") && l.contains("could not be fetched and none are known")),
        "{about:#?}"
    );
    assert!(
        !about.iter().any(|l| l.contains("keeping the previous ones")),
        "{about:#?}"
    );
    // A reachable issuer, or static keys, answer without warnings.
    let op = DiscoveryServer::start(&[&SigningKey::rsa("k1")]).await;
    let fine = json!({"openid_connect_config": {"idp_url": op.issuer}});
    let v = expect_status(&app, "PUT", path, fine, 200).await;
    assert_eq!(v.get("warnings"), None, "{v}");
    let fixed = json!({"openid_connect_config": {"signing_key": jwks(&[&SigningKey::rsa("k1")])}});
    let v = expect_status(&app, "PUT", path, fixed, 200).await;
    assert_eq!(v.get("warnings"), None, "{v}");

    app.stop().await;
}

/// A provider's configuration changed on A is followed on B at once: B read it again only
/// after its refresh interval (an hour here), and meanwhile took id_tokens for the audience
/// the provider no longer has.
async fn a_provider_changed_on_another_replica_is_followed_at_once(db: Db) {
    if db != Db::Postgres {
        return; // One process on SQLite.
    }
    let Some(a) = spawn_app(db).await else { return };
    let rsa = SigningKey::rsa("rsa-1");
    let config = |audience: &str| json!({"access_mode": "program", "idp_url": ISSUER, "client_id": audience, "signing_key": jwks(&[&rsa])});
    provider(&a, "ci", config(AUDIENCE)).await;
    let b = a.spawn_replica(|args| args.refresh_interval_ms = Some(3_600_000)).await;
    let token = || jwt(&header("RS256", "rsa-1"), &claims(), &rsa, "RS256");
    let (s, _, body) = exchange(&b, "ci", &token(), None).await;
    assert_eq!(s, 201, "B caches the provider: {body}");
    let path = "/v3.0/OS-FEDERATION/identity-providers/ci/openid-connect-config";
    let moved = json!({"openid_connect_config": config("another-audience")});
    expect_status(&a, "PUT", path, moved, 200).await;
    // Heard within milliseconds.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (s, _, body) = exchange(&b, "ci", &token(), None).await;
    assert_eq!(s, 401, "B took an id_token for the audience the provider left: {body}");
    b.stop().await;
    a.stop().await;
}

on_both_backends!(
    an_unreachable_issuer_is_said,
    a_provider_changed_on_another_replica_is_followed_at_once,
    id_token_exchange,
    hostile_id_tokens,
    discovered_keys_rotate,
    websso_browser_sign_in,
    a_disabled_federated_user_is_locked_out,
    id_tokens_are_single_use_where_they_should_be
);
