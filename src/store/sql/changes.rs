//! `ChangeFeed` for `SqlStore`: on PostgreSQL, the database sends `NOTIFY fedgate_changes` as
//! a write commits (migration 0010's triggers, the payload naming the writer's
//! `application_name`, which is the store's instance id) and each replica keeps one `LISTEN`
//! connection; SQLite serves one process, so there is no one to tell.
//!
//! A listening connection can fail without saying so (half-open after a failover, a proxy
//! that accepts LISTEN but never delivers, as a transaction-pooling PgBouncer does). So the
//! feed proves itself: every [`PROBE_EVERY`] it sends itself a probe through the pool and
//! reports `Heard` once one comes back, `Deaf` (and listens anew) when one sent does not come
//! back within [`PROBE_WAIT`]. A probe that cannot be sent (the store is down) proves nothing
//! either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, mpsc};

use super::SqlStore;
use crate::store::{Change, ChangeFeed, StoreResult};

const CHANNEL: &str = "fedgate_changes";
const PROBE_EVERY: Duration = Duration::from_secs(10);
const PROBE_WAIT: Duration = Duration::from_secs(5);
const RETRY_EVERY: Duration = Duration::from_millis(500);

impl Change {
    fn parse(text: &str) -> Option<Change> {
        match text {
            "views" => Some(Change::Views),
            "additions" => Some(Change::Additions),
            "revocations" => Some(Change::Revocations),
            _ => None,
        }
    }
}

/// What a payload (`<writer> <kind>`) asks of a listener whose own probes read `probe`.
/// The writer is a session's `application_name`, which may itself hold spaces (`pgAdmin 4`):
/// the kind is the last word. A payload naming no known kind could be anything a writer
/// meant, so every view goes.
fn read_payload(payload: &str, own_prefix: &str, probe: &str) -> Read {
    if payload == probe {
        return Read::OwnProbe;
    }
    if payload.starts_with(own_prefix) {
        return Read::Own;
    }
    let kind = payload.rsplit_once(' ').map_or(payload, |(_, kind)| kind);
    if kind == "probe" {
        return Read::Own; // another replica proving its own feed
    }
    Read::Other(Change::parse(kind).unwrap_or(Change::Missed))
}

#[derive(Debug, PartialEq, Eq)]
enum Read {
    /// This listener's probe came back.
    OwnProbe,
    /// Nothing for this replica: its own write, or another replica's probe.
    Own,
    Other(Change),
}

#[async_trait]
impl ChangeFeed for SqlStore {
    async fn subscribe(&self) -> StoreResult<Option<mpsc::Receiver<Change>>> {
        let Some(url) = self.listen_url.clone() else {
            return Ok(None);
        };
        let (tx, rx) = mpsc::channel(64);
        let own_prefix = format!("{} ", self.instance);
        let probe = format!("{} probe", self.instance);
        let pool = self.pool.clone();
        // Listening before this returns, when PostgreSQL lets it: what is written after is heard.
        let mut taken = match listen(&url).await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, "the change feed cannot listen yet; retrying");
                None
            }
        };
        tokio::spawn(async move {
            loop {
                let listener = match taken.take() {
                    Some(listener) => listener,
                    None => match listen_until_taken(&url, &pool, &tx).await {
                        Some(listener) => listener,
                        None => return,
                    },
                };
                // Whatever was written before this listener listened may be unheard: after a
                // lost connection, and on the first too (views cached while it was set up).
                if send(&tx, Change::Missed).await.is_err() {
                    return;
                }
                let heard = Arc::new(Notify::new());
                let behind = Arc::new(AtomicBool::new(false));
                let mut reader = tokio::spawn(read(
                    listener,
                    tx.clone(),
                    own_prefix.clone(),
                    probe.clone(),
                    heard.clone(),
                    behind.clone(),
                ));
                let verdict = prove(&pool, &probe, &heard, &tx, &mut reader).await;
                reader.abort();
                if verdict.is_err() {
                    return;
                }
                // A reader stopped while it waited to hand on an announcement loses that one and
                // what the connection held behind it: say so now, not once listening again
                // (the store may be down until then, and views would answer in its place).
                if behind.load(Ordering::SeqCst) && send(&tx, Change::Missed).await.is_err() {
                    return;
                }
            }
        });
        Ok(Some(rx))
    }
}

/// Sends `change`, waiting while the queue is full (its reader never waits on anything, so
/// it drains). Nothing is dropped: behind a run of `Additions`, which leave views to answer
/// through an outage, a lost `Views` would keep a removed grant answering. Err once no one
/// reads the feed any more.
async fn send(tx: &mpsc::Sender<Change>, change: Change) -> Result<(), ()> {
    tx.send(change).await.map_err(|_| ())
}

