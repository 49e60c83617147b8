//! The API contract: an OpenAPI 3.1 document built from the handlers' `#[utoipa::path]`
//! annotations and the request and view types they read and write. Each area module keeps its
//! own `Doc` listing its handlers; this module merges them, then adds what follows from rules
//! written once elsewhere: the path parameters of each route template, the error body each
//! path answers (`error::Shape::of`), the routes one handler serves under two paths, and the
//! credentials. Served at `/openapi.json`; `openapi.json` at the repository root is the same
//! document, kept current by the `openapi` journey.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, OneOfBuilder, Ref, RefOr, Required, Type};
use utoipa::{Modify, OpenApi};

use super::error::Shape;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fedgate",
        description = "Federation and SSO gateway: the identity and federation part of the Huawei Cloud \
            IAM API, compatible with OpenStack Keystone v3 clients, with Alibaba Cloud's RAM/STS and \
            Baidu Cloud's IAM/STS dialects. Authenticated routes take a token in `X-Auth-Token` or a \
            signed request (SDK-HMAC-SHA256, ACS3-HMAC-SHA256 or bce-auth-v1).",
        license(name = "Apache-2.0"),
    ),
    paths(openapi_json),
    components(schemas(
        super::error::KeystoneErrorBody,
        super::error::IamErrorBody,
        super::error::AlibabaErrorBody,
        super::error::BaiduErrorBody,
    )),
    tags(
        (name = "versions", description = "Version discovery, health and metrics."),
        (name = "tokens", description = "Issuing, validating and revoking tokens."),
        (name = "catalog", description = "The service catalog."),
    ),
)]
struct Root;

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut parts = parts().into_iter();
        let mut doc = parts.next().unwrap_or_else(Root::openapi);
        for part in parts {
            doc.merge(part);
        }
        for rule in [
            &super::roles::GrantRoutes as &dyn Modify,
            &Aliases,
            &PathParameters,
            &ErrorBodies,
            &Credentials,
        ] {
            rule.modify(&mut doc);
        }
        doc
    })
}

/// Each area's document, the root first. Merging keeps one schema per name, so two types
/// sharing a name would silently become one (a test checks none do).
fn parts() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        Root::openapi(),
        super::catalog::Doc::openapi(),
        super::auth::Doc::openapi(),
        super::federation::Doc::openapi(),
        super::sts::Doc::openapi(),
        super::federated_auth::Doc::openapi(),
        super::websso::Doc::openapi(),
        super::identity::Doc::openapi(),
        super::roles::Doc::openapi(),
        super::agencies::Doc::openapi(),
        super::credentials::Doc::openapi(),
        super::alibaba::Doc::openapi(),
        super::baidu::Doc::openapi(),
    ]
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut text = document().to_pretty_json().unwrap_or_default();
        text.push('\n');
        text
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "versions",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document_json())
}

/// Routes one handler serves under a second path: (path the handler documents, alias).
const ALIASES: &[(&str, &str)] = &[
    ("/v3", "/v3/"),
    ("/v3/auth/projects", "/v3/OS-FEDERATION/projects"),
    ("/v3/auth/domains", "/v3/OS-FEDERATION/domains"),
    (
        "/v3/auth/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/websso",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/websso",
    ),
];

/// Routes whose GET is the POST handler itself (keystoneauth1's plugins use either): (path,
/// the GET's operation id).
const GET_AS_POST: &[(&str, &str)] = &[(
    "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/auth",
    "protocol_auth_get",
)];

struct Aliases;

impl Modify for Aliases {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, id) in GET_AS_POST {
            if let Some(item) = doc.paths.paths.get_mut(*path) {
                let mut get = item.post.clone();
                if let Some(op) = &mut get {
                    op.operation_id = Some((*id).to_string());
                }
                item.get = get;
            }
        }
        for (documented, alias) in ALIASES {
            if let Some(item) = doc.paths.paths.get(*documented).cloned() {
                let mut item = item;
                for op in operations_mut(&mut item) {
                    if let Some(id) = &mut op.operation_id {
                        id.push_str("_alias");
                    }
                }
                doc.paths.paths.insert((*alias).to_string(), item);
            }
        }
    }
}

/// Every `{name}` of a route template is a required string path parameter, unless the
/// handler's annotation says more about it.
struct PathParameters;

impl Modify for PathParameters {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let names: Vec<&str> = path
                .split('/')
                .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for op in operations_mut(item) {
                let params = op.parameters.get_or_insert_with(Vec::new);
                for name in &names {
                    if params
                        .iter()
                        .any(|p| p.name == *name && p.parameter_in == ParameterIn::Path)
                    {
                        continue;
                    }
                    params.push(
                        ParameterBuilder::new()
                            .name(*name)
                            .parameter_in(ParameterIn::Path)
                            .required(Required::True)
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1))))
                            .build(),
                    );
                }
            }
        }
    }
}

/// The error body every operation can answer, in the shape its path takes (`Shape::of`), as
/// the `default` response: the statuses are the ones `http::error` maps, the same on every
/// route.
struct ErrorBodies;

