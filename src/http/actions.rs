//! The action each route performs, as session policies name actions: the reference's names
//! (§7.2 "Permissions and Supported Actions", L21925 onwards) where it gives one, fedgate's in
//! the same style where it does not. A caller whose credential carries a session policy may
//! only call routes listed here whose action every policy allows; a route missing from the
//! table is refused to it.

use axum::http::Method;

/// (method, route template exactly as in `http::router`, action). HEAD uses its own row, else
/// the GET row.
const ACTIONS: &[(&str, &str, &str)] = &[
    // versions and the catalog: reading them is part of signing in
    ("GET", "/", "iam:versions:list"),
    // Alibaba's RPC endpoint: each call checks its own action's (`alibaba::ACTIONS`); listed so
    // the table covers the router
    ("POST", "/", "iam:rpc:call"),
    ("GET", "/v3", "iam:versions:get"),
    ("GET", "/v3/", "iam:versions:get"),
    ("GET", "/metrics", "iam:metrics:get"),
    ("GET", "/openapi.json", "iam:versions:get"),
    ("GET", "/healthz", "iam:health:get"),
    ("GET", "/readyz", "iam:health:get"),
    ("GET", "/v3/services", "iam:catalog:listServices"),
    ("GET", "/v3/services/{id}", "iam:catalog:getService"),
    ("GET", "/v3/endpoints", "iam:catalog:listEndpoints"),
    ("GET", "/v3/endpoints/{id}", "iam:catalog:getEndpoint"),
    ("GET", "/v3/regions", "iam:catalog:listRegions"),
    ("GET", "/v3/regions/{id}", "iam:catalog:getRegion"),
    // tokens
    ("POST", "/v3/auth/tokens", "iam:tokens:assume"),
    ("GET", "/v3/auth/tokens", "iam:tokens:validate"),
    ("HEAD", "/v3/auth/tokens", "iam:tokens:check"),
    ("DELETE", "/v3/auth/tokens", "iam:tokens:revoke"),
    ("GET", "/v3/auth/projects", "iam:projects:listProjectsForToken"),
    ("GET", "/v3/auth/domains", "iam:domains:listDomainsForToken"),
    ("GET", "/v3/auth/catalog", "iam:catalog:getCatalog"),
    ("GET", "/v3/OS-FEDERATION/projects", "iam:projects:listProjectsForToken"),
    ("GET", "/v3/OS-FEDERATION/domains", "iam:domains:listDomainsForToken"),
    // domains and projects
    ("GET", "/v3/domains", "iam:domains:listDomains"),
    ("POST", "/v3/domains", "iam:domains:createDomain"),
    ("GET", "/v3/domains/{id}", "iam:domains:getDomain"),
    ("PATCH", "/v3/domains/{id}", "iam:domains:updateDomain"),
    ("DELETE", "/v3/domains/{id}", "iam:domains:deleteDomain"),
    ("GET", "/v3/projects", "iam:projects:listProjects"),
    ("POST", "/v3/projects", "iam:projects:createProject"),
    ("GET", "/v3/projects/{id}", "iam:projects:getProject"),
    ("PATCH", "/v3/projects/{id}", "iam:projects:updateProject"),
    ("GET", "/v3-ext/projects/{id}", "iam:projects:getProject"),
    ("PUT", "/v3-ext/projects/{id}", "iam:projects:updateProject"),
    // users
    ("GET", "/v3/users", "iam:users:listUsers"),
    ("POST", "/v3/users", "iam:users:createUser"),
    ("GET", "/v3/users/{id}", "iam:users:getUser"),
    ("PATCH", "/v3/users/{id}", "iam:users:updateUser"),
    ("DELETE", "/v3/users/{id}", "iam:users:deleteUser"),
    ("POST", "/v3/users/{id}/password", "iam:users:changePassword"),
    ("GET", "/v3/users/{id}/groups", "iam:groups:listGroupsForUser"),
    ("GET", "/v3/users/{id}/projects", "iam:projects:listProjectsForUser"),
    ("POST", "/v3.0/OS-USER/users", "iam:users:createUser"),
    ("GET", "/v3.0/OS-USER/users/{id}", "iam:users:getUser"),
    ("PUT", "/v3.0/OS-USER/users/{id}", "iam:users:updateUser"),
    ("PUT", "/v3.0/OS-USER/users/{id}/info", "iam:users:updateUserInfo"),
    // groups and memberships
    ("GET", "/v3/groups", "iam:groups:listGroups"),
    ("POST", "/v3/groups", "iam:groups:createGroup"),
    ("GET", "/v3/groups/{id}", "iam:groups:getGroup"),
    ("PATCH", "/v3/groups/{id}", "iam:groups:updateGroup"),
    ("DELETE", "/v3/groups/{id}", "iam:groups:deleteGroup"),
    ("GET", "/v3/groups/{id}/users", "iam:users:listUsersForGroup"),
    (
        "PUT",
        "/v3/groups/{group_id}/users/{user_id}",
        "iam:permissions:addUserToGroup",
    ),
    (
        "HEAD",
        "/v3/groups/{group_id}/users/{user_id}",
        "iam:permissions:checkUserInGroup",
    ),
    (
        "DELETE",
        "/v3/groups/{group_id}/users/{user_id}",
        "iam:permissions:removeUserFromGroup",
    ),
    // roles, grants and assignments
    ("GET", "/v3/roles", "iam:roles:listRoles"),
    ("GET", "/v3/roles/{id}", "iam:roles:getRole"),
    ("GET", "/v3/role_assignments", "iam:permissions:listRoleAssignments"),
    (
        "GET",
        "/v3.0/OS-PERMISSION/role-assignments",
        "iam:permissions:listRoleAssignments",
    ),
    (
        "GET",
        "/v3/domains/{d}/groups/{g}/roles",
        "iam:permissions:listRolesForGroupOnDomain",
    ),
    (
        "PUT",
        "/v3/domains/{d}/groups/{g}/roles/{r}",
        "iam:permissions:grantRoleToGroupOnDomain",
    ),
    (
        "HEAD",
        "/v3/domains/{d}/groups/{g}/roles/{r}",
        "iam:permissions:checkRoleForGroupOnDomain",
    ),
    (
        "DELETE",
        "/v3/domains/{d}/groups/{g}/roles/{r}",
        "iam:permissions:revokeRoleFromGroupOnDomain",
    ),
    (
        "GET",
        "/v3/projects/{p}/groups/{g}/roles",
        "iam:permissions:listRolesForGroupOnProject",
    ),
    (
        "PUT",
        "/v3/projects/{p}/groups/{g}/roles/{r}",
        "iam:permissions:grantRoleToGroupOnProject",
    ),
    (
        "HEAD",
        "/v3/projects/{p}/groups/{g}/roles/{r}",
        "iam:permissions:checkRoleForGroupOnProject",
    ),
    (
        "DELETE",
        "/v3/projects/{p}/groups/{g}/roles/{r}",
        "iam:permissions:revokeRoleFromGroupOnProject",
    ),
    (
        "GET",
        "/v3/OS-INHERIT/domains/{d}/groups/{g}/roles/inherited_to_projects",
        "iam:permissions:listRolesForGroup",
    ),
    (
        "PUT",
        "/v3/OS-INHERIT/domains/{d}/groups/{g}/roles/{r}/inherited_to_projects",
        "iam:permissions:grantRoleToGroup",
    ),
    (
        "HEAD",
        "/v3/OS-INHERIT/domains/{d}/groups/{g}/roles/{r}/inherited_to_projects",
        "iam:permissions:checkRoleForGroup",
    ),
    (
        "DELETE",
        "/v3/OS-INHERIT/domains/{d}/groups/{g}/roles/{r}/inherited_to_projects",
        "iam:permissions:revokeRoleFromGroup",
    ),
    // agencies and their grants
    ("GET", "/v3.0/OS-AGENCY/agencies", "iam:agencies:listAgencies"),
    ("POST", "/v3.0/OS-AGENCY/agencies", "iam:agencies:createAgency"),
    ("GET", "/v3.0/OS-AGENCY/agencies/{id}", "iam:agencies:getAgency"),
    ("PUT", "/v3.0/OS-AGENCY/agencies/{id}", "iam:agencies:updateAgency"),
    ("DELETE", "/v3.0/OS-AGENCY/agencies/{id}", "iam:agencies:deleteAgency"),
    (
        "GET",
        "/v3.0/OS-AGENCY/domains/{d}/agencies/{a}/roles",
        "iam:permissions:listRolesForAgencyOnDomain",
    ),
    (
        "PUT",
        "/v3.0/OS-AGENCY/domains/{d}/agencies/{a}/roles/{r}",
        "iam:permissions:grantRoleToAgencyOnDomain",
    ),
    (
        "HEAD",
        "/v3.0/OS-AGENCY/domains/{d}/agencies/{a}/roles/{r}",
        "iam:permissions:checkRoleForAgencyOnDomain",
    ),
    (
        "DELETE",
        "/v3.0/OS-AGENCY/domains/{d}/agencies/{a}/roles/{r}",
        "iam:permissions:revokeRoleFromAgencyOnDomain",
    ),
    (
        "GET",
        "/v3.0/OS-AGENCY/projects/{p}/agencies/{a}/roles",
        "iam:permissions:listRolesForAgencyOnProject",
    ),
    (
        "PUT",
        "/v3.0/OS-AGENCY/projects/{p}/agencies/{a}/roles/{r}",
        "iam:permissions:grantRoleToAgencyOnProject",
    ),
    (
        "HEAD",
        "/v3.0/OS-AGENCY/projects/{p}/agencies/{a}/roles/{r}",
        "iam:permissions:checkRoleForAgencyOnProject",
    ),
    (
        "DELETE",
        "/v3.0/OS-AGENCY/projects/{p}/agencies/{a}/roles/{r}",
        "iam:permissions:revokeRoleFromAgencyOnProject",
    ),
    (
        "GET",
        "/v3.0/OS-INHERIT/domains/{d}/agencies/{a}/roles/inherited_to_projects",
        "iam:permissions:listRolesForAgency",
    ),
    (
        "PUT",
        "/v3.0/OS-INHERIT/domains/{d}/agencies/{a}/roles/{r}/inherited_to_projects",
        "iam:permissions:grantRoleToAgency",
    ),
    (
        "HEAD",
        "/v3.0/OS-INHERIT/domains/{d}/agencies/{a}/roles/{r}/inherited_to_projects",
        "iam:permissions:checkRoleForAgency",
    ),
    (
        "DELETE",
        "/v3.0/OS-INHERIT/domains/{d}/agencies/{a}/roles/{r}/inherited_to_projects",
        "iam:permissions:revokeRoleFromAgency",
    ),
    // temporary credentials, login tokens, signature checks
    (
        "POST",
        "/v3.0/OS-CREDENTIAL/securitytokens",
        "iam:securitytokens:create",
    ),
    (
        "POST",
        "/v3.0/OS-AUTH/securitytoken/logintokens",
        "iam:logintokens:create",
    ),
    ("GET", "/v3-ext/auth/logintokens", "iam:logintokens:check"),
    ("POST", "/v3-ext/auth/signed-requests", "iam:credentials:checkSignature"),
    // permanent access keys
    (
        "GET",
        "/v3.0/OS-CREDENTIAL/credentials",
        "iam:credentials:listCredentials",
    ),
    (
        "POST",
        "/v3.0/OS-CREDENTIAL/credentials",
        "iam:credentials:createCredential",
    ),
    (
        "GET",
        "/v3.0/OS-CREDENTIAL/credentials/{access}",
        "iam:credentials:getCredential",
    ),
    (
        "PUT",
        "/v3.0/OS-CREDENTIAL/credentials/{access}",
        "iam:credentials:updateCredential",
    ),
    (
        "DELETE",
        "/v3.0/OS-CREDENTIAL/credentials/{access}",
        "iam:credentials:deleteCredential",
    ),
    // federation configuration
    (
        "GET",
        "/v3/OS-FEDERATION/identity_providers",
        "iam:identityProviders:listIdentityProviders",
    ),
    (
        "GET",
        "/v3/OS-FEDERATION/identity_providers/{id}",
        "iam:identityProviders:getIdentityProvider",
    ),
    (
        "PUT",
        "/v3/OS-FEDERATION/identity_providers/{id}",
        "iam:identityProviders:createIdentityProvider",
    ),
    (
        "PATCH",
        "/v3/OS-FEDERATION/identity_providers/{id}",
        "iam:identityProviders:updateIdentityProvider",
    ),
    (
        "DELETE",
        "/v3/OS-FEDERATION/identity_providers/{id}",
        "iam:identityProviders:deleteIdentityProvider",
    ),
    (
        "GET",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols",
        "iam:identityProviders:listProtocols",
    ),
    (
        "GET",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}",
        "iam:identityProviders:getProtocol",
    ),
    (
        "PUT",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}",
        "iam:identityProviders:createProtocol",
    ),
    (
        "PATCH",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}",
        "iam:identityProviders:updateProtocol",
    ),
    (
        "DELETE",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}",
        "iam:identityProviders:deleteProtocol",
    ),
    (
        "GET",
        "/v3/OS-FEDERATION/mappings",
        "iam:identityProviders:listMappings",
    ),
    (
        "GET",
        "/v3/OS-FEDERATION/mappings/{id}",
        "iam:identityProviders:getMapping",
    ),
    (
        "PUT",
        "/v3/OS-FEDERATION/mappings/{id}",
        "iam:identityProviders:createMapping",
    ),
    (
        "PATCH",
        "/v3/OS-FEDERATION/mappings/{id}",
        "iam:identityProviders:updateMapping",
    ),
    (
        "DELETE",
        "/v3/OS-FEDERATION/mappings/{id}",
        "iam:identityProviders:deleteMapping",
    ),
    (
        "POST",
        "/v3-ext/OS-FEDERATION/mappings/{id}/test",
        "iam:identityProviders:testMapping",
    ),
    (
        "GET",
        "/v3.0/OS-FEDERATION/identity-providers/{id}/openid-connect-config",
        "iam:identityProviders:getOpenIDConnectConfig",
    ),
    (
        "POST",
        "/v3.0/OS-FEDERATION/identity-providers/{id}/openid-connect-config",
        "iam:identityProviders:createOpenIDConnectConfig",
    ),
    (
        "PUT",
        "/v3.0/OS-FEDERATION/identity-providers/{id}/openid-connect-config",
        "iam:identityProviders:updateOpenIDConnectConfig",
    ),
    (
        "GET",
        "/v3-ext/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/metadata",
        "iam:identityProviders:getIDPMetadata",
    ),
    (
        "POST",
        "/v3-ext/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/metadata",
        "iam:identityProviders:createIDPMetadata",
    ),
    (
        "GET",
        "/v3-ext/auth/OS-FEDERATION/SSO/metadata",
        "iam:identityProviders:getSPMetadata",
    ),
    // Baidu Cloud's IAM and STS: the actions of the Huawei routes doing the same
    ("GET", "/v1/user", "iam:users:listUsers"),
    ("POST", "/v1/user", "iam:users:createUser"),
    ("GET", "/v1/user/{userName}", "iam:users:getUser"),
    ("PUT", "/v1/user/{userName}", "iam:users:updateUser"),
    ("DELETE", "/v1/user/{userName}", "iam:users:deleteUser"),
    ("GET", "/v1/user/{userName}/loginProfile", "iam:users:getUser"),
    ("PUT", "/v1/user/{userName}/loginProfile", "iam:users:updateUser"),
    ("DELETE", "/v1/user/{userName}/loginProfile", "iam:users:updateUser"),
    ("GET", "/v1/user/{userName}/group", "iam:groups:listGroupsForUser"),
    (
        "GET",
        "/v1/user/{userName}/accesskey",
        "iam:credentials:listCredentials",
    ),
    (
        "POST",
        "/v1/user/{userName}/accesskey",
        "iam:credentials:createCredential",
    ),
    (
        "PUT",
        "/v1/user/{userName}/accesskey/{accessKeyId}",
        "iam:credentials:updateCredential",
    ),
    (
        "DELETE",
        "/v1/user/{userName}/accesskey/{accessKeyId}",
        "iam:credentials:deleteCredential",
    ),
    (
        "GET",
        "/v1/accesskey/{accessKeyId}/lastusedtime",
        "iam:credentials:getCredential",
    ),
    ("PUT", "/v1/subUser/{userName}/update", "iam:users:updateUser"),
    ("GET", "/v1/group", "iam:groups:listGroups"),
    ("POST", "/v1/group", "iam:groups:createGroup"),
    ("GET", "/v1/group/{groupName}", "iam:groups:getGroup"),
    ("PUT", "/v1/group/{groupName}", "iam:groups:updateGroup"),
    ("DELETE", "/v1/group/{groupName}", "iam:groups:deleteGroup"),
    ("GET", "/v1/group/{groupName}/user", "iam:users:listUsersForGroup"),
    (
        "PUT",
        "/v1/group/{groupName}/user/{userName}",
        "iam:permissions:addUserToGroup",
    ),
    (
        "DELETE",
        "/v1/group/{groupName}/user/{userName}",
        "iam:permissions:removeUserFromGroup",
    ),
    (
        "GET",
        "/v1/subUser/idp/query",
        "iam:identityProviders:getIdentityProvider",
    ),
    // Creating the provider as well checks createIdentityProvider (`baidu/idp.rs`).
    (
        "POST",
        "/v1/subUser/idp/update",
        "iam:identityProviders:updateIdentityProvider",
    ),
    (
        "POST",
        "/v1/subUser/idp/updateStatus",
        "iam:identityProviders:updateIdentityProvider",
    ),
    (
        "POST",
        "/v1/subUser/idp/delete",
        "iam:identityProviders:deleteIdentityProvider",
    ),
    ("POST", "/v1/sessionToken", "iam:securitytokens:create"),
    // sign-in endpoints: their input proves the caller; listed so the table covers the router
    ("GET", "/v3/auth/OS-FEDERATION/websso/{protocol}", "iam:tokens:signIn"),
    (
        "GET",
        "/v3/auth/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/websso",
        "iam:tokens:signIn",
    ),
    (
        "GET",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/websso",
        "iam:tokens:signIn",
    ),
    ("POST", "/v3.0/OS-AUTH/id-token/tokens", "iam:tokens:signIn"),
    (
        "GET",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/auth",
        "iam:tokens:signIn",
    ),
    (
        "POST",
        "/v3/OS-FEDERATION/identity_providers/{id}/protocols/{protocol}/auth",
        "iam:tokens:signIn",
    ),
    // routed by their constants (`ROUTED_BY_CONSTANT`)
    (
        "GET",
        "/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback",
        "iam:tokens:signIn",
    ),
    (
        "POST",
        "/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback",
        "iam:tokens:signIn",
    ),
    ("POST", "/v3.0/OS-FEDERATION/tokens", "iam:tokens:signIn"),
    ("POST", "/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST", "iam:tokens:signIn"),
    ("POST", "/v3-ext/auth/OS-FEDERATION/SSO/SAML2/ECP", "iam:tokens:signIn"),
];

