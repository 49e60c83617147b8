//! Liveness and readiness, as load balancers and orchestrators probe them: `/healthz` answers
//! while the process runs; `/readyz` only while the store answers, and again once it is back.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{Db, TestApp, postgres_admin_url, spawn_app};

async fn probe(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app.client.get(app.url(path)).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn admin_sql(sql: String) {
    let mut conn = sqlx::PgConnection::connect(&postgres_admin_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
}

async fn create_group(app: &TestApp, name: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v3/groups"))
        .header("X-Auth-Token", &app.admin_token)
        .json(&json!({"group": {"name": name}}))
        .send()
        .await
        .expect("request")
}

async fn probes_follow_the_store(db: Db) {
    let Some(app) = spawn_app(db).await else { return };
    assert_eq!(probe(&app, "/healthz").await, (200, json!({"status": "alive"})));
    assert_eq!(probe(&app, "/readyz").await, (200, json!({"status": "ready"})));
    if db == Db::Postgres {
        // The database turns connections away and drops the ones it has.
        let url = app.database_url();
        let name = url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
        admin_sql(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false")).await;
        admin_sql(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .await;
        let (status, body) = probe(&app, "/readyz").await;
        assert_eq!((status, body["status"].as_str()), (503, Some("unavailable")), "{body}");
        assert_eq!(probe(&app, "/healthz").await.0, 200, "still alive");
        // A write meanwhile is refused as retryable, not as a fault (500), and says so.
        let started = Instant::now();
        let r = create_group(&app, "written-while-down").await;
        let waited = started.elapsed();
        assert_eq!(r.status().as_u16(), 503, "a write while the store is down");
        assert_eq!(r.headers()["retry-after"], "1");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"]["message"], "Service unavailable. Try again shortly.",
            "{body}"
        );
        assert!(waited < Duration::from_secs(12), "answered after {waited:?}");
        admin_sql(format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true")).await;
        let start = Instant::now();
        while probe(&app, "/readyz").await.0 != 200 {
            assert!(start.elapsed() < Duration::from_secs(10), "not ready again after 10 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The same write succeeds once the store is back, without a restart.
        assert_eq!(create_group(&app, "written-while-down").await.status().as_u16(), 201);
    }
    app.stop().await;
}

on_both_backends!(probes_follow_the_store);

/// A stop under load (what SIGTERM triggers): requests already in flight are answered in
/// full, and once the server has stopped no new connection is taken.
#[tokio::test]
async fn a_stop_lets_requests_in_flight_finish() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let url = app.url("/v3/auth/tokens");
    let body = serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"name": "admin"}, "password": crate::support::ADMIN_PASSWORD}}}}});
    // Password logins are slow on purpose (argon2): they are in flight when the stop comes.
    let in_flight: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, body) = (app.client.clone(), url.clone(), body.clone());
            tokio::spawn(async move { client.post(url).json(&body).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let client = app.client.clone();
    app.stop().await;
    for request in in_flight {
        let status = request
            .await
            .unwrap()
            .expect("an in-flight request is answered, not cut");
        assert!(status == 201 || status == 429, "in flight: {status}");
    }
    let mut refused = false;
    for _ in 0..50 {
        if client
            .get(url.replace("/v3/auth/tokens", "/healthz"))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "the stopped server still takes connections");
}
