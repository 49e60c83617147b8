//! Permanent access keys (`/v3.0/OS-CREDENTIAL/credentials`, reference L3834-4310): the round
//! trip, the two-key quota (also under concurrent creates), secrets sealed at rest and shown
//! once, what signed-request verification reads (`permanent_key`), last uses kept in memory and
//! flushed, who may manage whose keys, and bad input.

use std::collections::BTreeSet;

use fedgate::http::views::token_time;
use fedgate::service::now_ms;
use serde_json::{Value, json};

use crate::authorization::{PASSWORD, token, world};
use crate::support::{Db, TestApp, captured_logs, project_scope, spawn_app, spawn_app_with};

const KEYS: &str = "/v3.0/OS-CREDENTIAL/credentials";

fn quota_body() -> Value {
    json!({"error": {"message": "akSkNumExceed", "code": 400, "title": "Bad Request", "error_msg": null, "error_code": null}})
}

fn fields(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn is_reference_time(t: &Value) -> bool {
    // 2020-01-08T06:25:19.014028Z
    let t = t.as_str().unwrap_or("");
    let b = t.as_bytes();
    t.len() == 27
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[26] == b'Z'
        && t[20..26].bytes().all(|c| c.is_ascii_digit())
}

/// A user `name` in the admin domain with a password; returns (id, unscoped token).
async fn user(app: &TestApp, name: &str) -> (String, String) {
    let (s, v) = app
        .call(
            "POST",
            "/v3/users",
            &app.admin_token,
            Some(json!({"user": {"name": name, "password": PASSWORD}})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["user"]["id"].as_str().unwrap().to_string();
    let (s, token, body) = app.password_token(name, "admin", PASSWORD, None).await;
    assert_eq!(s, 201, "{body}");
    (id, token)
}

async fn create(app: &TestApp, token: &str, user_id: &str, description: &str) -> (u16, Value) {
    app.call(
        "POST",
        KEYS,
        token,
        Some(json!({"credential": {"user_id": user_id, "description": description}})),
    )
    .await
}

async fn permanent_keys_round_trip(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (kim, kim_token) = user(&app, "kim").await;

    let (s, v) = create(&app, &kim_token, &kim, "ci runner").await;
    assert_eq!(s, 201, "{v}");
    let c = &v["credential"];
    assert_eq!(
        fields(c),
        set(&["access", "secret", "status", "user_id", "create_time", "description"])
    );
    let access = c["access"].as_str().unwrap().to_string();
    let secret = c["secret"].as_str().unwrap().to_string();
    assert_eq!(access.len(), 20);
    assert!(
        access.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{access}"
    );
    assert_eq!(secret.len(), 40);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()), "{secret}");
    assert_eq!(
        (&c["status"], &c["user_id"], &c["description"]),
        (&json!("active"), &json!(kim), &json!("ci runner"))
    );
    assert!(is_reference_time(&c["create_time"]), "{c}");
    let create_time = c["create_time"].clone();

    // At rest the secret is sealed: neither the stored record nor the database files hold it.
    let stored = app.store.get_access_key(&access).await.unwrap().unwrap();
    assert!(!format!("{stored:?}").contains(&secret));
    assert_eq!(stored.key_id, app.sts().credential_key_fingerprint());
    if db == Db::Sqlite {
        for file in ["fedgate.db", "fedgate.db-wal"] {
            let bytes = std::fs::read(app.dir.path().join(file)).unwrap_or_default();
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{file} holds the secret in plain text");
            if file == "fedgate.db-wal" {
                assert!(
                    bytes.windows(access.len()).any(|w| w == access.as_bytes()),
                    "the row was written"
                );
            }
        }
    }

    // The secret is shown once: never by list, show or update.
    let (s, v) = app.call("GET", KEYS, &kim_token, None).await;
    assert_eq!(s, 200, "{v}");
    let listed = v["credentials"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        fields(&listed[0]),
        set(&["access", "status", "user_id", "create_time", "description"])
    );
    assert_eq!(
        (&listed[0]["access"], &listed[0]["create_time"]),
        (&json!(access), &create_time)
    );
    let path = format!("{KEYS}/{access}");
    let (s, shown) = app.call("GET", &path, &kim_token, None).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(
        fields(&shown["credential"]),
        set(&[
            "access",
            "status",
            "user_id",
            "create_time",
            "description",
            "last_use_time"
        ])
    );
    assert_eq!(shown["credential"]["last_use_time"], create_time, "never used");

    // What signed-request verification reads.
    let key = app.services.permanent_key(&access, now_ms()).await.unwrap().unwrap();
    assert_eq!(
        (key.user_id.as_str(), key.secret.as_str(), key.active),
        (kim.as_str(), secret.as_str(), true)
    );
    assert!(!format!("{key:?}").contains(&secret));
    assert!(
        app.services
            .permanent_key("NOSUCHKEY00000000000", now_ms())
            .await
            .unwrap()
            .is_none()
    );

    // Two keys per user; the third gets the reference's body, whoever asks.
    let (s, v) = create(&app, &app.admin_token, &kim, "").await;
    assert_eq!(s, 201, "{v}");
    let second = v["credential"]["access"].as_str().unwrap().to_string();
    for token in [&kim_token, &app.admin_token] {
        let (s, v) = create(&app, token, &kim, "").await;
        assert_eq!((s, v), (400, quota_body()));
    }

    // Deactivating stops verification at once on this replica (the cached key is dropped).
    let (s, v) = app
        .call(
            "PUT",
            &path,
            &kim_token,
            Some(json!({"credential": {"status": "inactive", "description": "paused"}})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v,
        json!({"credential": {"status": "inactive", "access": access, "create_time": create_time,
            "user_id": kim, "description": "paused"}})
    );
    let key = app.services.permanent_key(&access, now_ms()).await.unwrap().unwrap();
    assert!(!key.active);
    let (s, v) = app
        .call(
            "PUT",
            &path,
            &kim_token,
            Some(json!({"credential": {"status": "active"}})),
        )
        .await;
    assert_eq!((s, &v["credential"]["description"]), (200, &json!("paused")), "{v}");
    assert!(
        app.services
            .permanent_key(&access, now_ms())
            .await
            .unwrap()
            .unwrap()
            .active
    );

    // Delete: gone for the API and for verification at once.
    assert_eq!(app.call("DELETE", &path, &kim_token, None).await.0, 204);
    let (s, v) = app.call("GET", &path, &kim_token, None).await;
    assert_eq!(
        (s, v),
        (
            404,
            json!({"error_msg": format!("Could not find credential: {access}."), "error_code": "IAM.0004"})
        )
    );
    for method in ["DELETE", "PUT"] {
        let body = (method == "PUT").then(|| json!({"credential": {"status": "active"}}));
        assert_eq!(app.call(method, &path, &kim_token, body).await.0, 404, "{method}");
    }
    assert!(app.services.permanent_key(&access, now_ms()).await.unwrap().is_none());

    // Deleting the user deletes its keys.
    assert!(app.services.permanent_key(&second, now_ms()).await.unwrap().is_some());
    assert_eq!(
        app.call("DELETE", &format!("/v3/users/{kim}"), &app.admin_token, None)
            .await
            .0,
        204
    );
    assert_eq!(app.store.get_access_key(&second).await.unwrap(), None);
    assert!(app.services.permanent_key(&second, now_ms()).await.unwrap().is_none());
    assert!(!captured_logs().contains(&secret), "the secret reached the log");
    app.stop().await;
}

/// Six creates at once for one user: exactly two keys, four quota answers.
async fn concurrent_creates_make_exactly_two_keys(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (kim, _) = user(&app, "kim").await;
    let answers = futures::future::join_all((0..6).map(|_| create(&app, &app.admin_token, &kim, "burst"))).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 2, "{answers:?}");
    for (s, v) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!((*s, v), (400, &quota_body()));
    }
    let (_, v) = app
        .call("GET", &format!("{KEYS}?user_id={kim}"), &app.admin_token, None)
        .await;
    assert_eq!(v["credentials"].as_array().unwrap().len(), 2);
    app.stop().await;
}