impl Modify for ErrorBodies {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let shape = if path == "/" {
                Shape::Alibaba
            } else {
                Shape::of(path, None, &axum::http::HeaderMap::new())
            };
            let (content_type, schema): (&str, RefOr<utoipa::openapi::schema::Schema>) = match shape {
                Shape::Keystone => ("application/json", Ref::from_schema_name("KeystoneErrorBody").into()),
                Shape::Iam => ("application/json", Ref::from_schema_name("IamErrorBody").into()),
                Shape::Alibaba => ("application/json", Ref::from_schema_name("AlibabaErrorBody").into()),
                Shape::Baidu => ("application/json", Ref::from_schema_name("BaiduErrorBody").into()),
                Shape::Page => ("text/html", ObjectBuilder::new().schema_type(Type::String).into()),
            };
            // Alibaba's body only where the request names an action (`alibaba::is_rpc`): `/` is
            // also version discovery, and a call naming no action is answered in Keystone's.
            let schema = if path == "/" {
                let keystone = Ref::from_schema_name("KeystoneErrorBody");
                OneOfBuilder::new().item(schema).item(keystone).into()
            } else {
                schema
            };
            let response = ResponseBuilder::new()
                .description("An error: the status says which (400 bad input, 401 not authenticated, 403 not allowed, 404, 409, 413, 429 and 503 with Retry-After).")
                .content(content_type, ContentBuilder::new().schema(Some(schema)).build())
                .build();
            for op in operations_mut(item) {
                op.responses
                    .responses
                    .entry("default".to_string())
                    .or_insert_with(|| response.clone().into());
            }
        }
    }
}

/// The credentials a caller presents: a token, or a signed request in one of three dialects.
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Auth-Token",
                "A token from POST /v3/auth/tokens or a federated sign-in.",
            ))),
        );
        components.add_security_scheme(
            "signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "A request signed with an access key: SDK-HMAC-SHA256 (with X-Sdk-Date and, for a \
                 temporary credential, X-Security-Token), ACS3-HMAC-SHA256 or bce-auth-v1.",
            ))),
        );
    }
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// `{"<key>": [item], "links": {...}}`, a list as `views::list` writes it, named for the document.
macro_rules! list_schema {
    ($name:ident, $key:ident, $item:ty) => {
        /// A list, as `views::list` writes it.
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            pub $key: Vec<$item>,
            pub links: $crate::http::views::ListLinks,
        }
    };
}

/// `{"<key>": item}`, one resource in its envelope, named for the document.
macro_rules! one_schema {
    ($name:ident, $key:ident, $item:ty) => {
        #[derive(utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            pub $key: $item,
        }
    };
}

pub(crate) use {list_schema, one_schema};

#[cfg(test)]
mod tests {
    use super::*;

    /// (upper-case method, path, operation) of every documented operation.
    fn operations() -> Vec<(&'static str, &'static str, &'static Operation)> {
        let mut out = Vec::new();
        for (path, item) in &document().paths.paths {
            for (method, op) in [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("HEAD", &item.head),
                ("PATCH", &item.patch),
            ] {
                if let Some(op) = op {
                    out.push((method, path.as_str(), op));
                }
            }
        }
        out
    }

    /// Every route the router serves (the action table, which `actions` checks against the
    /// router) is an operation of the document, and the document has no other: a handler added
    /// without its annotation, or an annotation whose path drifted, fails here.
    #[test]
    fn the_document_covers_the_router_exactly() {
        let mut routes: Vec<(String, String)> = super::super::actions::routes()
            .into_iter()
            .map(|(m, r)| (m.to_string(), r.to_string()))
            .collect();
        routes.sort();
        routes.dedup();
        let mut documented: Vec<(String, String)> = operations()
            .into_iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        let missing: Vec<_> = routes.iter().filter(|r| !documented.contains(r)).collect();
        let extra: Vec<_> = documented.iter().filter(|d| !routes.contains(d)).collect();
        assert!(
            missing.is_empty(),
            "{} routes not documented: {missing:#?}",
            missing.len()
        );
        assert!(extra.is_empty(), "documented but not routes: {extra:#?}");
    }

    /// Two types whose schemas share a name would be merged into one, the second silently
    /// describing the first's bodies.
    #[test]
    fn no_two_areas_name_different_schemas_alike() {
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        for part in parts() {
            for (name, schema) in part.components.map(|c| c.schemas).unwrap_or_default() {
                let text = serde_json::to_string(&schema).unwrap_or_default();
                if let Some(earlier) = seen.insert(name.clone(), text.clone()) {
                    assert_eq!(earlier, text, "two different schemas are named {name}");
                }
            }
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut ids = std::collections::BTreeSet::new();
        for (_, path, op) in operations() {
            let id = op.operation_id.clone().unwrap_or_default();
            assert!(ids.insert(id.clone()), "{path}: operation id {id} is used twice");
        }
    }

    #[test]
    fn every_operation_has_an_id_a_tag_an_answer_and_its_error_body() {
        for (method, path, op) in operations() {
            assert!(op.operation_id.is_some(), "{method} {path}: no operation id");
            assert!(
                op.tags.as_ref().is_some_and(|t| !t.is_empty()),
                "{method} {path}: no tag"
            );
            assert!(
                op.responses.responses.contains_key("default"),
                "{method} {path}: no error body"
            );
            assert!(op.responses.responses.len() > 1, "{method} {path}: no success answer");
        }
    }
}

/// The model's closed sets travel as their strings: each is a string schema listing them.
macro_rules! string_enum_schema {
    ($($name:ident),+) => {
        $(impl utoipa::PartialSchema for crate::model::$name {
            fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(crate::model::$name::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        impl utoipa::ToSchema for crate::model::$name {})+
    };
}

string_enum_schema!(Protocol, ProjectStatus, UserAccessMode, SsoType, ActorKind, TargetKind);
