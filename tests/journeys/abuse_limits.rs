//! Abuse limits over HTTP: the password lockout (IAM.0061) as a table of attempts, its window
//! and expiry with an injected clock at the service, and admission control (429 with
//! Retry-After) on password hashing and on sign-in starts, both as a deterministic table with
//! the pool held and as a real flood.

use fedgate::config::ServeArgs;
use fedgate::service::Error;
use fedgate::service::auth::AuthBody;
use serde_json::{Value, json};

use crate::oidc_op::SigningKey;
use crate::saml_idp::TestIdp;
use crate::support::{ADMIN_PASSWORD, Db, TestApp, captured_logs, no_redirects, spawn_app_with};

const MINUTE_MS: i64 = 60_000;
const CAROL_PASSWORD: &str = "Carol-Secret-7";
const CAROL_WRONG: &str = "Carol-wr0ng-guess";
const DASHBOARD: &str = "https://dashboard.example/auth/websso/";

/// An app whose fedgate.toml says `toml`, and which trusts `DASHBOARD`.
async fn spawn_configured(db: Db, toml: &str) -> Option<TestApp> {
    spawn_configured_with(db, toml, |_| {}).await
}

async fn spawn_configured_with(db: Db, toml: &str, adjust: impl FnOnce(&mut ServeArgs)) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fedgate.toml");
    std::fs::write(&file, toml).unwrap();
    spawn_app_with(db, |args| {
        args.store.config = Some(file.clone());
        args.trusted_dashboards = vec![DASHBOARD.to_string()];
        adjust(args);
    })
    .await
}

async fn create_user(app: &TestApp, name: &str, password: &str) -> String {
    let body = json!({"user": {"name": name, "password": password}});
    let (s, user) = app.call("POST", "/v3/users", &app.admin_token, Some(body)).await;
    assert_eq!(s, 201, "{user}");
    user["user"]["id"].as_str().unwrap().to_string()
}

fn keystone_error(code: u16, title: &str, message: &str) -> Value {
    json!({"error": {"code": code, "title": title, "message": message}})
}

fn generic_401() -> Value {
    keystone_error(
        401,
        "Unauthorized",
        "The request you have made requires authentication.",
    )
}

fn locked_401() -> Value {
    keystone_error(401, "Unauthorized", "Account locked.")
}

fn throttled_429() -> Value {
    keystone_error(429, "Too Many Requests", "The throttling threshold has been reached.")
}

/// A password login body for the service, as the HTTP handler would pass it.
fn password_body(user: &str, password: &str) -> AuthBody {
    serde_json::from_value(
        json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": "admin"}, "password": password}}}}}),
    )
    .unwrap()
}

/// Password login with an injected clock; the error's variant, or "ok".
async fn login_at(app: &TestApp, user: &str, password: &str, now_ms: i64) -> &'static str {
    match app
        .sign_in()
        .issue_token(None, password_body(user, password), now_ms)
        .await
    {
        Ok(_) => "ok",
        Err(Error::Unauthenticated(_)) => "unauthenticated",
        Err(Error::Locked { .. }) => "locked",
        Err(Error::TooManyRequests { .. }) => "too many requests",
        Err(other) => panic!("unexpected refusal: {other}"),
    }
}