/// `note_key_use` writes nothing; the flush writes every noted use in one transaction, and
/// the API shows a noted use before it is flushed.
async fn last_use_is_kept_in_memory_and_flushed(db: Db) {
    // A long interval: the background flush stays out of the way and the test flushes itself.
    let Some(app) = spawn_app_with(db, |args| args.refresh_interval_ms = Some(600_000)).await else {
        return;
    };
    let (_, v) = create(&app, &app.admin_token, &admin_id(&app).await, "").await;
    let access = v["credential"]["access"].as_str().unwrap().to_string();
    let path = format!("{KEYS}/{access}");
    let writes = app.sts().key_use_writes();
    let t0 = now_ms();
    for i in 0..1000 {
        app.services.note_key_use(&access, t0 + i);
    }
    app.services.note_key_use(&access, t0);
    let stored = app.store.get_access_key(&access).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at_ms, None, "nothing written per use");
    assert_eq!(app.sts().key_use_writes(), writes);
    let (_, v) = app.call("GET", &path, &app.admin_token, None).await;
    assert_eq!(
        v["credential"]["last_use_time"],
        json!(token_time(t0 + 999)),
        "noted use shown"
    );

    assert_eq!(app.services.flush_key_uses().await.unwrap(), 1);
    assert_eq!(app.sts().key_use_writes(), writes + 1, "one write for 1001 uses");
    let stored = app.store.get_access_key(&access).await.unwrap().unwrap();
    assert_eq!(stored.last_used_at_ms, Some(t0 + 999));
    assert_eq!(app.services.flush_key_uses().await.unwrap(), 0, "nothing left to write");
    assert_eq!(app.sts().key_use_writes(), writes + 1);
    let (_, v) = app.call("GET", &path, &app.admin_token, None).await;
    assert_eq!(v["credential"]["last_use_time"], json!(token_time(t0 + 999)));
    app.stop().await;
}