/// Forwards other writers' announcements; tells `heard` of each of this listener's own probes.
/// Ends when the connection fails in a way sqlx does not mend itself. `behind` is set while it
/// waits for room in the queue.
async fn read(
    mut listener: PgListener,
    tx: mpsc::Sender<Change>,
    own_prefix: String,
    probe: String,
    heard: Arc<Notify>,
    behind: Arc<AtomicBool>,
) {
    loop {
        let change = match listener.try_recv().await {
            Ok(Some(n)) => match read_payload(n.payload(), &own_prefix, &probe) {
                Read::OwnProbe => {
                    heard.notify_one();
                    continue;
                }
                Read::Own => continue,
                Read::Other(change) => change,
            },
            // The connection dropped and sqlx made it again at once, LISTEN included: what was
            // sent meanwhile is lost, so readers reload everything.
            Ok(None) => Change::Missed,
            Err(e) => {
                tracing::debug!(error = %e, "change feed lost its connection");
                return;
            }
        };
        behind.store(true, Ordering::SeqCst);
        if send(&tx, change).await.is_err() {
            return;
        }
        behind.store(false, Ordering::SeqCst);
    }
}

/// Probes the feed until it fails (Ok: listen anew) or no one reads it (Err).
async fn prove(
    pool: &sqlx::AnyPool,
    probe: &str,
    heard: &Notify,
    tx: &mpsc::Sender<Change>,
    reader: &mut tokio::task::JoinHandle<()>,
) -> Result<(), ()> {
    let mut trusted = false;
    loop {
        let notify = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(probe)
            .execute(pool);
        // A probe the store does not take in time proves nothing either way (the store is down
        // or slow: then views may ride it out, as trusted before).
        if let Ok(Ok(_)) = tokio::time::timeout(PROBE_WAIT, notify).await {
            // Each probe is heard once, and a wait ends only when it is (or with `Deaf`), so
            // the permit `notify_one` leaves is this probe's.
            let came_back = tokio::select! {
                answer = tokio::time::timeout(PROBE_WAIT, heard.notified()) => answer.is_ok(),
                // The connection failed: listening anew decides (`listen_until_taken`).
                _ = &mut *reader => return Ok(()),
                _ = tx.closed() => return Err(()),
            };
            if !came_back {
                // Unheard while the store is going down is an outage, not a deaf feed.
                if !store_answers(pool).await {
                    return Ok(());
                }
                tracing::warn!(
                    "the change feed did not hear its own probe: listening anew, and cached views are not \
                     served past their time meanwhile (behind a transaction-pooling proxy, set change_feed = false)"
                );
                return send(tx, Change::Deaf).await;
            }
            if !trusted {
                trusted = true;
                send(tx, Change::Heard).await?;
            }
        }
        // The next probe, unless the reader ends first (its connection failed) or no one reads
        // the feed any more.
        tokio::select! {
            _ = tokio::time::sleep(PROBE_EVERY) => {}
            _ = &mut *reader => return Ok(()),
            _ = tx.closed() => return Err(()),
        }
    }
}

/// A listener on `url`, retried every half second until PostgreSQL takes it; None once no
/// one reads the feed any more. While listening fails but the store answers (connections
/// refused to a new session, a LISTEN-less proxy), writes elsewhere go unheard: `Deaf`. While
/// both fail (the store is down), nothing can be written either, and trust is left as it was.
async fn listen_until_taken(url: &str, pool: &sqlx::AnyPool, readers: &mpsc::Sender<Change>) -> Option<PgListener> {
    let mut warned = false;
    let mut deaf = false;
    loop {
        if readers.is_closed() {
            return None;
        }
        match listen(url).await {
            Ok(listener) => return Some(listener),
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, "the change feed cannot listen; retrying");
                    warned = true;
                }
                if !deaf && store_answers(pool).await {
                    deaf = true;
                    send(readers, Change::Deaf).await.ok()?;
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
        }
    }
}

/// Whether the store takes a query through the pool within `PROBE_WAIT`.
async fn store_answers(pool: &sqlx::AnyPool) -> bool {
    matches!(
        tokio::time::timeout(PROBE_WAIT, sqlx::query("SELECT 1").execute(pool)).await,
        Ok(Ok(_))
    )
}

async fn listen(url: &str) -> StoreResult<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_writer_and_kind() {
        let (own, probe) = ("abc ", "abc probe");
        for (payload, want) in [
            ("abc probe", Read::OwnProbe),
            ("abc views", Read::Own),
            ("def views", Read::Other(Change::Views)),
            ("def revocations", Read::Other(Change::Revocations)),
            ("def additions", Read::Other(Change::Additions)),
            // A session named with spaces (an operator's GUI client).
            ("pgAdmin 4 - DB:test views", Read::Other(Change::Views)),
            // No application_name at all.
            (" revocations", Read::Other(Change::Revocations)),
            // Another replica's probe: nothing changed.
            ("def probe", Read::Own),
            // Anything unknown: reload everything.
            ("garbage", Read::Other(Change::Missed)),
            ("def rename", Read::Other(Change::Missed)),
        ] {
            assert_eq!(read_payload(payload, own, probe), want, "{payload}");
        }
    }
}
