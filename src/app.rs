//! `Application`: the service wired together, bound to a socket, ready to run. `main` and the
//! integration tests build it the same way.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::service::{Services, Spoil, bootstrap, now_ms};
use crate::store::{Backend, Change, SqlStore, Store, redact_url};

pub struct Application {
    listener: TcpListener,
    store: Arc<dyn Store>,
    services: Arc<Services>,
}

/// Opens (and migrates) the configured store, creating the data directory for SQLite.
pub async fn open_store(config: &Config) -> anyhow::Result<SqlStore> {
    if Backend::from_url(&config.database_url) == Some(Backend::Sqlite) {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    }
    SqlStore::connect(&config.database_url)
        .await
        .with_context(|| format!("opening store {}", redact_url(&config.database_url)))
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        crate::telemetry::metrics_handle();
        let store = open_store(&config).await?;
        bootstrap::seed_roles(&store, now_ms()).await.with_context(|| {
            format!(
                "writing to the store {} (is it writable by this user, with free space?)",
                redact_url(&config.database_url)
            )
        })?;
        let store: Arc<dyn Store> = Arc::new(store);
        let services = Arc::new(Services::build(store.clone(), Arc::new(config.clone())).await?);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Ok(Application {
            listener,
            store,
            services,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has a local address")
    }

    pub fn services(&self) -> Arc<Services> {
        self.services.clone()
    }

    /// The store under the services, for operator commands and tests that inspect it; the
    /// HTTP layer never sees it.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let refresher = tokio::spawn(refresh_loop(self.services.clone(), self.store.clone()));
        let router = crate::http::router(self.services.clone());
        // The peer's address reaches the middleware for audit events.
        let router = router.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP");
        refresher.abort();
        // Last uses noted since the last refresh round.
        if let Err(e) = self.services.flush_key_uses().await {
            tracing::warn!(error = %e, "writing access keys' last uses failed");
        }
        tracing::info!("stopped");
        result
    }
}

/// Picks up keys rotated and tokens revoked by other replicas (or by `fedgate keys rotate`),
/// and writes access keys' last uses noted since the previous round; at once when the change
/// feed (`follow_changes`) wakes it.
async fn refresh_loop(services: Arc<Services>, store: Arc<dyn Store>) {
    // `Services::build` read keys and revocations just now: the first round is one interval
    // away (an immediate one repeated that read, and on a loaded machine could run after the
    // next write, dropping views a lagging replica is documented to keep for the interval).
    let period = services.config.refresh_interval;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let announced = Arc::new(tokio::sync::Notify::new());
    // Ends with this loop (aborted at shutdown), and with it the feed's connection and probes.
    let _follower = services
        .config
        .change_feed
        .then(|| AbortOnDrop(tokio::spawn(follow_changes(services.clone(), store, announced.clone()))));
    let mut rounds: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = announced.notified() => {
                // New revocation events, perhaps: read them now, then on the next tick as usual.
                if let Err(e) = services.refresh_from_store(now_ms()).await {
                    tracing::warn!(error = %e, "reading announced revocations failed; the next refresh retries");
                }
                continue;
            }
        }
        let now = now_ms();
        if let Err(e) = services.refresh_from_store(now).await {
            tracing::warn!(error = %e, "refreshing keys and revocations failed; keeping the cached copies");
        }
        if let Err(e) = services.flush_key_uses().await {
            tracing::warn!(error = %e, "writing access keys' last uses failed; keeping them for the next round");
        }
        rounds += 1;
        if rounds.is_multiple_of(720) {
            services.prune_expired(now).await;
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Other replicas' announcements (PostgreSQL): cached views are dropped here, the moment one
/// arrives, never behind a store read (the refresh loop may be waiting on a slow store, which
/// is exactly when views would answer past their time); the refresh loop is then woken to read
/// revocations. Whether views may answer past their time follows the feed's own probes.
async fn follow_changes(services: Arc<Services>, store: Arc<dyn Store>, announced: Arc<tokio::sync::Notify>) {
    let mut changes = match store.subscribe().await {
        Ok(Some(changes)) => changes,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for other replicas' changes; polling every refresh interval");
            return;
        }
    };
    while let Some(change) = changes.recv().await {
        match change {
            Change::Heard => services.trust_views_in_outage(true),
            Change::Deaf => services.trust_views_in_outage(false),
            Change::Additions => services.spoil_cached_views(Spoil::Freshness),
            Change::Views | Change::Revocations | Change::Missed => {
                tracing::debug!(?change, "another replica changed the store");
                services.drop_cached_views();
                announced.notify_one();
            }
        }
    }
    services.trust_views_in_outage(false);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