async fn admin_id(app: &TestApp) -> String {
    let (_, me) = app.validate(&app.admin_token, &app.admin_token).await;
    me["token"]["user"]["id"].as_str().unwrap().to_string()
}

/// A replica whose key file differs cannot open the keys (it says so once, naming its file);
/// a replica with the same file reads them, and sees a deletion within the refresh interval.
async fn replicas_share_the_key_file_or_fail_verification(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (_, v) = create(&app, &app.admin_token, &admin_id(&app).await, "").await;
    let access = v["credential"]["access"].as_str().unwrap().to_string();
    let secret = v["credential"]["secret"].as_str().unwrap().to_string();

    let same = app.spawn_replica(|_| {}).await;
    let key = same.services.permanent_key(&access, now_ms()).await.unwrap().unwrap();
    assert_eq!(key.secret, secret);

    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign_file = foreign_dir.path().join("other-credential.key");
    let file = foreign_file.clone();
    let foreign = app
        .spawn_replica(move |args| args.credential_key_file = Some(file))
        .await;
    assert!(foreign_file.exists(), "created at start");
    assert_ne!(
        foreign.sts().credential_key_fingerprint(),
        app.sts().credential_key_fingerprint()
    );
    assert!(
        foreign
            .services
            .permanent_key(&access, now_ms())
            .await
            .unwrap()
            .is_none()
    );
    let logs = captured_logs();
    let named = logs
        .lines()
        .filter(|l| l.contains("sealed under another credential key") && l.contains(&*foreign_file.to_string_lossy()))
        .count();
    assert_eq!(named, 1, "one error naming the file");

    // Deleted on the first replica: the other stops verifying it within the refresh interval.
    assert_eq!(
        app.call("DELETE", &format!("{KEYS}/{access}"), &app.admin_token, None)
            .await
            .0,
        204
    );
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    assert!(same.services.permanent_key(&access, now_ms()).await.unwrap().is_none());
    same.stop().await;
    foreign.stop().await;
    app.stop().await;
}

