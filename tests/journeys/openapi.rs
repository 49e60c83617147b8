//! The API contract: `/openapi.json` is the document `openapi.json` at the repository root
//! holds, so what integrators read is what the server says. `FEDGATE_BLESS_OPENAPI=1` rewrites
//! the committed file after a deliberate change (review its diff).

use crate::support::{Db, spawn_app};

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let Some(app) = spawn_app(Db::Sqlite).await else { return };
    let response = app.client.get(app.url("/openapi.json")).send().await.expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let served = response.text().await.expect("body");
    let doc: serde_json::Value = serde_json::from_str(&served).expect("JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let committed_path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var_os("FEDGATE_BLESS_OPENAPI").is_some() {
        std::fs::write(committed_path, &served).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(committed_path).unwrap_or_default();
    assert!(
        committed == served,
        "openapi.json differs from what the server serves; run `FEDGATE_BLESS_OPENAPI=1 cargo test \
         --test journeys openapi` and review the diff"
    );
}