/// Failures below the limit answer the generic 401, the limit locks (IAM.0061, even for the
/// right password, without a hash), other users and unknown names are unaffected; the lock
/// ends after its duration, failures outside the window do not add up, and a success clears
/// the count.
async fn password_lockout(db: Db) {
    // One hashing permit and no queue, so holding it shows which answers spend a hash.
    let Some(app) = spawn_configured(db, "[limits]\npassword_hashing = 1\npassword_hashing_queue = 0\n").await else {
        return;
    };
    let carol = create_user(&app, "carol", CAROL_PASSWORD).await;
    let store = app.store.clone();

    struct Attempt {
        name: &'static str,
        user: Value,
        password: &'static str,
        times: usize,
        status: u16,
        body: Option<Value>,
    }
    let by_name = |name: &str| json!({"name": name, "domain": {"name": "admin"}});
    let attempts = [
        Attempt {
            name: "four wrong passwords, below the limit",
            user: by_name("carol"),
            password: CAROL_WRONG,
            times: 4,
            status: 401,
            body: Some(generic_401()),
        },
        Attempt {
            name: "the fifth wrong password reaches the limit",
            user: by_name("carol"),
            password: CAROL_WRONG,
            times: 1,
            status: 401,
            body: Some(generic_401()),
        },
        Attempt {
            name: "the right password while locked",
            user: by_name("carol"),
            password: CAROL_PASSWORD,
            times: 1,
            status: 401,
            body: Some(locked_401()),
        },
        Attempt {
            name: "the right password by user id while locked",
            user: json!({"id": carol}),
            password: CAROL_PASSWORD,
            times: 1,
            status: 401,
            body: Some(locked_401()),
        },
        Attempt {
            name: "a wrong password while locked",
            user: by_name("carol"),
            password: CAROL_WRONG,
            times: 1,
            status: 401,
            body: Some(locked_401()),
        },
        Attempt {
            name: "another user is not locked",
            user: by_name("admin"),
            password: ADMIN_PASSWORD,
            times: 1,
            status: 201,
            body: None,
        },
        Attempt {
            name: "an unknown user, beyond the limit, is only ever a wrong password",
            user: by_name("nobody"),
            password: CAROL_WRONG,
            times: 7,
            status: 401,
            body: Some(generic_401()),
        },
        Attempt {
            name: "a user in an unknown domain likewise",
            user: json!({"name": "carol", "domain": {"name": "nowhere"}}),
            password: CAROL_WRONG,
            times: 6,
            status: 401,
            body: Some(generic_401()),
        },
    ];
    for attempt in &attempts {
        for i in 0..attempt.times {
            let mut user = attempt.user.clone();
            user["password"] = json!(attempt.password);
            let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}});
            let (status, token, answer) = app.post_auth(body).await;
            assert_eq!(status, attempt.status, "{} (#{}): {answer}", attempt.name, i + 1);
            match &attempt.body {
                Some(expected) => assert_eq!(&answer, expected, "{} (#{})", attempt.name, i + 1),
                None => assert!(!token.is_empty(), "{}", attempt.name),
            }
        }
    }
    assert!(
        store.get_login_failures("").await.unwrap().is_none(),
        "unknown users leave no record"
    );

    // With the only hashing permit taken: the locked user is still refused as locked (no hash
    // is spent), while a login that needs a hash is turned away with 429 and Retry-After.
    let held = app.services.admission.hashing.admit().await.unwrap();
    let (status, _, answer) = app.password_token("carol", "admin", CAROL_PASSWORD, None).await;
    assert_eq!((status, answer), (401, locked_401()));
    for (user, password) in [("admin", ADMIN_PASSWORD), ("nobody", CAROL_WRONG)] {
        let r = app
            .client
            .post(app.url("/v3/auth/tokens"))
            .json(
                &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"name": "admin"}, "password": password}}}}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429, "{user}");
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(r.json::<Value>().await.unwrap(), throttled_429());
    }
    drop(held);

    // The lock ends after lockout_duration (15 minutes by default), and the success clears the
    // count: the service takes the clock as an argument.
    let now = fedgate::service::now_ms();
    let locked_until = store
        .get_login_failures(&carol)
        .await
        .unwrap()
        .unwrap()
        .locked_until_ms
        .unwrap();
    assert!(
        locked_until > now && locked_until <= now + 15 * MINUTE_MS,
        "{locked_until}"
    );
    assert_eq!(
        login_at(&app, "carol", CAROL_PASSWORD, locked_until - 1).await,
        "locked"
    );
    assert_eq!(login_at(&app, "carol", CAROL_PASSWORD, locked_until).await, "ok");
    assert_eq!(store.get_login_failures(&carol).await.unwrap(), None);

    // Failures further apart than period_within_login_failures (15 minutes) never add up.
    let t = locked_until + MINUTE_MS;
    for i in 0..4 {
        assert_eq!(login_at(&app, "carol", CAROL_WRONG, t + i).await, "unauthenticated");
    }
    assert_eq!(
        login_at(&app, "carol", CAROL_WRONG, t + 15 * MINUTE_MS).await,
        "unauthenticated"
    );
    assert_eq!(
        login_at(&app, "carol", CAROL_PASSWORD, t + 15 * MINUTE_MS + 1).await,
        "ok",
        "a fifth failure in a new window does not lock"
    );
    // A success in between resets the count: 4 + 4 failures do not lock.
    let t = t + 20 * MINUTE_MS;
    for i in 0..4 {
        assert_eq!(login_at(&app, "carol", CAROL_WRONG, t + i).await, "unauthenticated");
    }
    assert_eq!(login_at(&app, "carol", CAROL_PASSWORD, t + 5).await, "ok");
    for i in 0..4 {
        assert_eq!(
            login_at(&app, "carol", CAROL_WRONG, t + 10 + i).await,
            "unauthenticated"
        );
    }
    assert_eq!(login_at(&app, "carol", CAROL_PASSWORD, t + 20).await, "ok");

    // The lock is logged with the user id; no password is.
    if std::env::var("TEST_LOG").is_err() {
        let logs = captured_logs();
        assert!(
            logs.lines()
                .any(|l| l.contains("user locked out after repeated failed password logins") && l.contains(&carol)),
            "the lockout is logged with the user id"
        );
        assert!(!logs.contains(CAROL_WRONG) && !logs.contains(CAROL_PASSWORD));
    }
    app.stop().await;
}

