//! Journeys through the token API: the life of a password token, rescoping, revocation,
//! disabled users, key rotation, and what unauthenticated or unprivileged callers get.

use serde_json::{Value, json};

use crate::support::{Db, TestApp, project_scope, spawn_app};

const ALICE_PASSWORD: &str = "Wonder-land9";

/// Creates project `demo`, group `devs` with alice in it, and grants `member` on the project.
async fn seed_alice(app: &TestApp) -> (String, String, String) {
    let admin = &app.admin_token;
    let (s, project) = app
        .call(
            "POST",
            "/v3/projects",
            admin,
            Some(json!({"project": {"name": "demo"}})),
        )
        .await;
    assert_eq!(s, 201, "{project}");
    let project_id = project["project"]["id"].as_str().unwrap().to_string();
    let (s, group) = app
        .call("POST", "/v3/groups", admin, Some(json!({"group": {"name": "devs"}})))
        .await;
    assert_eq!(s, 201, "{group}");
    let group_id = group["group"]["id"].as_str().unwrap().to_string();
    let (s, user) = app
        .call(
            "POST",
            "/v3/users",
            admin,
            Some(json!({"user": {"name": "alice", "password": ALICE_PASSWORD}})),
        )
        .await;
    assert_eq!(s, 201, "{user}");
    let user_id = user["user"]["id"].as_str().unwrap().to_string();
    assert!(user["user"].get("password").is_none(), "the password is never echoed");
    let (s, _) = app
        .call("PUT", &format!("/v3/groups/{group_id}/users/{user_id}"), admin, None)
        .await;
    assert_eq!(s, 204);
    let (s, _) = app
        .call("HEAD", &format!("/v3/groups/{group_id}/users/{user_id}"), admin, None)
        .await;
    assert_eq!(s, 204);
    let (_, roles) = app.call("GET", "/v3/roles?name=member", admin, None).await;
    let member = roles["roles"][0]["id"].as_str().unwrap().to_string();
    let grant = format!("/v3/projects/{project_id}/groups/{group_id}/roles/{member}");
    assert_eq!(app.call("PUT", &grant, admin, None).await.0, 204);
    assert_eq!(app.call("HEAD", &grant, admin, None).await.0, 204);
    let (s, listed) = app
        .call(
            "GET",
            &format!("/v3/projects/{project_id}/groups/{group_id}/roles"),
            admin,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(listed["roles"][0]["name"], "member");
    (project_id, group_id, user_id)
}

async fn password_token_lifecycle(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (project_id, _group, user_id) = seed_alice(&app).await;

    let (s, token, body) = app
        .password_token("alice", "admin", ALICE_PASSWORD, Some(project_scope("demo", "admin")))
        .await;
    assert_eq!(s, 201, "{body}");
    assert!(token.len() < 300, "scoped password token is {} characters", token.len());
    let t = &body["token"];
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["user"]["id"], json!(user_id));
    assert_eq!(t["user"]["name"], "alice");
    assert_eq!(t["user"]["domain"]["name"], "admin");
    assert_eq!(t["user"]["password_expires_at"], "");
    assert_eq!(t["project"]["id"], json!(project_id));
    assert_eq!(t["project"]["domain"]["name"], "admin");
    assert_eq!(
        t["roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].clone())
            .collect::<Vec<_>>(),
        vec![json!("member")]
    );
    assert_eq!(t["catalog"][0]["type"], "identity");
    let issued = t["issued_at"].as_str().unwrap();
    assert!(issued.ends_with('Z') && issued.len() == 27, "{issued}");

    // Validation by the user itself and by an admin give the same token.
    let (s, own) = app.validate(&token, &token).await;
    assert_eq!(s, 200);
    assert_eq!(own["token"]["audit_ids"], t["audit_ids"]);
    let (s, by_admin) = app.validate(&app.admin_token, &token).await;
    assert_eq!(s, 200);
    assert_eq!(by_admin["token"]["expires_at"], t["expires_at"]);
    let head = app
        .client
        .head(app.url("/v3/auth/tokens"))
        .header("x-auth-token", &app.admin_token)
        .header("x-subject-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    // ?nocatalog keeps an empty catalog.
    let r = app
        .client
        .get(app.url("/v3/auth/tokens?nocatalog"))
        .header("x-auth-token", &token)
        .header("x-subject-token", &token)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["token"]["catalog"], json!([]));

    // A token derived with the token method keeps the expiry and dies with its parent.
    let (s, unscoped, _) = app.password_token("alice", "admin", ALICE_PASSWORD, None).await;
    assert_eq!(s, 201);
    let (s, rescoped, body) = app
        .post_auth(
            json!({"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": {"project": {"id": project_id}}}}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["token"]["methods"], json!(["token"]));
    let (_, parent) = app.validate(&app.admin_token, &unscoped).await;
    assert_eq!(body["token"]["expires_at"], parent["token"]["expires_at"]);
    assert!(parent["token"].get("roles").is_none(), "unscoped tokens carry no roles");

    // Revocation: the revoked token and what was derived from it stop validating.
    let r = app
        .client
        .delete(app.url("/v3/auth/tokens"))
        .header("x-auth-token", &app.admin_token)
        .header("x-subject-token", &unscoped)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.validate(&app.admin_token, &unscoped).await.0, 404);
    assert_eq!(app.validate(&app.admin_token, &rescoped).await.0, 404);
    assert_eq!(
        app.validate(&app.admin_token, &token).await.0,
        200,
        "siblings are untouched"
    );

    // Disabling the user ends every token it holds, and it cannot log in again.
    let (s, _) = app
        .call(
            "PATCH",
            &format!("/v3/users/{user_id}"),
            &app.admin_token,
            Some(json!({"user": {"enabled": false}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) = app.validate(&app.admin_token, &token).await;
    assert_eq!(s, 404, "{body}");
    assert_eq!(body["error"]["message"], "X-Subject-Token is invalid in the request");
    let (s, _, body) = app.password_token("alice", "admin", ALICE_PASSWORD, None).await;
    assert_eq!(s, 401);
    assert_eq!(
        body["error"]["message"],
        "The request you have made requires authentication."
    );
    app.stop().await;
}

async fn key_rotation_keeps_old_tokens(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let old = app.admin_token.clone();
    let old_key = fedgate::token::KeyRing::peek_key_id(&old).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fedgate"))
        .args(["keys", "rotate"])
        .args(app.store_args())
        .output()
        .expect("run fedgate keys rotate");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The running server picks the new primary up within its refresh interval (100 ms here).
    let mut new_key = old_key;
    let mut new = String::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (s, token, _) = app
            .password_token(
                "admin",
                "admin",
                crate::support::ADMIN_PASSWORD,
                Some(project_scope("admin", "admin")),
            )
            .await;
        assert_eq!(s, 201);
        new_key = fedgate::token::KeyRing::peek_key_id(&token).unwrap();
        new = token;
        if new_key != old_key {
            break;
        }
    }
    assert_eq!(new_key, old_key + 1, "new tokens use the new key");
    assert_eq!(app.validate(&new, &old).await.0, 200, "old tokens keep validating");
    assert_eq!(app.validate(&old, &new).await.0, 200);
    app.stop().await;
}

async fn permissions_follow_keystone(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (_project, group_id, user_id) = seed_alice(&app).await;
    let (_, alice, _) = app
        .password_token("alice", "admin", ALICE_PASSWORD, Some(project_scope("demo", "admin")))
        .await;
    let cases: Vec<(&str, String, &str, u16)> = vec![
        ("GET", "/v3/users".into(), "", 401),
        ("GET", "/v3/users".into(), "not-a-token", 401),
        ("GET", "/v3/users".into(), alice.as_str(), 403),
        ("POST", "/v3/groups".into(), alice.as_str(), 403),
        ("GET", format!("/v3/users/{user_id}"), alice.as_str(), 200),
        ("GET", format!("/v3/users/{user_id}/groups"), alice.as_str(), 200),
        ("GET", format!("/v3/users/{user_id}/projects"), alice.as_str(), 200),
        ("GET", "/v3/auth/projects".into(), alice.as_str(), 200),
        ("GET", "/v3/auth/domains".into(), alice.as_str(), 200),
        ("GET", format!("/v3/groups/{group_id}"), alice.as_str(), 403),
        (
            "GET",
            "/v3.0/OS-AGENCY/agencies?domain_id=x".into(),
            alice.as_str(),
            403,
        ),
        ("GET", "/v3/users".into(), app.admin_token.as_str(), 200),
    ];
    for (method, path, token, want) in cases {
        let body = (method == "POST").then(|| json!({"group": {"name": "intruders"}}));
        let (got, body) = app.call(method, &path, token, body).await;
        assert_eq!(got, want, "{method} {path}: {body}");
    }
    let (_, projects) = app.call("GET", "/v3/auth/projects", &alice, None).await;
    assert_eq!(projects["projects"][0]["name"], "demo");

    // A user edits its own contact details, and nobody else's.
    let info = json!({"user": {"email": "alice@example.com", "mobile": "0086-13800000000"}});
    let path = format!("/v3.0/OS-USER/users/{user_id}/info");
    assert_eq!(app.call("PUT", &path, &alice, Some(info.clone())).await.0, 204);
    assert_eq!(app.call("PUT", &path, &app.admin_token, Some(info)).await.0, 403);
    let (s, shown) = app
        .call("GET", &format!("/v3.0/OS-USER/users/{user_id}"), &app.admin_token, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(shown["user"]["email"], "alice@example.com");
    assert_eq!(shown["user"]["areacode"], "0086");
    let bad = json!({"user": {"email": "not-an-email"}});
    let (s, body) = app.call("PUT", &path, &alice, Some(bad)).await;
    assert_eq!((s, body["error_code"].as_str()), (400, Some("1102")));
    app.stop().await;
}

#[tokio::test]
async fn service_basics_versions_metrics_and_request_ids() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let r = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 300);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["versions"]["values"][0]["id"], "v3.6");
    let r = app.client.get(app.url("/v3/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let id = r.headers().get("x-request-id").unwrap().to_str().unwrap().to_string();
    assert!(id.starts_with("req-"), "{id}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], 404);
    let r = app.client.get(app.url("/v3.0/OS-AGENCY/nowhere")).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_code"], "IAM.0004", "v3.0 paths answer the IAM error shape");
    let (s, catalog) = app.call("GET", "/v3/auth/catalog", &app.admin_token, None).await;
    assert_eq!(s, 200);
    assert_eq!(catalog["catalog"][0]["endpoints"].as_array().unwrap().len(), 3);
    let metrics = app.get_text("/metrics").await;
    assert!(metrics.contains("fedgate_http_requests_total"), "{metrics}");
    assert!(metrics.contains("fedgate_tokens_issued_total"), "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn agencies_and_their_grants_round_trip() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let admin = &app.admin_token;
    let (_, token) = app.validate(admin, admin).await;
    let domain_id = token["token"]["project"]["domain"]["id"].as_str().unwrap().to_string();
    let body =
        json!({"agency": {"name": "ops", "domain_id": domain_id, "trust_domain_name": "admin", "duration": "ONEDAY"}});
    let (s, created) = app.call("POST", "/v3.0/OS-AGENCY/agencies", admin, Some(body)).await;
    assert_eq!(s, 201, "{created}");
    let agency_id = created["agency"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["agency"]["duration"], "ONEDAY");
    assert!(created["agency"]["expire_time"].is_string());
    let (_, roles) = app.call("GET", "/v3/roles?name=reader", admin, None).await;
    let reader = roles["roles"][0]["id"].as_str().unwrap().to_string();
    let grant = format!("/v3.0/OS-AGENCY/domains/{domain_id}/agencies/{agency_id}/roles/{reader}");
    assert_eq!(app.call("PUT", &grant, admin, None).await.0, 204);
    assert_eq!(app.call("HEAD", &grant, admin, None).await.0, 204);
    let (s, listed) = app
        .call(
            "GET",
            &format!("/v3.0/OS-PERMISSION/role-assignments?domain_id={domain_id}&subject.agency_id={agency_id}"),
            admin,
            None,
        )
        .await;
    assert_eq!(s, 200, "{listed}");
    assert_eq!(listed["total_num"], 1);
    assert_eq!(app.call("DELETE", &grant, admin, None).await.0, 204);
    assert_eq!(app.call("HEAD", &grant, admin, None).await.0, 404);
    let (s, listed) = app
        .call(
            "GET",
            &format!("/v3.0/OS-AGENCY/agencies?domain_id={domain_id}"),
            admin,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(listed["agencies"][0]["trust_domain_name"], "admin");
    assert_eq!(
        app.call("DELETE", &format!("/v3.0/OS-AGENCY/agencies/{agency_id}"), admin, None)
            .await
            .0,
        204
    );
    assert_eq!(
        app.call("GET", &format!("/v3.0/OS-AGENCY/agencies/{agency_id}"), admin, None)
            .await
            .0,
        404
    );
    app.stop().await;
}

on_both_backends!(
    password_token_lifecycle,
    key_rotation_keeps_old_tokens,
    permissions_follow_keystone
);
