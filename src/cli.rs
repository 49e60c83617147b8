//! The command line: `serve`, `bootstrap`, `keys rotate`, `mapping test`, `ci-provider`,
//! `config export|apply`. `main` only parses and dispatches.

use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::{Application, open_store};
use crate::config::{Config, ServeArgs, StoreArgs};
use crate::service::bootstrap::{BootstrapRequest, bootstrap, seed_roles};
use crate::service::tokens::rotate_keys;
use crate::service::{FederationConfig, Services, now_ms};

#[derive(Debug, Parser)]
#[command(
    name = "fedgate",
    version,
    about = "SAML 2.0 and OpenID Connect federation gateway with a Keystone v3 / IAM API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway. Keys are generated on first start; GET /v3 answers 200 once ready.
    Serve(ServeArgs),
    /// Create (or repair) the admin domain, project and user. Safe to run again: it resets the
    /// admin password.
    Bootstrap(BootstrapArgs),
    /// Manage the token keys shared by all replicas.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Work with federation mapping rules offline.
    Mapping {
        #[command(subcommand)]
        command: MappingCommand,
    },
    /// Print a shell script that sets up an identity provider for a CI system's id_tokens,
    /// with a mapping that admits one repository on one protected branch.
    CiProvider(CiProviderArgs),
    /// Federation configuration as code: identity providers, mappings, protocols, OIDC
    /// configurations and SAML metadata, per account, as one JSON document.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration of every account, or of one, as JSON (sorted, so it diffs).
    Export(ConfigExportArgs),
    /// Compare a document with the store, print the plan, then carry it out through the same
    /// rules as the HTTP API. Exit 0: applied, or nothing to change; 2: the document is
    /// invalid or a rule refused a change; 1: the store failed.
    Apply(ConfigApplyArgs),
}

#[derive(Debug, clap::Args)]
pub struct ConfigExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only this account (domain name).
    #[arg(long, value_name = "NAME")]
    pub domain: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConfigApplyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The document (`-`: standard input).
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete what the document leaves out of the accounts it lists.
    #[arg(long)]
    pub prune: bool,
    /// File the audit events of the changes are appended to, as `serve --audit-log` (the
    /// same file, so the server's readers see them). Default: `audit_log` in fedgate.toml,
    /// else standard error.
    #[arg(long, env = "FEDGATE_AUDIT_LOG", value_name = "FILE")]
    pub audit_log: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CiProviderArgs {
    #[arg(value_enum)]
    pub system: crate::oidc::ci::CiSystem,
    /// owner/repo (GitHub) or group/project (GitLab).
    #[arg(long)]
    pub repository: String,
    #[arg(long, default_value = "main")]
    pub branch: String,
    /// Also require this deployment environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// The audience jobs request their id_token for (default: https://github.com/OWNER or
    /// https://gitlab.com).
    #[arg(long)]
    pub audience: Option<String>,
    #[arg(long, default_value = "ci")]
    pub idp_id: String,
    /// Group whose role grants the jobs receive.
    #[arg(long, default_value = "ci-deployers")]
    pub group: String,
    /// The account (domain) that owns the group.
    #[arg(long, default_value = "admin")]
    pub domain: String,
}

#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Map assertions with rules, as a login would, without a server. Prints Keystone's mapped
    /// properties as JSON. Exit 0: mapped; 1: an assertion was rejected; 2: the rules are invalid.
    Test(MappingTestArgs),
}

#[derive(Debug, clap::Args)]
pub struct MappingTestArgs {
    /// `{"rules": [...]}` or `{"mapping": {"rules": [...]}}`.
    #[arg(long, value_name = "RULES.json")]
    pub rules: std::path::PathBuf,
    /// One assertion: an object of attribute -> string (multi-values joined by `;`) or array.
    #[arg(
        long,
        value_name = "A.json",
        required_unless_present = "assertions",
        conflicts_with = "assertions"
    )]
    pub assertion: Option<std::path::PathBuf>,
    /// Many assertions, one JSON object per line; prints one result per line.
    #[arg(long, value_name = "FILE.jsonl")]
    pub assertions: Option<std::path::PathBuf>,
    /// Schema version of the rules (default: the file's `schema_version`, else 1.0).
    #[arg(long, value_parser = ["1.0", "2.0", "3.0"])]
    pub schema_version: Option<String>,
    /// Add which rule matched and, for each rule that did not, the condition that failed.
    #[arg(long)]
    pub trace: bool,
}

