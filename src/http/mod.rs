//! HTTP edge: routes, extractors, middleware, and the error mapping. Handlers extract input,
//! call one service function and render its result; they hold no policy and touch no store.

mod actions;
mod agencies;
mod alibaba;
mod auth;
mod baidu;
mod catalog;
mod credentials;
pub mod error;
pub mod extract;
mod federated_auth;
mod federation;
mod identity;
mod middleware;
pub mod openapi;
mod roles;
mod saml;
mod signed;
mod sts;
pub mod views;
mod websso;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::service::Services;

/// Handlers take the use-case service of their area (`State<Sts>`, ...), each a handle on
/// the router's shared core.
macro_rules! from_core {
    ($($service:ident),+) => {
        $(impl axum::extract::FromRef<Arc<Services>> for crate::service::$service {
            fn from_ref(core: &Arc<Services>) -> Self {
                crate::service::$service::new(core.clone())
            }
        })+
    };
}

from_core!(Accounts, FederationConfig, SignIn, Sts);

pub fn router(services: Arc<Services>) -> Router {
    let body_limit = services.config.body_limit;
    let timeout = services.config.request_timeout;
    Router::new()
        .route("/", get(alibaba::root_get).post(alibaba::call))
        .route("/v3", get(catalog::version))
        .route("/v3/", get(catalog::version))
        .route("/metrics", get(catalog::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/healthz", get(catalog::healthz))
        .route("/readyz", get(catalog::readyz))
        // tokens
        .route(
            "/v3/auth/tokens",
            post(auth::issue).get(auth::validate).delete(auth::revoke),
        )
        .route("/v3/auth/projects", get(auth::projects))
        .route("/v3/auth/domains", get(auth::domains))
        .route("/v3/auth/catalog", get(auth::catalog))
        .route("/v3/OS-FEDERATION/projects", get(auth::projects))
        .route("/v3/OS-FEDERATION/domains", get(auth::domains))
        // domains and projects
        .route("/v3/domains", get(identity::list_domains).post(identity::create_domain))
        .route(
            "/v3/domains/{id}",
            get(identity::get_domain)
                .patch(identity::update_domain)
                .delete(identity::delete_domain),
        )
        .route(
            "/v3/projects",
            get(identity::list_projects).post(identity::create_project),
        )
        .route(
            "/v3/projects/{id}",
            get(identity::get_project).patch(identity::update_project),
        )
        .route(
            "/v3-ext/projects/{id}",
            get(identity::get_project_extended).put(identity::set_project_status),
        )
        // users
        .route("/v3/users", get(identity::list_users).post(identity::create_user))
        .route(
            "/v3/users/{id}",
            get(identity::get_user)
                .patch(identity::update_user)
                .delete(identity::delete_user),
        )
        .route("/v3/users/{id}/password", post(identity::change_password))
        .route("/v3/users/{id}/groups", get(identity::user_groups))
        .route("/v3/users/{id}/projects", get(identity::user_projects))
        .route("/v3.0/OS-USER/users", post(identity::create_user_extended))
        .route(
            "/v3.0/OS-USER/users/{id}",
            get(identity::get_user_extended).put(identity::update_user_extended),
        )
        .route("/v3.0/OS-USER/users/{id}/info", put(identity::update_own_info))
        // groups
        .route("/v3/groups", get(identity::list_groups).post(identity::create_group))
        .route(
            "/v3/groups/{id}",
            get(identity::get_group)
                .patch(identity::update_group)
                .delete(identity::delete_group),
        )
        .route("/v3/groups/{id}/users", get(identity::group_users))
        .route(
            "/v3/groups/{group_id}/users/{user_id}",
            put(identity::add_member)
                .head(identity::check_member)
                .delete(identity::remove_member),
        )
        // roles and assignments
        .route("/v3/roles", get(roles::list_roles))
        .route("/v3/roles/{id}", get(roles::get_role))
        .route("/v3/role_assignments", get(roles::keystone_assignments))
        .route("/v3.0/OS-PERMISSION/role-assignments", get(roles::iam_assignments))
        // agencies
        .route("/v3.0/OS-AGENCY/agencies", get(agencies::list).post(agencies::create))
        .route(
            "/v3.0/OS-AGENCY/agencies/{id}",
            get(agencies::get).put(agencies::update).delete(agencies::delete),
        )
        // grants of roles to groups and agencies, from one table (`roles::GRANT_ROUTES`)
        .merge(roles::grant_routes())
        // temporary credentials, login tokens, signature checks
        .route("/v3.0/OS-CREDENTIAL/securitytokens", post(sts::security_tokens))
        .route("/v3.0/OS-AUTH/securitytoken/logintokens", post(sts::login_tokens))
        .route("/v3-ext/auth/logintokens", get(sts::check_login_token))
        .route("/v3-ext/auth/signed-requests", post(sts::check_signed_request))
        // permanent access keys
        .route(
            "/v3.0/OS-CREDENTIAL/credentials",
            get(credentials::list).post(credentials::create),
        )
        .route(
            "/v3.0/OS-CREDENTIAL/credentials/{access}",
            get(credentials::get)
                .put(credentials::update)
                .delete(credentials::delete),
        )
        // federation configuration
        .route("/v3/OS-FEDERATION/identity_providers", get(federation::list_idps))
        .route(
            "/v3/OS-FEDERATION/identity_providers/{id}",
            get(federation::get_idp)
                .put(federation::create_idp)
                .patch(federation::update_idp)
                .delete(federation::delete_idp),
        )
        .route(
            "/v3/OS-FEDERATION/identity_providers/{id}/protocols",
            get(federation::list_protocols),
        )
        .route(
            "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}",
            get(federation::get_protocol)
                .put(federation::create_protocol)
                .patch(federation::update_protocol)
                .delete(federation::delete_protocol),
        )
        .route("/v3/OS-FEDERATION/mappings", get(federation::list_mappings))
        .route(
            "/v3/OS-FEDERATION/mappings/{id}",
            get(federation::get_mapping)
                .put(federation::create_mapping)
                .patch(federation::update_mapping)
                .delete(federation::delete_mapping),
        )
        .route(
            "/v3-ext/OS-FEDERATION/mappings/{id}/test",
            post(federation::test_mapping),
        )
        .route(
            "/v3.0/OS-FEDERATION/identity-providers/{id}/openid-connect-config",
            get(federation::get_oidc_config)
                .post(federation::create_oidc_config)
                .put(federation::update_oidc_config),
        )
        .route(
            "/v3-ext/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/metadata",
            get(federation::get_metadata).post(federation::import_metadata),
        )
        .route("/v3-ext/auth/OS-FEDERATION/SSO/metadata", get(federation::sp_metadata))
        // browser sign-in (WebSSO)
        .route("/v3/auth/OS-FEDERATION/websso/{protocol}", get(websso::chooser))
        .route(
            "/v3/auth/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/websso",
            get(websso::start),
        )
        .route(
            "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/websso",
            get(websso::start),
        )
        .route(
            crate::service::websso::OIDC_CALLBACK_PATH,
            get(websso::callback_page).post(websso::callback),
        )
        // federated tokens
        .route("/v3.0/OS-AUTH/id-token/tokens", post(federated_auth::id_token_tokens))
        .route(
            crate::service::saml_login::TOKENS_PATH,
            post(saml::idp_initiated_tokens),
        )
        .route(crate::saml::sp_metadata::ACS_POST_PATH, post(saml::acs_post))
        .route(crate::saml::sp_metadata::ACS_ECP_PATH, post(saml::acs_ecp))
        .route(
            "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/auth",
            post(federated_auth::protocol_auth).get(federated_auth::protocol_auth),
        )
        // Baidu Cloud's IAM and STS (`baidu/`)
        .route("/v1/user", get(baidu::iam::list_users).post(baidu::iam::create_user))
        .route(
            "/v1/user/{userName}",
            get(baidu::iam::get_user)
                .put(baidu::iam::update_user)
                .delete(baidu::iam::delete_user),
        )
        .route(
            "/v1/user/{userName}/loginProfile",
            get(baidu::iam::get_login_profile)
                .put(baidu::iam::put_login_profile)
                .delete(baidu::iam::delete_login_profile),
        )
        .route("/v1/user/{userName}/group", get(baidu::iam::groups_of_user))
        .route(
            "/v1/user/{userName}/accesskey",
            get(baidu::iam::list_access_keys).post(baidu::iam::create_access_key),
        )
        .route(
            "/v1/user/{userName}/accesskey/{accessKeyId}",
            put(baidu::iam::enable_access_key).delete(baidu::iam::delete_access_key),
        )
        .route(
            "/v1/accesskey/{accessKeyId}/lastusedtime",
            get(baidu::iam::access_key_last_used),
        )
        // A user named `idp` has no password route here: the static segment wins.
        .route("/v1/subUser/{userName}/update", put(baidu::iam::set_password))
        .route("/v1/group", get(baidu::iam::list_groups).post(baidu::iam::create_group))
        .route(
            "/v1/group/{groupName}",
            get(baidu::iam::get_group)
                .put(baidu::iam::update_group)
                .delete(baidu::iam::delete_group),
        )
        .route("/v1/group/{groupName}/user", get(baidu::iam::group_members))
        .route(
            "/v1/group/{groupName}/user/{userName}",
            put(baidu::iam::add_member).delete(baidu::iam::remove_member),
        )
        .route("/v1/subUser/idp/query", get(baidu::idp::query))
        .route("/v1/subUser/idp/update", post(baidu::idp::update))
        .route("/v1/subUser/idp/updateStatus", post(baidu::idp::update_status))
        .route("/v1/subUser/idp/delete", post(baidu::idp::delete))
        .route("/v1/sessionToken", post(baidu::sts::session_token))
        // catalog
        .route("/v3/services", get(catalog::services))
        .route("/v3/services/{id}", get(catalog::service))
        .route("/v3/endpoints", get(catalog::endpoints))
        .route("/v3/endpoints/{id}", get(catalog::endpoint))
        .route("/v3/regions", get(catalog::regions))
        .route("/v3/regions/{id}", get(catalog::region))
        .route_layer(axum::middleware::from_fn(middleware::capture_route))
        .fallback(catalog::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(services.clone(), signed::verify))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(middleware::observe))
        .with_state(services)
}