/// Federated (virtual) users have no stored user row: they cannot hold keys (403), and their
/// own listing is empty.
async fn federated_users_cannot_hold_keys(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let mapping =
        json!({"mapping": {"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]}});
    let (s, v) = app
        .call("PUT", "/v3/OS-FEDERATION/mappings/m", &app.admin_token, Some(mapping))
        .await;
    assert_eq!(s, 201, "{v}");
    app.register_provider("acme", "saml", "m").await;
    let attrs = fedgate::mapping::assertion_from_json(json!({"UserName": "fred"}).as_object().unwrap());
    let issued = app
        .sign_in()
        .federated_login("acme", fedgate::model::Protocol::Saml, &attrs, now_ms())
        .await
        .unwrap();
    let (_, v) = app.validate(&app.admin_token, &issued.token).await;
    let fred = v["token"]["user"]["id"].as_str().unwrap().to_string();
    let (s, v) = create(&app, &issued.token, &fred, "").await;
    assert_eq!(
        (s, v),
        (
            403,
            json!({"error_msg": "You are not authorized to perform the requested action.", "error_code": "IAM.0002"})
        )
    );
    let (s, v) = app.call("GET", KEYS, &issued.token, None).await;
    assert_eq!((s, v), (200, json!({"credentials": []})));
    // An admin naming the virtual user finds no such user.
    assert_eq!(create(&app, &app.admin_token, &fred, "").await.0, 404);
    app.stop().await;
}

/// Callers × operations on the keys of `sam` (a member in acme): sam itself, acme's domain
/// admin and the cloud admin may; acme's project admin, a reader in acme and another
/// account's admin may not.
async fn who_manages_whose_keys(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let (w, callers) = world(&app).await;
    let sam_token = token(&app, "sam", "acme", project_scope("p1", "acme")).await;
    let callers: Vec<(&str, String)> = std::iter::once(("sam", sam_token)).chain(callers).collect();
    // A key of sam's that every row acts on.
    let (s, v) = create(&app, &app.admin_token, &w.sam, "").await;
    assert_eq!(s, 201, "{v}");
    let k0 = v["credential"]["access"].as_str().unwrap().to_string();

    let mut failures = Vec::new();
    for (caller, token) in &callers {
        let may = matches!(*caller, "sam" | "dana" | "admin");
        let allowed = |ok: u16| if may { ok } else { 403 };
        let mut check = |what: &str, got: (u16, Value), want: u16| {
            if got.0 != want {
                failures.push(format!("{caller} / {what}: got {}, want {want} ({})", got.0, got.1));
            }
        };
        let made = create(&app, token, &w.sam, caller).await;
        let own = made.1["credential"]["access"].as_str().map(str::to_string);
        check("create a key for sam", made, allowed(201));
        let got = app.call("GET", &format!("{KEYS}?user_id={}", w.sam), token, None).await;
        check("list sam's keys", got, allowed(200));
        check("list its own keys", app.call("GET", KEYS, token, None).await, 200);
        let got = app.call("GET", &format!("{KEYS}/{k0}"), token, None).await;
        check("show sam's key", got, allowed(200));
        let body = json!({"credential": {"description": format!("by {caller}")}});
        let got = app.call("PUT", &format!("{KEYS}/{k0}"), token, Some(body)).await;
        check("update sam's key", got, allowed(200));
        // Who may deletes the key it made (keeping sam under the quota); who may not tries k0.
        let target = own.unwrap_or_else(|| k0.clone());
        let got = app.call("DELETE", &format!("{KEYS}/{target}"), token, None).await;
        check("delete sam's key", got, allowed(204));
    }
    assert!(
        failures.is_empty(),
        "access key authorization:\n{}",
        failures.join("\n")
    );
    // Nothing a refused caller did stuck.
    let k = app.store.get_access_key(&k0).await.unwrap().unwrap();
    assert_eq!(k.description, "by admin");
    assert_eq!(app.store.list_access_keys(&w.sam).await.unwrap().len(), 1);
    app.stop().await;
}

/// Malformed bodies and queries: the exact 400 naming the field, and no key changes.
async fn bad_credential_input(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    let admin = admin_id(&app).await;
    let (_, v) = create(&app, &app.admin_token, &admin, "kept").await;
    let access = v["credential"]["access"].as_str().unwrap().to_string();
    let path = format!("{KEYS}/{access}");
    let long = "d".repeat(256);
    let invalid = |field: &str, reason: &str| json!({"error_msg": format!("Invalid input for field '{field}': {reason}."), "error_code": "IAM.0073"});
    let missing =
        |field: &str| json!({"error_msg": format!("'{field}' is a required property."), "error_code": "IAM.0072"});
    let cases: Vec<(&str, &str, &str, String, u16, Value)> = vec![
        ("truncated JSON", "POST", KEYS, "{".into(), 400, Value::Null),
        (
            "no credential object",
            "POST",
            KEYS,
            r#"{"credentials": {}}"#.into(),
            400,
            missing("credential"),
        ),
        (
            "missing user_id",
            "POST",
            KEYS,
            r#"{"credential": {"description": "x"}}"#.into(),
            400,
            missing("credential.user_id"),
        ),
        (
            "user_id is a number",
            "POST",
            KEYS,
            r#"{"credential": {"user_id": 5}}"#.into(),
            400,
            invalid("credential.user_id", "invalid type: integer `5`, expected a string"),
        ),
        (
            "description over 255 characters",
            "POST",
            KEYS,
            json!({"credential": {"user_id": admin, "description": long}}).to_string(),
            400,
            Value::Null,
        ),
        (
            "unknown status",
            "PUT",
            &path,
            r#"{"credential": {"status": "paused"}}"#.into(),
            400,
            invalid("credential.status", "must be active or inactive"),
        ),
        (
            "status is a boolean",
            "PUT",
            &path,
            r#"{"credential": {"status": true}}"#.into(),
            400,
            invalid("credential.status", "invalid type: boolean `true`, expected a string"),
        ),
        (
            "update names nothing",
            "PUT",
            &path,
            r#"{"credential": {}}"#.into(),
            400,
            invalid("credential", "names neither status nor description"),
        ),
        (
            "update description over 255 characters",
            "PUT",
            &path,
            json!({"credential": {"description": long}}).to_string(),
            400,
            Value::Null,
        ),
        (
            "create for a missing user",
            "POST",
            KEYS,
            r#"{"credential": {"user_id": "nope"}}"#.into(),
            404,
            json!({"error_msg": "Could not find user: nope.", "error_code": "IAM.0004"}),
        ),
        (
            "list of a missing user",
            "GET",
            "/v3.0/OS-CREDENTIAL/credentials?user_id=nope",
            String::new(),
            404,
            Value::Null,
        ),
    ];
    let before = app.store.list_access_keys(&admin).await.unwrap();
    for (name, method, path, body, want, want_body) in cases {
        let mut req = app
            .client
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), app.url(path))
            .header("x-auth-token", &app.admin_token)
            .header("content-type", "application/json");
        if !body.is_empty() {
            req = req.body(body);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let got: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, want, "{name}: {got}");
        assert!(got["error_code"].is_string(), "{name}: IAM body expected, got {got}");
        if want_body.is_null() {
            if name.contains("description") {
                assert!(
                    got["error_msg"].as_str().unwrap().contains("'credential.description'"),
                    "{name}: {got}"
                );
            }
        } else {
            assert_eq!(got, want_body, "{name}");
        }
    }
    assert_eq!(app.store.list_access_keys(&admin).await.unwrap(), before);
    app.stop().await;
}

on_both_backends!(
    permanent_keys_round_trip,
    concurrent_creates_make_exactly_two_keys,
    last_use_is_kept_in_memory_and_flushed,
    replicas_share_the_key_file_or_fail_verification,
    federated_users_cannot_hold_keys,
    who_manages_whose_keys,
    bad_credential_input,
);
