//! `remember_once` as group commit: every id_token jti and SAML assertion id is one insert, and
//! under load those inserts queue behind each other. One writer task takes whatever is queued
//! (up to `MAX_BATCH`), writes it as one multi-row upsert and tells each caller whether its
//! value was new. Under light load a batch is a single value, so nothing waits for company.

use std::collections::HashSet;

use sqlx::{AnyPool, AssertSqlSafe, Row};
use tokio::sync::{mpsc, oneshot};

use super::{StoreError, StoreResult};

const MAX_BATCH: usize = 64;

pub struct Pending {
    pub namespace: String,
    pub value: String,
    pub expires_at_ms: i64,
    pub now_ms: i64,
    pub reply: oneshot::Sender<StoreResult<bool>>,
}

pub type Sender = mpsc::UnboundedSender<Pending>;

/// Starts the writer; it ends when every sender is gone.
pub fn start(pool: AnyPool) -> Sender {
    let (tx, mut rx) = mpsc::unbounded_channel::<Pending>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            write(&pool, batch).await;
        }
    });
    tx
}

async fn write(pool: &AnyPool, batch: Vec<Pending>) {
    // A value twice in one batch: the first is the one that counts (one statement cannot
    // upsert a row twice).
    let mut seen = HashSet::new();
    let (first, repeats): (Vec<Pending>, Vec<Pending>) = batch
        .into_iter()
        .partition(|p| seen.insert((p.namespace.clone(), p.value.clone())));
    for p in repeats {
        let _ = p.reply.send(Ok(false));
    }
    let now = first.iter().map(|p| p.now_ms).max().unwrap_or_default();
    let rows: Vec<String> = (0..first.len())
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    // Inserts, or takes over expired records; unexpired ones stay and are not returned.
    let sql = format!(
        "INSERT INTO one_time_values (namespace, value, expires_at) VALUES {} \
         ON CONFLICT (namespace, value) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE one_time_values.expires_at <= ${} RETURNING namespace, value",
        rows.join(", "),
        3 * first.len() + 1
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for p in &first {
        query = query
            .bind(p.namespace.clone())
            .bind(p.value.clone())
            .bind(p.expires_at_ms);
    }
    query = query.bind(now);
    match query.fetch_all(pool).await {
        Ok(rows) => {
            let written: HashSet<(String, String)> = rows
                .iter()
                .filter_map(|r| Some((r.try_get("namespace").ok()?, r.try_get("value").ok()?)))
                .collect();
            for p in first {
                let fresh = written.contains(&(p.namespace, p.value));
                let _ = p.reply.send(Ok(fresh));
            }
        }
        Err(e) => {
            let e = StoreError::Database(e);
            let message = e.to_string();
            let unavailable = e.is_unavailable();
            for p in first {
                let error = if unavailable {
                    StoreError::Unavailable(message.clone())
                } else {
                    StoreError::Database(sqlx::Error::Protocol(message.clone()))
                };
                let _ = p.reply.send(Err(error));
            }
        }
    }
}