#[derive(Debug, clap::Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The admin user's password (8-32 characters, two character classes).
    #[arg(long, env = "FEDGATE_BOOTSTRAP_PASSWORD", hide_env_values = true)]
    pub password: String,
    #[arg(long, default_value = "admin")]
    pub domain_name: String,
    #[arg(long, default_value = "admin")]
    pub user_name: String,
    #[arg(long, default_value = "admin")]
    pub project_name: String,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new primary token key. Tokens sealed with older keys keep validating until they
    /// expire; running replicas pick the new key up within their refresh interval.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        /// Token lifetime in seconds, to know when old keys can be retired.
        #[arg(long, env = "FEDGATE_TOKEN_TTL", default_value_t = 86_400)]
        token_ttl: i64,
    },
}

/// Commands that work on files alone (no store, no network): they run without the async
/// runtime, whose threads would cost more than a short run of `mapping test` itself.
pub fn run_offline(command: Command) -> anyhow::Result<()> {
    match command {
        Command::CiProvider(a) => {
            use crate::oidc::ci::{CiRequest, CiSystem, preset, render_script};
            let owner = a.repository.split('/').next().unwrap_or_default();
            let audience = a.audience.unwrap_or_else(|| match a.system {
                CiSystem::Github => format!("https://github.com/{owner}"),
                CiSystem::Gitlab => "https://gitlab.com".to_string(),
            });
            let request = CiRequest {
                system: a.system,
                repository: a.repository,
                branch: a.branch,
                environment: a.environment,
                audience,
                idp_id: a.idp_id,
                group: a.group,
                domain: a.domain,
            };
            print!("{}", render_script(&preset(&request)));
            Ok(())
        }
        Command::Mapping {
            command: MappingCommand::Test(args),
        } => {
            // An unreadable file is a usage problem (2), never "rejected" (1).
            let request = match args.into_request() {
                Ok(request) => request,
                Err(e) => {
                    eprintln!("fedgate: {e:#}");
                    std::process::exit(2);
                }
            };
            let outcome = match crate::mapping::report::run_mapping_test(request, &mut std::io::stdout()) {
                Ok(outcome) => outcome,
                // The reader went away (`| head`): stop quietly, as Unix filters do.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            if outcome.backtrack_limit_hits > 0 {
                eprintln!(
                    "fedgate: {} value(s) hit a regex's backtracking limit and were not admitted (--trace names the rules)",
                    outcome.backtrack_limit_hits
                );
            }
            if outcome.code != 0 {
                std::process::exit(outcome.code);
            }
            Ok(())
        }
        _ => Err(anyhow::anyhow!("this command needs the async runtime: call `run`")),
    }
}

impl Command {
    /// Whether the command runs on its own, with `run_offline`.
    pub fn is_offline(&self) -> bool {
        matches!(self, Command::CiProvider(_) | Command::Mapping { .. })
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Config {
            command: ConfigCommand::Export(args),
        } => {
            let federation = federation_services(&args.store, None).await?;
            match federation.export_config(args.domain.as_deref()).await {
                Ok(doc) => {
                    print!("{}", doc.to_text());
                    Ok(())
                }
                Err(e) => exit_on(&e),
            }
        }
        Command::Config {
            command: ConfigCommand::Apply(args),
        } => apply_config(args).await,
        command @ (Command::CiProvider(_) | Command::Mapping { .. }) => run_offline(command),
        Command::Serve(args) => {
            let config = Config::load(&args)?;
            crate::telemetry::init_tracing(config.log_format);
            survive_file_size_limit();
            let app = Application::build(config.clone()).await?;
            tracing::info!(
                listen = %app.local_addr(),
                public_url = %config.public_url,
                "fedgate is ready"
            );
            app.run_until_stopped().await
        }
        Command::Bootstrap(args) => {
            let config = Config::for_store(&args.store)?;
            let store = open_store(&config).await?;
            let outcome = bootstrap(
                &store,
                BootstrapRequest {
                    domain_name: args.domain_name.clone(),
                    project_name: args.project_name.clone(),
                    user_name: args.user_name.clone(),
                    password: args.password,
                },
                now_ms(),
            )
            .await?;
            println!(
                "{} user {:?} in domain {:?} (user id {}, project {:?} id {})",
                if outcome.created_user { "created" } else { "updated" },
                args.user_name,
                args.domain_name,
                outcome.user_id,
                args.project_name,
                outcome.project_id
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { store, token_ttl },
        } => {
            let config = Config::for_store(&store)?;
            let store = Arc::new(open_store(&config).await?);
            seed_roles(store.as_ref(), now_ms()).await?;
            let rotation = rotate_keys(store.as_ref(), token_ttl, now_ms()).await?;
            println!(
                "new primary token key {} (retired {} expired key(s))",
                rotation.new_primary, rotation.retired
            );
            Ok(())
        }
    }
}

/// A write past the file-size limit (`ulimit -f`, a quota) raises SIGXFSZ, whose default
/// action kills the process mid-commit. With a handler installed the write fails instead
/// (EFBIG), which SQLite reports as a full disk and requests answer 503.
fn survive_file_size_limit() {
    #[cfg(unix)]
    {
        // SIGXFSZ is 25 on Linux and the BSDs.
        const SIGXFSZ: i32 = 25;
        if let Err(e) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(SIGXFSZ)) {
            tracing::warn!(error = %e, "cannot catch SIGXFSZ; a file-size limit would stop the process");
        }
    }
}

