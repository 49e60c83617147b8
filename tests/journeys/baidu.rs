//! The Baidu Cloud dialect (IAM and STS under `/v1`): calls signed here with `bce-auth-v1` on
//! the canonical request the SDK vectors pin down (`src/sts/bce/tests.rs`), so each part can be
//! tampered with. The unmodified bce-python-sdk drives it in `tests/interop/baidu_interop.py`.

mod attacks;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fedgate::sts::bce::{Authorization, PREFIX, canonical_request};
use fedgate::sts::signing::{Received, signature};
use serde_json::{Value, json};

use crate::alibaba::{self, IMS, Key, iso, key_of};
use crate::saml_idp::TestIdp;
use crate::signing::{Signer, signed_call};
use crate::support::{Db, TestApp, spawn_app};

fn now() -> i64 {
    fedgate::service::now_ms() / 1000
}

/// A call about to be signed and sent, as bce-python-sdk builds it: a JSON content type, the
/// host and `x-bce-date`; listed headers `content-type;host` (every `x-bce-*` is covered
/// whatever the list).
#[derive(Clone, Debug)]
struct Bce {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    signed_at: i64,
    expiration: i64,
    listed: Vec<String>,
}

impl Bce {
    fn new(app: &TestApp, method: &str, path: &str) -> Bce {
        let host = app.base.trim_start_matches("http://").to_string();
        let at = now();
        Bce {
            method: method.into(),
            path: path.into(),
            query: None,
            headers: vec![
                ("host".into(), host),
                ("content-type".into(), "application/json".into()),
                ("x-bce-date".into(), iso(at)),
                // Covered as every x-bce-* header: calls of one second and path stay distinct
                // (a write's signature is taken once when its body would matter).
                ("x-bce-client-request".into(), uuid::Uuid::new_v4().to_string()),
            ],
            body: Vec::new(),
            signed_at: at,
            expiration: 1800,
            listed: vec!["content-type".into(), "host".into()],
        }
    }

    fn query(mut self, query: &str) -> Bce {
        self.query = Some(query.into());
        self
    }

    fn json(mut self, body: Value) -> Bce {
        self.body = body.to_string().into_bytes();
        self
    }

    fn header(mut self, name: &str, value: &str) -> Bce {
        self.headers.retain(|(k, _)| k != name);
        self.headers.push((name.into(), value.into()));
        self
    }

    fn without(mut self, name: &str) -> Bce {
        self.headers.retain(|(k, _)| k != name);
        self
    }

    fn signed_at(mut self, at: i64) -> Bce {
        self.signed_at = at;
        self
    }

    fn expiration(mut self, secs: i64) -> Bce {
        self.expiration = secs;
        self
    }

    fn listed(mut self, names: &[&str]) -> Bce {
        self.listed = names.iter().map(|n| n.to_string()).collect();
        self
    }

    fn sign(self, key: &Key) -> Bce {
        let req = match &key.security_token {
            Some(t) => self.header("x-bce-security-token", t),
            None => self,
        };
        let key_text = format!("{PREFIX}{}/{}/{}", key.access, iso(req.signed_at), req.expiration);
        let headers: Vec<(&str, &[u8])> = req.headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        let received = Received {
            method: &req.method,
            path: &req.path,
            query: req.query.as_deref(),
            headers: &headers,
            body: &req.body,
            body_sha256: None,
        };
        let auth = Authorization {
            access: &key.access,
            signed_at: req.signed_at,
            expiration_secs: req.expiration,
            signed_headers: req.listed.iter().map(String::as_str).collect(),
            signature: [0; 32],
            key_text: &key_text,
        };
        let canonical = canonical_request(&received, &auth).unwrap_or_else(|_| b"unsignable".to_vec());
        let signing_key = hex::encode(signature(key.secret.as_bytes(), key_text.as_bytes()));
        let sig = hex::encode(signature(signing_key.as_bytes(), &canonical));
        let value = format!("{key_text}/{}/{sig}", req.listed.join(";"));
        drop(headers);
        req.header("authorization", &value)
    }

    /// Sends it; every answer of the dialect carries `x-bce-request-id`.
    async fn send(&self, app: &TestApp) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).expect("method");
        let url = match &self.query {
            Some(q) => app.url(&format!("{}?{q}", self.path)),
            None => app.url(&self.path),
        };
        let mut req = app.client.request(method, url).body(self.body.clone());
        for (k, v) in &self.headers {
            if k != "host" {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let request_id = r.headers().get("x-bce-request-id").cloned();
        let body = r.json().await.unwrap_or(Value::Null);
        assert!(request_id.is_some(), "no x-bce-request-id on {status} {body}");
        (status, body)
    }
}

/// Signs and sends one call with a query (`?disable`, `?status=enable`).
pub async fn call_with_query(app: &TestApp, key: &Key, method: &str, path: &str, query: &str) -> (u16, Value) {
    Bce::new(app, method, path).query(query).sign(key).send(app).await
}

