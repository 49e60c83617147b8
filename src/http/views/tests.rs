//! Each view's exact bytes for a record with every optional part present (and the `null`s of
//! one without): the values, and the keys in the sorted order the wire has always had.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::*;
use crate::http::extract::Paging;
use crate::model::{
    ActorKind, Agency, FederatedUser, Grant, IdentityProvider, MappingRecord, Project, ProjectStatus, Protocol,
    ProtocolRecord, Role, SsoType, StoredSamlMetadata, TargetKind, User, UserAccessMode,
};
use crate::service::access_keys::Credential;
use crate::service::assignments::{Assignment, AssignmentNames};
use crate::service::catalog::{Catalog, CatalogEndpoint, CatalogService, Region};
use crate::service::{AuthContext, Identity, NameRef, ScopeView, UserView};
use crate::token::{AgencySession, Federation, Methods, Scope, TokenPayload};

const BASE: &str = "https://iam.example";
const MS: i64 = 1_578_042_322_701; // 2020-01-03T09:05:22.701Z

#[test]
fn times_use_the_reference_formats() {
    assert_eq!(token_time(MS), "2020-01-03T09:05:22.701000Z");
    assert_eq!(local_time(MS), "2020-01-03T09:05:22.701000");
    assert_eq!(plain_time(MS), "2020-01-03 09:05:22");
}

fn name_ref(id: &str, name: &str) -> NameRef {
    NameRef {
        id: id.into(),
        name: name.into(),
    }
}

fn local_user(full: bool) -> User {
    let some = |s: &str| full.then(|| s.to_string());
    User {
        id: "u1".into(),
        domain_id: "d1".into(),
        name: "alice".into(),
        password_hash: None,
        enabled: true,
        description: "".into(),
        display_name: None,
        email: some("a@example.com"),
        areacode: some("0086"),
        phone: some("123"),
        access_mode: UserAccessMode::Console,
        pwd_status: true,
        xuser_type: some("xt"),
        xuser_id: some("xid"),
        password_expires_at_ms: full.then_some(MS),
        last_project_id: some("p1"),
        is_domain_owner: true,
        created_at_ms: MS,
        updated_at_ms: MS + 1000,
        password_changed_at_ms: full.then_some(MS + 2000),
        last_login_at_ms: full.then_some(MS + 3000),
    }
}

fn catalog() -> Catalog {
    let endpoint = CatalogEndpoint {
        id: "e1".into(),
        service_id: "s1".into(),
        interface: "public".into(),
        region: "r1".into(),
        url: "https://x.example/v1/$(project_id)s".into(),
    };
    Catalog {
        services: vec![CatalogService {
            id: "s1".into(),
            name: "nova".into(),
            service_type: "compute".into(),
            description: "servers".into(),
            endpoints: vec![endpoint],
        }],
        regions: vec![Region {
            id: "r1".into(),
            description: "first".into(),
        }],
    }
}