/// A flood of concurrent password logins, more than permits and queue: some get 429 with
/// Retry-After at once, none a 5xx, and every admitted one succeeds.
async fn password_flood_is_throttled(db: Db) {
    let Some(app) = spawn_configured(db, "[limits]\npassword_hashing = 1\npassword_hashing_queue = 2\n").await else {
        return;
    };
    create_user(&app, "erin", CAROL_PASSWORD).await;
    let flood: Vec<_> = (0..40)
        .map(|_| {
            app.client
                .post(app.url("/v3/auth/tokens"))
                .json(
                    &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                    "name": "erin", "domain": {"name": "admin"}, "password": CAROL_PASSWORD}}}}}),
                )
                .send()
        })
        .collect();
    let (mut created, mut throttled) = (0, 0);
    for r in futures::future::join_all(flood).await {
        let r = r.unwrap();
        match r.status().as_u16() {
            201 => {
                assert!(r.headers().contains_key("x-subject-token"));
                created += 1;
            }
            429 => {
                assert_eq!(r.headers()["retry-after"], "1");
                assert_eq!(r.json::<Value>().await.unwrap(), throttled_429());
                throttled += 1;
            }
            other => panic!("a flood gets 201 or 429, not {other}: {}", r.text().await.unwrap()),
        }
    }
    assert!(created >= 1, "admitted logins succeed ({created} created)");
    assert!(
        throttled >= 1,
        "beyond 1 permit and 2 queued, logins are refused ({throttled})"
    );
    assert_eq!(app.services.admission.hashing.in_use(), 0, "every permit came back");
    let (status, _, answer) = app.password_token("erin", "admin", CAROL_PASSWORD, None).await;
    assert_eq!(status, 201, "{answer}");
    app.stop().await;
}

fn url_escape(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap()[2..].to_string()
}