/// Signs and sends one call.
pub async fn call(app: &TestApp, key: &Key, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = Bce::new(app, method, path);
    if let Some(body) = body {
        req = req.json(body);
    }
    req.sign(key).send(app).await
}

/// (status, code) of a Baidu error body, after checking its shape.
fn refusal((status, body): (u16, Value)) -> (u16, String) {
    for field in ["requestId", "code", "message"] {
        assert!(body[field].is_string(), "{field} missing from {body}");
    }
    (status, body["code"].as_str().unwrap_or_default().to_string())
}

/// A key from a Baidu answer (`/v1/user/{u}/accesskey` or `/v1/sessionToken`).
fn key_from(answer: &Value) -> Key {
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| answer[*n].as_str())
            .expect("a key field")
            .to_string()
    };
    Key {
        access: text(&["id", "accessKeyId"]),
        secret: text(&["secret", "secretAccessKey"]),
        security_token: answer["sessionToken"].as_str().map(str::to_string),
    }
}

/// The account's id, from its admin's token.
async fn account_id(app: &TestApp, token: &str) -> String {
    let (_, me) = app.validate(token, token).await;
    me["token"]["domain"]["id"].as_str().expect("domain id").to_string()
}

async fn hostile_calls_are_refused(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let (status, made) = call(&app, &key, "POST", "/v1/user", Some(json!({"name": "alice"}))).await;
    assert_eq!(status, 201, "{made}");
    let (status, made) = call(&app, &key, "POST", "/v1/user/alice/accesskey", None).await;
    assert_eq!(status, 201, "{made}");
    let alice_key = made["id"].as_str().unwrap().to_string();
    let wrong_secret = Key {
        secret: "x".repeat(40),
        ..key.clone()
    };
    let unknown = Key {
        access: "UNKNOWNACCESSKEY0000".into(),
        ..key.clone()
    };
    let at = now();
    let list = || Bce::new(&app, "GET", "/v1/user");
    let flip = |req: Bce| {
        let auth = req
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1
            .clone();
        let last = if auth.ends_with('0') { '1' } else { '0' };
        let tampered = format!("{}{last}", &auth[..auth.len() - 1]);
        req.header("authorization", &tampered)
    };
    let disable = format!("/v1/user/alice/accesskey/{alice_key}");
    let unauthenticated = (401, "SignatureDoesNotMatch".to_string());
    let cases: Vec<(&str, Bce, (u16, String))> = vec![
        ("a tampered signature", flip(list().sign(&key)), unauthenticated.clone()),
        ("a wrong secret", list().sign(&wrong_secret), unauthenticated.clone()),
        ("an unknown access key", list().sign(&unknown), unauthenticated.clone()),
        (
            "signed longer ago than its expiration",
            list().signed_at(at - 1900).sign(&key),
            unauthenticated.clone(),
        ),
        (
            "signed 20 minutes ahead",
            list().signed_at(at + 1200).sign(&key),
            unauthenticated.clone(),
        ),
        (
            "an expiration beyond an hour",
            list().expiration(7200).sign(&key),
            unauthenticated.clone(),
        ),
        (
            "the host not covered",
            list().listed(&["content-type"]).sign(&key),
            unauthenticated.clone(),
        ),
        (
            "a path changed after signing",
            Bce {
                path: "/v1/user/alice".into(),
                ..Bce::new(&app, "DELETE", "/v1/user/acme-admin").sign(&key)
            },
            unauthenticated.clone(),
        ),
        (
            "a query changed after signing",
            Bce::new(&app, "PUT", &disable)
                .query("enable")
                .sign(&key)
                .query("disable"),
            unauthenticated.clone(),
        ),
        (
            "a covered header changed after signing",
            list().sign(&key).header("content-type", "text/plain"),
            unauthenticated.clone(),
        ),
        (
            "an x-bce header added after signing",
            list().sign(&key).header("x-bce-acl", "private"),
            unauthenticated.clone(),
        ),
        (
            "a security token that is not the key's",
            list().sign(&key).header("x-bce-security-token", "bm90IGEgdG9rZW4"),
            unauthenticated.clone(),
        ),
        ("no signature", list(), unauthenticated.clone()),
        (
            "an X-Auth-Token instead of a signature",
            list().header("x-auth-token", &token),
            unauthenticated.clone(),
        ),
        (
            "another scheme's Authorization",
            list().header(
                "authorization",
                "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=00",
            ),
            unauthenticated.clone(),
        ),
        (
            "a body that is not JSON",
            Bce {
                body: b"{\"name\":".to_vec(),
                ..Bce::new(&app, "POST", "/v1/user")
            }
            .sign(&key),
            (400, "MalformedJSON".into()),
        ),
        (
            "a user without a name",
            Bce::new(&app, "POST", "/v1/user")
                .json(json!({"description": "x"}))
                .sign(&key),
            (400, "InvalidParameter".into()),
        ),
        (
            "a key neither enabled nor disabled",
            Bce::new(&app, "PUT", &disable).query("status=off").sign(&key),
            (400, "InvalidParameter".into()),
        ),
        (
            "a route Baidu has and fedgate does not serve",
            Bce::new(&app, "GET", "/v1/policy").sign(&key),
            (404, "InvalidURI".into()),
        ),
        (
            "a user of no one",
            Bce::new(&app, "GET", "/v1/user/nobody").sign(&key),
            (404, "NoSuchObject".into()),
        ),
    ];
    for (name, req, expected) in cases {
        assert_eq!(refusal(req.send(&app).await), expected, "{name}");
    }
    // The SDK's own way: no headers listed (host, content-* and x-bce-* covered).
    let (status, body) = list().without("content-type").listed(&[]).sign(&key).send(&app).await;
    assert_eq!(status, 200, "{body}");
    // bce-auth-v1 has no nonce: within its expiration the same signed call is accepted again.
    let once = list().sign(&key);
    assert_eq!(once.send(&app).await.0, 200);
    assert_eq!(
        once.send(&app).await.0,
        200,
        "bce-auth-v1 replays within its expiration"
    );
    // A bce-auth-v1 signature counts on the Baidu dialect's paths only: elsewhere the body
    // would go unsigned.
    let huawei = Bce::new(&app, "GET", "/v3/users").sign(&key);
    let (status, body) = {
        let mut req = app.client.get(app.url("/v3/users"));
        for (k, v) in huawei.headers.iter().filter(|(k, _)| k != "host") {
            req = req.header(k.as_str(), v.as_str());
        }
        let r = req.send().await.expect("request");
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    assert_eq!((status, &body["error"]["code"]), (401, &json!(401)), "{body}");
    // Nothing above wrote anything: alice is still there, and her key enabled.
    let (status, users) = call(&app, &key, "GET", "/v1/user", None).await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users["users"].as_array().map(Vec::len), Some(2), "{users}");
    let (_, keys) = call(&app, &key, "GET", "/v1/user/alice/accesskey", None).await;
    assert_eq!(keys["accessKeys"][0]["enabled"], true, "{keys}");
    app.stop().await;
}