/// The use cases `fedgate config` runs, on the store the flags name. Their audit events go to
/// `audit_log`, else the configured file, else (the log target `audit`) standard error: a
/// command has no server log, and the changes it makes must not go unrecorded.
async fn federation_services(
    store: &StoreArgs,
    audit_log: Option<std::path::PathBuf>,
) -> anyhow::Result<FederationConfig> {
    let mut config = Config::for_store(store)?;
    config.audit_log = audit_log.or(config.audit_log);
    if config.audit_log.is_none() {
        crate::telemetry::init_command_tracing();
    }
    let store = open_store(&config).await?;
    seed_roles(&store, now_ms()).await?;
    let services = Services::build_for_command(Arc::new(store), Arc::new(config)).await?;
    Ok(FederationConfig::new(Arc::new(services)))
}

/// Exits 1 when the store failed, 2 when the document or a rule refused.
fn exit_on(e: &crate::service::Error) -> ! {
    use crate::service::Error;
    eprintln!("fedgate: {e}");
    match e {
        Error::Unavailable(_) | Error::Internal(_) => std::process::exit(1),
        _ => std::process::exit(2),
    }
}

async fn apply_config(args: ConfigApplyArgs) -> anyhow::Result<()> {
    use crate::service::config_code::{Document, Prune};
    let label = args.file.display().to_string();
    let text = if label == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(&args.file)
    };
    // An unreadable or malformed document is the caller's to fix (2), like a refused rule.
    let doc = match text
        .map_err(|e| format!("cannot read {label}: {e}"))
        .and_then(|t| Document::parse(&t))
    {
        Ok(doc) => doc,
        Err(message) => {
            eprintln!("fedgate: {message}");
            std::process::exit(2);
        }
    };
    let federation = federation_services(&args.store, args.audit_log.clone()).await?;
    let prune = if args.prune { Prune::Delete } else { Prune::Keep };
    let plan = match federation.plan_config(&doc, prune).await {
        Ok(plan) => plan,
        Err(e) => exit_on(&e),
    };
    print!("{}", plan.render(&label));
    if plan.is_empty() {
        return Ok(());
    }
    if args.dry_run {
        println!("dry run: nothing applied");
        return Ok(());
    }
    // Running replicas hear of each change from the database as it commits.
    let result = federation.apply_config(&plan, now_ms()).await;
    match result {
        Ok(applied) => {
            for w in &applied.warnings {
                eprintln!("fedgate: warning: {w}");
            }
            println!("applied {} change(s)", applied.changes);
            Ok(())
        }
        Err(failure) => {
            println!("applied before the failure: {}", failure.done.len());
            for line in &failure.done {
                println!("  {line}");
            }
            eprintln!(
                "fedgate: {} failed; the changes after it were not applied",
                failure.failed
            );
            exit_on(&failure.error)
        }
    }
}

impl MappingTestArgs {
    fn into_request(self) -> anyhow::Result<crate::mapping::report::MappingTest> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
        };
        use crate::mapping::report::Assertions;
        let assertions = match (&self.assertion, &self.assertions) {
            (Some(one), _) => Assertions::One(read(one)?),
            (None, Some(many)) => Assertions::Lines(Box::new(
                std::fs::File::open(many).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", many.display()))?,
            )),
            (None, None) => anyhow::bail!("--assertion or --assertions is required"),
        };
        Ok(crate::mapping::report::MappingTest {
            rules: read(&self.rules)?,
            assertions,
            schema_version: self.schema_version,
            trace: self.trace,
        })
    }
}
