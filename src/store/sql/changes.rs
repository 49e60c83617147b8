//! `ChangeFeed` for `SqlStore`: on PostgreSQL, `NOTIFY fedgate_changes` after a write and a
//! `LISTEN` connection per replica; SQLite serves one process, so there is no one to tell.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::{Backend, SqlStore};
use crate::store::{Change, ChangeFeed, StoreResult};

const CHANNEL: &str = "fedgate_changes";

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Views => "views",
            Change::Revocations => "revocations",
            Change::Missed => "missed",
        }
    }

    fn parse(text: &str) -> Option<Change> {
        match text {
            "views" => Some(Change::Views),
            "revocations" => Some(Change::Revocations),
            _ => None,
        }
    }
}

#[async_trait]
impl ChangeFeed for SqlStore {
    async fn announce(&self, change: Change) -> StoreResult<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(format!("{} {}", self.instance, change.as_str()))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn subscribe(&self) -> StoreResult<Option<mpsc::Receiver<Change>>> {
        let Some(url) = self.listen_url.clone() else {
            return Ok(None);
        };
        let mut listener = PgListener::connect(&url).await?;
        listener.listen(CHANNEL).await?;
        let (tx, rx) = mpsc::channel(64);
        let own = format!("{} ", self.instance);
        tokio::spawn(async move {
            loop {
                let change = match listener.try_recv().await {
                    Ok(Some(n)) => match n.payload().strip_prefix(&own) {
                        Some(_) => continue,
                        None => n.payload().split_once(' ').and_then(|(_, kind)| Change::parse(kind)),
                    },
                    // The connection dropped (the next call reconnects): what was sent
                    // meanwhile is lost, so readers reload everything.
                    Ok(None) => Some(Change::Missed),
                    Err(e) => {
                        tracing::debug!(error = %e, "change feed cannot reconnect yet");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                };
                // A full queue already holds a reload to come; closed means no one listens.
                if let Some(change) = change
                    && let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(change)
                {
                    return;
                }
            }
        });
        Ok(Some(rx))
    }
}