/// Who may call what: the account's admin manages its account; a plain user reads itself and
/// its own keys; another account's admin reaches nothing here.
async fn callers_and_actions(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let admin = key_of(&app, &app.account_admin("acme").await).await;
    let other = key_of(&app, &app.account_admin("globex").await).await;
    assert_eq!(
        call(&app, &admin, "POST", "/v1/user", Some(json!({"name": "bob"})))
            .await
            .0,
        201
    );
    let (status, made) = call(&app, &admin, "POST", "/v1/user/bob/accesskey", None).await;
    assert_eq!(status, 201, "{made}");
    let bob = key_from(&made);
    let bob_last_used = format!("/v1/accesskey/{}/lastusedtime", bob.access);
    type Row<'a> = (&'a str, &'a Key, &'a str, String, Option<Value>, u16, &'a str);
    let s = |p: &str| p.to_string();
    let table: Vec<Row> = vec![
        (
            "admin creates a user",
            &admin,
            "POST",
            s("/v1/user"),
            Some(json!({"name": "carol"})),
            201,
            "",
        ),
        ("admin lists users", &admin, "GET", s("/v1/user"), None, 200, ""),
        (
            "admin reads bob's key's last use",
            &admin,
            "GET",
            bob_last_used.clone(),
            None,
            200,
            "",
        ),
        ("bob reads himself", &bob, "GET", s("/v1/user/bob"), None, 200, ""),
        (
            "bob lists his keys",
            &bob,
            "GET",
            s("/v1/user/bob/accesskey"),
            None,
            200,
            "",
        ),
        (
            "bob reads his key's last use",
            &bob,
            "GET",
            bob_last_used.clone(),
            None,
            200,
            "",
        ),
        (
            "bob cannot create users",
            &bob,
            "POST",
            s("/v1/user"),
            Some(json!({"name": "eve"})),
            403,
            "AccessDenied",
        ),
        (
            "bob cannot list users",
            &bob,
            "GET",
            s("/v1/user"),
            None,
            403,
            "AccessDenied",
        ),
        (
            "bob cannot create groups",
            &bob,
            "POST",
            s("/v1/group"),
            Some(json!({"name": "bobs"})),
            403,
            "AccessDenied",
        ),
        (
            "bob cannot give himself the console",
            &bob,
            "PUT",
            s("/v1/user/bob/loginProfile"),
            Some(json!({"password": "Bob-passw0rd-1"})),
            403,
            "AccessDenied",
        ),
        (
            "bob cannot configure federation",
            &bob,
            "POST",
            s("/v1/subUser/idp/update"),
            Some(json!({"encodeMetadata": "eA==", "auxiliaryDomain": "example.com"})),
            403,
            "AccessDenied",
        ),
        (
            "globex's admin cannot name acme's users",
            &other,
            "GET",
            s("/v1/user/bob"),
            None,
            404,
            "NoSuchObject",
        ),
        (
            "globex's admin cannot make keys for acme's users",
            &other,
            "POST",
            s("/v1/user/bob/accesskey"),
            None,
            404,
            "NoSuchObject",
        ),
        (
            "globex's admin cannot read acme's keys (as absent as a missing one)",
            &other,
            "GET",
            bob_last_used.clone(),
            None,
            404,
            "NoSuchObject",
        ),
        (
            "globex's admin lists only its own users",
            &other,
            "GET",
            s("/v1/user"),
            None,
            200,
            "",
        ),
    ];
    for (name, key, method, path, body, status, code) in table {
        let (got, answer) = call(&app, key, method, &path, body).await;
        assert_eq!(got, status, "{name}: {answer}");
        if status >= 400 {
            assert_eq!(answer["code"], code, "{name}: {answer}");
        }
    }
    let (_, listed) = call(&app, &other, "GET", "/v1/user", None).await;
    let names: Vec<&str> = listed["users"]
        .as_array()
        .map(|u| u.iter().filter_map(|u| u["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["globex-admin"]);
    app.stop().await;
}

/// One account, three dialects: what Baidu's API creates the Huawei API and the Alibaba
/// dialect see and manage, and the reverse, on the same records; Baidu disables and deletes.
async fn one_store_three_dialects(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let t = token.as_str();
    let key = key_of(&app, t).await;
    let body = json!({"name": "dana", "description": "ops"});
    let (status, dana) = call(&app, &key, "POST", "/v1/user", Some(body)).await;
    assert_eq!(
        (status, &dana["name"], &dana["enabled"]),
        (201, &json!("dana"), &json!(true)),
        "{dana}"
    );
    let dana_id = dana["id"].as_str().unwrap().to_string();
    let body = json!({"name": "ops", "description": "on call"});
    assert_eq!(call(&app, &key, "POST", "/v1/group", Some(body)).await.0, 201);
    assert_eq!(call(&app, &key, "PUT", "/v1/group/ops/user/dana", None).await.0, 200);
    let (status, made) = call(&app, &key, "POST", "/v1/user/dana/accesskey", None).await;
    assert_eq!(status, 201, "{made}");
    let dana_key = key_from(&made);
    let access = dana_key.access.clone();
    // The Huawei API sees the same user, membership and key.
    let (_, users) = app.call("GET", "/v3/users?name=dana", t, None).await;
    assert_eq!(
        (
            users["users"][0]["id"].as_str(),
            users["users"][0]["description"].as_str()
        ),
        (Some(dana_id.as_str()), Some("ops")),
        "{users}"
    );
    let (_, groups) = app.call("GET", &format!("/v3/users/{dana_id}/groups"), t, None).await;
    assert_eq!(groups["groups"][0]["name"], "ops", "{groups}");
    let credential = format!("/v3.0/OS-CREDENTIAL/credentials/{access}");
    let (_, shown) = app.call("GET", &credential, t, None).await;
    assert_eq!(shown["credential"]["user_id"], dana_id.as_str(), "{shown}");
    // The Alibaba dialect too; and the key made through Baidu's API signs its calls.
    let upn = "dana@acme.onaliyun.com";
    let (status, got) = alibaba::call(&app, &key, "GetUser", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(
        (status, got["User"]["UserId"].as_str()),
        (200, Some(dana_id.as_str())),
        "{got}"
    );
    let (_, groups) = alibaba::call(&app, &key, "ListGroupsForUser", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(groups["Groups"]["Group"][0]["GroupName"], "ops", "{groups}");
    let (_, keys) = alibaba::call(&app, &key, "ListAccessKeys", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(
        keys["AccessKeys"]["AccessKey"][0]["AccessKeyId"],
        access.as_str(),
        "{keys}"
    );
    let (status, me) = alibaba::call(&app, &dana_key, "GetUser", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(status, 200, "{me}");
    // The Huawei API disables dana and the Alibaba dialect disables her key: Baidu's shows both.
    let patch = json!({"user": {"enabled": false, "description": "ops lead"}});
    assert_eq!(
        app.call("PATCH", &format!("/v3/users/{dana_id}"), t, Some(patch))
            .await
            .0,
        200
    );
    let (_, got) = call(&app, &key, "GET", "/v1/user/dana", None).await;
    assert_eq!(
        (&got["enabled"], &got["description"]),
        (&json!(false), &json!("ops lead")),
        "{got}"
    );
    let inactive = [
        ("UserPrincipalName", upn),
        ("UserAccessKeyId", access.as_str()),
        ("Status", "Inactive"),
    ];
    assert_eq!(
        alibaba::call(&app, &key, "UpdateAccessKey", IMS, &inactive).await.0,
        200
    );
    let (_, keys) = call(&app, &key, "GET", "/v1/user/dana/accesskey", None).await;
    assert_eq!(keys["accessKeys"][0]["enabled"], false, "{keys}");
    // Baidu's API enables it again, then disables and deletes: the others see each step.
    let path = format!("/v1/user/dana/accesskey/{access}");
    let (status, enabled) = Bce::new(&app, "PUT", &path).query("enable").sign(&key).send(&app).await;
    assert_eq!((status, &enabled["enabled"]), (200, &json!(true)), "{enabled}");
    assert_eq!(
        app.call("GET", &credential, t, None).await.1["credential"]["status"],
        "active"
    );
    let (status, _) = Bce::new(&app, "PUT", &path)
        .query("disable")
        .sign(&key)
        .send(&app)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.call("GET", &credential, t, None).await.1["credential"]["status"],
        "inactive"
    );
    let (status, members) = call(&app, &key, "GET", "/v1/group/ops/user", None).await;
    assert_eq!(
        (status, &members["users"][0]["name"]),
        (200, &json!("dana")),
        "{members}"
    );
    assert_eq!(call(&app, &key, "DELETE", &path, None).await.0, 204);
    assert_eq!(app.call("GET", &credential, t, None).await.0, 404);
    assert_eq!(call(&app, &key, "DELETE", "/v1/group/ops/user/dana", None).await.0, 204);
    let (_, groups) = call(&app, &key, "GET", "/v1/user/dana/group", None).await;
    assert_eq!(groups["groups"], json!([]), "{groups}");
    assert_eq!(call(&app, &key, "DELETE", "/v1/group/ops", None).await.0, 204);
    assert_eq!(call(&app, &key, "DELETE", "/v1/user/dana", None).await.0, 204);
    assert_eq!(app.call("GET", &format!("/v3/users/{dana_id}"), t, None).await.0, 404);
    let (status, gone) = alibaba::call(&app, &key, "GetUser", IMS, &[("UserPrincipalName", upn)]).await;
    assert_eq!(
        (status, gone["Code"].as_str()),
        (404, Some("EntityNotExist.User")),
        "{gone}"
    );
    app.stop().await;
}

/// Login profiles are the user's console sign-in; an admin sets a password without touching
/// it; the Huawei API signs in with what Baidu's API set.
async fn login_profiles_and_passwords(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    assert_eq!(
        call(&app, &key, "POST", "/v1/user", Some(json!({"name": "erin"})))
            .await
            .0,
        201
    );
    let profile = "/v1/user/erin/loginProfile";
    assert_eq!(
        refusal(call(&app, &key, "GET", profile, None).await),
        (404, "NoSuchObject".into())
    );
    let refused: Vec<(&str, Value, (u16, String))> = vec![
        ("no password yet", json!({}), (400, "InvalidParameter".into())),
        (
            "login MFA",
            json!({"password": "Erin-passw0rd-1", "enabledLoginMfa": true, "loginMfaType": "PHONE"}),
            (400, "InvalidParameter".into()),
        ),
        (
            "a third-party account",
            json!({"password": "Erin-passw0rd-1", "thirdPartyType": "PASSPORT", "thirdPartyAccount": "e"}),
            (400, "InvalidParameter".into()),
        ),
    ];
    for (name, body, want) in refused {
        assert_eq!(
            refusal(call(&app, &key, "PUT", profile, Some(body)).await),
            want,
            "{name}"
        );
    }
    let body = json!({"password": "Erin-passw0rd-1", "needResetPassword": false, "enabledLoginMfa": false});
    let (status, made) = call(&app, &key, "PUT", profile, Some(body)).await;
    assert_eq!(
        (status, made),
        (
            200,
            json!({"enabledLogin": true, "enabledLoginMfa": false, "needResetPassword": false})
        )
    );
    assert_eq!(app.password_token("erin", "acme", "Erin-passw0rd-1", None).await.0, 201);
    // An admin sets a new password; the console sign-in stays.
    let body = json!({"password": "Erin-passw0rd-2"});
    let (status, user) = call(&app, &key, "PUT", "/v1/subUser/erin/update", Some(body)).await;
    assert_eq!((status, &user["name"]), (200, &json!("erin")), "{user}");
    assert_eq!(app.password_token("erin", "acme", "Erin-passw0rd-1", None).await.0, 401);
    assert_eq!(app.password_token("erin", "acme", "Erin-passw0rd-2", None).await.0, 201);
    assert_eq!(call(&app, &key, "GET", profile, None).await.0, 200);
    // A deleted login profile is programmatic access in the Huawei API.
    assert_eq!(call(&app, &key, "DELETE", profile, None).await.0, 200);
    let (_, users) = app.call("GET", "/v3/users?name=erin", &token, None).await;
    let id = users["users"][0]["id"].as_str().unwrap();
    let (_, shown) = app
        .call("GET", &format!("/v3.0/OS-USER/users/{id}"), &token, None)
        .await;
    assert_eq!(shown["user"]["access_mode"], "programmatic", "{shown}");
    // A second identical write within the second is taken for a replay of the first.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        refusal(call(&app, &key, "DELETE", profile, None).await),
        (404, "NoSuchObject".into())
    );
    // A user renamed through Baidu's API is found by its new name.
    let (status, renamed) = call(&app, &key, "PUT", "/v1/user/erin", Some(json!({"name": "erin2"}))).await;
    assert_eq!((status, &renamed["name"]), (200, &json!("erin2")), "{renamed}");
    assert_eq!(call(&app, &key, "GET", "/v1/user/erin2", None).await.0, 200);
    app.stop().await;
}

/// GetSessionToken: an ACL that narrows becomes the credential's session policy, which every
/// dialect enforces; the credential signs Baidu, Alibaba and Huawei calls and ends with the
/// key that asked for it.
async fn session_tokens_narrow_and_sign_every_dialect(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let key = key_of(&app, &token).await;
    let acl = json!({"id": "read-users", "accessControlList": [{"service": "bce:iam", "region": "*",
        "effect": "Allow", "permission": ["iam:users:listUsers", "iam:users:getUser", "iam:securitytokens:create"],
        "resource": ["*"]}]});
    let (status, issued) = Bce::new(&app, "POST", "/v1/sessionToken")
        .query("durationSeconds=900")
        .json(acl)
        .sign(&key)
        .send(&app)
        .await;
    assert_eq!(status, 201, "{issued}");
    for field in [
        "accessKeyId",
        "secretAccessKey",
        "sessionToken",
        "createTime",
        "expiration",
        "userId",
    ] {
        assert!(issued[field].is_string(), "{field} missing from {issued}");
    }
    let lifetime = |answer: &Value| {
        let at = |f: &str| {
            time::OffsetDateTime::parse(
                answer[f].as_str().unwrap_or(""),
                &time::format_description::well_known::Rfc3339,
            )
            .map(|t| t.unix_timestamp())
        };
        at("expiration").unwrap_or(0) - at("createTime").unwrap_or(0)
    };
    assert!((899..=900).contains(&lifetime(&issued)), "{issued}");
    let temporary = key_from(&issued);
    // Baidu's API: what the ACL allows, and not what it does not.
    assert_eq!(call(&app, &temporary, "GET", "/v1/user", None).await.0, 200);
    assert_eq!(call(&app, &temporary, "GET", "/v1/user/acme-admin", None).await.0, 200);
    assert_eq!(
        refusal(call(&app, &temporary, "POST", "/v1/user", Some(json!({"name": "mallory"}))).await),
        (403, "AccessDenied".into())
    );
    assert_eq!(
        refusal(call(&app, &temporary, "GET", "/v1/group", None).await),
        (403, "AccessDenied".into())
    );
    // The Alibaba dialect, with the security token in x-acs-security-token.
    let (status, listed) = alibaba::call(&app, &temporary, "ListUsers", IMS, &[]).await;
    assert_eq!(status, 200, "{listed}");
    let create = [("UserPrincipalName", "mallory@acme.onaliyun.com"), ("DisplayName", "M")];
    let (status, body) = alibaba::call(&app, &temporary, "CreateUser", IMS, &create).await;
    assert_eq!((status, body["Code"].as_str()), (403, Some("NoPermission")), "{body}");
    // The Huawei API, signed the Huawei SDK's way.
    let signer = Signer {
        access: temporary.access.clone(),
        secret: temporary.secret.clone(),
        security_token: temporary.security_token.clone(),
    };
    let (status, users) = signed_call(&app, &signer, "GET", "/v3/users", None).await;
    assert_eq!(status, 200, "{users}");
    let (status, _) = signed_call(
        &app,
        &signer,
        "POST",
        "/v3/groups",
        Some(json!({"group": {"name": "g"}})),
    )
    .await;
    assert_eq!(status, 403);
    // A session token of the session token may narrow further, never widen.
    let wider =
        json!({"accessControlList": [{"service": "bce:iam", "effect": "Allow", "permission": ["FULL_CONTROL"]}]});
    let narrower = json!({"accessControlList": [{"service": "bce:iam", "effect": "Allow", "permission": ["iam:users:listUsers"]}]});
    let derive = |acl: Value| Bce::new(&app, "POST", "/v1/sessionToken").json(acl).sign(&temporary);
    assert_eq!(
        refusal(derive(wider).send(&app).await),
        (400, "InvalidParameter".into())
    );
    // Its default lifetime (Baidu's 12 hours) is capped by the credential it comes from.
    let (status, derived) = derive(narrower.clone()).send(&app).await;
    assert_eq!(status, 201, "{derived}");
    assert!(lifetime(&derived) <= 900, "{derived}");
    // That one's ACL does not allow asking for session tokens.
    let req = Bce::new(&app, "POST", "/v1/sessionToken")
        .json(narrower)
        .sign(&key_from(&derived));
    assert_eq!(refusal(req.send(&app).await), (403, "AccessDenied".into()));
    // ACLs that cannot narrow what fedgate serves are refused, never ignored.
    let refused: Vec<(&str, Value)> = vec![
        (
            "another service",
            json!({"accessControlList": [{"service": "bce:bos", "effect": "Allow", "permission": ["READ"]}]}),
        ),
        (
            "a named resource",
            json!({"accessControlList": [{"service": "bce:iam", "effect": "Allow", "permission": ["READ"], "resource": ["user/alice"]}]}),
        ),
        (
            "a region",
            json!({"accessControlList": [{"service": "bce:iam", "region": "bj", "effect": "Allow", "permission": ["READ"]}]}),
        ),
        (
            "a permission of no fedgate action",
            json!({"accessControlList": [{"service": "bce:iam", "effect": "Allow", "permission": ["PutObject"]}]}),
        ),
    ];
    for (name, acl) in refused {
        let req = Bce::new(&app, "POST", "/v1/sessionToken").json(acl).sign(&key);
        assert_eq!(
            refusal(req.send(&app).await),
            (400, "InvalidParameter".into()),
            "{name}"
        );
    }
    let req = Bce::new(&app, "POST", "/v1/sessionToken")
        .query("durationSeconds=60")
        .sign(&key);
    assert_eq!(
        refusal(req.send(&app).await),
        (400, "InvalidParameter".into()),
        "a minute"
    );
    // Deactivating the key that asked ends the session token.
    let patch = json!({"credential": {"status": "inactive"}});
    let path = format!("/v3.0/OS-CREDENTIAL/credentials/{}", key.access);
    assert_eq!(app.call("PUT", &path, &token, Some(patch)).await.0, 200);
    assert_eq!(
        refusal(call(&app, &temporary, "GET", "/v1/user", None).await),
        (401, "SignatureDoesNotMatch".into())
    );
    app.stop().await;
}

/// IAM-user federation: configured from an IdP's metadata with an auxiliary domain, enabled,
/// used to sign a bound user in (only NameIDs in the auxiliary domain), changed, deleted.
async fn iam_user_federation(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let token = app.account_admin("acme").await;
    let t = token.as_str();
    let key = key_of(&app, t).await;
    let account = account_id(&app, t).await;
    let idp = TestIdp::new("https://idp.acme.example/saml");
    let metadata = STANDARD.encode(idp.metadata(&["post"]));
    let query = || call(&app, &key, "GET", "/v1/subUser/idp/query", None);
    assert_eq!(refusal(query().await), (404, "NoSuchObject".into()));
    let update = |body: Value| call(&app, &key, "POST", "/v1/subUser/idp/update", Some(body));
    let refused: Vec<(&str, Value, (u16, String))> = vec![
        (
            "no metadata",
            json!({"auxiliaryDomain": "example.com"}),
            (400, "InvalidParameter".into()),
        ),
        (
            "metadata not in base64",
            json!({"encodeMetadata": "%%%", "auxiliaryDomain": "example.com"}),
            (400, "InvalidParameter".into()),
        ),
        (
            "metadata that is not metadata",
            json!({"encodeMetadata": "bm90IG1ldGFkYXRh", "auxiliaryDomain": "example.com"}),
            (400, "InvalidParameter".into()),
        ),
        (
            "an auxiliary domain that is no domain",
            json!({"encodeMetadata": metadata, "auxiliaryDomain": "example.com/*"}),
            (400, "InvalidParameter".into()),
        ),
    ];
    for (name, body, want) in refused {
        assert_eq!(refusal(update(body).await), want, "{name}");
    }
    // The failed attempts left nothing behind.
    let (_, idps) = app.call("GET", "/v3/OS-FEDERATION/identity_providers", t, None).await;
    assert_eq!(idps["identity_providers"], json!([]), "{idps}");
    let (_, mappings) = app.call("GET", "/v3/OS-FEDERATION/mappings", t, None).await;
    assert_eq!(mappings["mappings"], json!([]), "{mappings}");
    let body = json!({"encodeMetadata": metadata, "auxiliaryDomain": "Example.com", "fileName": "acme-idp.xml"});
    let (status, made) = update(body).await;
    assert_eq!(status, 200, "{made}");
    // The provider's id is not guessable, so no other account can take it first.
    let (_, idps) = app.call("GET", "/v3/OS-FEDERATION/identity_providers", t, None).await;
    let idp_id = idps["identity_providers"][0]["id"].as_str().unwrap().to_string();
    assert!(idp_id.starts_with("iam-user-sso-") && idp_id.len() == 29, "{idp_id}");
    let idp_path = format!("/v3/OS-FEDERATION/identity_providers/{idp_id}");
    let mapping_path = format!("/v3/OS-FEDERATION/mappings/{idp_id}-mapping");
    let want = |status: &str| {
        (
            status.to_string(),
            "example.com".to_string(),
            account.clone(),
            "acme-idp.xml".to_string(),
        )
    };
    let seen = |v: &Value| {
        let s = |f: &str| v[f].as_str().unwrap_or_default().to_string();
        (s("status"), s("auxiliaryDomain"), s("domainId"), s("fileName"))
    };
    assert_eq!(seen(&made), want("disable"), "{made}");
    assert_eq!(made["encodeMetadata"], metadata.as_str());
    let (_, shown) = app.call("GET", &idp_path, t, None).await;
    let p = &shown["identity_provider"];
    assert_eq!(
        (&p["sso_type"], &p["enabled"]),
        (&json!("iam_user_sso"), &json!(false)),
        "{shown}"
    );
    let enable = |status: &str| {
        Bce::new(&app, "POST", "/v1/subUser/idp/updateStatus")
            .query(&format!("status={status}"))
            .sign(&key)
    };
    assert_eq!(
        refusal(enable("maybe").send(&app).await),
        (400, "InvalidParameter".into())
    );
    let (status, enabled) = enable("enable").send(&app).await;
    assert_eq!((status, seen(&enabled)), (200, want("enable")), "{enabled}");
    assert_eq!(
        app.call("GET", &idp_path, t, None).await.1["identity_provider"]["enabled"],
        true
    );
    let (status, got) = query().await;
    assert_eq!((status, seen(&got)), (200, want("enable")), "{got}");

    // alice, bound to her NameID, signs in; a NameID outside the auxiliary domain does not.
    assert_eq!(
        call(&app, &key, "POST", "/v1/user", Some(json!({"name": "alice"})))
            .await
            .0,
        201
    );
    let (_, users) = app.call("GET", "/v3/users?name=alice", t, None).await;
    let alice = users["users"][0]["id"].as_str().unwrap().to_string();
    let bind = |name_id: &str| json!({"user": {"xuser_type": "TenantIdp", "xuser_id": name_id}});
    let bound = app
        .call(
            "PUT",
            &format!("/v3.0/OS-USER/users/{alice}"),
            t,
            Some(bind("alice@example.com")),
        )
        .await;
    assert_eq!(bound.0, 200, "{}", bound.1);
    let sign_in = |name_id: &str| {
        let mut spec = idp.spec(&app.base, now());
        spec.name_id = name_id.to_string();
        let response = STANDARD.encode(idp.response(&spec));
        let app = &app;
        let idp_id = idp_id.clone();
        async move {
            let r = app
                .client
                .post(app.url("/v3.0/OS-FEDERATION/tokens"))
                .header("X-Idp-Id", idp_id)
                .form(&[("SAMLResponse", response)])
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, signed_in) = sign_in("alice@example.com").await;
    assert_eq!(status, 201, "{signed_in}");
    assert_eq!(signed_in["token"]["user"]["id"], alice.as_str(), "{signed_in}");
    let outside = app
        .call(
            "PUT",
            &format!("/v3.0/OS-USER/users/{alice}"),
            t,
            Some(bind("alice@elsewhere.com")),
        )
        .await;
    assert_eq!(outside.0, 200, "{}", outside.1);
    assert_eq!(
        sign_in("alice@elsewhere.com").await.0,
        401,
        "a NameID outside the domain"
    );
    // A new auxiliary domain; then the identity provider's new metadata (same entityID).
    let (status, changed) = update(json!({"auxiliaryDomain": "elsewhere.com"})).await;
    assert_eq!(
        (status, &changed["auxiliaryDomain"]),
        (200, &json!("elsewhere.com")),
        "{changed}"
    );
    assert_eq!(sign_in("alice@elsewhere.com").await.0, 201, "the new domain");
    let rotated = TestIdp::new("https://idp.acme.example/saml");
    let renewed = STANDARD.encode(rotated.metadata(&["post"]));
    let (status, changed) = update(json!({"encodeMetadata": renewed, "fileName": "renewed.xml"})).await;
    assert_eq!(
        (status, &changed["fileName"]),
        (200, &json!("renewed.xml")),
        "{changed}"
    );
    assert_eq!(sign_in("alice@elsewhere.com").await.0, 401, "signed by the old key");
    // Another identity provider is not slipped in under the same configuration.
    let stranger = STANDARD.encode(TestIdp::new("https://idp.globex.example/saml").metadata(&["post"]));
    assert_eq!(
        refusal(update(json!({"encodeMetadata": stranger})).await),
        (400, "InvalidParameter".into())
    );
    assert_eq!(call(&app, &key, "POST", "/v1/subUser/idp/delete", None).await.0, 200);
    assert_eq!(refusal(query().await), (404, "NoSuchObject".into()));
    assert_eq!(app.call("GET", &idp_path, t, None).await.0, 404);
    assert_eq!(app.call("GET", &mapping_path, t, None).await.0, 404);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        refusal(call(&app, &key, "POST", "/v1/subUser/idp/delete", None).await),
        (404, "NoSuchObject".into())
    );
    app.stop().await;
}

on_both_backends!(
    hostile_calls_are_refused,
    callers_and_actions,
    one_store_three_dialects,
    login_profiles_and_passwords,
    session_tokens_narrow_and_sign_every_dialect,
    iam_user_federation
);