/// A federated user's agency session (so `assumed_by`, and no `OS-FEDERATION`) on a domain,
/// from a temporary credential with a session policy.
fn agency_session() -> AuthContext {
    let user = UserView {
        id: "u1".into(),
        name: "alice".into(),
        domain: name_ref("d1", "dom"),
        password_expires_at_ms: Some(MS),
    };
    AuthContext {
        token: TokenPayload {
            methods: Methods::PASSWORD,
            user_id: "u1".into(),
            issued_at_ms: MS,
            authenticated_at_ms: MS,
            expires_at_ms: MS + 3_600_000,
            audit_ids: vec![[7; 16], [9; 16]],
            scope: Scope::Domain("d2".into()),
            federation: Some(Federation {
                idp_id: "idp1".into(),
                protocol_id: Protocol::Saml,
                user_name: "alice".into(),
                domain_id: "d1".into(),
                group_ids: vec![],
                local_user: false,
            }),
            agency: Some(AgencySession {
                agency_id: "ag1".into(),
                session_user: Some("sess".into()),
            }),
        },
        identity: Arc::new(Identity {
            user: UserView {
                id: "ag1".into(),
                name: "dom/ag".into(),
                domain: name_ref("d2", "dom2"),
                password_expires_at_ms: None,
            },
            scope: ScopeView::Domain(name_ref("d2", "dom2")),
            roles: vec![name_ref("r1", "admin")],
            groups: vec![],
            assumed_by: Some(user),
            agency_expires_at_ms: None,
        }),
        session_policies: vec![r#"{"Version":"1.1","Statement":[]}"#.into()],
    }
}

/// What goes on the wire when `view` is serialized directly.
fn bytes<T: Serialize>(view: T) -> String {
    serde_json::to_string(&view).unwrap_or_default()
}

#[test]
fn views_keep_their_bytes() {
    let (full, bare) = (local_user(true), local_user(false));
    let shadow = FederatedUser {
        id: "f1".into(),
        idp_id: "idp1".into(),
        protocol_id: Protocol::Oidc,
        name: "bob".into(),
        domain_id: "d1".into(),
        enabled: true,
        created_at_ms: MS,
        last_login_at_ms: MS,
    };
    let project = Project {
        id: "p1".into(),
        domain_id: "d1".into(),
        name: "proj".into(),
        description: "".into(),
        enabled: true,
        parent_id: None,
        status: ProjectStatus::Suspended,
        created_at_ms: MS,
    };
    let role = Role {
        id: "r1".into(),
        name: "system_all_1".into(),
        display_name: "Reader".into(),
        role_type: "AX".into(),
        catalog: "BASE".into(),
        flag: "fine_grained".into(),
        description: "reads".into(),
        domain_id: None,
        policy: r#"{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["iam:*:get*"]}]}"#.into(),
        created_at_ms: MS,
        updated_at_ms: MS + 1,
    };
    let agency = Agency {
        id: "a1".into(),
        domain_id: "d1".into(),
        name: "ops".into(),
        trust_domain_id: "d2".into(),
        description: "".into(),
        duration: "FOREVER".into(),
        expire_at_ms: None,
        created_at_ms: MS,
    };
    let key = Credential {
        access: "AK1".into(),
        user_id: "u1".into(),
        active: true,
        description: "ci".into(),
        created_at_ms: MS,
        last_used_at_ms: Some(MS + 5000),
    };
    let grant = Grant {
        actor_kind: ActorKind::Group,
        actor_id: "g1".into(),
        role_id: "r1".into(),
        target_kind: TargetKind::Domain,
        target_id: "d1".into(),
        inherited: true,
    };
    // Expanded: a member of g1 on a project of d1, by inheritance.
    let expanded = Assignment {
        grant: grant.clone(),
        user_id: Some("u1".into()),
        project_id: Some("p1".into()),
    };
    let names = AssignmentNames {
        role: "admin".into(),
        actor: ("alice".into(), name_ref("d1", "dom")),
        target: ("proj".into(), Some(name_ref("d1", "dom"))),
    };
    let agency_grant = Grant {
        actor_kind: ActorKind::Agency,
        target_kind: TargetKind::Project,
        target_id: "p2".into(),
        inherited: false,
        ..grant.clone()
    };
    let direct_to_agency = Assignment {
        grant: agency_grant.clone(),
        user_id: None,
        project_id: None,
    };
    let idp = IdentityProvider {
        id: "idp1".into(),
        domain_id: "d1".into(),
        sso_type: SsoType::VirtualUserSso,
        description: "corp".into(),
        enabled: true,
        remote_ids: vec!["https://idp.example".into()],
        created_at_ms: MS,
    };
    let mapping_record = MappingRecord {
        id: "m1".into(),
        domain_id: "d1".into(),
        document: r#"{"rules":[{"local":[],"remote":[]}],"id":"ignored"}"#.into(),
        created_at_ms: MS,
        updated_at_ms: MS,
    };
    let protocol_record = ProtocolRecord {
        idp_id: "idp1".into(),
        id: Protocol::Saml,
        mapping_id: "m1".into(),
    };
    let metadata = StoredSamlMetadata {
        idp_id: "idp1".into(),
        protocol_id: Protocol::Saml,
        id: "md1".into(),
        domain_id: "d1".into(),
        xaccount_type: "".into(),
        entity_id: "https://idp.example".into(),
        data: "<md/>".into(),
        parsed: "".into(),
        updated_at_ms: MS,
    };
    let catalog = catalog();
    let ctx = agency_session();
    let mut signed = token(&ctx, &catalog, false);
    signed.token.access = Some("AK1".into());
    signed.token.session_policies = Some(session_policies(&ctx));
    let uri: axum::http::Uri = "/v3/roles?page=2&per_page=1".parse().unwrap_or_default();
    let paged = list(
        "roles",
        [IdRef { id: "r1" }],
        paged_links(BASE, &uri, Some(Paging { page: 2, per_page: 1 }), true),
    )
    .total("total_number", 3);
    let axum::Json::<Value>(paged) = paged.into();

    let cases: Vec<(&str, String, Value)> = vec![
        (
            "user",
            bytes(super::user(BASE, &bare)),
            json!({
                "access_mode": "console", "description": "", "domain_id": "d1", "enabled": true, "id": "u1",
                "last_project_id": null, "links": {"self": "https://iam.example/v3/users/u1"}, "name": "alice",
                "options": {}, "password_expires_at": null, "pwd_status": true
            }),
        ),
        (
            "user_extended",
            bytes(user_extended(BASE, &full)),
            json!({
                "access_mode": "console", "areacode": "0086", "create_time": "2020-01-03 09:05:22", "description": "",
                "domain_id": "d1", "email": "a@example.com", "enabled": true, "id": "u1", "is_domain_owner": true,
                "last_login_time": "2020-01-03 09:05:25", "last_project_id": "p1",
                "links": {"self": "https://iam.example/v3/users/u1"}, "modify_pwd_time": "2020-01-03 09:05:24",
                "name": "alice", "password_expires_at": "2020-01-03T09:05:22.701000", "phone": "123",
                "pwd_create_time": "2020-01-03 09:05:24", "pwd_status": true, "update_time": "2020-01-03 09:05:23",
                "xuser_id": "xid", "xuser_type": "xt"
            }),
        ),
        (
            "user_extended bare",
            bytes(user_extended(BASE, &bare)),
            json!({
                "access_mode": "console", "areacode": null, "create_time": "2020-01-03 09:05:22", "description": "",
                "domain_id": "d1", "email": null, "enabled": true, "id": "u1", "is_domain_owner": true,
                "last_login_time": null, "last_project_id": null,
                "links": {"self": "https://iam.example/v3/users/u1"}, "modify_pwd_time": null, "name": "alice",
                "password_expires_at": null, "phone": null, "pwd_create_time": null, "pwd_status": true,
                "update_time": "2020-01-03 09:05:23", "xuser_id": null, "xuser_type": null
            }),
        ),
        (
            "federated_user",
            bytes(federated_user(BASE, &shadow)),
            json!({
                "domain_id": "d1", "enabled": true,
                "federated": [{"idp_id": "idp1", "protocols": [{"protocol_id": "oidc", "unique_id": "bob"}]}],
                "id": "f1", "links": {"self": "https://iam.example/v3/users/f1"}, "name": "bob", "options": {},
                "password_expires_at": null
            }),
        ),
        (
            "project status",
            bytes(super::project(BASE, &project).with_status(project.status)),
            json!({
                "description": "", "domain_id": "d1", "enabled": true, "id": "p1", "is_domain": false,
                "links": {"self": "https://iam.example/v3/projects/p1"}, "name": "proj", "parent_id": "d1",
                "status": "suspended", "tags": []
            }),
        ),
        (
            "project extra",
            bytes(super::project(BASE, &project).with_extra()),
            json!({
                "description": "", "domain_id": "d1", "enabled": true, "extra": {}, "id": "p1", "is_domain": false,
                "links": {"self": "https://iam.example/v3/projects/p1"}, "name": "proj", "parent_id": "d1",
                "tags": []
            }),
        ),
        (
            "role",
            bytes(super::role(BASE, &role)),
            json!({
                "catalog": "BASE", "created_time": "1578042322701", "description": "reads", "description_cn": "reads",
                "display_name": "Reader", "domain_id": null, "flag": "fine_grained", "id": "r1",
                "links": {"self": "https://iam.example/v3/roles/r1"}, "name": "system_all_1",
                "policy": {"Statement": [{"Action": ["iam:*:get*"], "Effect": "Allow"}], "Version": "1.1"},
                "type": "AX", "updated_time": "1578042322702"
            }),
        ),
        (
            "agency",
            bytes(super::agency(&agency, "dom2").with_urn()),
            json!({
                "agency_urn": "iam::d1:agency:ops", "create_time": "2020-01-03T09:05:22.701000", "description": "",
                "domain_id": "d1", "duration": "FOREVER", "expire_time": null, "id": "a1", "name": "ops",
                "trust_domain_id": "d2", "trust_domain_name": "dom2"
            }),
        ),
        (
            "credential created",
            bytes(credential(&key).with_secret("SK1")),
            json!({
                "access": "AK1", "create_time": "2020-01-03T09:05:22.701000Z", "description": "ci", "secret": "SK1",
                "status": "active", "user_id": "u1"
            }),
        ),
        (
            "credential shown",
            bytes(credential(&key).with_last_use(key.last_use_ms())),
            json!({
                "access": "AK1", "create_time": "2020-01-03T09:05:22.701000Z", "description": "ci",
                "last_use_time": "2020-01-03T09:05:27.701000Z", "status": "active", "user_id": "u1"
            }),
        ),
        (
            "keystone_assignment",
            bytes(keystone_assignment(BASE, &expanded, Some(&names))),
            json!({
                "links": {
                    "assignment": "https://iam.example/v3/OS-INHERIT/domains/d1/groups/g1/roles/r1/inherited_to_projects",
                    "membership": "https://iam.example/v3/groups/g1/users/u1"
                },
                "role": {"id": "r1", "name": "admin"},
                "scope": {
                    "OS-INHERIT:inherited_to": "projects",
                    "project": {"domain": {"id": "d1", "name": "dom"}, "id": "p1", "name": "proj"}
                },
                "user": {"domain": {"id": "d1", "name": "dom"}, "id": "u1", "name": "alice"}
            }),
        ),
        (
            "keystone_assignment agency",
            bytes(keystone_assignment(BASE, &direct_to_agency, None)),
            json!({
                "agency": {"id": "g1"},
                "links": {"assignment": "https://iam.example/v3.0/OS-AGENCY/projects/p2/agencies/g1/roles/r1"},
                "role": {"id": "r1"}, "scope": {"project": {"id": "p2"}}
            }),
        ),
        (
            "iam_assignment",
            bytes(iam_assignment(&agency_grant)),
            json!({
                "agency": {"id": "g1"}, "is_inherited": false, "role": {"id": "r1"},
                "scope": {"project": {"id": "p2"}}
            }),
        ),
        (
            "idp",
            bytes(super::idp(BASE, &idp)),
            json!({
                "description": "corp", "enabled": true, "id": "idp1",
                "links": {
                    "protocols": "https://iam.example/v3/OS-FEDERATION/identity_providers/idp1/protocols",
                    "self": "https://iam.example/v3/OS-FEDERATION/identity_providers/idp1"
                },
                "remote_ids": ["https://idp.example"], "sso_type": "virtual_user_sso"
            }),
        ),
        // Flattened: sorted only through a Value, as every handler sends it.
        (
            "mapping",
            bytes(json!(mapping(BASE, &mapping_record))),
            json!({
                "id": "m1", "links": {"self": "https://iam.example/v3/OS-FEDERATION/mappings/m1"},
                "rules": [{"local": [], "remote": []}]
            }),
        ),
        (
            "protocol",
            bytes(protocol(BASE, &protocol_record)),
            json!({
                "id": "saml",
                "links": {
                    "identity_provider": "https://iam.example/v3/OS-FEDERATION/identity_providers/idp1",
                    "self": "https://iam.example/v3/OS-FEDERATION/identity_providers/idp1/protocols/saml"
                },
                "mapping_id": "m1"
            }),
        ),
        (
            "saml_metadata",
            bytes(saml_metadata(&metadata)),
            json!({
                "data": "<md/>", "domain_id": "d1", "entity_id": "https://idp.example", "id": "md1", "idp_id": "idp1",
                "protocol_id": "saml", "update_time": "2020-01-03T09:05:22.7", "xaccount_type": ""
            }),
        ),
        (
            "service",
            bytes(service(BASE, &catalog.services[0])),
            json!({
                "description": "servers", "enabled": true, "id": "s1",
                "links": {"self": "https://iam.example/v3/services/s1"}, "name": "nova", "type": "compute"
            }),
        ),
        (
            "endpoint",
            bytes(endpoint(BASE, &catalog.services[0].endpoints[0])),
            json!({
                "enabled": true, "id": "e1", "interface": "public",
                "links": {"self": "https://iam.example/v3/endpoints/e1"}, "region": "r1", "region_id": "r1",
                "service_id": "s1", "url": "https://x.example/v1/$(project_id)s"
            }),
        ),
        (
            "region",
            bytes(region(BASE, &catalog.regions[0])),
            json!({
                "description": "first", "id": "r1", "links": {"self": "https://iam.example/v3/regions/r1"},
                "locales": {"en-us": "r1", "es-es": "r1", "es-us": "r1", "pt-br": "r1", "zh-cn": "r1"},
                "parent_region_id": null, "type": "public"
            }),
        ),
        (
            "catalog_entries",
            bytes(catalog_entries(&catalog, Some("p1"))),
            json!([
                {
                    "endpoints": [
                        {
                            "id": "e1", "interface": "public", "region": "r1", "region_id": "r1",
                            "url": "https://x.example/v1/p1"
                        }
                    ],
                    "id": "s1", "name": "nova", "type": "compute"
                }
            ]),
        ),
        (
            "signed-request token",
            bytes(signed),
            json!({
                "token": {
                    "access": "AK1",
                    "assumed_by": {
                        "user": {
                            "domain": {"id": "d1", "name": "dom"}, "id": "u1", "name": "alice",
                            "password_expires_at": "2020-01-03T09:05:22.701000Z"
                        }
                    },
                    "audit_ids": ["BwcHBwcHBwcHBwcHBwcHBw", "CQkJCQkJCQkJCQkJCQkJCQ"], "catalog": [],
                    "domain": {"id": "d2", "name": "dom2"}, "expires_at": "2020-01-03T10:05:22.701000Z",
                    "issued_at": "2020-01-03T09:05:22.701000Z", "methods": ["password"],
                    "roles": [{"id": "r1", "name": "admin"}],
                    "session_policies": [{"Statement": [], "Version": "1.1"}],
                    "user": {
                        "domain": {"id": "d2", "name": "dom2"}, "id": "ag1", "name": "dom/ag",
                        "password_expires_at": ""
                    }
                }
            }),
        ),
        (
            "login_token",
            bytes(login_token(&ctx)),
            json!({
                "logintoken": {
                    "assumed_by": {
                        "user": {
                            "domain": {"id": "d1", "name": "dom"}, "id": "u1", "name": "alice",
                            "password_expires_at": "2020-01-03T09:05:22.701000Z"
                        }
                    },
                    "domain_id": "d2", "expires_at": "2020-01-03T10:05:22.701000Z", "method": "federation_proxy",
                    "session_id": "07070707070707070707070707070707", "session_name": "sess",
                    "session_policies": [{"Statement": [], "Version": "1.1"}],
                    "session_user_id": "dcfd56c609725a5ac910a027d2b1d6c5", "user_id": "ag1", "user_name": "dom/ag"
                }
            }),
        ),
        (
            "paged list",
            bytes(paged),
            json!({
                "links": {
                    "next": "https://iam.example/v3/roles?page=3&per_page=1",
                    "previous": "https://iam.example/v3/roles?page=1&per_page=1",
                    "self": "https://iam.example/v3/roles?page=2&per_page=1"
                },
                "roles": [{"id": "r1"}],
                "total_number": 3
            }),
        ),
    ];
    // `json!` sorts its keys: equal text means equal values in the wire's order.
    for (what, got, want) in cases {
        assert_eq!(got, want.to_string(), "{what}");
    }
}
