//! Runtime configuration: command-line flags win over `FEDGATE_*` environment variables (clap
//! reads both), which win over `fedgate.toml`, which wins over built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::egress::EgressPolicy;
use crate::model::LockoutPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Options shared by `serve`, `bootstrap` and `keys`, as they arrive from clap.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StoreArgs {
    /// Directory for the embedded SQLite database and generated files.
    #[arg(long, env = "FEDGATE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Shared store for several replicas, e.g. postgres://user@host/db. Default: SQLite in
    /// the data directory.
    #[arg(long, env = "FEDGATE_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Configuration file. Default: fedgate.toml in the working directory, if present.
    #[arg(long, env = "FEDGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "FEDGATE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// URL clients use to reach this gateway (links, catalog, SAML entityID).
    #[arg(long, env = "FEDGATE_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Log format.
    #[arg(long, env = "FEDGATE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Largest accepted request body in bytes.
    #[arg(long, env = "FEDGATE_BODY_LIMIT", value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Seconds before a request is abandoned.
    #[arg(long, env = "FEDGATE_REQUEST_TIMEOUT", value_name = "SECONDS")]
    pub request_timeout: Option<u64>,
    /// Token lifetime in seconds.
    #[arg(long, env = "FEDGATE_TOKEN_TTL", value_name = "SECONDS")]
    pub token_ttl: Option<i64>,
    /// How often revocation events and token keys are re-read from the shared store.
    #[arg(long, env = "FEDGATE_REFRESH_INTERVAL_MS", value_name = "MILLISECONDS")]
    pub refresh_interval_ms: Option<u64>,
    /// Hear other replicas' revocations and changes at once (PostgreSQL LISTEN; default true).
    /// Off behind a transaction-pooling PgBouncer, which cannot LISTEN: replicas then learn
    /// of them at their next refresh.
    #[arg(long, env = "FEDGATE_CHANGE_FEED", value_name = "BOOL")]
    pub change_feed: Option<bool>,
    /// A dashboard URL that browser sign-in (WebSSO) may post tokens to; repeat for several.
    #[arg(
        long = "trusted-dashboard",
        env = "FEDGATE_TRUSTED_DASHBOARDS",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub trusted_dashboards: Vec<String>,
    /// An address range (CIDR) or host name fedgate may fetch from although the egress policy
    /// refuses it (private, loopback, link-local ...); repeat for several.
    #[arg(
        long = "egress-allow",
        env = "FEDGATE_EGRESS_ALLOW",
        value_delimiter = ',',
        value_name = "CIDR|HOST"
    )]
    pub egress_allow: Vec<String>,
    /// The 32-byte key that seals permanent access keys' secrets in the store. Replicas
    /// sharing a store share this file. Default: credential.key in the data directory,
    /// created at first start.
    #[arg(long, env = "FEDGATE_CREDENTIAL_KEY_FILE", value_name = "FILE")]
    pub credential_key_file: Option<PathBuf>,
    /// File the audit events (CADF JSON, one a line) are appended to. Default: the log,
    /// target `audit`, at info level.
    #[arg(long, env = "FEDGATE_AUDIT_LOG", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
}

/// `fedgate.toml`: every serve option plus what only a file can express (the catalog).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub log_format: Option<LogFormat>,
    pub body_limit: Option<usize>,
    pub request_timeout: Option<u64>,
    pub token_ttl: Option<i64>,
    pub refresh_interval_ms: Option<u64>,
    pub change_feed: Option<bool>,
    pub admin_domain: Option<String>,
    pub admin_project: Option<String>,
    pub credential_key_file: Option<PathBuf>,
    pub audit_log: Option<PathBuf>,
    #[serde(default)]
    pub catalog: CatalogConfig,
    #[serde(default)]
    pub federation: FederationConfig,
    #[serde(default)]
    pub login_policy: LoginPolicyConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub egress: EgressConfig,
}

