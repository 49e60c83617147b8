//! The one integration-test binary: journeys over a real socket against the real
//! `Application`, the store conformance suite, and the bad-input table. Each journey runs on
//! SQLite and on PostgreSQL.

mod bad_input;
mod conformance;
mod federated_login;
mod federation;
mod mapping_cli;
mod mapping_corpus;
mod saml_metadata;
mod snapshots;
mod support;
mod tidy;
mod tokens;