/// The action of `method` on `route` (a route template), if the table names one.
/// Every action name a route performs, for the dialects' tables to be checked against.
#[cfg(test)]
pub(super) fn names() -> Vec<&'static str> {
    ACTIONS.iter().map(|(_, _, action)| *action).collect()
}

/// Every (method, route) the router serves, for the API document to be checked against.
#[cfg(test)]
pub(super) fn routes() -> Vec<(&'static str, &'static str)> {
    ACTIONS.iter().map(|(method, route, _)| (*method, *route)).collect()
}

pub fn action(method: &Method, route: &str) -> Option<&'static str> {
    let find = |m: &str| {
        ACTIONS
            .iter()
            .find(|(am, ar, _)| *am == m && *ar == route)
            .map(|(_, _, action)| *action)
    };
    match *method {
        Method::HEAD => find("HEAD").or_else(|| find("GET")),
        ref m => find(m.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routes the router names by a constant, with the constant's value.
    const ROUTED_BY_CONSTANT: &[(&str, &str)] = &[
        (
            "crate::service::websso::OIDC_CALLBACK_PATH",
            crate::service::websso::OIDC_CALLBACK_PATH,
        ),
        (
            "crate::service::saml_login::TOKENS_PATH",
            crate::service::saml_login::TOKENS_PATH,
        ),
        (
            "crate::saml::sp_metadata::ACS_POST_PATH",
            crate::saml::sp_metadata::ACS_POST_PATH,
        ),
        (
            "crate::saml::sp_metadata::ACS_ECP_PATH",
            crate::saml::sp_metadata::ACS_ECP_PATH,
        ),
    ];

    /// Every route template written in the router has at least one row, and every row names a
    /// route the router has: a route added without a row is refused to policy-carrying callers,
    /// a stale row would hide that.
    #[test]
    fn the_table_covers_the_router() {
        let router = include_str!("mod.rs");
        let mut routes = Vec::new();
        let mut rest = router;
        while let Some(i) = rest.find(".route(") {
            rest = &rest[i + ".route(".len()..];
            let trimmed = rest.trim_start();
            if let Some(literal) = trimmed.strip_prefix('"') {
                routes.push(literal.split('"').next().unwrap_or_default().to_string());
            } else if let Some((_, value)) = ROUTED_BY_CONSTANT.iter().find(|(name, _)| trimmed.starts_with(name)) {
                routes.push(value.to_string());
            } else {
                panic!(
                    "a route neither literal nor in ROUTED_BY_CONSTANT: {}",
                    &trimmed[..trimmed.len().min(60)]
                );
            }
        }
        // The grant routes, registered from their table.
        for (_, _, _, list, one) in super::super::roles::GRANT_ROUTES {
            routes.extend([list.to_string(), one.to_string()]);
        }
        assert!(routes.len() > 60, "found {} routes", routes.len());
        for route in &routes {
            assert!(ACTIONS.iter().any(|(_, r, _)| r == route), "no action for {route}");
        }
        for (_, route, _) in ACTIONS {
            assert!(routes.iter().any(|r| r == route), "{route} is not a route");
        }
    }

    #[test]
    fn actions_follow_the_reference_and_head_falls_back_to_get() {
        for (method, route, want) in [
            (Method::GET, "/v3/projects", Some("iam:projects:listProjects")),
            (
                Method::PUT,
                "/v3/groups/{group_id}/users/{user_id}",
                Some("iam:permissions:addUserToGroup"),
            ),
            (
                Method::PUT,
                "/v3/OS-INHERIT/domains/{d}/groups/{g}/roles/{r}/inherited_to_projects",
                Some("iam:permissions:grantRoleToGroup"),
            ),
            (Method::POST, "/v3/auth/tokens", Some("iam:tokens:assume")),
            (Method::HEAD, "/v3/projects/{id}", Some("iam:projects:getProject")),
            (
                Method::HEAD,
                "/v3/groups/{group_id}/users/{user_id}",
                Some("iam:permissions:checkUserInGroup"),
            ),
            (Method::DELETE, "/v3/projects/{id}", None),
            (Method::GET, "/v3/unknown", None),
        ] {
            assert_eq!(action(&method, route), want, "{method} {route}");
        }
    }
}