/// `[login_policy]` in fedgate.toml: the lockout part of the reference's login policy
/// (L14380-14390), with its names and ranges. The policy API itself is not offered, so these
/// are server settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginPolicyConfig {
    /// Failed password logins within the period that lock the user (3-10).
    #[serde(default = "default_login_failed_times")]
    pub login_failed_times: i64,
    /// Minutes in which failures are counted, from the first one (15-60).
    #[serde(default = "default_period_minutes")]
    pub period_within_login_failures: i64,
    /// Minutes a locked user stays locked (15-30).
    #[serde(default = "default_lockout_minutes")]
    pub lockout_duration: i64,
}

impl Default for LoginPolicyConfig {
    fn default() -> Self {
        LoginPolicyConfig {
            login_failed_times: default_login_failed_times(),
            period_within_login_failures: default_period_minutes(),
            lockout_duration: default_lockout_minutes(),
        }
    }
}

// Huawei Cloud's defaults for a new account, inside the reference's ranges.
fn default_login_failed_times() -> i64 {
    5
}

fn default_period_minutes() -> i64 {
    15
}

fn default_lockout_minutes() -> i64 {
    15
}

/// `[limits]` in fedgate.toml: admission control for unauthenticated work (see
/// `service::admission`). Defaults follow the machine's cores.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Password hashes computed at once (argon2: 19 MiB and one core each). Default: cores.
    pub password_hashing: Option<usize>,
    /// Password logins waiting for a hash beyond those. Default: 4 x cores.
    pub password_hashing_queue: Option<usize>,
    /// SAML and OIDC sign-in starts (and unknown SAML Issuers) at once. Default: 4 x cores.
    pub sign_in_starts: Option<usize>,
    /// Sign-in starts waiting beyond those. Default: 8 x cores.
    pub sign_in_starts_queue: Option<usize>,
    /// SAML Responses verified at once (signatures, decryption; up to 256 KiB of XML each).
    /// Default: 2 x cores.
    pub saml_responses: Option<usize>,
    /// Responses waiting beyond those. Default: 8 x cores.
    pub saml_responses_queue: Option<usize>,
}

/// The size of one admission pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    pub permits: usize,
    pub queue: usize,
}

/// Admission pools, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub hashing: PoolLimits,
    pub sign_in: PoolLimits,
    pub signatures: PoolLimits,
}

/// `[egress]` in fedgate.toml: exceptions to the egress policy (`crate::egress`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressConfig {
    /// Address ranges (`10.20.0.0/16`, `fd12::/48`, `192.0.2.7`) and exact host names that
    /// outgoing fetches may reach although they are private, loopback, link-local ...
    #[serde(default)]
    pub allow: Vec<String>,
}

/// `[federation]` in fedgate.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationConfig {
    /// Tolerated clock difference with identity providers, in seconds (SAML conditions,
    /// id_token exp/nbf/iat).
    #[serde(default = "default_skew")]
    pub clock_skew_secs: i64,
    /// Dashboards browser sign-in may post tokens to (Keystone's `trusted_dashboard`).
    #[serde(default)]
    pub trusted_dashboards: Vec<String>,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            clock_skew_secs: default_skew(),
            trusted_dashboards: Vec::new(),
        }
    }
}

fn default_skew() -> i64 {
    60
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// Replaces the default catalog (fedgate itself as `identity`) when not empty.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    #[serde(default)]
    pub regions: Vec<RegionConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub endpoints: Vec<EndpointConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    pub interface: String,
    #[serde(default = "global_region")]
    pub region: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    pub id: String,
    #[serde(default)]
    pub description: String,
}

