//! Malformed and hostile requests across the auth and admin API: each gets its exact 4xx with
//! the API's error body, and nothing in the store changes.

use fedgate::model::{AgencyFilter, GrantFilter, GroupFilter, ProjectFilter, UserFilter};
use serde_json::{Value, json};

use crate::support::{Db, TestApp, spawn_app};

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    /// None: no X-Auth-Token; Some(""): the admin's.
    token: Option<&'static str>,
    content_type: &'static str,
    body: Vec<u8>,
    want: u16,
}

fn case(name: &'static str, method: &'static str, path: impl Into<String>, body: &str, want: u16) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        token: Some(""),
        content_type: "application/json",
        body: body.as_bytes().to_vec(),
        want,
    }
}

fn anonymous(mut c: Case) -> Case {
    c.token = None;
    c
}

async fn snapshot(app: &TestApp) -> String {
    let s = &app.store;
    let users = s.list_users(&UserFilter::default()).await.unwrap();
    let groups = s.list_groups(&GroupFilter::default()).await.unwrap();
    let projects = s.list_projects(&ProjectFilter::default()).await.unwrap();
    let agencies = s.list_agencies(&AgencyFilter::default()).await.unwrap();
    let grants = s.list_grants(&GrantFilter::default()).await.unwrap();
    let revocations = app.services.tokens.revocation_count();
    let mut access_keys = Vec::new();
    for u in &users {
        access_keys.extend(s.list_access_keys(&u.id).await.unwrap());
    }
    format!("{users:?}\n{groups:?}\n{projects:?}\n{agencies:?}\n{grants:?}\n{revocations}\n{access_keys:?}")
}

fn auth(identity: Value) -> String {
    json!({"auth": {"identity": identity}}).to_string()
}

