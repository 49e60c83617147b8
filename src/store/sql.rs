//! `SqlStore`: every store trait in portable SQL over `sqlx::Any`.
//!
//! Placeholders are `$N` (SQLite accepts them too), booleans are 0/1 integers and instants are
//! Unix milliseconds, so one statement text serves both backends.

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::postgres::PgPoolOptions;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
// Dynamic statements are assembled only from constant fragments and `$N` placeholders; every
// value is bound, so they are safe to assert as such.
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor, Row};

use super::*;
use crate::model::*;

mod access_keys;
mod domains;

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
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            // Per-connection settings: the Any driver builds SQLite connections from the URL.
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")
                        .await?;
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

/// Values bound to a dynamically built statement.
enum Val {
    Text(String),
    Int(i64),
}

/// A statement built piece by piece with `$N` placeholders.
struct Sql {
    text: String,
    vals: Vec<Val>,
}

impl Sql {
    fn new(text: &str) -> Self {
        Self {
            text: text.to_string(),
            vals: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    fn text(&mut self, v: &str) -> &mut Self {
        self.vals.push(Val::Text(v.to_string()));
        let n = self.vals.len();
        self.text.push_str(&format!("${n}"));
        self
    }

    fn int(&mut self, v: i64) -> &mut Self {
        self.vals.push(Val::Int(v));
        let n = self.vals.len();
        self.text.push_str(&format!("${n}"));
        self
    }

    fn list(&mut self, items: &[String]) -> &mut Self {
        if items.is_empty() {
            // `IN ()` is invalid SQL; NULL matches nothing.
            self.push("(NULL)");
            return self;
        }
        self.push("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(item);
        }
        self.push(")")
    }

    /// Appends `AND column = $N` when the value is set.
    fn and_eq(&mut self, column: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.push(" AND ").push(column).push(" = ").text(v);
        }
        self
    }

    fn and_bool(&mut self, column: &str, value: Option<bool>) -> &mut Self {
        if let Some(v) = value {
            self.push(" AND ").push(column).push(" = ").int(v as i64);
        }
        self
    }

    fn query(&self) -> Query<'_, Any, AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.text.clone()));
        for v in &self.vals {
            q = match v {
                Val::Text(s) => q.bind(s.clone()),
                Val::Int(i) => q.bind(*i),
            };
        }
        q
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

fn domain_from(row: &AnyRow) -> Result<Domain, sqlx::Error> {
    Ok(Domain {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        enabled: flag(row, "enabled")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

fn project_from(row: &AnyRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        enabled: flag(row, "enabled")?,
        parent_id: row.try_get("parent_id")?,
        status: named(row, "status", ProjectStatus::parse)?,
        created_at_ms: row.try_get("created_at")?,
    })
}

const USER_COLUMNS: &str = "id, domain_id, name, password_hash, enabled, description, email, areacode, phone, \
     access_mode, pwd_status, xuser_type, xuser_id, password_expires_at, last_project_id, is_domain_owner, \
     created_at, updated_at, password_changed_at, last_login_at";

fn user_from(row: &AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        enabled: flag(row, "enabled")?,
        description: row.try_get("description")?,
        email: row.try_get("email")?,
        areacode: row.try_get("areacode")?,
        phone: row.try_get("phone")?,
        access_mode: named(row, "access_mode", UserAccessMode::parse)?,
        pwd_status: flag(row, "pwd_status")?,
        xuser_type: row.try_get("xuser_type")?,
        xuser_id: row.try_get("xuser_id")?,
        password_expires_at_ms: row.try_get("password_expires_at")?,
        last_project_id: row.try_get("last_project_id")?,
        is_domain_owner: flag(row, "is_domain_owner")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
        password_changed_at_ms: row.try_get("password_changed_at")?,
        last_login_at_ms: row.try_get("last_login_at")?,
    })
}

fn group_from(row: &AnyRow) -> Result<Group, sqlx::Error> {
    Ok(Group {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

fn role_from(row: &AnyRow) -> Result<Role, sqlx::Error> {
    Ok(Role {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        role_type: row.try_get("role_type")?,
        catalog: row.try_get("catalog")?,
        flag: row.try_get("flag")?,
        description: row.try_get("description")?,
        domain_id: row.try_get("domain_id")?,
        policy: row.try_get("policy")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

fn grant_from(row: &AnyRow) -> Result<Grant, sqlx::Error> {
    let actor: String = row.try_get("actor_kind")?;
    let target: String = row.try_get("target_kind")?;
    let corrupt = |what: &str| sqlx::Error::Decode(format!("unknown {what} in grants").into());
    Ok(Grant {
        actor_kind: match actor.as_str() {
            "group" => ActorKind::Group,
            "agency" => ActorKind::Agency,
            _ => return Err(corrupt("actor_kind")),
        },
        actor_id: row.try_get("actor_id")?,
        role_id: row.try_get("role_id")?,
        target_kind: match target.as_str() {
            "domain" => TargetKind::Domain,
            "project" => TargetKind::Project,
            _ => return Err(corrupt("target_kind")),
        },
        target_id: row.try_get("target_id")?,
        inherited: flag(row, "inherited")?,
    })
}

fn agency_from(row: &AnyRow) -> Result<Agency, sqlx::Error> {
    Ok(Agency {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        name: row.try_get("name")?,
        trust_domain_id: row.try_get("trust_domain_id")?,
        description: row.try_get("description")?,
        duration: row.try_get("duration")?,
        expire_at_ms: row.try_get("expire_at")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

#[async_trait]
impl DomainStore for SqlStore {
    async fn create_domain(&self, d: &Domain) -> StoreResult<()> {
        sqlx::query("INSERT INTO domains (id, name, description, enabled, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(d.id.clone())
            .bind(d.name.clone())
            .bind(d.description.clone())
            .bind(d.enabled as i64)
            .bind(d.created_at_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "domain"))?;
        Ok(())
    }

    async fn get_domain(&self, id: &str) -> StoreResult<Option<Domain>> {
        let row = sqlx::query("SELECT * FROM domains WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(domain_from).transpose()?)
    }

    async fn get_domain_by_name(&self, name: &str) -> StoreResult<Option<Domain>> {
        let row = sqlx::query("SELECT * FROM domains WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(domain_from).transpose()?)
    }

    async fn list_domains(&self) -> StoreResult<Vec<Domain>> {
        let rows = sqlx::query("SELECT * FROM domains ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(domain_from).collect::<Result<_, _>>()?)
    }

    async fn update_domain(&self, domain: &Domain) -> StoreResult<bool> {
        domains::update_domain(self, domain).await
    }

    async fn delete_domain(&self, id: &str) -> StoreResult<bool> {
        domains::delete_domain(self, id).await
    }
}

#[async_trait]
impl ProjectStore for SqlStore {
    async fn create_project(&self, p: &Project) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO projects (id, domain_id, name, description, enabled, parent_id, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(p.id.clone())
        .bind(p.domain_id.clone())
        .bind(p.name.clone())
        .bind(p.description.clone())
        .bind(p.enabled as i64)
        .bind(p.parent_id.clone())
        .bind(p.status.as_str())
        .bind(p.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "project"))?;
        Ok(())
    }

    async fn get_project(&self, id: &str) -> StoreResult<Option<Project>> {
        let row = sqlx::query("SELECT * FROM projects WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(project_from).transpose()?)
    }

    async fn get_project_by_name(&self, domain_id: &str, name: &str) -> StoreResult<Option<Project>> {
        let row = sqlx::query("SELECT * FROM projects WHERE domain_id = $1 AND name = $2")
            .bind(domain_id.to_string())
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(project_from).transpose()?)
    }

    async fn list_projects(&self, f: &ProjectFilter) -> StoreResult<Vec<Project>> {
        let mut sql = Sql::new("SELECT * FROM projects WHERE 1 = 1");
        sql.and_eq("domain_id", f.domain_id.as_deref())
            .and_eq("name", f.name.as_deref())
            .and_eq("parent_id", f.parent_id.as_deref())
            .and_bool("enabled", f.enabled);
        if let Some(ids) = &f.ids {
            sql.push(" AND id IN ").list(ids);
        }
        sql.push(" ORDER BY name, id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(project_from).collect::<Result<_, _>>()?)
    }

    async fn update_project(&self, p: &Project) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE projects SET name = $2, description = $3, enabled = $4, status = $5 WHERE id = $1")
                .bind(p.id.clone())
                .bind(p.name.clone())
                .bind(p.description.clone())
                .bind(p.enabled as i64)
                .bind(p.status.as_str())
                .execute(&self.pool)
                .await
                .map_err(|e| write_error(e, "project"))?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, u: &User) -> StoreResult<()> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users ({USER_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        )))
        .bind(u.id.clone())
        .bind(u.domain_id.clone())
        .bind(u.name.clone())
        .bind(u.password_hash.clone())
        .bind(u.enabled as i64)
        .bind(u.description.clone())
        .bind(u.email.clone())
        .bind(u.areacode.clone())
        .bind(u.phone.clone())
        .bind(u.access_mode.as_str())
        .bind(u.pwd_status as i64)
        .bind(u.xuser_type.clone())
        .bind(u.xuser_id.clone())
        .bind(u.password_expires_at_ms)
        .bind(u.last_project_id.clone())
        .bind(u.is_domain_owner as i64)
        .bind(u.created_at_ms)
        .bind(u.updated_at_ms)
        .bind(u.password_changed_at_ms)
        .bind(u.last_login_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "user"))?;
        Ok(())
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn get_user_by_name(&self, domain_id: &str, name: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE domain_id = $1 AND name = $2"
        )))
        .bind(domain_id.to_string())
        .bind(name.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn get_user_by_external_id(
        &self,
        domain_id: &str,
        xuser_type: &str,
        xuser_id: &str,
    ) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE domain_id = $1 AND xuser_type = $2 AND xuser_id = $3"
        )))
        .bind(domain_id.to_string())
        .bind(xuser_type.to_string())
        .bind(xuser_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn list_users(&self, f: &UserFilter) -> StoreResult<Vec<User>> {
        let mut sql = Sql::new(&format!("SELECT {USER_COLUMNS} FROM users WHERE 1 = 1"));
        sql.and_eq("domain_id", f.domain_id.as_deref())
            .and_eq("name", f.name.as_deref())
            .and_bool("enabled", f.enabled)
            .push(" ORDER BY name, id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    async fn update_user(&self, u: &User) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE users SET name = $2, password_hash = $3, enabled = $4, description = $5, email = $6, \
             areacode = $7, phone = $8, access_mode = $9, pwd_status = $10, xuser_type = $11, xuser_id = $12, \
             password_expires_at = $13, last_project_id = $14, updated_at = $15, password_changed_at = $16, \
             last_login_at = $17 WHERE id = $1",
        )
        .bind(u.id.clone())
        .bind(u.name.clone())
        .bind(u.password_hash.clone())
        .bind(u.enabled as i64)
        .bind(u.description.clone())
        .bind(u.email.clone())
        .bind(u.areacode.clone())
        .bind(u.phone.clone())
        .bind(u.access_mode.as_str())
        .bind(u.pwd_status as i64)
        .bind(u.xuser_type.clone())
        .bind(u.xuser_id.clone())
        .bind(u.password_expires_at_ms)
        .bind(u.last_project_id.clone())
        .bind(u.updated_at_ms)
        .bind(u.password_changed_at_ms)
        .bind(u.last_login_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "user"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "user"))?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(&self, g: &Group) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_groups (id, domain_id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(g.id.clone())
        .bind(g.domain_id.clone())
        .bind(g.name.clone())
        .bind(g.description.clone())
        .bind(g.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "group"))?;
        Ok(())
    }

    async fn get_group(&self, id: &str) -> StoreResult<Option<Group>> {
        let row = sqlx::query("SELECT * FROM user_groups WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(group_from).transpose()?)
    }

    async fn list_groups(&self, f: &GroupFilter) -> StoreResult<Vec<Group>> {
        let mut sql = Sql::new("SELECT * FROM user_groups WHERE 1 = 1");
        sql.and_eq("domain_id", f.domain_id.as_deref())
            .and_eq("name", f.name.as_deref())
            .push(" ORDER BY name, id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(group_from).collect::<Result<_, _>>()?)
    }

    async fn update_group(&self, g: &Group) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE user_groups SET name = $2, description = $3 WHERE id = $1")
            .bind(g.id.clone())
            .bind(g.name.clone())
            .bind(g.description.clone())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "group"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_group(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM grants WHERE actor_kind = 'group' AND actor_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM user_groups WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_member(&self, group_id: &str, user_id: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(group_id.to_string())
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "membership"))?;
        Ok(())
    }

    async fn remove_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id.to_string())
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn is_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group_id.to_string())
            .bind(user_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn list_members(&self, group_id: &str) -> StoreResult<Vec<User>> {
        let columns = USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {columns} FROM users u JOIN group_members m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.name, u.id"
        )))
        .bind(group_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    async fn list_groups_of_user(&self, user_id: &str) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query(
            "SELECT g.id, g.domain_id, g.name, g.description, g.created_at FROM user_groups g \
             JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name, g.id",
        )
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(group_from).collect::<Result<_, _>>()?)
    }
}

#[async_trait]
impl RoleStore for SqlStore {
    async fn create_role(&self, r: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (id, name, display_name, role_type, catalog, flag, description, domain_id, policy, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(r.id.clone())
        .bind(r.name.clone())
        .bind(r.display_name.clone())
        .bind(r.role_type.clone())
        .bind(r.catalog.clone())
        .bind(r.flag.clone())
        .bind(r.description.clone())
        .bind(r.domain_id.clone())
        .bind(r.policy.clone())
        .bind(r.created_at_ms)
        .bind(r.updated_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "role"))?;
        Ok(())
    }

    async fn get_role(&self, id: &str) -> StoreResult<Option<Role>> {
        let row = sqlx::query("SELECT * FROM roles WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(role_from).transpose()?)
    }

    async fn get_role_by_name(&self, name: &str) -> StoreResult<Option<Role>> {
        let row = sqlx::query("SELECT * FROM roles WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(role_from).transpose()?)
    }

    async fn list_roles(&self) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query("SELECT * FROM roles ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(role_from).collect::<Result<_, _>>()?)
    }
}

fn grant_key(g: &Grant) -> Sql {
    let mut sql = Sql::new("");
    sql.push(" WHERE actor_kind = ")
        .text(g.actor_kind.as_str())
        .push(" AND actor_id = ")
        .text(&g.actor_id)
        .push(" AND role_id = ")
        .text(&g.role_id)
        .push(" AND target_kind = ")
        .text(g.target_kind.as_str())
        .push(" AND target_id = ")
        .text(&g.target_id)
        .push(" AND inherited = ")
        .int(g.inherited as i64);
    sql
}

#[async_trait]
impl GrantStore for SqlStore {
    async fn create_grant(&self, g: &Grant) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO grants (actor_kind, actor_id, role_id, target_kind, target_id, inherited) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(g.actor_kind.as_str().to_string())
        .bind(g.actor_id.clone())
        .bind(g.role_id.clone())
        .bind(g.target_kind.as_str().to_string())
        .bind(g.target_id.clone())
        .bind(g.inherited as i64)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "grant"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_grant(&self, g: &Grant) -> StoreResult<bool> {
        let key = grant_key(g);
        let mut sql = Sql::new("DELETE FROM grants");
        sql.push(&key.text);
        sql.vals = key.vals;
        Ok(sql.query().execute(&self.pool).await?.rows_affected() > 0)
    }

    async fn grant_exists(&self, g: &Grant) -> StoreResult<bool> {
        let key = grant_key(g);
        let mut sql = Sql::new("SELECT 1 AS one FROM grants");
        sql.push(&key.text);
        sql.vals = key.vals;
        Ok(sql.query().fetch_optional(&self.pool).await?.is_some())
    }

    async fn list_grants(&self, f: &GrantFilter) -> StoreResult<Vec<Grant>> {
        let mut sql = Sql::new("SELECT * FROM grants WHERE 1 = 1");
        sql.and_eq("actor_kind", f.actor_kind.map(ActorKind::as_str))
            .and_eq("role_id", f.role_id.as_deref())
            .and_eq("target_kind", f.target_kind.map(TargetKind::as_str))
            .and_bool("inherited", f.inherited);
        if let Some(ids) = &f.actor_ids {
            sql.push(" AND actor_id IN ").list(ids);
        }
        if let Some(ids) = &f.target_ids {
            sql.push(" AND target_id IN ").list(ids);
        }
        sql.push(" ORDER BY actor_kind, actor_id, target_kind, target_id, role_id, inherited");
        let rows = sql.query().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(grant_from).collect::<Result<_, _>>()?)
    }
}

#[async_trait]
impl AgencyStore for SqlStore {
    async fn create_agency(&self, a: &Agency) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agencies (id, domain_id, name, trust_domain_id, description, duration, expire_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(a.id.clone())
        .bind(a.domain_id.clone())
        .bind(a.name.clone())
        .bind(a.trust_domain_id.clone())
        .bind(a.description.clone())
        .bind(a.duration.clone())
        .bind(a.expire_at_ms)
        .bind(a.created_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "agency"))?;
        Ok(())
    }

    async fn get_agency(&self, id: &str) -> StoreResult<Option<Agency>> {
        let row = sqlx::query("SELECT * FROM agencies WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(agency_from).transpose()?)
    }

    async fn list_agencies(&self, f: &AgencyFilter) -> StoreResult<Vec<Agency>> {
        let mut sql = Sql::new("SELECT * FROM agencies WHERE 1 = 1");
        sql.and_eq("domain_id", f.domain_id.as_deref())
            .and_eq("name", f.name.as_deref())
            .and_eq("trust_domain_id", f.trust_domain_id.as_deref())
            .push(" ORDER BY name, id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(agency_from).collect::<Result<_, _>>()?)
    }

    async fn update_agency(&self, a: &Agency) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE agencies SET trust_domain_id = $2, description = $3, duration = $4, expire_at = $5 WHERE id = $1",
        )
        .bind(a.id.clone())
        .bind(a.trust_domain_id.clone())
        .bind(a.description.clone())
        .bind(a.duration.clone())
        .bind(a.expire_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "agency"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_agency(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM grants WHERE actor_kind = 'agency' AND actor_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM agencies WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl RevocationStore for SqlStore {
    async fn insert_revocation(&self, e: &StoredRevocation) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO revocation_events (kind, subject, issued_before, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(e.kind.clone())
        .bind(e.subject.clone())
        .bind(e.authenticated_before_ms)
        .bind(e.expires_at_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn list_revocations(&self, after: i64, now_ms: i64) -> StoreResult<Vec<(i64, StoredRevocation)>> {
        let rows = sqlx::query(
            "SELECT id, kind, subject, issued_before, expires_at FROM revocation_events \
             WHERE id > $1 AND expires_at > $2 ORDER BY id",
        )
        .bind(after)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    StoredRevocation {
                        kind: r.try_get("kind")?,
                        subject: r.try_get("subject")?,
                        authenticated_before_ms: r.try_get("issued_before")?,
                        expires_at_ms: r.try_get("expires_at")?,
                    },
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    async fn prune_revocations(&self, now_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM revocation_events WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn list_token_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let rows = sqlx::query("SELECT id, secret, created_at FROM token_keys ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                Ok(StoredKey {
                    id: u32::try_from(id).map_err(|_| StoreError::Corrupt(format!("token key id {id}")))?,
                    secret: r.try_get("secret")?,
                    created_at_ms: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn insert_token_key(&self, k: &StoredKey) -> StoreResult<()> {
        sqlx::query("INSERT INTO token_keys (id, secret, created_at) VALUES ($1, $2, $3)")
            .bind(i64::from(k.id))
            .bind(k.secret.clone())
            .bind(k.created_at_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "token key"))?;
        Ok(())
    }

    async fn delete_token_keys_before(&self, keep_from: u32) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM token_keys WHERE id < $1 AND id < (SELECT MAX(id) FROM token_keys)")
            .bind(i64::from(keep_from))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

fn mapping_from(row: &AnyRow) -> Result<MappingRecord, sqlx::Error> {
    Ok(MappingRecord {
        id: row.try_get("id")?,
        domain_id: row.try_get("domain_id")?,
        document: row.try_get("document")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

fn protocol_from(row: &AnyRow) -> Result<ProtocolRecord, sqlx::Error> {
    Ok(ProtocolRecord {
        idp_id: row.try_get("idp_id")?,
        id: named(row, "id", Protocol::parse)?,
        mapping_id: row.try_get("mapping_id")?,
    })
}

impl SqlStore {
    async fn idp_from(&self, row: &AnyRow) -> StoreResult<IdentityProvider> {
        let id: String = row.try_get("id")?;
        let remote_ids = sqlx::query("SELECT remote_id FROM idp_remote_ids WHERE idp_id = $1 ORDER BY remote_id")
            .bind(id.clone())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("remote_id"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(IdentityProvider {
            id,
            domain_id: row.try_get("domain_id")?,
            sso_type: named(row, "sso_type", SsoType::parse)?,
            description: row.try_get("description")?,
            enabled: flag(row, "enabled")?,
            remote_ids,
            created_at_ms: row.try_get("created_at")?,
        })
    }
}

#[async_trait]
impl FederationStore for SqlStore {
    async fn create_idp(&self, idp: &IdentityProvider) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            // Serialises provider creation per account, so the kind check below sees every
            // committed provider (SQLite runs one write at a time anyway).
            sqlx::query("SELECT id FROM domains WHERE id = $1 FOR UPDATE")
                .bind(idp.domain_id.clone())
                .fetch_optional(&mut *tx)
                .await?;
        }
        // The reference (L16930): virtual_user_sso and iam_user_sso are exclusive within an
        // account, and it has at most one iam_user_sso provider.
        let done = sqlx::query(
            "INSERT INTO identity_providers (id, domain_id, sso_type, description, enabled, created_at) \
             SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM identity_providers \
             WHERE domain_id = $2 AND (sso_type = 'iam_user_sso' OR $3 = 'iam_user_sso'))",
        )
        .bind(idp.id.clone())
        .bind(idp.domain_id.clone())
        .bind(idp.sso_type.as_str())
        .bind(idp.description.clone())
        .bind(idp.enabled as i64)
        .bind(idp.created_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "identity provider"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(SSO_TYPE_CONFLICT.into()));
        }
        for remote in &idp.remote_ids {
            sqlx::query("INSERT INTO idp_remote_ids (remote_id, idp_id) VALUES ($1, $2)")
                .bind(remote.clone())
                .bind(idp.id.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| write_error(e, "remote id"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_idp(&self, id: &str) -> StoreResult<Option<IdentityProvider>> {
        let row = sqlx::query("SELECT * FROM identity_providers WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(self.idp_from(&r).await?)),
            None => Ok(None),
        }
    }

    async fn list_idps(&self) -> StoreResult<Vec<IdentityProvider>> {
        let rows = sqlx::query("SELECT * FROM identity_providers ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.idp_from(r).await?);
        }
        Ok(out)
    }

    async fn update_idp(&self, idp: &IdentityProvider, was_enabled: bool) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE identity_providers SET description = $2, enabled = $3 WHERE id = $1 AND enabled = $4")
                .bind(idp.id.clone())
                .bind(idp.description.clone())
                .bind(idp.enabled as i64)
                .bind(was_enabled as i64)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM idp_remote_ids WHERE idp_id = $1")
            .bind(idp.id.clone())
            .execute(&mut *tx)
            .await?;
        for remote in &idp.remote_ids {
            sqlx::query("INSERT INTO idp_remote_ids (remote_id, idp_id) VALUES ($1, $2)")
                .bind(remote.clone())
                .bind(idp.id.clone())
                .execute(&mut *tx)
                .await
                .map_err(|e| write_error(e, "remote id"))?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_idp(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM identity_providers WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_mapping(&self, m: &MappingRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO mappings (id, domain_id, document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(m.id.clone())
        .bind(m.domain_id.clone())
        .bind(m.document.clone())
        .bind(m.created_at_ms)
        .bind(m.updated_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "mapping"))?;
        Ok(())
    }

    async fn get_mapping(&self, id: &str) -> StoreResult<Option<MappingRecord>> {
        let row = sqlx::query("SELECT * FROM mappings WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(mapping_from).transpose()?)
    }

    async fn list_mappings(&self) -> StoreResult<Vec<MappingRecord>> {
        let rows = sqlx::query("SELECT * FROM mappings ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(mapping_from).collect::<Result<_, _>>()?)
    }

    async fn update_mapping(&self, m: &MappingRecord) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE mappings SET document = $2, updated_at = $3 WHERE id = $1")
            .bind(m.id.clone())
            .bind(m.document.clone())
            .bind(m.updated_at_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_mapping(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let used = sqlx::query("SELECT 1 AS one FROM federation_protocols WHERE mapping_id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if used.is_some() {
            return Err(StoreError::Conflict(format!("mapping {id} is used by a protocol")));
        }
        let done = sqlx::query("DELETE FROM mappings WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "mapping"))?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_protocol(&self, p: &ProtocolRecord) -> StoreResult<()> {
        sqlx::query("INSERT INTO federation_protocols (idp_id, id, mapping_id) VALUES ($1, $2, $3)")
            .bind(p.idp_id.clone())
            .bind(p.id.as_str())
            .bind(p.mapping_id.clone())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "protocol"))?;
        Ok(())
    }

    async fn get_protocol(&self, idp_id: &str, id: Protocol) -> StoreResult<Option<ProtocolRecord>> {
        let row = sqlx::query("SELECT * FROM federation_protocols WHERE idp_id = $1 AND id = $2")
            .bind(idp_id.to_string())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(protocol_from).transpose()?)
    }

    async fn list_protocols(&self, idp_id: &str) -> StoreResult<Vec<ProtocolRecord>> {
        let rows = sqlx::query("SELECT * FROM federation_protocols WHERE idp_id = $1 ORDER BY id")
            .bind(idp_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(protocol_from).collect::<Result<_, _>>()?)
    }

    async fn update_protocol(&self, p: &ProtocolRecord) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE federation_protocols SET mapping_id = $3 WHERE idp_id = $1 AND id = $2")
            .bind(p.idp_id.clone())
            .bind(p.id.as_str())
            .bind(p.mapping_id.clone())
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "protocol"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_oidc_config(&self, idp_id: &str, config: &str, now_ms: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO idp_oidc_configs (idp_id, config, created_at, updated_at) VALUES ($1, $2, $3, $3)")
            .bind(idp_id.to_string())
            .bind(config.to_string())
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "OpenID Connect configuration"))?;
        Ok(())
    }

    async fn update_oidc_config(&self, idp_id: &str, config: &str, now_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE idp_oidc_configs SET config = $2, updated_at = $3 WHERE idp_id = $1")
            .bind(idp_id.to_string())
            .bind(config.to_string())
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn get_oidc_config(&self, idp_id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT config FROM idp_oidc_configs WHERE idp_id = $1")
            .bind(idp_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("config")).transpose()?)
    }

    async fn put_saml_metadata(&self, m: &StoredSamlMetadata) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM idp_saml_metadata WHERE idp_id = $1 AND protocol_id = $2")
            .bind(m.idp_id.clone())
            .bind(m.protocol_id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO idp_saml_metadata (idp_id, protocol_id, id, domain_id, xaccount_type, entity_id, data, \
             parsed, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(m.idp_id.clone())
        .bind(m.protocol_id.as_str())
        .bind(m.id.clone())
        .bind(m.domain_id.clone())
        .bind(m.xaccount_type.clone())
        .bind(m.entity_id.clone())
        .bind(m.data.clone())
        .bind(m.parsed.clone())
        .bind(m.updated_at_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| write_error(e, "metadata"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_saml_metadata(&self, idp_id: &str, protocol_id: Protocol) -> StoreResult<Option<StoredSamlMetadata>> {
        let row = sqlx::query("SELECT * FROM idp_saml_metadata WHERE idp_id = $1 AND protocol_id = $2")
            .bind(idp_id.to_string())
            .bind(protocol_id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredSamlMetadata {
            idp_id: r.try_get("idp_id")?,
            protocol_id: named(&r, "protocol_id", Protocol::parse)?,
            id: r.try_get("id")?,
            domain_id: r.try_get("domain_id")?,
            xaccount_type: r.try_get("xaccount_type")?,
            entity_id: r.try_get("entity_id")?,
            data: r.try_get("data")?,
            parsed: r.try_get("parsed")?,
            updated_at_ms: r.try_get("updated_at")?,
        }))
    }

    async fn get_sp_key(&self, usage: &str) -> StoreResult<Option<StoredSpKey>> {
        let row = sqlx::query("SELECT * FROM sp_keys WHERE usage = $1")
            .bind(usage.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(StoredSpKey {
            usage: r.try_get("usage")?,
            private_key: r.try_get("private_key")?,
            certificate: r.try_get("certificate")?,
            created_at_ms: r.try_get("created_at")?,
        }))
    }

    async fn insert_sp_key(&self, k: &StoredSpKey) -> StoreResult<()> {
        sqlx::query("INSERT INTO sp_keys (usage, private_key, certificate, created_at) VALUES ($1, $2, $3, $4)")
            .bind(k.usage.clone())
            .bind(k.private_key.clone())
            .bind(k.certificate.clone())
            .bind(k.created_at_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| write_error(e, "SP key"))?;
        Ok(())
    }

    async fn record_federated_login(&self, u: &FederatedUser) -> StoreResult<FederatedUser> {
        let queue = self.hot_write().await;
        sqlx::query(
            "INSERT INTO federated_users (id, idp_id, protocol_id, name, domain_id, enabled, created_at, last_login_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET protocol_id = $3, last_login_at = $8",
        )
        .bind(u.id.clone())
        .bind(u.idp_id.clone())
        .bind(u.protocol_id.as_str())
        .bind(u.name.clone())
        .bind(u.domain_id.clone())
        .bind(u.enabled as i64)
        .bind(u.created_at_ms)
        .bind(u.last_login_at_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| write_error(e, "federated user"))?;
        drop(queue);
        let r = sqlx::query("SELECT * FROM federated_users WHERE id = $1")
            .bind(u.id.clone())
            .fetch_one(&self.pool)
            .await?;
        federated_user(&r)
    }

    async fn list_federated_users(&self, idp_id: &str) -> StoreResult<Vec<FederatedUser>> {
        let rows = sqlx::query("SELECT * FROM federated_users WHERE idp_id = $1 ORDER BY name")
            .bind(idp_id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(federated_user).collect()
    }

    async fn get_federated_user(&self, id: &str) -> StoreResult<Option<FederatedUser>> {
        let row = sqlx::query("SELECT * FROM federated_users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(federated_user).transpose()
    }

    async fn set_federated_user_enabled(&self, id: &str, enabled: bool) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE federated_users SET enabled = $1 WHERE id = $2")
            .bind(enabled as i64)
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_protocol(&self, idp_id: &str, id: Protocol) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM federation_protocols WHERE idp_id = $1 AND id = $2")
            .bind(idp_id.to_string())
            .bind(id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// The conflict `create_idp` reports when the account's providers are of the other kind.
pub const SSO_TYPE_CONFLICT: &str = "sso_type";

fn federated_user(r: &sqlx::any::AnyRow) -> StoreResult<FederatedUser> {
    Ok(FederatedUser {
        id: r.try_get("id")?,
        idp_id: r.try_get("idp_id")?,
        protocol_id: named(r, "protocol_id", Protocol::parse)?,
        name: r.try_get("name")?,
        domain_id: r.try_get("domain_id")?,
        enabled: flag(r, "enabled")?,
        created_at_ms: r.try_get("created_at")?,
        last_login_at_ms: r.try_get("last_login_at")?,
    })
}

#[async_trait]
impl OneTimeStore for SqlStore {
    async fn remember_once(&self, namespace: &str, value: &str, expires_at_ms: i64, now_ms: i64) -> StoreResult<bool> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let closed = || StoreError::Database(sqlx::Error::PoolClosed);
        self.one_time
            .send(super::one_time_batch::Pending {
                namespace: namespace.to_string(),
                value: value.to_string(),
                expires_at_ms,
                now_ms,
                reply,
            })
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    async fn take_once(&self, namespace: &str, value: &str, now_ms: i64) -> StoreResult<bool> {
        let _queue = self.hot_write().await;
        let done = sqlx::query("DELETE FROM one_time_values WHERE namespace = $1 AND value = $2 AND expires_at > $3")
            .bind(namespace.to_string())
            .bind(value.to_string())
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn was_used(&self, namespace: &str, value: &str, now_ms: i64) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 FROM one_time_values WHERE namespace = $1 AND value = $2 AND expires_at > $3")
            .bind(namespace.to_string())
            .bind(value.to_string())
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn prune_one_time_values(&self, now_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM one_time_values WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

fn login_failures_from(row: &AnyRow) -> Result<LoginFailures, sqlx::Error> {
    Ok(LoginFailures {
        user_id: row.try_get("user_id")?,
        failures: row.try_get("failures")?,
        window_started_at_ms: row.try_get("window_started_at")?,
        locked_until_ms: row.try_get("locked_until")?,
    })
}

/// A new count starts when the window has passed or a lock has run out ($2 now, $3 window).
const FAILURE_COUNT_RESETS: &str = "(login_failures.window_started_at <= $2 - $3 OR login_failures.locked_until <= $2)";

#[async_trait]
impl LoginFailureStore for SqlStore {
    async fn get_login_failures(&self, user_id: &str) -> StoreResult<Option<LoginFailures>> {
        let row = sqlx::query(
            "SELECT user_id, failures, window_started_at, locked_until FROM login_failures WHERE user_id = $1",
        )
        .bind(user_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(login_failures_from).transpose()?)
    }

    async fn record_login_failure(
        &self,
        user_id: &str,
        now_ms: i64,
        policy: &LockoutPolicy,
    ) -> StoreResult<LoginFailures> {
        // One statement, so replicas counting the same user at once never lose a failure. The
        // SET expressions all read the row as it was before the update (SQLite and PostgreSQL).
        let reset = FAILURE_COUNT_RESETS;
        let counted = format!("(CASE WHEN {reset} THEN 1 ELSE login_failures.failures + 1 END)");
        let sql = format!(
            "INSERT INTO login_failures (user_id, failures, window_started_at, locked_until) \
             VALUES ($1, 1, $2, CASE WHEN 1 >= $4 THEN $2 + $5 ELSE NULL END) \
             ON CONFLICT (user_id) DO UPDATE SET \
             failures = {counted}, \
             window_started_at = CASE WHEN {reset} THEN $2 ELSE login_failures.window_started_at END, \
             locked_until = CASE WHEN login_failures.locked_until > $2 THEN login_failures.locked_until \
             WHEN {counted} >= $4 THEN $2 + $5 ELSE NULL END \
             RETURNING user_id, failures, window_started_at, locked_until"
        );
        let _queue = self.hot_write().await;
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(user_id.to_string())
            .bind(now_ms)
            .bind(policy.window_ms)
            .bind(policy.max_failures)
            .bind(policy.lockout_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| write_error(e, "login failure"))?;
        Ok(login_failures_from(&row)?)
    }

    async fn clear_login_failures(&self, user_id: &str) -> StoreResult<bool> {
        let _queue = self.hot_write().await;
        let done = sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