fn global_region() -> String {
    "*".to_string()
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: SocketAddr,
    pub public_url: String,
    pub log_format: LogFormat,
    pub body_limit: usize,
    pub request_timeout: Duration,
    pub token_ttl_secs: i64,
    pub refresh_interval: Duration,
    /// Listen for other replicas' announcements (`--change-feed`).
    pub change_feed: bool,
    /// Admins of this domain administer every domain.
    pub admin_domain: String,
    /// Admins of the project of this name in `admin_domain` do too (Keystone's
    /// `admin_project_name`), so the bootstrapped admin's project-scoped token keeps working.
    pub admin_project: String,
    pub catalog: CatalogConfig,
    /// Tolerated clock difference with identity providers, in seconds.
    pub clock_skew_secs: i64,
    /// Exact URLs browser sign-in may post tokens to.
    pub trusted_dashboards: Vec<String>,
    /// Password login lockout.
    pub lockout: LockoutPolicy,
    pub limits: Limits,
    /// What outgoing fetches may reach (`[egress] allow` applied).
    pub egress: EgressPolicy,
    /// The key that seals permanent access keys' secrets, kept outside the database.
    pub credential_key_file: PathBuf,
    /// Where audit events are appended; `None`: the log, target `audit`.
    pub audit_log: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("invalid setting {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5000";

impl Config {
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let file = read_file_config(args.store.config.as_deref())?;
        let data_dir = args
            .store
            .data_dir
            .clone()
            .or(file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("fedgate-data"));
        let database_url = args
            .store
            .database_url
            .clone()
            .or(file.database_url.clone())
            .unwrap_or_else(|| sqlite_url(&data_dir));
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("default listen address parses"));
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url.clone())
            .unwrap_or_else(|| format!("http://{listen}"));
        let public_url = public_url.trim_end_matches('/').to_string();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "public_url",
                reason: "must start with http:// or https://".into(),
            });
        }
        let token_ttl_secs = args.token_ttl.or(file.token_ttl).unwrap_or(86_400);
        if !(60..=7 * 86_400).contains(&token_ttl_secs) {
            return Err(ConfigError::Invalid {
                name: "token_ttl",
                reason: "must be between 60 and 604800 seconds".into(),
            });
        }
        if !(0..=300).contains(&file.federation.clock_skew_secs) {
            return Err(ConfigError::Invalid {
                name: "federation.clock_skew_secs",
                reason: "must be between 0 and 300 seconds".into(),
            });
        }
        let lockout = lockout_policy(&file.login_policy)?;
        let limits = limits(&file.limits)?;
        let egress_allow = if args.egress_allow.is_empty() {
            &file.egress.allow
        } else {
            &args.egress_allow
        };
        let egress = EgressPolicy::new(egress_allow).map_err(|reason| ConfigError::Invalid {
            name: "egress.allow",
            reason,
        })?;
        let credential_key_file = args
            .credential_key_file
            .clone()
            .or(file.credential_key_file.clone())
            .unwrap_or_else(|| data_dir.join("credential.key"));
        Ok(Config {
            credential_key_file,
            audit_log: args.audit_log.clone().or(file.audit_log.clone()),
            data_dir,
            database_url,
            listen,
            public_url,
            log_format: args.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            body_limit: args.body_limit.or(file.body_limit).unwrap_or(1024 * 1024),
            request_timeout: Duration::from_secs(args.request_timeout.or(file.request_timeout).unwrap_or(30)),
            token_ttl_secs,
            refresh_interval: Duration::from_millis(
                args.refresh_interval_ms
                    .or(file.refresh_interval_ms)
                    .unwrap_or(5_000)
                    .max(50),
            ),
            change_feed: args.change_feed.or(file.change_feed).unwrap_or(true),
            admin_domain: file.admin_domain.clone().unwrap_or_else(|| "admin".to_string()),
            admin_project: file.admin_project.clone().unwrap_or_else(|| "admin".to_string()),
            clock_skew_secs: file.federation.clock_skew_secs,
            trusted_dashboards: if args.trusted_dashboards.is_empty() {
                file.federation.trusted_dashboards.clone()
            } else {
                args.trusted_dashboards.clone()
            },
            egress,
            catalog: file.catalog,
            lockout,
            limits,
        })
    }

    /// Configuration for commands that only need the store (`bootstrap`, `keys`).
    pub fn for_store(args: &StoreArgs) -> Result<Config, ConfigError> {
        Config::load(&ServeArgs {
            store: args.clone(),
            ..ServeArgs::default()
        })
    }
}

fn in_range(
    name: &'static str,
    value: i64,
    range: std::ops::RangeInclusive<i64>,
    unit: &str,
) -> Result<i64, ConfigError> {
    if range.contains(&value) {
        return Ok(value);
    }
    Err(ConfigError::Invalid {
        name,
        reason: format!("must be between {} and {}{unit}", range.start(), range.end()),
    })
}

