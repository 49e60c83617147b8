//! The egress policy end to end: a table of hostile issuer URLs fetched by the real upstream
//! client (names answered by a fake DNS, so a name can resolve to a private address without a
//! real DNS server), the operator's allow-list, DNS answers that change between connections,
//! and, through the HTTP API, OpenID Connect configuration writes (400 naming the field),
//! discovery at login (refused and logged) and a stored endpoint checked before a redirect.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fedgate::egress::{EgressError, EgressPolicy};
use fedgate::upstream::resolver::{HostLookup, Lookup};
use fedgate::upstream::{Upstream, UpstreamError};
use serde_json::{Value, json};

use crate::oidc_op::{SigningKey, jwt};
use crate::support::{Db, TestApp, no_redirects, spawn_app_with};

/// DNS as the test says: each name has a queue of answers (the last one repeats); every
/// question is recorded.
#[derive(Default)]
struct FakeDns {
    answers: Mutex<HashMap<String, Vec<Vec<IpAddr>>>>,
    asked: Mutex<Vec<String>>,
}

impl FakeDns {
    fn with(entries: &[(&str, &[&str])]) -> Arc<FakeDns> {
        let dns = FakeDns::default();
        for (name, addrs) in entries {
            dns.answer(name, addrs);
        }
        Arc::new(dns)
    }

    fn answer(&self, name: &str, addrs: &[&str]) {
        let addrs = addrs.iter().map(|a| a.parse().unwrap()).collect();
        self.answers
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default()
            .push(addrs);
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl HostLookup for FakeDns {
    fn lookup(&self, host: &str) -> Lookup {
        self.asked.lock().unwrap().push(host.to_string());
        let mut answers = self.answers.lock().unwrap();
        let result = match answers.get_mut(host) {
            Some(queue) if queue.len() > 1 => Ok(queue.remove(0)),
            Some(queue) => Ok(queue[0].clone()),
            None => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "no such name")),
        };
        Box::pin(async move { result })
    }
}

