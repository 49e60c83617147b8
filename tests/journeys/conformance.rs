//! The store contract, run against SQLite and PostgreSQL alike (dex's storage conformance
//! idea): one async function per behaviour, each on a fresh store.

use fedgate::model::*;
use fedgate::store::*;

use sqlx::Connection;

use crate::support::{PgDatabase, open_store};

const NOW: i64 = 1_800_000_000_123;

fn domain(id: &str, name: &str) -> Domain {
    Domain {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        enabled: true,
        created_at_ms: NOW,
    }
}

fn user(id: &str, domain_id: &str, name: &str) -> User {
    User {
        id: id.into(),
        domain_id: domain_id.into(),
        name: name.into(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        enabled: true,
        description: String::new(),
        display_name: None,
        email: None,
        areacode: None,
        phone: None,
        access_mode: UserAccessMode::Default,
        pwd_status: false,
        xuser_type: None,
        xuser_id: None,
        password_expires_at_ms: Some(NOW + 1),
        last_project_id: None,
        is_domain_owner: false,
        created_at_ms: NOW,
        updated_at_ms: NOW,
        password_changed_at_ms: None,
        last_login_at_ms: None,
    }
}

/// A mapping with no rules: what the store keeps does not depend on them.
fn mapping(id: &str, domain_id: &str) -> MappingRecord {
    MappingRecord {
        id: id.into(),
        domain_id: domain_id.into(),
        document: "{\"rules\": []}".into(),
        created_at_ms: NOW,
        updated_at_ms: NOW,
    }
}

fn group(id: &str, domain_id: &str, name: &str) -> Group {
    Group {
        id: id.into(),
        domain_id: domain_id.into(),
        name: name.into(),
        description: "d".into(),
        display_name: None,
        created_at_ms: NOW,
    }
}

fn role(id: &str, name: &str) -> Role {
    Role {
        id: id.into(),
        name: name.into(),
        display_name: name.into(),
        role_type: "AA".into(),
        catalog: "BASE".into(),
        flag: String::new(),
        description: String::new(),
        domain_id: None,
        policy: "{}".into(),
        created_at_ms: NOW,
        updated_at_ms: NOW,
    }
}

fn project(id: &str, domain_id: &str, name: &str, parent: Option<&str>) -> Project {
    Project {
        id: id.into(),
        domain_id: domain_id.into(),
        name: name.into(),
        description: String::new(),
        enabled: true,
        parent_id: parent.map(Into::into),
        status: ProjectStatus::Normal,
        created_at_ms: NOW,
    }
}

fn group_grant(group_id: &str, role_id: &str, kind: TargetKind, target: &str, inherited: bool) -> Grant {
    Grant {
        actor_kind: ActorKind::Group,
        actor_id: group_id.into(),
        role_id: role_id.into(),
        target_kind: kind,
        target_id: target.into(),
        inherited,
    }
}

async fn duplicates_conflict_and_missing_reads_are_none(s: &dyn Store) {
    s.create_domain(&domain("d1", "acme")).await.unwrap();
    assert!(matches!(
        s.create_domain(&domain("d2", "acme")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.create_domain(&domain("d1", "other")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_domain("missing").await.unwrap(), None);
    s.create_domain(&domain("d2", "beta")).await.unwrap();
    s.create_user(&user("u1", "d1", "alice")).await.unwrap();
    assert!(matches!(
        s.create_user(&user("u2", "d1", "alice")).await,
        Err(StoreError::Conflict(_))
    ));
    s.create_user(&user("u3", "d2", "alice")).await.unwrap();
    assert!(matches!(
        s.create_user(&user("u4", "nope", "bob")).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_user("u9").await.unwrap(), None);
    assert!(!s.delete_user("u9").await.unwrap());
}

async fn records_round_trip_exactly(s: &dyn Store) {
    s.create_domain(&domain("d1", "Ünïcødé 域")).await.unwrap();
    let mut u = user("u1", "d1", "Zoë 山田");
    u.email = Some("zoe@example.com".into());
    u.is_domain_owner = true;
    u.last_login_at_ms = Some(i64::MAX / 2);
    s.create_user(&u).await.unwrap();
    assert_eq!(s.get_user("u1").await.unwrap(), Some(u.clone()));
    assert_eq!(s.get_user_by_name("d1", "Zoë 山田").await.unwrap(), Some(u.clone()));
    assert_eq!(
        s.get_user_by_name("d1", "zoë 山田").await.unwrap(),
        None,
        "names are case-sensitive"
    );
    u.enabled = false;
    u.name = "zoe".into();
    assert!(s.update_user(&u).await.unwrap());
    assert_eq!(s.get_user("u1").await.unwrap(), Some(u));
    assert_eq!(s.get_domain_by_name("Ünïcødé 域").await.unwrap().unwrap().id, "d1");
    let mut bound = user("u2", "d1", "bound");
    bound.xuser_type = Some("TenantIdp".into());
    bound.xuser_id = Some("bob@corp".into());
    s.create_user(&bound).await.unwrap();
    assert_eq!(
        s.get_user_by_external_id("d1", "TenantIdp", "bob@corp").await.unwrap(),
        Some(bound)
    );
    assert_eq!(
        s.get_user_by_external_id("d2", "TenantIdp", "bob@corp").await.unwrap(),
        None
    );
    assert_eq!(
        s.get_user_by_external_id("d1", "TenantIdp", "BOB@corp").await.unwrap(),
        None
    );
}

async fn filters_select_exactly(s: &dyn Store) {
    s.create_domain(&domain("d1", "a")).await.unwrap();
    s.create_domain(&domain("d2", "b")).await.unwrap();
    s.create_user(&user("u1", "d1", "alice")).await.unwrap();
    let mut bob = user("u2", "d1", "bob");
    bob.enabled = false;
    s.create_user(&bob).await.unwrap();
    s.create_user(&user("u3", "d2", "carol")).await.unwrap();
    let names = |v: Vec<User>| v.into_iter().map(|u| u.name).collect::<Vec<_>>();
    let f = |d: Option<&str>, n: Option<&str>, e: Option<bool>| UserFilter {
        domain_id: d.map(Into::into),
        name: n.map(Into::into),
        enabled: e,
    };
    assert_eq!(
        names(s.list_users(&f(None, None, None)).await.unwrap()),
        ["alice", "bob", "carol"]
    );
    assert_eq!(
        names(s.list_users(&f(Some("d1"), None, None)).await.unwrap()),
        ["alice", "bob"]
    );
    assert_eq!(
        names(s.list_users(&f(Some("d1"), None, Some(false))).await.unwrap()),
        ["bob"]
    );
    assert_eq!(
        names(s.list_users(&f(None, Some("carol"), None)).await.unwrap()),
        ["carol"]
    );
    assert_eq!(
        names(s.list_users(&f(None, Some("' OR 1=1 --"), None)).await.unwrap()),
        Vec::<String>::new()
    );
    s.create_project(&project("p1", "d1", "region", None)).await.unwrap();
    s.create_project(&project("p2", "d1", "region_sub", Some("p1")))
        .await
        .unwrap();
    assert!(matches!(
        s.create_project(&project("p3", "d1", "x", Some("missing"))).await,
        Err(StoreError::Conflict(_))
    ));
    let children = s
        .list_projects(&ProjectFilter {
            parent_id: Some("p1".into()),
            ..ProjectFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(children.len(), 1);
    let none = s
        .list_projects(&ProjectFilter {
            ids: Some(vec![]),
            ..ProjectFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty(), "an empty id list selects nothing");
}

async fn deletes_cascade_to_memberships_and_grants(s: &dyn Store) {
    s.create_domain(&domain("d1", "a")).await.unwrap();
    s.create_user(&user("u1", "d1", "alice")).await.unwrap();
    s.create_group(&group("g1", "d1", "devs")).await.unwrap();
    s.create_role(&role("r1", "member")).await.unwrap();
    s.add_member("g1", "u1").await.unwrap();
    s.add_member("g1", "u1").await.unwrap();
    assert!(s.is_member("g1", "u1").await.unwrap());
    assert!(matches!(
        s.add_member("g1", "nobody").await,
        Err(StoreError::Conflict(_))
    ));
    let g = group_grant("g1", "r1", TargetKind::Domain, "d1", true);
    assert!(s.create_grant(&g).await.unwrap());
    assert!(!s.create_grant(&g).await.unwrap(), "grants are idempotent");
    assert!(s.grant_exists(&g).await.unwrap());
    let mut not_inherited = g.clone();
    not_inherited.inherited = false;
    assert!(!s.grant_exists(&not_inherited).await.unwrap());
    assert_eq!(s.list_groups_of_user("u1").await.unwrap().len(), 1);
    assert!(s.delete_user("u1").await.unwrap());
    assert!(s.list_members("g1").await.unwrap().is_empty());
    assert!(s.delete_group("g1").await.unwrap());
    assert!(s.list_grants(&GrantFilter::default()).await.unwrap().is_empty());
}

async fn grant_filters_combine(s: &dyn Store) {
    s.create_role(&role("r1", "member")).await.unwrap();
    s.create_role(&role("r2", "reader")).await.unwrap();
    for g in [
        group_grant("g1", "r1", TargetKind::Project, "p1", false),
        group_grant("g1", "r2", TargetKind::Domain, "d1", true),
        group_grant("g2", "r1", TargetKind::Domain, "d1", false),
    ] {
        s.create_grant(&g).await.unwrap();
    }
    let count = |f: GrantFilter| async move { s.list_grants(&f).await.unwrap().len() };
    assert_eq!(count(GrantFilter::default()).await, 3);
    assert_eq!(
        count(GrantFilter {
            actor_ids: Some(vec!["g1".into()]),
            ..GrantFilter::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(GrantFilter {
            target_kind: Some(TargetKind::Domain),
            inherited: Some(true),
            ..GrantFilter::default()
        })
        .await,
        1
    );
    assert_eq!(
        count(GrantFilter {
            role_id: Some("r1".into()),
            target_ids: Some(vec!["d1".into(), "p1".into()]),
            ..GrantFilter::default()
        })
        .await,
        2
    );
    assert!(
        s.delete_grant(&group_grant("g2", "r1", TargetKind::Domain, "d1", false))
            .await
            .unwrap()
    );
    assert!(
        !s.delete_grant(&group_grant("g2", "r1", TargetKind::Domain, "d1", false))
            .await
            .unwrap()
    );
}

fn event(subject: &str, expires: i64) -> StoredRevocation {
    StoredRevocation {
        kind: "user".into(),
        subject: subject.into(),
        authenticated_before_ms: NOW,
        expires_at_ms: expires,
    }
}

async fn revocations_are_sequenced_and_expire(s: &dyn Store) {
    let a = s.insert_revocation(&event("u1", NOW + 10)).await.unwrap();
    let b = s.insert_revocation(&event("u2", NOW + 1000)).await.unwrap();
    assert!(b > a);
    let all = s.list_revocations(0, NOW).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].1, event("u2", NOW + 1000));
    assert_eq!(
        s.list_revocations(a, NOW).await.unwrap().len(),
        1,
        "only events after the cursor"
    );
    assert_eq!(
        s.list_revocations(0, NOW + 10).await.unwrap().len(),
        1,
        "expired events are not listed"
    );
    assert_eq!(s.prune_revocations(NOW + 10).await.unwrap(), 1);
    assert_eq!(s.list_revocations(0, 0).await.unwrap().len(), 1);
}

async fn token_keys_are_unique_and_retire_oldest_first(s: &dyn Store) {
    let key = |id: u32| StoredKey {
        id,
        secret: "c2VjcmV0".into(),
        created_at_ms: NOW + i64::from(id),
    };
    s.insert_token_key(&key(1)).await.unwrap();
    assert!(matches!(
        s.insert_token_key(&key(1)).await,
        Err(StoreError::Conflict(_))
    ));
    s.insert_token_key(&key(2)).await.unwrap();
    s.insert_token_key(&key(3)).await.unwrap();
    assert_eq!(s.delete_token_keys_before(3).await.unwrap(), 2);
    assert_eq!(s.list_token_keys().await.unwrap(), vec![key(3)]);
    assert_eq!(
        s.delete_token_keys_before(10).await.unwrap(),
        0,
        "the newest key always stays"
    );
}

async fn agencies_round_trip_and_cascade(s: &dyn Store) {
    s.create_domain(&domain("d1", "a")).await.unwrap();
    s.create_role(&role("r1", "member")).await.unwrap();
    let agency = Agency {
        id: "a1".into(),
        domain_id: "d1".into(),
        name: "ops".into(),
        trust_domain_id: "d1".into(),
        description: String::new(),
        duration: "7".into(),
        expire_at_ms: Some(NOW + 7 * 86_400_000),
        created_at_ms: NOW,
    };
    s.create_agency(&agency).await.unwrap();
    assert!(matches!(s.create_agency(&agency).await, Err(StoreError::Conflict(_))));
    assert_eq!(s.get_agency("a1").await.unwrap(), Some(agency.clone()));
    let mut g = group_grant("a1", "r1", TargetKind::Domain, "d1", false);
    g.actor_kind = ActorKind::Agency;
    s.create_grant(&g).await.unwrap();
    assert!(s.delete_agency("a1").await.unwrap());
    assert!(s.list_grants(&GrantFilter::default()).await.unwrap().is_empty());
}

async fn federation_cascades_and_restricts(s: &dyn Store) {
    s.create_domain(&domain("d1", "a")).await.unwrap();
    let idp = |id: &str, remote: &[&str]| IdentityProvider {
        id: id.into(),
        domain_id: "d1".into(),
        sso_type: fedgate::model::SsoType::VirtualUserSso,
        description: String::new(),
        enabled: true,
        remote_ids: remote.iter().map(|r| r.to_string()).collect(),
        created_at_ms: NOW,
    };
    s.create_idp(&idp("acme", &["https://a", "https://b"])).await.unwrap();
    assert!(matches!(
        s.create_idp(&idp("other", &["https://b"])).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.get_idp("other").await.unwrap(),
        None,
        "a refused create leaves nothing behind"
    );
    assert_eq!(
        s.get_idp("acme").await.unwrap().unwrap().remote_ids,
        ["https://a", "https://b"]
    );
    let mapping = mapping("m1", "d1");
    s.create_mapping(&mapping).await.unwrap();
    let protocol = ProtocolRecord {
        idp_id: "acme".into(),
        id: fedgate::model::Protocol::Saml,
        mapping_id: "m1".into(),
    };
    s.create_protocol(&protocol).await.unwrap();
    let orphan = ProtocolRecord {
        mapping_id: "missing".into(),
        ..protocol.clone()
    };
    assert!(matches!(s.create_protocol(&orphan).await, Err(StoreError::Conflict(_))));
    assert!(matches!(s.delete_mapping("m1").await, Err(StoreError::Conflict(_))));
    assert!(s.delete_idp("acme").await.unwrap());
    assert_eq!(
        s.get_protocol("acme", fedgate::model::Protocol::Saml).await.unwrap(),
        None
    );
    assert!(s.delete_mapping("m1").await.unwrap());
    s.create_idp(&idp("other", &["https://b"])).await.unwrap();
}

/// An account's providers are all virtual_user_sso or a single iam_user_sso one, even when
/// admins create them at the same moment.
async fn an_account_has_one_kind_of_identity_provider(s: &dyn Store) {
    for d in ["d1", "d2", "d3"] {
        s.create_domain(&domain(d, d)).await.unwrap();
    }
    let idp = |id: &str, domain: &str, sso_type: &str| IdentityProvider {
        id: id.into(),
        domain_id: domain.into(),
        sso_type: SsoType::parse(sso_type).expect("an sso_type"),
        description: String::new(),
        enabled: true,
        remote_ids: vec![],
        created_at_ms: NOW,
    };
    let sso_type_conflict = |r: StoreResult<()>| matches!(r, Err(StoreError::Conflict(w)) if w == SSO_TYPE_CONFLICT);
    s.create_idp(&idp("v1", "d1", "virtual_user_sso")).await.unwrap();
    s.create_idp(&idp("v2", "d1", "virtual_user_sso")).await.unwrap();
    assert!(sso_type_conflict(s.create_idp(&idp("i1", "d1", "iam_user_sso")).await));
    s.create_idp(&idp("i2", "d2", "iam_user_sso")).await.unwrap();
    assert!(sso_type_conflict(s.create_idp(&idp("i3", "d2", "iam_user_sso")).await));
    assert!(sso_type_conflict(
        s.create_idp(&idp("v3", "d2", "virtual_user_sso")).await
    ));
    assert_eq!(s.get_idp("i1").await.unwrap(), None, "nothing left behind");
    let racers: Vec<_> = (0..8)
        .map(|i| {
            idp(
                &format!("race{i}"),
                "d3",
                if i % 2 == 0 { "iam_user_sso" } else { "virtual_user_sso" },
            )
        })
        .collect();
    let results = futures::future::join_all(racers.iter().map(|i| s.create_idp(i))).await;
    let created: Vec<&str> = racers
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i.sso_type.as_str())
        .collect();
    assert!(
        results.iter().all(|r| r.is_ok() || sso_type_conflict_ref(r)),
        "{results:?}"
    );
    assert!(
        created == ["iam_user_sso"] || (!created.is_empty() && created.iter().all(|t| *t == "virtual_user_sso")),
        "one kind only: {created:?}"
    );
}

/// A provider update made from a stale read of its status writes nothing: a concurrent
/// disable is never undone.
async fn a_stale_provider_write_changes_nothing(s: &dyn Store) {
    s.create_domain(&domain("d1", "a")).await.unwrap();
    let mut idp = IdentityProvider {
        id: "acme".into(),
        domain_id: "d1".into(),
        sso_type: fedgate::model::SsoType::VirtualUserSso,
        description: String::new(),
        enabled: true,
        remote_ids: vec![],
        created_at_ms: NOW,
    };
    s.create_idp(&idp).await.unwrap();
    let stale = IdentityProvider {
        description: "renamed".into(),
        remote_ids: vec!["https://a".into()],
        ..idp.clone()
    };
    idp.enabled = false;
    assert!(s.update_idp(&idp, true).await.unwrap(), "the disable, read as enabled");
    assert!(
        !s.update_idp(&stale, true).await.unwrap(),
        "read as enabled, but it is not any more"
    );
    assert_eq!(s.get_idp("acme").await.unwrap(), Some(idp.clone()), "nothing written");
    assert!(
        s.update_idp(
            &IdentityProvider {
                enabled: false,
                ..stale
            },
            false
        )
        .await
        .unwrap()
    );
    assert!(
        !s.update_idp(
            &IdentityProvider {
                id: "gone".into(),
                ..idp
            },
            false
        )
        .await
        .unwrap()
    );
}

fn sso_type_conflict_ref(r: &StoreResult<()>) -> bool {
    matches!(r, Err(StoreError::Conflict(w)) if w == SSO_TYPE_CONFLICT)
}

async fn shadow_users_record_logins_and_keep_their_status(s: &dyn Store) {
    s.create_domain(&domain("d1", "a")).await.unwrap();
    s.create_idp(&IdentityProvider {
        id: "acme".into(),
        domain_id: "d1".into(),
        sso_type: fedgate::model::SsoType::VirtualUserSso,
        description: String::new(),
        enabled: true,
        remote_ids: vec![],
        created_at_ms: NOW,
    })
    .await
    .unwrap();
    let shadow = FederatedUser {
        id: "0123456789abcdef0123456789abcdef".into(),
        idp_id: "acme".into(),
        protocol_id: fedgate::model::Protocol::Saml,
        name: "Zoë".into(),
        domain_id: "d1".into(),
        enabled: true,
        created_at_ms: NOW,
        last_login_at_ms: NOW,
    };
    assert_eq!(s.record_federated_login(&shadow).await.unwrap(), shadow);
    assert_eq!(s.get_federated_user(&shadow.id).await.unwrap(), Some(shadow.clone()));
    assert_eq!(s.get_federated_user("missing").await.unwrap(), None);
    assert!(s.set_federated_user_enabled(&shadow.id, false).await.unwrap());
    assert!(!s.set_federated_user_enabled("missing", false).await.unwrap());
    // A later login updates the last login and protocol, never the status an admin set.
    let again = FederatedUser {
        protocol_id: fedgate::model::Protocol::Oidc,
        last_login_at_ms: NOW + 5,
        ..shadow.clone()
    };
    let stored = s.record_federated_login(&again).await.unwrap();
    assert!(!stored.enabled, "a disabled shadow user stays disabled");
    assert_eq!(
        (stored.protocol_id.as_str(), stored.last_login_at_ms),
        ("oidc", NOW + 5)
    );
    assert_eq!(s.list_federated_users("acme").await.unwrap(), vec![stored]);
}

async fn one_time_values_are_used_once(s: &dyn Store) {
    assert!(
        s.remember_once("saml-assertion:acme", "_a1", NOW + 100, NOW)
            .await
            .unwrap()
    );
    assert!(
        !s.remember_once("saml-assertion:acme", "_a1", NOW + 100, NOW + 50)
            .await
            .unwrap(),
        "a replay is seen"
    );
    assert!(
        s.remember_once("saml-assertion:other", "_a1", NOW + 100, NOW)
            .await
            .unwrap(),
        "namespaces are apart"
    );
    assert!(
        s.remember_once("saml-assertion:acme", "_a1", NOW + 300, NOW + 100)
            .await
            .unwrap(),
        "an expired record is gone"
    );
    assert!(
        !s.remember_once("saml-assertion:acme", "_a1", NOW + 300, NOW + 200)
            .await
            .unwrap()
    );
    assert!(s.remember_once("authn-request", "_r1", NOW + 10, NOW).await.unwrap());
    assert!(
        !s.take_once("authn-request", "_r1", NOW + 10).await.unwrap(),
        "an expired request cannot be taken"
    );
    assert!(s.remember_once("authn-request", "_r2", NOW + 10, NOW).await.unwrap());
    assert!(s.take_once("authn-request", "_r2", NOW + 1).await.unwrap());
    assert!(
        !s.take_once("authn-request", "_r2", NOW + 1).await.unwrap(),
        "taken once only"
    );
    assert!(!s.take_once("authn-request", "unknown", NOW).await.unwrap());
    assert!(s.was_used("saml-assertion:acme", "_a1", NOW + 200).await.unwrap());
    assert!(
        !s.was_used("saml-assertion:acme", "_a1", NOW + 300).await.unwrap(),
        "expired"
    );
    assert!(!s.was_used("saml-assertion:acme", "_zz", NOW).await.unwrap());
    assert!(!s.was_used("saml-assertion:other", "_zz", NOW).await.unwrap());
    assert!(
        s.remember_once("saml-assertion:acme", "_zz", NOW + 100, NOW)
            .await
            .unwrap(),
        "looking records nothing"
    );
    assert!(s.prune_one_time_values(NOW + 1_000).await.unwrap() >= 2);

    // Many at once, as concurrent logins send them (they may share one write): each distinct
    // value is new exactly once, however many times it is sent.
    let attempts: Vec<_> = (0..200)
        .map(|i| s.remember_once("oidc-jti:burst", if i % 2 == 0 { "same" } else { "x" }, NOW + 100, NOW))
        .chain((0..100).map(|_| s.remember_once("oidc-jti:burst", "other", NOW + 100, NOW)))
        .collect();
    let fresh = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    assert_eq!(fresh, 3, "one success per distinct value");
}

async fn login_failures_count_lock_and_reset(s: &dyn Store) {
    const MIN: i64 = 60_000;
    let policy = LockoutPolicy {
        max_failures: 3,
        window_ms: 15 * MIN,
        lockout_ms: 20 * MIN,
    };
    s.create_domain(&domain("d1", "one")).await.unwrap();
    s.create_user(&user("u1", "d1", "alice")).await.unwrap();
    s.create_user(&user("u2", "d1", "bob")).await.unwrap();
    assert_eq!(s.get_login_failures("u1").await.unwrap(), None);
    assert!(!s.clear_login_failures("u1").await.unwrap(), "nothing to clear");
    let record = |failures, window_started_at_ms, locked_until_ms| LoginFailures {
        user_id: "u1".into(),
        failures,
        window_started_at_ms,
        locked_until_ms,
    };

    // Counted from the first failure; the third within the window locks.
    let first = s.record_login_failure("u1", NOW, &policy).await.unwrap();
    assert_eq!(first, record(1, NOW, None));
    assert_eq!(s.get_login_failures("u1").await.unwrap(), Some(first));
    let second = s.record_login_failure("u1", NOW + MIN, &policy).await.unwrap();
    assert_eq!(second, record(2, NOW, None));
    let third = s.record_login_failure("u1", NOW + 2 * MIN, &policy).await.unwrap();
    assert_eq!(third, record(3, NOW, Some(NOW + 22 * MIN)));
    assert!(third.locked_at(NOW + 22 * MIN - 1));
    assert!(!third.locked_at(NOW + 22 * MIN), "the lock ends at its instant");
    // A failure during the lock does not extend it.
    let during = s.record_login_failure("u1", NOW + 3 * MIN, &policy).await.unwrap();
    assert_eq!(during.locked_until_ms, Some(NOW + 22 * MIN));
    // After the lock, counting starts again.
    let after = s.record_login_failure("u1", NOW + 22 * MIN, &policy).await.unwrap();
    assert_eq!(after, record(1, NOW + 22 * MIN, None));
    // Failures further apart than the window never add up.
    let later = NOW + 22 * MIN + 15 * MIN;
    let fresh = s.record_login_failure("u1", later, &policy).await.unwrap();
    assert_eq!(fresh, record(1, later, None));
    assert_eq!(s.get_login_failures("u2").await.unwrap(), None, "users are apart");

    // A success clears the record.
    assert!(s.clear_login_failures("u1").await.unwrap());
    assert_eq!(s.get_login_failures("u1").await.unwrap(), None);

    // Concurrent failures (replicas at once) are each counted, and lock exactly once.
    let burst: Vec<_> = (0..10)
        .map(|i| s.record_login_failure("u2", NOW + i, &policy))
        .collect();
    let results: Vec<LoginFailures> = futures::future::join_all(burst)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut counts: Vec<i64> = results.iter().map(|r| r.failures).collect();
    counts.sort();
    assert_eq!(counts, (1..=10).collect::<Vec<_>>());
    let stored = s.get_login_failures("u2").await.unwrap().unwrap();
    assert_eq!(stored.failures, 10);
    let lock = stored.locked_until_ms.unwrap();
    assert!(
        results
            .iter()
            .filter(|r| r.failures >= 3)
            .all(|r| r.locked_until_ms == Some(lock))
    );

    // Only existing users have records, and deleting the user deletes it.
    assert!(matches!(
        s.record_login_failure("ghost", NOW, &policy).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.get_login_failures("ghost").await.unwrap(), None);
    assert!(s.delete_user("u2").await.unwrap());
    assert_eq!(s.get_login_failures("u2").await.unwrap(), None);
}

fn access_key(access: &str, user_id: &str, at: i64) -> StoredAccessKey {
    StoredAccessKey {
        access: access.into(),
        user_id: user_id.into(),
        secret_sealed: format!("sealed-{access}"),
        key_id: "0011223344556677".into(),
        enabled: true,
        description: String::new(),
        created_at_ms: at,
        last_used_at_ms: None,
    }
}

async fn access_keys_are_capped_updated_and_cascade(s: &dyn Store) {
    s.create_domain(&domain("d1", "one")).await.unwrap();
    s.create_user(&user("u1", "d1", "alice")).await.unwrap();
    s.create_user(&user("u2", "d1", "bob")).await.unwrap();
    let mut first = access_key("AK1", "u1", NOW);
    first.description = "Ünïcødé 鍵".into();
    assert!(s.create_access_key(&first, 2).await.unwrap());
    assert_eq!(s.get_access_key("AK1").await.unwrap(), Some(first.clone()));
    assert!(matches!(
        s.create_access_key(&access_key("AK1", "u2", NOW), 2).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        s.create_access_key(&access_key("AK9", "ghost", NOW), 2).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.create_access_key(&access_key("AK2", "u1", NOW + 1), 2).await.unwrap());
    assert!(
        !s.create_access_key(&access_key("AK3", "u1", NOW + 2), 2).await.unwrap(),
        "the cap holds"
    );
    assert_eq!(s.get_access_key("AK3").await.unwrap(), None);
    let listed: Vec<String> = s
        .list_access_keys("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.access)
        .collect();
    assert_eq!(listed, ["AK1", "AK2"], "oldest first");
    assert!(s.list_access_keys("u2").await.unwrap().is_empty());
    assert_eq!(s.access_key_fingerprints().await.unwrap(), ["0011223344556677"]);

    // Concurrent creates for one user (replicas at once): exactly the cap succeeds.
    let burst: Vec<StoredAccessKey> = (0..10).map(|i| access_key(&format!("BK{i}"), "u2", NOW + i)).collect();
    let results = futures::future::join_all(burst.iter().map(|k| s.create_access_key(k, 2))).await;
    let created = results.into_iter().map(Result::unwrap).filter(|ok| *ok).count();
    assert_eq!(created, 2);
    assert_eq!(s.list_access_keys("u2").await.unwrap().len(), 2);

    assert!(s.update_access_key("AK1", false, "off").await.unwrap());
    let updated = s.get_access_key("AK1").await.unwrap().unwrap();
    assert_eq!((updated.enabled, updated.description.as_str()), (false, "off"));
    assert!(!s.update_access_key("nope", true, "").await.unwrap());

    // Last uses only move forward; missing keys are skipped.
    let uses = vec![
        ("AK1".to_string(), NOW + 50),
        ("nope".to_string(), NOW),
        ("AK2".to_string(), NOW + 7),
    ];
    assert_eq!(s.record_access_key_uses(&uses).await.unwrap(), 2);
    assert_eq!(
        s.record_access_key_uses(&[("AK1".to_string(), NOW + 10)])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        s.get_access_key("AK1").await.unwrap().unwrap().last_used_at_ms,
        Some(NOW + 50)
    );
    assert_eq!(s.record_access_key_uses(&[]).await.unwrap(), 0);

    assert!(s.delete_access_key("AK2").await.unwrap());
    assert!(!s.delete_access_key("AK2").await.unwrap());
    // Deleting the user deletes its keys.
    assert!(s.delete_user("u1").await.unwrap());
    assert_eq!(s.get_access_key("AK1").await.unwrap(), None);
    assert!(s.list_access_keys("u1").await.unwrap().is_empty());
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::open_store(&fedgate::config::sqlite_url(dir.path())).await;
                    super::$case(&store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(db) = super::PgDatabase::create().await else { return };
                    let store = super::open_store(&db.url).await;
                    super::$case(&store).await;
                    store.close().await;
                    db.drop_database().await;
                }
            )*
        }
    };
}

/// Domains are renamed and disabled in place; a delete takes only a disabled domain, with
/// everything in it (nested projects, grants on and of its records, federation), and leaves
/// the other domains' records alone.
async fn a_disabled_domain_is_deleted_with_its_contents(s: &dyn Store) {
    for (id, name) in [("d1", "a"), ("d2", "b")] {
        s.create_domain(&domain(id, name)).await.unwrap();
    }
    let mut d1 = domain("d1", "renamed");
    d1.description = "x".into();
    assert!(s.update_domain(&d1).await.unwrap());
    assert_eq!(s.get_domain("d1").await.unwrap(), Some(d1.clone()));
    assert!(matches!(
        s.update_domain(&domain("d1", "b")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(!s.update_domain(&domain("missing", "m")).await.unwrap());
    s.create_role(&role("r1", "member")).await.unwrap();
    for (uid, d, name) in [("u1", "d1", "alice"), ("u2", "d2", "bob")] {
        s.create_user(&user(uid, d, name)).await.unwrap();
    }
    for (gid, d) in [("g1", "d1"), ("g2", "d2")] {
        s.create_group(&group(gid, d, "staff")).await.unwrap();
    }
    s.add_member("g1", "u1").await.unwrap();
    s.add_member("g2", "u2").await.unwrap();
    s.create_project(&project("p1", "d1", "region", None)).await.unwrap();
    s.create_project(&project("p2", "d1", "region_sub", Some("p1")))
        .await
        .unwrap();
    s.create_project(&project("q1", "d2", "region", None)).await.unwrap();
    let grants = [
        group_grant("g1", "r1", TargetKind::Domain, "d1", true),
        group_grant("g1", "r1", TargetKind::Project, "p2", false),
        // Another account's group on this account's project, and the reverse.
        group_grant("g2", "r1", TargetKind::Project, "p1", false),
        group_grant("g1", "r1", TargetKind::Project, "q1", false),
        group_grant("g2", "r1", TargetKind::Project, "q1", false),
    ];
    for g in &grants {
        s.create_grant(g).await.unwrap();
    }
    s.create_idp(&IdentityProvider {
        id: "idp1".into(),
        domain_id: "d1".into(),
        sso_type: fedgate::model::SsoType::VirtualUserSso,
        description: String::new(),
        enabled: true,
        remote_ids: vec!["https://idp1".into()],
        created_at_ms: NOW,
    })
    .await
    .unwrap();
    s.create_mapping(&mapping("m1", "d1")).await.unwrap();
    s.create_protocol(&ProtocolRecord {
        idp_id: "idp1".into(),
        id: fedgate::model::Protocol::Saml,
        mapping_id: "m1".into(),
    })
    .await
    .unwrap();

    assert!(!s.delete_domain("d1").await.unwrap(), "an enabled domain stays");
    assert!(s.get_user("u1").await.unwrap().is_some() && s.get_project("p2").await.unwrap().is_some());
    assert!(!s.delete_domain("missing").await.unwrap());
    d1.enabled = false;
    assert!(s.update_domain(&d1).await.unwrap());
    assert!(s.delete_domain("d1").await.unwrap());
    assert!(!s.delete_domain("d1").await.unwrap());
    assert_eq!(s.get_domain("d1").await.unwrap(), None);
    for id in ["u1"] {
        assert_eq!(s.get_user(id).await.unwrap(), None);
    }
    assert_eq!(s.get_group("g1").await.unwrap(), None);
    for p in ["p1", "p2"] {
        assert_eq!(s.get_project(p).await.unwrap(), None);
    }
    assert_eq!(s.get_idp("idp1").await.unwrap(), None);
    assert_eq!(
        s.get_protocol("idp1", fedgate::model::Protocol::Saml).await.unwrap(),
        None
    );
    assert_eq!(s.get_mapping("m1").await.unwrap(), None);
    assert_eq!(
        s.list_grants(&GrantFilter::default()).await.unwrap(),
        vec![grants[4].clone()],
        "only the other account's own grant is left"
    );
    assert!(s.get_user("u2").await.unwrap().is_some());
    assert!(s.is_member("g2", "u2").await.unwrap());
    assert!(s.get_project("q1").await.unwrap().is_some());
    assert!(s.get_domain("d2").await.unwrap().is_some());
    // The provider's id and remote id are free again.
    s.create_idp(&IdentityProvider {
        id: "idp1".into(),
        domain_id: "d2".into(),
        sso_type: fedgate::model::SsoType::VirtualUserSso,
        description: String::new(),
        enabled: true,
        remote_ids: vec!["https://idp1".into()],
        created_at_ms: NOW,
    })
    .await
    .unwrap();
}

conformance!(
    a_disabled_domain_is_deleted_with_its_contents,
    duplicates_conflict_and_missing_reads_are_none,
    records_round_trip_exactly,
    filters_select_exactly,
    deletes_cascade_to_memberships_and_grants,
    grant_filters_combine,
    revocations_are_sequenced_and_expire,
    token_keys_are_unique_and_retire_oldest_first,
    agencies_round_trip_and_cascade,
    federation_cascades_and_restricts,
    an_account_has_one_kind_of_identity_provider,
    a_stale_provider_write_changes_nothing,
    shadow_users_record_logins_and_keep_their_status,
    one_time_values_are_used_once,
    login_failures_count_lock_and_reset,
    access_keys_are_capped_updated_and_cascade,
);

/// A transaction that reads before it writes (a mapping's delete checks no protocol uses it, a
/// domain's that it is disabled) waits while another connection writes, then goes through. On
/// SQLite a deferred transaction cannot wait for the write lock once it has read (SQLite skips
/// the busy handler there) and failed at once with SQLITE_BUSY: a 503 to the caller.
async fn a_read_then_write_waits_for_another_writer(s: &dyn Store, url: &str) {
    s.create_domain(&domain("d1", "a")).await.unwrap();
    s.create_domain(&Domain {
        enabled: false,
        ..domain("d2", "b")
    })
    .await
    .unwrap();
    s.create_mapping(&mapping("m1", "d1")).await.unwrap();
    let mut other = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("UPDATE domains SET description = 'held' WHERE id = 'd1'")
        .execute(&mut other)
        .await
        .unwrap();
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    };
    let (mapping_deleted, domain_deleted, ()) = tokio::join!(s.delete_mapping("m1"), s.delete_domain("d2"), release);
    assert_eq!((mapping_deleted.unwrap(), domain_deleted.unwrap()), (true, true));
    assert_eq!(s.get_mapping("m1").await.unwrap(), None);
    assert_eq!(s.get_domain("d2").await.unwrap(), None);
    assert_eq!(s.get_domain("d1").await.unwrap().unwrap().description, "held");
}

#[tokio::test]
async fn a_read_then_write_waits_for_another_writer_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = fedgate::config::sqlite_url(dir.path());
    let store = open_store(&url).await;
    a_read_then_write_waits_for_another_writer(&store, &url).await;
}

#[tokio::test]
async fn a_read_then_write_waits_for_another_writer_on_postgres() {
    let Some(db) = PgDatabase::create().await else { return };
    let store = open_store(&db.url).await;
    a_read_then_write_waits_for_another_writer(&store, &db.url).await;
    store.close().await;
    db.drop_database().await;
}

/// The database announces every committed write that views depend on to the other stores on
/// it, never back to the store that wrote; a write by anyone else (an operator's SQL) is heard
/// by all; SQLite, which serves one process, has no feed to listen to.
#[tokio::test]
async fn writes_are_announced_to_the_other_replicas_only() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = open_store(&fedgate::config::sqlite_url(dir.path())).await;
    assert!(sqlite.subscribe().await.unwrap().is_none());

    let Some(db) = PgDatabase::create().await else { return };
    let (a, b) = (open_store(&db.url).await, open_store(&db.url).await);
    let mut on_a = listening(&a).await;
    let mut on_b = listening(&b).await;
    a.insert_revocation(&event("u1", NOW + 1000)).await.unwrap();
    assert_eq!(wait(&mut on_b).await, Ok(Some(Change::Revocations)));
    // An insert only adds: announced apart from changes.
    b.create_domain(&domain("d1", "acme")).await.unwrap();
    assert_eq!(wait(&mut on_a).await, Ok(Some(Change::Additions)));
    // Each saw only the other's: nothing else is queued.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(queued(&mut on_a), Vec::<Change>::new());
    assert_eq!(queued(&mut on_b), Vec::<Change>::new());
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE domains SET description = 'changed by hand'")
        .execute(&mut admin)
        .await
        .unwrap();
    assert_eq!(wait(&mut on_a).await, Ok(Some(Change::Views)));
    assert_eq!(wait(&mut on_b).await, Ok(Some(Change::Views)));
    // A replacement (a delete and an insert in one transaction, as SAML metadata is stored)
    // is a change; even a delete that matched nothing is announced as one.
    let mut tx = sqlx::Connection::begin(&mut admin).await.unwrap();
    for statement in [
        "DELETE FROM domains WHERE id = 'nothing'",
        "INSERT INTO domains (id, name, description, enabled, created_at) VALUES ('d9', 'nine', '', 1, 0)",
    ] {
        sqlx::query(statement).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    for on in [&mut on_a, &mut on_b] {
        assert_eq!(wait(on).await, Ok(Some(Change::Views)));
        assert_eq!(wait(on).await, Ok(Some(Change::Additions)));
    }
    // A write that rolls back announces nothing.
    let mut tx = sqlx::Connection::begin(&mut admin).await.unwrap();
    sqlx::query("UPDATE domains SET description = 'never'")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        queued(&mut on_a),
        Vec::<Change>::new(),
        "a rolled-back write was announced"
    );
    drop(admin);
    for s in [a, b] {
        s.close().await;
    }
    db.drop_database().await;
}

/// A reader that falls behind loses nothing: a run of additions longer than the feed's queue
/// is followed by the change behind it (once, a full queue dropped what came next, which was
/// harmless while every announcement dropped every view and is not now that additions leave
/// views to answer through an outage).
#[tokio::test]
async fn a_change_behind_a_long_run_of_additions_is_heard() {
    let Some(db) = PgDatabase::create().await else { return };
    let (a, b) = (open_store(&db.url).await, open_store(&db.url).await);
    let mut on_b = listening(&b).await;
    const RUN: usize = 200;
    for i in 0..RUN {
        a.create_domain(&domain(&format!("d{i}"), &format!("name{i}")))
            .await
            .unwrap();
    }
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE domains SET description = 'changed' WHERE id = 'd0'")
        .execute(&mut admin)
        .await
        .unwrap();
    let mut heard = Vec::new();
    while heard.len() < RUN + 1 {
        match wait(&mut on_b).await {
            Ok(Some(change)) => heard.push(change),
            other => panic!("after {} announcements: {other:?}", heard.len()),
        }
    }
    assert_eq!(heard.iter().filter(|c| **c == Change::Additions).count(), RUN);
    assert_eq!(heard.last(), Some(&Change::Views));
    drop(admin);
    for s in [a, b] {
        s.close().await;
    }
    db.drop_database().await;
}

/// A feed whose connection is cut while PostgreSQL refuses new connections (a restart, a
/// database closed to connections) misses what is written meanwhile; once it listens again
/// it says so (`Missed`), so its readers reload, and it hears what comes after.
#[tokio::test]
async fn a_feed_cut_off_for_a_while_reports_missed_once_it_listens_again() {
    let Some(db) = PgDatabase::create().await else { return };
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let (a, b) = (open_store(&db.url).await, open_store(&db.url).await);
    let mut on_b = listening(&b).await;
    // A holds a pool connection from here on, so it can write while B cannot reconnect.
    a.create_domain(&domain("d1", "one")).await.unwrap();
    assert_eq!(wait(&mut on_b).await, Ok(Some(Change::Additions)));
    let mut admin = sqlx::PgConnection::connect(&crate::support::postgres_admin_url())
        .await
        .unwrap();
    let allow = |yes: bool| format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {yes}");
    sqlx::query(sqlx::AssertSqlSafe(allow(false)))
        .execute(&mut admin)
        .await
        .unwrap();
    let cut = sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN%'",
    )
    .bind(&name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(cut.len(), 1, "B's listener");
    a.insert_revocation(&event("u1", NOW + 1000)).await.unwrap();
    // B tries to reconnect (and fails) a few times.
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    sqlx::query(sqlx::AssertSqlSafe(allow(true)))
        .execute(&mut admin)
        .await
        .unwrap();
    assert_eq!(wait(&mut on_b).await, Ok(Some(Change::Missed)));
    a.create_domain(&domain("d2", "two")).await.unwrap();
    assert_eq!(wait(&mut on_b).await, Ok(Some(Change::Additions)));
    for s in [a, b] {
        s.close().await;
    }
    db.drop_database().await;
}

/// A store's feed, once it listens: its first word is `Missed` (views cached while it was set
/// up may be stale).
async fn listening(store: &fedgate::store::SqlStore) -> tokio::sync::mpsc::Receiver<Change> {
    let mut rx = store.subscribe().await.unwrap().expect("PostgreSQL has a feed");
    assert_eq!(wait(&mut rx).await, Ok(Some(Change::Missed)));
    rx
}

/// What is queued now, past the feed's verdicts on itself.
fn queued(rx: &mut tokio::sync::mpsc::Receiver<Change>) -> Vec<Change> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .filter(|c| !matches!(c, Change::Heard | Change::Deaf))
        .collect()
}

/// The next announcement, past the feed's verdicts on itself (`Heard`, `Deaf`).
async fn wait(rx: &mut tokio::sync::mpsc::Receiver<Change>) -> Result<Option<Change>, tokio::time::error::Elapsed> {
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match rx.recv().await {
                Some(Change::Heard | Change::Deaf) => continue,
                other => return other,
            }
        }
    })
    .await
}

/// A feed proves itself before views may answer past their time: it hears its own probe.
#[tokio::test]
async fn a_feed_hears_itself_before_it_is_trusted() {
    let Some(db) = PgDatabase::create().await else { return };
    let a = open_store(&db.url).await;
    let mut on_a = a.subscribe().await.unwrap().expect("PostgreSQL has a feed");
    let mut first = Vec::new();
    for _ in 0..2 {
        first.push(tokio::time::timeout(std::time::Duration::from_secs(5), on_a.recv()).await);
    }
    assert_eq!(first, [Ok(Some(Change::Missed)), Ok(Some(Change::Heard))]);
    a.close().await;
    db.drop_database().await;
}