/// The reference's ranges (L14384-14386); anything outside them is refused at start.
fn lockout_policy(p: &LoginPolicyConfig) -> Result<LockoutPolicy, ConfigError> {
    const MINUTE_MS: i64 = 60_000;
    let max_failures = in_range("login_policy.login_failed_times", p.login_failed_times, 3..=10, "")?;
    let period = in_range(
        "login_policy.period_within_login_failures",
        p.period_within_login_failures,
        15..=60,
        " minutes",
    )?;
    let lockout = in_range("login_policy.lockout_duration", p.lockout_duration, 15..=30, " minutes")?;
    Ok(LockoutPolicy {
        max_failures,
        window_ms: period * MINUTE_MS,
        lockout_ms: lockout * MINUTE_MS,
    })
}

fn limits(l: &LimitsConfig) -> Result<Limits, ConfigError> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let size = |name: &'static str, value: Option<usize>, default: usize, min: i64| {
        let v = value.unwrap_or(default);
        in_range(name, i64::try_from(v).unwrap_or(i64::MAX), min..=65_536, "").map(|v| v as usize)
    };
    Ok(Limits {
        hashing: PoolLimits {
            permits: size("limits.password_hashing", l.password_hashing, cores, 1)?,
            queue: size("limits.password_hashing_queue", l.password_hashing_queue, 4 * cores, 0)?,
        },
        sign_in: PoolLimits {
            permits: size("limits.sign_in_starts", l.sign_in_starts, 4 * cores, 1)?,
            queue: size("limits.sign_in_starts_queue", l.sign_in_starts_queue, 8 * cores, 0)?,
        },
        signatures: PoolLimits {
            permits: size("limits.saml_responses", l.saml_responses, 2 * cores, 1)?,
            queue: size("limits.saml_responses_queue", l.saml_responses_queue, 8 * cores, 0)?,
        },
    })
}

pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("fedgate.db").display())
}

