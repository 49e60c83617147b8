//! The one integration-test binary: journeys over a real socket against the real
//! `Application`, the store conformance suite, and the bad-input table. Each journey runs on
//! SQLite and on PostgreSQL.

/// Runs each journey `async fn name(db: Db)` once on SQLite and once on PostgreSQL, as
/// `<module>::on_sqlite::name` and `<module>::on_postgres::name`.
macro_rules! on_both_backends {
    ($($journey:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $journey() {
                    super::$journey(crate::support::Db::Sqlite).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $journey() {
                    super::$journey(crate::support::Db::Postgres).await;
                }
            )*
        }
    };
}

mod abuse_limits;
mod alibaba;
mod attacks;
mod audit;
mod authorization;
mod bad_input;
mod baidu;
mod config_as_code;
mod conformance;
mod credentials;
mod dialects;
mod domains;
mod egress;
mod federated_login;
mod federation;
mod fuzz_regressions;
mod health;
mod mapping_cli;
mod mapping_corpus;
mod oidc;
mod oidc_op;
mod oidc_pinning;
mod openapi;
mod plain_logs;
mod revocation;
mod role_assignments;
mod saml;
mod saml_idp;
mod saml_metadata;
mod signing;
mod snapshots;
mod sts;
mod support;
mod tidy;
mod tokens;