/// SAML provider `acme` (Redirect binding) and OIDC console provider `corp`, both usable.
async fn sign_in_providers(app: &TestApp, idp: &TestIdp) {
    let t = app.admin_token.as_str();
    let map = json!({"mapping": {"rules": [{"remote": [{"type": "NameID"}], "local": [{"user": {"name": "{0}"}}]}]}});
    assert_eq!(
        app.call("PUT", "/v3/OS-FEDERATION/mappings/m", t, Some(map)).await.0,
        201
    );
    app.register_provider("acme", "saml", "m").await;
    let (_, me) = app.validate(t, t).await;
    let domain_id = me["token"]["project"]["domain"]["id"].as_str().unwrap();
    let body = json!({"domain_id": domain_id, "xaccount_type": "", "metadata": idp.metadata(&["redirect"])});
    let path = "/v3-ext/OS-FEDERATION/identity_providers/acme/protocols/saml/metadata";
    let (s, v) = app.call("POST", path, t, Some(body)).await;
    assert_eq!(s, 201, "{v}");
    app.register_provider("corp", "oidc", "m").await;
    let key = SigningKey::rsa("k1");
    let config = json!({"openid_connect_config": {"access_mode": "program_console",
        "idp_url": "https://login.corp.example", "client_id": "console",
        "authorization_endpoint": "https://login.corp.example/authorize", "scope": "openid",
        "response_type": "id_token", "response_mode": "form_post",
        "signing_key": json!({"keys": [key.jwk()]}).to_string()}});
    let path = "/v3.0/OS-FEDERATION/identity-providers/corp/openid-connect-config";
    let (s, v) = app.call("POST", path, t, Some(config)).await;
    assert_eq!(s, 201, "{v}");
}

/// Sign-in starts (SAML browser, ECP, WebSSO; OIDC WebSSO) and Responses whose Issuer is not
/// cached share one pool: with its permit held they get 429 with Retry-After (an HTML page on
/// browser paths), and once it is free the same requests go through.
async fn sign_in_starts_are_admitted(db: Db) {
    // The known-Issuer check at the end needs the Issuer cached across two posts, however slow
    // the machine: a refresh interval far longer than the test.
    let limits = "[limits]\nsign_in_starts = 1\nsign_in_starts_queue = 0\n";
    let Some(app) = spawn_configured_with(db, limits, |args| args.refresh_interval_ms = Some(60_000)).await else {
        return;
    };
    let idp = TestIdp::new("https://idp.test/saml");
    sign_in_providers(&app, &idp).await;
    let now_secs = fedgate::service::now_ms() / 1000;
    let stranger = TestIdp::new("https://stranger.test/saml");
    let stranger_response = base64_std(&stranger.response(&stranger.spec(&app.base, now_secs)));
    let origin = url_escape(DASHBOARD);

    struct Case {
        name: &'static str,
        path: String,
        paos: bool,
        form: Option<String>,
        /// Status once the pool is free.
        free: u16,
        html: bool,
    }
    let cases = [
        Case {
            name: "SAML browser start",
            path: "/v3/OS-FEDERATION/identity_providers/acme/protocols/saml/auth".into(),
            paos: false,
            form: None,
            free: 302,
            html: false,
        },
        Case {
            name: "SAML ECP start",
            path: "/v3/OS-FEDERATION/identity_providers/acme/protocols/saml/auth".into(),
            paos: true,
            form: None,
            free: 200,
            html: false,
        },
        Case {
            name: "SAML WebSSO start",
            path: format!("/v3/auth/OS-FEDERATION/identity_providers/acme/protocols/saml/websso?origin={origin}"),
            paos: false,
            form: None,
            free: 302,
            html: true,
        },
        Case {
            name: "OIDC WebSSO start",
            path: format!("/v3/auth/OS-FEDERATION/identity_providers/corp/protocols/oidc/websso?origin={origin}"),
            paos: false,
            form: None,
            free: 302,
            html: true,
        },
        Case {
            name: "Response from an unknown Issuer at the ACS",
            path: "/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST".into(),
            paos: false,
            form: Some(stranger_response),
            free: 401,
            html: true,
        },
    ];
    let send = |case: &Case| {
        let client = no_redirects();
        let url = app.url(&case.path);
        let request = match &case.form {
            Some(response) => client.post(url).form(&[("SAMLResponse", response.as_str())]),
            None if case.paos => client
                .get(url)
                .header("Accept", "*/*,application/vnd.paos+xml")
                .header("PAOS", "ver=\"urn:liberty:paos:2003-08\""),
            None => client.get(url),
        };
        request.send()
    };

    let held = app.services.admission.sign_in.admit().await.unwrap();
    for case in &cases {
        let r = send(case).await.unwrap();
        assert_eq!(r.status().as_u16(), 429, "{} while the pool is full", case.name);
        assert_eq!(r.headers()["retry-after"], "1", "{}", case.name);
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        let body = r.text().await.unwrap();
        if case.html {
            assert!(content_type.starts_with("text/html"), "{}: {content_type}", case.name);
            assert!(body.contains("The sign-in service is busy"), "{}: {body}", case.name);
        } else {
            let body: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body, throttled_429(), "{}", case.name);
        }
    }
    drop(held);
    for case in &cases {
        let r = send(case).await.unwrap();
        assert_eq!(r.status().as_u16(), case.free, "{} once the pool is free", case.name);
    }

    // A known Issuer, once cached, does not need the pool: its Responses are not throttled.
    let signed_in = |idp: &TestIdp| base64_std(&idp.response(&idp.spec(&app.base, now_secs)));
    let post = |response: String| {
        app.client
            .post(app.url("/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST"))
            .form(&[("SAMLResponse", response)])
            .send()
    };
    assert_eq!(post(signed_in(&idp)).await.unwrap().status().as_u16(), 201);
    let held = app.services.admission.sign_in.admit().await.unwrap();
    assert_eq!(post(signed_in(&idp)).await.unwrap().status().as_u16(), 201);
    drop(held);
    app.stop().await;
}

