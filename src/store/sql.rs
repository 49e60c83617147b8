//! `SqlStore`: every store trait in portable SQL over `sqlx::Any`, one file per trait in `sql/`;
//! this file keeps the pool, connecting and migrating, and what the files share.
//!
//! Placeholders are `$N` (SQLite accepts them too), booleans are 0/1 integers and instants are
//! Unix milliseconds, so one statement text serves both backends. Text assembled at run time
//! (`Filter`, column lists) is only constant fragments and `$N` placeholders, every value bound,
//! which is what each `AssertSqlSafe` asserts.

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::encode::Encode;
use sqlx::error::BoxDynError;
use sqlx::postgres::PgPoolOptions;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Any, AnyPool, Arguments, AssertSqlSafe, Executor, Row, Type};

use super::{StoreError, StoreResult};

mod access_keys;
mod agencies;
mod changes;
mod domains;
mod federated_users;
mod grants;
mod groups;
mod identity_providers;
mod keys;
mod login_failures;
mod mappings;
mod one_time;
mod projects;
mod protocols;
mod provider_configs;
mod revocations;
mod roles;
mod sp_keys;
mod users;

pub use identity_providers::SSO_TYPE_CONFLICT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

#[derive(Clone, Debug)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time; connections that collide wait in SQLite's busy
    /// handler, which sleeps. Frequent writes (replay records, shadow users) queue here instead.
    sqlite_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// `remember_once` goes through one writer task that commits what is queued together.
    one_time: super::one_time_batch::Sender,
    /// Names this process's announcements, so its own listener skips them.
    instance: String,
    /// PostgreSQL's URL, for the change feed's own connection.
    listen_url: Option<String>,
}

static INSTALL_DRIVERS: Once = Once::new();

impl SqlStore {
    /// Connects, applies the backend's migrations, and returns a ready store.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let backend = Backend::from_url(url)
            .ok_or_else(|| StoreError::Corrupt(format!("unsupported database url scheme in {}", redact_url(url))))?;
        INSTALL_DRIVERS.call_once(sqlx::any::install_default_drivers);
        match backend {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(5));
                let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
                sqlx::migrate!("migrations/sqlite").run(&pool).await?;
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
                sqlx::migrate!("migrations/postgres").run(&pool).await?;
                pool.close().await;
            }
        }
        let mut options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            // A PostgreSQL that does not answer fails a request in 3 s (503) instead of holding
            // it; SQLite's writers queue behind one another, so they wait longer.
            .acquire_timeout(match backend {
                Backend::Sqlite => Duration::from_secs(10),
                Backend::Postgres => Duration::from_secs(3),
            });
        if backend == Backend::Sqlite {
            // Per-connection settings: the Any driver builds SQLite connections from the URL.
            // `synchronous = FULL`: a commit returns once the WAL is on disk, so an answered
            // write (a revocation, a credential, a password change) survives a power loss; with
            // NORMAL the last commits could vanish and a revoked token come back. Costs one fsync
            // per commit (on this disk ~1.5 ms against ~0.13 ms); frequent small writes are
            // batched (one-time values) or kept in memory and flushed per interval (last uses).
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 0;")
                        .await?;
                    Ok(())
                })
            });
        }
        let instance = uuid::Uuid::new_v4().simple().to_string();
        if backend == Backend::Postgres {
            // The change feed's triggers name the writer by it, so this process skips its own.
            let set_name = format!("SET application_name = '{instance}'");
            options = options.after_connect(move |conn, _meta| {
                let set_name = set_name.clone();
                Box::pin(async move {
                    conn.execute(sqlx::AssertSqlSafe(set_name)).await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(url).await?;
        if backend == Backend::Sqlite {
            spawn_sqlite_checkpoints(pool.clone());
        }
        Ok(Self {
            one_time: super::one_time_batch::start(pool.clone()),
            pool,
            backend,
            instance,
            listen_url: (backend == Backend::Postgres).then(|| url.to_string()),
            sqlite_writer: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Held around frequent writes on SQLite; PostgreSQL needs no such queue.
    async fn hot_write(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().await),
            Backend::Postgres => None,
        }
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock at `BEGIN`
    /// (`IMMEDIATE`): a deferred transaction that reads first and then writes cannot wait for
    /// the lock (SQLite skips the busy handler to avoid a deadlock) and fails with SQLITE_BUSY
    /// at once when another connection is writing, which the caller would see as a 503.
    async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// SQLite's automatic checkpoint runs inside whichever write crosses the threshold, and its
/// fsync stalls every request queued behind that write. Connections turn it off
/// (`wal_autocheckpoint = 0`); this task checkpoints passively five times a second on its own
/// connection instead, small checkpoints keeping the fsync short (id_token exchange with
/// replay records: 3,600 req/s at p99 27 ms before, 4,000-4,700 at p99 10-11 ms after).
fn spawn_sqlite_checkpoints(pool: AnyPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !pool.is_closed() {
            tick.tick().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_all(&pool).await
                && !pool.is_closed()
            {
                tracing::warn!(error = %e, "SQLite checkpoint failed");
            }
        }
    });
}

/// Hides the password of a database URL for logs and errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}://{}:[redacted]{}", &url[..scheme], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn write_error(e: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict(format!("{what} already exists"));
        }
        // SQLite reports ON DELETE RESTRICT as a trigger constraint (extended code 1811).
        if db.is_foreign_key_violation() || db.code().as_deref() == Some("1811") {
            return StoreError::Conflict(format!("{what} refers to a missing or still referenced record"));
        }
    }
    StoreError::Database(e)
}

/// A `SELECT` with optional conditions, built the way sqlx's `QueryBuilder` builds one but
/// numbering its own `$N` placeholders: `QueryBuilder<Any>` writes `?` whatever the backend, and
/// PostgreSQL refuses that (sqlx 0.9). Columns are `&'static str`, so only constants reach the text.
struct Filter {
    sql: String,
    args: AnyArguments,
    /// The first value that could not be encoded; `ordered_by` reports it.
    unencodable: Option<BoxDynError>,
}

impl Filter {
    /// `select` with a `WHERE` the conditions extend.
    fn new(select: &str) -> Self {
        Self {
            sql: format!("{select} WHERE 1 = 1"),
            args: AnyArguments::default(),
            unencodable: None,
        }
    }

    fn push_bind<'t, T: Encode<'t, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        if let Err(e) = self.args.add(value) {
            self.unencodable.get_or_insert(e);
        }
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }

    /// `AND column = $N` when the value is set.
    fn and_eq(&mut self, column: &'static str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.sql.push_str(&format!(" AND {column} = "));
            self.push_bind(v);
        }
        self
    }

    fn and_bool(&mut self, column: &'static str, value: Option<bool>) -> &mut Self {
        if let Some(v) = value {
            self.sql.push_str(&format!(" AND {column} = "));
            self.push_bind(v as i64);
        }
        self
    }

    /// `AND column IN (...)` when the list is set; an empty list matches nothing.
    fn and_in(&mut self, column: &'static str, values: Option<&[String]>) -> &mut Self {
        let Some(values) = values else { return self };
        self.sql.push_str(&format!(" AND {column} IN ("));
        if values.is_empty() {
            // `IN ()` is invalid SQL; NULL matches nothing.
            self.sql.push_str("NULL");
        }
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.push_bind(v.as_str());
        }
        self.sql.push(')');
        self
    }

    fn ordered_by(self, columns: &'static str) -> Result<Query<'static, Any, AnyArguments>, sqlx::Error> {
        if let Some(e) = self.unencodable {
            return Err(sqlx::Error::Encode(e));
        }
        let sql = format!("{} ORDER BY {columns}", self.sql);
        Ok(sqlx::query_with(AssertSqlSafe(sql), self.args))
    }
}