fn read_file_config(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let default = PathBuf::from("fedgate.toml");
            if !default.exists() {
                return Ok(FileConfig::default());
            }
            default
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fedgate.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:7000\"\npublic_url = \"https://id.example.com/\"\ntoken_ttl = 3600\n",
        )
        .unwrap();
        let mut args = ServeArgs::default();
        args.store.config = Some(file);
        args.token_ttl = Some(600);
        let config = Config::load(&args).unwrap();
        assert_eq!(config.listen.port(), 7000);
        assert_eq!(config.public_url, "https://id.example.com");
        assert_eq!(config.token_ttl_secs, 600);
        assert_eq!(config.body_limit, 1024 * 1024);
    }

    fn load_file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fedgate.toml");
        std::fs::write(&file, text).unwrap();
        let mut args = ServeArgs::default();
        args.store.config = Some(file);
        Config::load(&args)
    }

    #[test]
    fn lockout_defaults_are_huawei_s_and_inside_the_reference_ranges() {
        let config = load_file("").unwrap();
        assert_eq!(
            config.lockout,
            LockoutPolicy {
                max_failures: 5,
                window_ms: 15 * 60_000,
                lockout_ms: 15 * 60_000,
            }
        );
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(
            config.limits.hashing,
            PoolLimits {
                permits: cores,
                queue: 4 * cores
            }
        );
        assert_eq!(
            config.limits.sign_in,
            PoolLimits {
                permits: 4 * cores,
                queue: 8 * cores
            }
        );
        let config = load_file(
            "[login_policy]\nlogin_failed_times = 10\nperiod_within_login_failures = 60\nlockout_duration = 30\n\
             [limits]\npassword_hashing = 3\npassword_hashing_queue = 0\n",
        )
        .unwrap();
        assert_eq!(
            config.lockout,
            LockoutPolicy {
                max_failures: 10,
                window_ms: 60 * 60_000,
                lockout_ms: 30 * 60_000,
            }
        );
        assert_eq!(config.limits.hashing, PoolLimits { permits: 3, queue: 0 });
    }

    #[test]
    fn lockout_and_limits_outside_their_ranges_are_refused_at_start() {
        let cases = [
            (
                "[login_policy]\nlogin_failed_times = 2",
                "login_policy.login_failed_times",
            ),
            (
                "[login_policy]\nlogin_failed_times = 11",
                "login_policy.login_failed_times",
            ),
            (
                "[login_policy]\nperiod_within_login_failures = 14",
                "login_policy.period_within_login_failures",
            ),
            (
                "[login_policy]\nperiod_within_login_failures = 61",
                "login_policy.period_within_login_failures",
            ),
            ("[login_policy]\nlockout_duration = 14", "login_policy.lockout_duration"),
            ("[login_policy]\nlockout_duration = 31", "login_policy.lockout_duration"),
            ("[limits]\npassword_hashing = 0", "limits.password_hashing"),
            ("[limits]\nsign_in_starts = 0", "limits.sign_in_starts"),
            ("[limits]\nsign_in_starts_queue = 70000", "limits.sign_in_starts_queue"),
        ];
        for (text, field) in cases {
            match load_file(text) {
                Err(ConfigError::Invalid { name, .. }) => assert_eq!(name, field, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            load_file("[login_policy]\nlockout_minutes = 15"),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            load_file("[login_policy]\nlogin_failed_times = -1"),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fedgate.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let mut args = ServeArgs::default();
        args.store.config = Some(file);
        assert!(matches!(Config::load(&args), Err(ConfigError::Parse { .. })));
        let args = ServeArgs {
            public_url: Some("ftp://x".into()),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Config::load(&args),
            Err(ConfigError::Invalid { name: "public_url", .. })
        ));
        let args = ServeArgs {
            egress_allow: vec!["10.0.0.0/40".into()],
            ..ServeArgs::default()
        };
        assert!(matches!(
            Config::load(&args),
            Err(ConfigError::Invalid {
                name: "egress.allow",
                ..
            })
        ));
    }

    #[test]
    fn credential_key_file_is_in_the_data_dir_unless_set() {
        let mut args = ServeArgs::default();
        args.store.data_dir = Some(PathBuf::from("/var/lib/fedgate"));
        let config = Config::load(&args).unwrap();
        assert_eq!(
            config.credential_key_file,
            PathBuf::from("/var/lib/fedgate/credential.key")
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fedgate.toml");
        std::fs::write(&file, "credential_key_file = \"/etc/fedgate/credential.key\"\n").unwrap();
        args.store.config = Some(file);
        let config = Config::load(&args).unwrap();
        assert_eq!(config.credential_key_file, PathBuf::from("/etc/fedgate/credential.key"));
        args.credential_key_file = Some(PathBuf::from("/run/secrets/ck"));
        let config = Config::load(&args).unwrap();
        assert_eq!(
            config.credential_key_file,
            PathBuf::from("/run/secrets/ck"),
            "the flag wins"
        );
    }

    #[test]
    fn egress_allow_list_comes_from_the_file_or_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fedgate.toml");
        std::fs::write(&file, "[egress]\nallow = [\"10.20.0.0/16\", \"idp.corp.example\"]\n").unwrap();
        let mut args = ServeArgs::default();
        args.store.config = Some(file);
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let config = Config::load(&args).unwrap();
        assert!(config.egress.permits("a.example", ip("10.20.1.1")).is_ok());
        assert!(config.egress.permits("idp.corp.example", ip("10.99.1.1")).is_ok());
        assert!(config.egress.permits("a.example", ip("10.99.1.1")).is_err());
        args.egress_allow = vec!["10.99.0.0/16".into()];
        let config = Config::load(&args).unwrap();
        assert!(config.egress.permits("a.example", ip("10.99.1.1")).is_ok());
        assert!(
            config.egress.permits("a.example", ip("10.20.1.1")).is_err(),
            "the flag wins over the file"
        );
        let config = Config::load(&ServeArgs::default()).unwrap();
        assert_eq!(config.egress, EgressPolicy::default(), "nothing allowed by default");
    }
}