/// A hostile OpenID provider on 127.0.0.1: `/{case}/.well-known/openid-configuration` answers
/// per case (issuer = the URL it was asked under), `/ok/jwks` serves a key.
struct HostileOp {
    base: String,
    port: u16,
    hits: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct OpState {
    port: u16,
    jwks: Value,
    hits: Arc<AtomicUsize>,
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

async fn discovery(State(s): State<OpState>, Path(case): Path<String>, headers: HeaderMap) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let host = headers[header::HOST].to_str().unwrap();
    let issuer = format!("http://{host}/{case}");
    let port = s.port;
    let jwks_uri = match case.as_str() {
        "ok" => format!("http://{host}/ok/jwks"),
        "redirect-metadata" => return redirect("http://169.254.169.254/latest/meta-data/"),
        "redirect-local" => return redirect(&format!("http://{host}/ok/.well-known/openid-configuration")),
        "jwks-metadata" => "https://169.254.169.254/latest/meta-data/".into(),
        "jwks-mapped" => "https://[::ffff:a9fe:a9fe]/jwks".into(),
        "jwks-decimal" => format!("http://2130706433:{port}/ok/jwks"),
        "jwks-127-2" => format!("http://127.0.0.2:{port}/ok/jwks"),
        "jwks-nip" => "https://127.0.0.1.nip.io/jwks".into(),
        "jwks-private-name" => "https://internal.corp.test/jwks".into(),
        "jwks-redirect" => format!("http://{host}/redirect-jwks/jwks"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    axum::Json(json!({"issuer": issuer, "jwks_uri": jwks_uri})).into_response()
}

async fn keys(State(s): State<OpState>, Path(case): Path<String>) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    match case.as_str() {
        "ok" => axum::Json(s.jwks.clone()).into_response(),
        "redirect-jwks" => redirect("http://169.254.169.254/latest/meta-data/iam"),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

impl HostileOp {
    async fn start(key: &SigningKey) -> HostileOp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let state = OpState {
            port,
            jwks: json!({"keys": [key.jwk()]}),
            hits: hits.clone(),
        };
        let app = axum::Router::new()
            .route("/{case}/.well-known/openid-configuration", get(discovery))
            .route("/{case}/jwks", get(keys))
            .with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HostileOp {
            base: format!("http://127.0.0.1:{port}"),
            port,
            hits,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A TCP listener on 127.0.0.1 that counts connections and drops them (a TLS handshake then
/// fails): proof that a connection reached this address, and only then.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (port, count)
}

#[derive(Debug)]
enum Expect {
    Keys,
    Refused(EgressError),
    Redirect(&'static str),
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn spelling(written: &str, means: &str) -> Expect {
    Expect::Refused(EgressError::Spelling {
        written: written.into(),
        means: means.into(),
    })
}

fn address(host: &str, addr: &str, range: &'static str) -> Expect {
    Expect::Refused(EgressError::Address {
        host: host.into(),
        addr: ip(addr),
        range,
    })
}

fn no_address(host: &str, refused: &[&str]) -> Expect {
    Expect::Refused(EgressError::NoPermittedAddress {
        host: host.into(),
        refused: refused.iter().map(|a| ip(a)).collect(),
    })
}

fn outcome(result: &Result<fedgate::oidc::KeySet, UpstreamError>) -> String {
    match result {
        Ok(keys) => format!("{} keys", keys.keys().len()),
        Err(e) => format!("{e:?}"),
    }
}

fn matches(result: &Result<fedgate::oidc::KeySet, UpstreamError>, want: &Expect) -> bool {
    match (result, want) {
        (Ok(keys), Expect::Keys) => keys.keys().len() == 1,
        (Err(UpstreamError::Refused { reason, .. }), Expect::Refused(want)) => reason == want,
        (Err(UpstreamError::Redirect { location, .. }), Expect::Redirect(want)) => location.ends_with(want),
        _ => false,
    }
}

const LINK_LOCAL: &str = "link-local (cloud metadata)";

/// The egress table: every issuer URL below is given to the real discovery client with
/// fedgate's default policy plus `localhost` opened (the hostile provider listens there); each
/// gets exactly the outcome listed, and only the requests listed reach the hostile provider.
#[tokio::test]
async fn hostile_issuer_urls() {
    let key = SigningKey::rsa("k1");
    let op = HostileOp::start(&key).await;
    let dns = FakeDns::with(&[
        ("127.0.0.1.nip.io", &["127.0.0.1"]),
        ("metadata.google.internal", &["169.254.169.254"]),
        ("internal.corp.test", &["10.20.30.40"]),
        ("mapped.corp.test", &["::ffff:10.20.30.40", "fd00:ec2::254"]),
        ("mixed-refused.test", &["198.51.100.7", "127.0.0.1", "::1"]),
    ]);
    // The operator opens `localhost` for its test provider, by name: loopback stays closed to
    // every other spelling and to names that resolve to it.
    let policy = EgressPolicy::new(&["localhost".into()]).unwrap();
    let upstream = Upstream::with_lookup(policy, dns.clone()).unwrap();
    let port = op.port;
    let base = format!("http://localhost:{port}");
    let base = base.as_str();
    let cases: Vec<(String, Expect, usize)> = vec![
        // The opened name, over http.
        (format!("{base}/ok"), Expect::Keys, 2),
        // Loopback by address is not what was opened.
        (
            format!("{}/ok", op.base),
            address("127.0.0.1", "127.0.0.1", "loopback"),
            0,
        ),
        (
            format!("http://[::1]:{port}/ok"),
            address("[::1]", "::1", "loopback"),
            0,
        ),
        // Other spellings of loopback and of the metadata address: refused before any request.
        (
            format!("http://2130706433:{port}/ok"),
            spelling("2130706433", "127.0.0.1"),
            0,
        ),
        (
            format!("http://0x7f.0.0.1:{port}/ok"),
            spelling("0x7f.0.0.1", "127.0.0.1"),
            0,
        ),
        (
            format!("http://0177.0.0.1:{port}/ok"),
            spelling("0177.0.0.1", "127.0.0.1"),
            0,
        ),
        (format!("http://127.1:{port}/ok"), spelling("127.1", "127.0.0.1"), 0),
        (
            format!("http://127.0.0.1.:{port}/ok"),
            spelling("127.0.0.1.", "127.0.0.1"),
            0,
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/ok"),
            spelling("[::ffff:127.0.0.1]", "[::ffff:7f00:1]"),
            0,
        ),
        (
            "https://0xa9fea9fe/latest".into(),
            spelling("0xa9fea9fe", "169.254.169.254"),
            0,
        ),
        (
            "https://[::ffff:169.254.169.254]/".into(),
            spelling("[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]"),
            0,
        ),
        // Refused ranges written plainly.
        (
            "https://[::ffff:a9fe:a9fe]/".into(),
            address("[::ffff:a9fe:a9fe]", "::ffff:169.254.169.254", LINK_LOCAL),
            0,
        ),
        (
            "https://169.254.169.254/latest/meta-data".into(),
            address("169.254.169.254", "169.254.169.254", LINK_LOCAL),
            0,
        ),
        (
            "https://[fd00:ec2::254]/".into(),
            address("[fd00:ec2::254]", "fd00:ec2::254", "unique-local"),
            0,
        ),
        (
            "https://10.0.0.1/".into(),
            address("10.0.0.1", "10.0.0.1", "private (RFC 1918)"),
            0,
        ),
        (
            "https://100.100.100.200/".into(),
            address("100.100.100.200", "100.100.100.200", "carrier-grade NAT"),
            0,
        ),
        // 127.0.0.2 is loopback but not the literal 127.0.0.1: no http, and no address.
        (
            format!("http://127.0.0.2:{port}/ok"),
            Expect::Refused(EgressError::Scheme),
            0,
        ),
        (
            format!("https://127.0.0.2:{port}/ok"),
            address("127.0.0.2", "127.0.0.2", "loopback"),
            0,
        ),
        ("http://op.example.com/".into(), Expect::Refused(EgressError::Scheme), 0),
        (
            "https://good.example@evil.example/".into(),
            Expect::Refused(EgressError::Credentials),
            0,
        ),
        ("file:///etc/passwd".into(), Expect::Refused(EgressError::NotAUrl), 0),
        // Names that resolve to refused addresses (every address of the answer is refused).
        (
            format!("https://127.0.0.1.nip.io:{port}/ok"),
            no_address("127.0.0.1.nip.io", &["127.0.0.1"]),
            0,
        ),
        (
            "https://metadata.google.internal/computeMetadata/v1".into(),
            no_address("metadata.google.internal", &["169.254.169.254"]),
            0,
        ),
        (
            "https://internal.corp.test/".into(),
            no_address("internal.corp.test", &["10.20.30.40"]),
            0,
        ),
        (
            "https://mapped.corp.test/".into(),
            no_address("mapped.corp.test", &["::ffff:10.20.30.40", "fd00:ec2::254"]),
            0,
        ),
        (
            format!("https://mixed-refused.test:{port}/ok"),
            no_address("mixed-refused.test", &["198.51.100.7", "127.0.0.1", "::1"]),
            0,
        ),
        // Redirects are not followed, wherever they point.
        (
            format!("{base}/redirect-metadata"),
            Expect::Redirect("169.254.169.254/latest/meta-data/"),
            1,
        ),
        (
            format!("{base}/redirect-local"),
            Expect::Redirect("/ok/.well-known/openid-configuration"),
            1,
        ),
        // The discovery document's jwks_uri is held to the same rules.
        (
            format!("{base}/jwks-metadata"),
            address("169.254.169.254", "169.254.169.254", LINK_LOCAL),
            1,
        ),
        (
            format!("{base}/jwks-mapped"),
            address("[::ffff:a9fe:a9fe]", "::ffff:169.254.169.254", LINK_LOCAL),
            1,
        ),
        (format!("{base}/jwks-decimal"), spelling("2130706433", "127.0.0.1"), 1),
        (format!("{base}/jwks-127-2"), Expect::Refused(EgressError::Scheme), 1),
        (
            format!("{base}/jwks-nip"),
            no_address("127.0.0.1.nip.io", &["127.0.0.1"]),
            1,
        ),
        (
            format!("{base}/jwks-private-name"),
            no_address("internal.corp.test", &["10.20.30.40"]),
            1,
        ),
        (
            format!("{base}/jwks-redirect"),
            Expect::Redirect("169.254.169.254/latest/meta-data/iam"),
            2,
        ),
    ];
    let mut failures = Vec::new();
    for (issuer, want, hits) in &cases {
        let before = op.hits();
        let got = upstream.discover_keys(issuer, &[]).await;
        let reached = op.hits() - before;
        if !matches(&got, want) || reached != *hits {
            failures.push(format!(
                "{issuer}: got {} with {reached} requests, want {want:?} with {hits}",
                outcome(&got)
            ));
        }
    }
    assert!(failures.is_empty(), "egress table:\n{}", failures.join("\n"));
    assert!(
        !dns.asked().contains(&"localhost".to_string()),
        "localhost is never asked of DNS"
    );
}

/// The operator's allow-list opens a refused range or a host name; the connection then goes to
/// exactly the permitted addresses, and a DNS answer that changes between connections is
/// judged again.
#[tokio::test]
async fn allow_list_and_changing_answers() {
    let (port, connections) = counting_listener().await;
    let dns = FakeDns::with(&[
        ("allowed.corp.test", &["127.0.0.1"]),
        ("corp-idp.test", &["127.0.0.1"]),
        ("mixed.test", &["169.254.169.254", "127.0.0.1"]),
    ]);
    dns.answer("rebind.test", &["127.0.0.1"]);
    dns.answer("rebind.test", &["169.254.169.254"]);
    let reached = |before: usize| connections.load(Ordering::SeqCst) - before;
    let fetch = |upstream: Upstream, url: String| async move { upstream.discover_keys(&url, &[]).await };

    // Default policy: a name resolving to loopback is refused, nothing connects.
    let strict = Upstream::with_lookup(EgressPolicy::default(), dns.clone()).unwrap();
    let before = connections.load(Ordering::SeqCst);
    let got = fetch(strict.clone(), format!("https://allowed.corp.test:{port}")).await;
    assert!(
        matches!(
            &got,
            Err(UpstreamError::Refused {
                reason: EgressError::NoPermittedAddress { .. },
                ..
            })
        ),
        "{}",
        outcome(&got)
    );
    assert_eq!(reached(before), 0);
    // A name that does not resolve: an ordinary fetch error that says so.
    let got = fetch(strict.clone(), "https://unknown.test".into()).await;
    assert!(
        matches!(&got, Err(UpstreamError::Fetch { reason, .. }) if reason.contains("resolving unknown.test: no such name")),
        "{}",
        outcome(&got)
    );

    // Allow-listed range (loopback, opened by the operator): accepted, and the connection
    // reaches the address (the TLS handshake with the counting listener then fails).
    let by_range = EgressPolicy::new(&["127.0.0.0/8".into()]).unwrap();
    let open = Upstream::with_lookup(by_range, dns.clone()).unwrap();
    let before = connections.load(Ordering::SeqCst);
    let got = fetch(open.clone(), format!("https://allowed.corp.test:{port}")).await;
    assert!(matches!(&got, Err(UpstreamError::Fetch { .. })), "{}", outcome(&got));
    assert_eq!(reached(before), 1, "connected to the allowed address");

    // Allow-listed host name.
    let by_name = EgressPolicy::new(&["corp-idp.test".into()]).unwrap();
    let named = Upstream::with_lookup(by_name, dns.clone()).unwrap();
    let before = connections.load(Ordering::SeqCst);
    let got = fetch(named.clone(), format!("https://corp-idp.test:{port}")).await;
    assert!(matches!(&got, Err(UpstreamError::Fetch { .. })), "{}", outcome(&got));
    assert_eq!(reached(before), 1);
    let got = fetch(named, format!("https://allowed.corp.test:{port}")).await;
    assert!(
        matches!(&got, Err(UpstreamError::Refused { .. })),
        "the name opens only itself: {}",
        outcome(&got)
    );

    // A name with a permitted and a refused address: only the permitted one is connected to
    // (the metadata address would hang until the connect timeout, and the resolver never
    // hands it out).
    let one = EgressPolicy::new(&["127.0.0.1/32".into()]).unwrap();
    let resolver = fedgate::upstream::resolver::CheckedResolver::new(Arc::new(one.clone()), dns.clone());
    assert_eq!(resolver.permitted("mixed.test").await.unwrap(), vec![ip("127.0.0.1")]);
    let single = Upstream::with_lookup(one, dns.clone()).unwrap();
    let before = connections.load(Ordering::SeqCst);
    let started = std::time::Instant::now();
    let got = fetch(single.clone(), format!("https://mixed.test:{port}")).await;
    assert!(matches!(&got, Err(UpstreamError::Fetch { .. })), "{}", outcome(&got));
    assert_eq!(reached(before), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));

    // DNS rebinding: the first answer is permitted, the next one is not; each connection is
    // made only to what its own answer permitted.
    let before = connections.load(Ordering::SeqCst);
    let got = fetch(single.clone(), format!("https://rebind.test:{port}")).await;
    assert!(matches!(&got, Err(UpstreamError::Fetch { .. })), "{}", outcome(&got));
    assert_eq!(reached(before), 1);
    let got = fetch(single, format!("https://rebind.test:{port}")).await;
    assert!(
        matches!(&got, Err(UpstreamError::Refused { reason: EgressError::NoPermittedAddress { refused, .. }, .. })
            if refused == &vec![ip("169.254.169.254")]),
        "{}",
        outcome(&got)
    );
    assert_eq!(reached(before), 1, "no second connection");
}

async fn expect_status(app: &TestApp, method: &str, path: &str, body: Value, status: u16) -> Value {
    let (s, v) = app.call(method, path, &app.admin_token, Some(body)).await;
    assert_eq!(s, status, "{method} {path}: {v}");
    v
}

async fn oidc_provider(app: &TestApp, idp: &str) {
    if app.ensure_member_group("egress-users").await {
        let rules = json!({"mapping": {"rules": [
            {"remote": [{"type": "sub"}], "local": [{"user": {"name": "{0}"}}]}
        ]}});
        expect_status(app, "PUT", "/v3/OS-FEDERATION/mappings/egress-map", rules, 201).await;
    }
    app.register_provider(idp, "oidc", "egress-map").await;
}

const DASHBOARD: &str = "https://dashboard.example/auth/websso/";

/// OpenID Connect configuration: a URL the policy refuses is a 400 naming the field and
/// changes nothing; the operator's allow-list (here 10.0.0.0/8) opens its range.
async fn oidc_configuration_urls(db: Db) {
    let Some(app) = spawn_app_with(db, |args| {
        args.egress_allow = vec!["10.0.0.0/8".into()];
        args.trusted_dashboards = vec![DASHBOARD.to_string()];
    })
    .await
    else {
        return;
    };
    oidc_provider(&app, "corp").await;
    let path = "/v3.0/OS-FEDERATION/identity-providers/corp/openid-connect-config";
    let key = SigningKey::rsa("k1");
    let jwks = json!({"keys": [key.jwk()]}).to_string();
    let good = json!({"access_mode": "program_console", "idp_url": "https://login.corp.example",
        "client_id": "fedgate-console", "authorization_endpoint": "https://login.corp.example/authorize",
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post", "signing_key": jwks});
    expect_status(&app, "POST", path, json!({"openid_connect_config": good}), 201).await;
    let cases: &[(&str, &str, &str)] = &[
        ("idp_url", "https://169.254.169.254/latest", "link-local"),
        ("idp_url", "https://[::ffff:169.254.169.254]", "write the host plainly"),
        ("idp_url", "https://2852039166/op", "write the host plainly"),
        ("idp_url", "http://127.0.0.2:8080/op", "must use https"),
        ("idp_url", "https://127.0.0.2:8080/op", "loopback"),
        ("idp_url", "https://192.168.1.10/op", "private (RFC 1918)"),
        ("idp_url", "https://[fd00:ec2::254]/op", "unique-local"),
        ("idp_url", "https://good.example@evil.example", "credentials"),
        ("idp_url", "http://login.corp.example", "must use https"),
        (
            "authorization_endpoint",
            "http://login.corp.example/authorize",
            "must use https",
        ),
        (
            "authorization_endpoint",
            "https://x@login.corp.example/authorize",
            "credentials",
        ),
        (
            "authorization_endpoint",
            "javascript:alert(1)//x",
            "absolute http(s) URL",
        ),
    ];
    for (field, url, reason) in cases {
        let body = json!({"openid_connect_config": {*field: url}});
        let (s, v) = app.call("PUT", path, &app.admin_token, Some(body)).await;
        let message = v["error_msg"].as_str().unwrap_or_default();
        assert_eq!(s, 400, "{field} = {url}: {v}");
        assert!(
            message.contains(&format!("'openid_connect_config.{field}'")) && message.contains(reason),
            "{field} = {url}: {message}"
        );
    }
    let (_, shown) = app.call("GET", path, &app.admin_token, None).await;
    assert_eq!(shown["openid_connect_config"]["idp_url"], "https://login.corp.example");
    // The allow-list opens 10.0.0.0/8 for fetching; a browser may go to any https address.
    for (field, url) in [
        ("idp_url", "https://10.1.2.3/realms/corp"),
        ("authorization_endpoint", "https://192.168.1.10/adfs/oauth2/authorize"),
    ] {
        let body = json!({"openid_connect_config": {field: url}});
        expect_status(&app, "PUT", path, body, 200).await;
    }

    // A configuration stored before these rules: the browser is not sent to its endpoint.
    let mut stored: Value = serde_json::from_str(&app.store.get_oidc_config("corp").await.unwrap().unwrap()).unwrap();
    stored["authorization_endpoint"] = json!("http://login.corp.example/authorize");
    app.store
        .update_oidc_config("corp", &stored.to_string(), fedgate::service::now_ms())
        .await
        .unwrap();
    app.services.oidc.invalidate("corp");
    let start = format!(
        "/v3/auth/OS-FEDERATION/identity_providers/corp/protocols/oidc/websso?{}",
        serde_urlencoded::to_string([("origin", DASHBOARD)]).unwrap()
    );
    let r = no_redirects().get(app.url(&start)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.headers().get("location").is_none() && r.headers().get("set-cookie").is_none());
    let page = r.text().await.unwrap();
    assert!(
        page.contains("authorization_endpoint") && page.contains("must use https"),
        "{page}"
    );
    app.stop().await;
}

/// Discovery at login: a provider whose discovery document names a refused jwks_uri, or that
/// redirects, gives no keys; the login is refused and the log says why.
async fn discovery_refused_at_login(db: Db) {
    let Some(app) = spawn_app_with(db, |_| {}).await else {
        return;
    };
    let key = SigningKey::rsa("k1");
    let op = HostileOp::start(&key).await;
    for (idp, case, logged) in [
        (
            "meta",
            "jwks-metadata",
            "169.254.169.254 is 169.254.169.254, a link-local (cloud metadata) address",
        ),
        ("redirected", "redirect-metadata", "redirects are not followed"),
        ("decimal", "jwks-decimal", "writes its host as \"2130706433\""),
    ] {
        oidc_provider(&app, idp).await;
        let issuer = format!("{}/{case}", op.base);
        let config = json!({"access_mode": "program", "idp_url": issuer, "client_id": "fedgate-ci"});
        let path = format!("/v3.0/OS-FEDERATION/identity-providers/{idp}/openid-connect-config");
        let answer = expect_status(&app, "POST", &path, json!({"openid_connect_config": config}), 201).await;
        let warning = answer["warnings"][0].as_str().unwrap_or_default();
        assert!(warning.contains(logged), "{idp}: {answer}");
        let now = fedgate::service::now_ms() / 1000;
        let claims = json!({"iss": issuer, "aud": "fedgate-ci", "sub": "alice", "iat": now, "exp": now + 300,
            "jti": uuid::Uuid::new_v4().to_string()});
        let token = jwt(
            &json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}),
            &claims,
            &key,
            "RS256",
        );
        let r = app
            .client
            .post(app.url("/v3.0/OS-AUTH/id-token/tokens"))
            .header("X-Idp-Id", idp)
            .json(&json!({"auth": {"id_token": {"id": token}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{idp}");
        // Said when the configuration is written and again at the refused login.
        let logs = crate::support::captured_logs();
        assert!(
            logs.lines().any(|l| l.contains("WARN")
                && l.contains("keys could not be fetched and none are known")
                && l.contains(&issuer)
                && l.contains(logged)),
            "{idp}: expected {logged:?} logged for {issuer}"
        );
        assert!(
            logs.lines().any(|l| l.contains("request refused")
                && l.contains(&format!(
                    "the OpenID provider {issuer} could not be reached for its keys"
                ))
                && l.contains(logged)),
            "{idp}: the refusal names the unreachable issuer"
        );
    }
    app.stop().await;
}

on_both_backends!(oidc_configuration_urls, discovery_refused_at_login);
