//! `ChangeFeed` for `SqlStore`: on PostgreSQL, the database sends `NOTIFY fedgate_changes` as
//! a write commits (migration 0010's triggers, the payload naming the writer's
//! `application_name`, which is the store's instance id) and each replica keeps one `LISTEN`
//! connection; SQLite serves one process, so there is no one to tell.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::SqlStore;
use crate::store::{Change, ChangeFeed, StoreResult};

const CHANNEL: &str = "fedgate_changes";

impl Change {
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
    async fn subscribe(&self) -> StoreResult<Option<mpsc::Receiver<Change>>> {
        let Some(url) = self.listen_url.clone() else {
            return Ok(None);
        };
        let mut listener = listen(&url).await?;
        let (tx, rx) = mpsc::channel(64);
        let own = format!("{} ", self.instance);
        tokio::spawn(async move {
            loop {
                let change = match listener.try_recv().await {
                    Ok(Some(n)) => match n.payload().strip_prefix(&own) {
                        Some(_) => continue,
                        None => n.payload().split_once(' ').and_then(|(_, kind)| Change::parse(kind)),
                    },
                    // The connection dropped and sqlx made it again at once, LISTEN included:
                    // what was sent meanwhile is lost, so readers reload everything.
                    Ok(None) => Some(Change::Missed),
                    // The connection failed and could not be made again at once (PostgreSQL
                    // restarting, or refusing connections): sqlx would reconnect silently on a
                    // later call, and the loss would go unsaid. A new listener is made instead,
                    // and only once it listens are readers told to reload, so nothing announced
                    // before that moment is missed.
                    Err(e) => {
                        tracing::debug!(error = %e, "change feed lost its connection");
                        match relisten(&url, &tx).await {
                            Some(again) => listener = again,
                            None => return,
                        }
                        Some(Change::Missed)
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

async fn listen(url: &str) -> StoreResult<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// A listener on `url`, retried every half second until PostgreSQL takes it; None once no
/// one reads the feed any more.
async fn relisten(url: &str, readers: &mpsc::Sender<Change>) -> Option<PgListener> {
    loop {
        if readers.is_closed() {
            return None;
        }
        match listen(url).await {
            Ok(listener) => return Some(listener),
            Err(e) => {
                tracing::debug!(error = %e, "change feed cannot reconnect yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