#[tokio::test]
async fn malformed_requests_get_clear_errors_and_change_nothing() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let (_, me) = app.validate(&app.admin_token, &app.admin_token).await;
    let admin_id = me["token"]["user"]["id"].as_str().unwrap().to_string();
    let project_id = me["token"]["project"]["id"].as_str().unwrap().to_string();
    let pw = |user: Value| auth(json!({"methods": ["password"], "password": {"user": user}}));
    let huge = format!("{{\"user\": {{\"name\": \"{}\"}}}}", "a".repeat(1024 * 1024 + 10));
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let mut cases = vec![
        anonymous(case("truncated JSON", "POST", "/v3/auth/tokens", "{", 400)),
        anonymous(case("JSON array instead of object", "POST", "/v3/auth/tokens", "[]", 400)),
        anonymous(case("empty body", "POST", "/v3/auth/tokens", "", 400)),
        anonymous(case("missing identity", "POST", "/v3/auth/tokens", r#"{"auth": {}}"#, 400)),
        anonymous(case("methods is a string", "POST", "/v3/auth/tokens", &auth(json!({"methods": "password"})), 400)),
        anonymous(case("password section missing", "POST", "/v3/auth/tokens", &auth(json!({"methods": ["password"]})), 400)),
        anonymous(case("password is a number", "POST", "/v3/auth/tokens", &pw(json!({"id": admin_id, "password": 12345678})), 400)),
        anonymous(case("user has neither id nor name", "POST", "/v3/auth/tokens", &pw(json!({"password": "x"})), 400)),
        anonymous(case("user name without domain", "POST", "/v3/auth/tokens", &pw(json!({"name": "admin", "password": "x"})), 400)),
        anonymous(case("unsupported method", "POST", "/v3/auth/tokens", &auth(json!({"methods": ["totp"]})), 401)),
        anonymous(case("wrong password", "POST", "/v3/auth/tokens", &pw(json!({"id": admin_id, "password": "wrong-Password1"})), 401)),
        anonymous(case("unknown user", "POST", "/v3/auth/tokens", &pw(json!({"name": "ghost", "domain": {"name": "admin"}, "password": "x"})), 401)),
        anonymous(case(
            "scope to a missing project",
            "POST",
            "/v3/auth/tokens",
            &json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": admin_id, "password": crate::support::ADMIN_PASSWORD}}},
                "scope": {"project": {"id": "0123456789abcdef0123456789abcdef"}}}})
            .to_string(),
            401,
        )),
        anonymous(case("forged token method", "POST", "/v3/auth/tokens", &auth(json!({"methods": ["token"], "token": {"id": "AQAAAAEx"}})), 401)),
        anonymous(case("trailing garbage after JSON", "POST", "/v3/auth/tokens", r#"{"auth": {}} trailing"#, 400)),
        anonymous(case("deeply nested JSON", "POST", "/v3/auth/tokens", &deep, 400)),
        case("user name of the wrong type", "POST", "/v3/users", r#"{"user": {"name": 5}}"#, 400),
        case("user object missing", "POST", "/v3/users", r#"{"usr": {"name": "bob"}}"#, 400),
        case("user name starts with a digit", "POST", "/v3/users", r#"{"user": {"name": "1bob"}}"#, 400),
        case("weak password", "POST", "/v3/users", r#"{"user": {"name": "bob", "password": "short"}}"#, 400),
        case("duplicate user name", "POST", "/v3/users", r#"{"user": {"name": "admin"}}"#, 409),
        case("unknown domain", "POST", "/v3/users", r#"{"user": {"name": "bob", "domain_id": "nope"}}"#, 400),
        case("enabled is a string", "PATCH", format!("/v3/users/{admin_id}"), r#"{"user": {"enabled": "yes"}}"#, 400),
        case("control character in name", "PATCH", format!("/v3/users/{admin_id}"), "{\"user\": {\"name\": \"a\\u0007b\"}}", 400),
        case("update of a missing user", "PATCH", "/v3/users/0123456789abcdef0123456789abcdef", r#"{"user": {"enabled": false}}"#, 404),
        case("delete of a missing user", "DELETE", "/v3/users/nope", "", 404),
        case("empty group name", "POST", "/v3/groups", r#"{"group": {"name": ""}}"#, 400),
        case("group name too long", "POST", "/v3/groups", &json!({"group": {"name": "g".repeat(129)}}).to_string(), 400),
        case("membership of missing group", "PUT", "/v3/groups/nope/users/nope", "", 404),
        case("grant with missing pieces", "PUT", "/v3/projects/nope/groups/nope/roles/nope", "", 404),
        case("project description too long", "POST", "/v3/projects", &json!({"project": {"name": "p", "description": "d".repeat(256)}}).to_string(), 400),
        case("project with unknown parent", "POST", "/v3/projects", r#"{"project": {"name": "x_p", "parent_id": "nope"}}"#, 400),
        case("bad project status", "PUT", format!("/v3-ext/projects/{project_id}"), r#"{"project": {"status": "frozen"}}"#, 400),
        case("enabled filter not a boolean", "GET", "/v3/users?enabled=maybe", "", 400),
        case("a NUL in a query", "GET", "/v3/users?name=a%00b", "", 400),
        case("a NUL in a path", "GET", "/v3.0/OS-CREDENTIAL/credentials/a%00b", "", 400),
        case("bad password expiry filter", "GET", "/v3/users?password_expires_at=soon", "", 400),
        case("OS-USER create without domain_id", "POST", "/v3.0/OS-USER/users", r#"{"user": {"name": "bob"}}"#, 400),
        case("agency duration nonsense", "POST", "/v3.0/OS-AGENCY/agencies", r#"{"agency": {"name": "a", "domain_id": "x", "trust_domain_name": "admin", "duration": "FOREVERISH"}}"#, 400),
        case("access key without user_id", "POST", "/v3.0/OS-CREDENTIAL/credentials", r#"{"credential": {}}"#, 400),
        case("access key user_id of the wrong type", "POST", "/v3.0/OS-CREDENTIAL/credentials", r#"{"credential": {"user_id": []}}"#, 400),
        case("access key description too long", "POST", "/v3.0/OS-CREDENTIAL/credentials", &json!({"credential": {"user_id": admin_id, "description": "d".repeat(256)}}).to_string(), 400),
        case("access key status unknown", "PUT", "/v3.0/OS-CREDENTIAL/credentials/NOSUCHKEY00000000000", r#"{"credential": {"status": "on"}}"#, 400),
        case("missing access key", "GET", "/v3.0/OS-CREDENTIAL/credentials/NOSUCHKEY00000000000", "", 404),
        case("validate without subject token", "GET", "/v3/auth/tokens", "", 404),
        case("role creation is not offered", "POST", "/v3/roles", "{}", 405),
        case("oversize body", "POST", "/v3/users", &huge, 413),
    ];
    let mut wrong_type = case(
        "text/plain body",
        "POST",
        "/v3/groups",
        r#"{"group": {"name": "g"}}"#,
        415,
    );
    wrong_type.content_type = "text/plain";
    cases.push(wrong_type);
    let mut not_utf8 = case("body is not UTF-8", "POST", "/v3/groups", "", 400);
    not_utf8.body = vec![0x7b, 0xff, 0xfe, 0x7d];
    cases.push(not_utf8);
    assert!(cases.len() >= 30);

    let before = snapshot(&app).await;
    for c in &cases {
        let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
        let mut req = app
            .client
            .request(method, app.url(&c.path))
            .header("content-type", c.content_type)
            .body(c.body.clone());
        if let Some(t) = c.token {
            req = req.header("x-auth-token", if t.is_empty() { app.admin_token.as_str() } else { t });
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        assert!(r.headers().contains_key("x-request-id"), "{}: no request id", c.name);
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, c.want, "case {:?}: {body}", c.name);
        let iam = c.path.starts_with("/v3.0/") || c.path.starts_with("/v3-ext/");
        if iam {
            assert!(
                body["error_code"].is_string(),
                "case {:?}: IAM body expected, got {body}",
                c.name
            );
        } else {
            assert_eq!(
                body["error"]["code"],
                json!(c.want),
                "case {:?}: Keystone body expected, got {body}",
                c.name
            );
        }
    }
    // Forged subject tokens on validate and revoke.
    for method in ["GET", "DELETE"] {
        let r = app
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url("/v3/auth/tokens"),
            )
            .header("x-auth-token", &app.admin_token)
            .header(
                "x-subject-token",
                "AQAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} with a forged subject token");
    }
    assert_eq!(snapshot(&app).await, before, "bad input changed stored data");
    app.stop().await;
}

/// A refusal's reason may quote the request (a name in a path); what no one types reaches the
/// log escaped, so a client cannot forge or reorder log lines.
#[tokio::test]
async fn a_quoted_name_reaches_the_log_escaped() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    for path in ["/v3/users/evil%E2%80%AEname", "/v1/user/evil%E2%80%AEname"] {
        let (status, _) = app.call("GET", path, &app.admin_token, None).await;
        assert!(status == 404 || status == 401, "{path}: {status}");
    }
    let logs = crate::support::captured_logs();
    assert!(logs.contains("evil\\u{202e}name"), "the reason is logged, escaped");
    assert!(!logs.contains("evil\u{202e}name"), "a raw U+202E reached the log");
    app.stop().await;
}