/// Checking a Response (decoding, signatures, decryption) has its own pool, known Issuers
/// included: with every permit taken, the ACS, the token API and the ECP consumer answer 429
/// at once instead of queueing without bound; once free, the same Responses are checked.
async fn response_checks_are_admitted(db: Db) {
    let Some(app) = spawn_configured(db, "[limits]\nsaml_responses = 1\nsaml_responses_queue = 0\n").await else {
        return;
    };
    let idp = TestIdp::new("https://idp.test/saml");
    sign_in_providers(&app, &idp).await;
    let now_secs = fedgate::service::now_ms() / 1000;
    let response = || base64_std(&idp.response(&idp.spec(&app.base, now_secs)));
    let at_acs = |form: String| {
        app.client
            .post(app.url("/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST"))
            .form(&[("SAMLResponse", form)])
            .send()
    };
    let at_tokens = |form: String| {
        app.client
            .post(app.url("/v3.0/OS-FEDERATION/tokens"))
            .header("X-Idp-Id", "acme")
            .form(&[("SAMLResponse", form)])
            .send()
    };
    let ecp = || {
        app.client
            .post(app.url("/v3-ext/auth/OS-FEDERATION/SSO/SAML2/ECP"))
            .header("Content-Type", "application/vnd.paos+xml")
            .body("<soap11:Envelope/>")
            .send()
    };
    let held = app.services.admission.signatures.admit().await.unwrap();
    let statuses = [
        at_acs(response()).await.unwrap(),
        at_tokens(response()).await.unwrap(),
        ecp().await.unwrap(),
    ];
    for (name, r) in ["ACS", "token API", "ECP consumer"].iter().zip(statuses) {
        assert_eq!(r.status().as_u16(), 429, "{name} while the pool is full");
        assert_eq!(r.headers()["retry-after"], "1", "{name}");
    }
    drop(held);
    assert_eq!(at_acs(response()).await.unwrap().status().as_u16(), 201);
    assert_eq!(at_tokens(response()).await.unwrap().status().as_u16(), 201);
    assert_eq!(
        ecp().await.unwrap().status().as_u16(),
        401,
        "an empty envelope, checked"
    );
    assert_eq!(app.services.admission.signatures.in_use(), 0, "every permit came back");
    app.stop().await;
}

fn base64_std(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

on_both_backends!(
    password_lockout,
    password_flood_is_throttled,
    sign_in_starts_are_admitted,
    response_checks_are_admitted
);
