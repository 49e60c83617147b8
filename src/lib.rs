//! fedgate: a SAML 2.0 / OpenID Connect federation gateway with a Keystone v3 and Huawei IAM
//! compatible API. See ARCHITECTURE.md for the map.

pub mod app;
pub mod audit;
pub mod cli;
pub mod config;
pub mod egress;
pub mod http;
pub mod mapping;
pub mod model;
pub mod oidc;
pub mod saml;
pub mod service;
pub mod store;
pub mod sts;
pub mod telemetry;
pub mod token;
pub mod upstream;
