//! Snapshots of long response bodies (insta), with ids, instants and tokens redacted, and the
//! check that logs never carry secrets.

use serde_json::json;

use crate::support::{ADMIN_PASSWORD, Db, captured_logs, spawn_app};

#[tokio::test]
async fn token_and_error_bodies_keep_their_shape() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let (_, token) = app.validate(&app.admin_token, &app.admin_token).await;
    insta::assert_json_snapshot!("project_scoped_password_token", token, {
        ".token.issued_at" => "[instant]",
        ".token.expires_at" => "[instant]",
        ".token.audit_ids[]" => "[audit id]",
        ".**.id" => "[id]",
        ".token.catalog[].endpoints[].url" => "[url]",
    });
    let (_, _, unauthorized) = app.password_token("admin", "admin", "Wrong-passw0rd", None).await;
    insta::assert_json_snapshot!("password_rejected", unauthorized);
    let (_, iam) = app
        .call(
            "POST",
            "/v3.0/OS-USER/users",
            &app.admin_token,
            Some(json!({"user": {"domain_id": "x"}})),
        )
        .await;
    insta::assert_json_snapshot!("iam_unknown_domain", iam);
    app.stop().await;
}

#[tokio::test]
async fn logs_never_contain_passwords_or_tokens() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let (status, token, _) = app.password_token("admin", "admin", ADMIN_PASSWORD, None).await;
    assert_eq!(status, 201);
    let _ = app.password_token("admin", "admin", "Not-the-passw0rd", None).await;
    let _ = app.validate(&app.admin_token, &token).await;
    let _ = app.call("DELETE", "/v3/auth/tokens", &app.admin_token, None).await;
    app.stop().await;
    let logs = captured_logs();
    if std::env::var("TEST_LOG").is_ok() {
        return;
    }
    assert!(logs.contains("token issued"), "logs were captured");
    for secret in [
        ADMIN_PASSWORD,
        "Not-the-passw0rd",
        token.as_str(),
        app_token_prefix(&token),
    ] {
        assert!(!logs.contains(secret), "a secret appeared in the logs: {secret}");
    }
}

/// Half a token is still too much to log.
fn app_token_prefix(token: &str) -> &str {
    &token[..token.len() / 2]
}