/// A column holding one of a closed set of strings (a `model` enum); anything else is corrupt.
fn named<T>(row: &AnyRow, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: format!("unknown value {text:?}").into(),
    })
}

fn flag(row: &AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

#[cfg(test)]
mod tests {
    use sqlx::{Arguments, Execute};

    use super::{Filter, SqlStore};

    /// Every pooled SQLite connection commits durably (2 = FULL), the embedded default
    /// included: an acknowledged revocation must survive a crash of the machine.
    #[tokio::test]
    async fn sqlite_commits_are_durable_on_every_connection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/fedgate.db", dir.path().display());
        let store = SqlStore::connect(&url).await.expect("store");
        let mut held = Vec::new();
        for _ in 0..4 {
            let mut conn = store.pool.acquire().await.expect("connection");
            let (level,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await
                .expect("pragma");
            assert_eq!(level, 2, "synchronous on a pooled connection");
            held.push(conn);
        }
    }

    /// Adds a case's conditions.
    type Conditions = fn(&mut Filter);

    #[test]
    fn filters_number_their_placeholders() {
        let cases: [(Conditions, &str, usize); 4] = [
            (|_| {}, "SELECT * FROM t WHERE 1 = 1 ORDER BY id", 0),
            (
                |f| {
                    f.and_eq("a", Some("x")).and_eq("b", None).and_bool("c", Some(true));
                },
                "SELECT * FROM t WHERE 1 = 1 AND a = $1 AND c = $2 ORDER BY id",
                2,
            ),
            (
                |f| {
                    f.and_in("id", Some(&[])).and_in("other", None);
                },
                "SELECT * FROM t WHERE 1 = 1 AND id IN (NULL) ORDER BY id",
                0,
            ),
            (
                |f| {
                    f.and_eq("a", Some("x"))
                        .and_in("id", Some(&["a".to_string(), "b".to_string()]));
                },
                "SELECT * FROM t WHERE 1 = 1 AND a = $1 AND id IN ($2, $3) ORDER BY id",
                3,
            ),
        ];
        for (build, sql, binds) in cases {
            let mut filter = Filter::new("SELECT * FROM t");
            build(&mut filter);
            let mut query = filter.ordered_by("id").unwrap();
            let args = query.take_arguments().unwrap().unwrap();
            assert_eq!(args.len(), binds, "{sql}");
            assert_eq!(query.sql().as_str(), sql);
        }
    }
}
