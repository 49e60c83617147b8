"""Interop with the Huawei Cloud SDK (huaweicloudsdkcore + huaweicloudsdkiam from PyPI,
unmodified) as a program uses it: a password token, a temporary access key from it, and a
second client built only from that AK/SK + security token; the same from an OIDC-style
federated token (the CI journey); a permanent key created through the SDK signing calls; an
agency's temporary credential seeing the agency's grants; a login token. Every client gets an
AK/SK and a domain id, so the SDK never looks for a metadata address, and every endpoint is
on loopback.

usage: sts_interop.py FEDGATE_URL ADMIN_TOKEN
Prints `ok   name` / `FAIL name` lines and `sts: N passed, M failed`."""

import sys
import traceback

import requests
from checks import Checks
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkiam.v3 import (
    AgencyAuth,
    AgencyAuthIdentity,
    AuthScope,
    AuthScopeProject,
    CreateCredentialOption,
    CreateLoginTokenRequest,
    CreateLoginTokenRequestBody,
    CreatePermanentAccessKeyRequest,
    CreatePermanentAccessKeyRequestBody,
    CreateTemporaryAccessKeyByAgencyRequest,
    CreateTemporaryAccessKeyByAgencyRequestBody,
    CreateTemporaryAccessKeyByTokenRequest,
    CreateTemporaryAccessKeyByTokenRequestBody,
    IamClient,
    IdentityAssumerole,
    IdentityToken,
    KeystoneCreateUserTokenByPasswordRequest,
    KeystoneCreateUserTokenByPasswordRequestBody,
    KeystoneListAuthProjectsRequest,
    KeystoneListProjectsRequest,
    LoginTokenAuth,
    LoginTokenSecurityToken,
    PwdAuth,
    PwdIdentity,
    PwdPassword,
    PwdPasswordUser,
    PwdPasswordUserDomain,
    TokenAuth,
    TokenAuthIdentity,
)

fedgate, admin = sys.argv[1:3]
checks = Checks("sts")
report = checks.report
PASSWORD = "Sdk-user-passw0rd"
# The SDK signs every request; where the body proves the caller this key is unknown and ignored.
DUMMY_AK, DUMMY_SK = "SDKINTEROPDUMMYAK000", "dummy-secret-key-not-registered-anywhere"


def api(method, path, body=None, token=admin, want=None):
    r = requests.request(method, fedgate + path, json=body, headers={"X-Auth-Token": token})
    if (want and r.status_code != want) or r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.text else None


def client(ak, sk, domain_id, security_token=None):
    credentials = GlobalCredentials(ak, sk, domain_id)
    if security_token:
        credentials = credentials.with_security_token(security_token)
    config = HttpConfig.get_default_config()
    config.timeout = 10
    return IamClient.new_builder().with_http_config(config).with_credentials(credentials).with_endpoints([fedgate]).build()


def password_token(domain_id, user, domain_name, project=None):
    identity = PwdIdentity(methods=["password"], password=PwdPassword(
        user=PwdPasswordUser(domain=PwdPasswordUserDomain(name=domain_name), name=user, password=PASSWORD)))
    scope = AuthScope(project=AuthScopeProject(id=project)) if project else None
    body = KeystoneCreateUserTokenByPasswordRequestBody(auth=PwdAuth(identity=identity, scope=scope))
    response = client(DUMMY_AK, DUMMY_SK, domain_id).keystone_create_user_token_by_password(
        KeystoneCreateUserTokenByPasswordRequest(body=body))
    return response.x_subject_token


def temporary_from_token(domain_id, token, duration=900):
    identity = TokenAuthIdentity(methods=["token"], token=IdentityToken(id=token, duration_seconds=duration))
    body = CreateTemporaryAccessKeyByTokenRequestBody(auth=TokenAuth(identity=identity))
    return client(DUMMY_AK, DUMMY_SK, domain_id).create_temporary_access_key_by_token(
        CreateTemporaryAccessKeyByTokenRequest(body=body)).credential


def project_names(c, listing):
    if listing == "auth":
        projects = c.keystone_list_auth_projects(KeystoneListAuthProjectsRequest()).projects
    else:
        projects = c.keystone_list_projects(KeystoneListProjectsRequest()).projects
    return sorted(p.name for p in projects)


def step(name, fn):
    try:
        ok, detail = fn()
        report(name, ok, detail)
    except Exception as e:  # a failed step is a failed check, the others still run
        detail = e.error_msg if isinstance(e, ClientRequestException) else traceback.format_exc()
        report(name, False, detail)


# --- set-up, as an operator does it: a user in the admin account with a role on its domain
# and project, an account `sdkcorp` whose owner assumes the admin account's agency.
validated = requests.get(fedgate + "/v3/auth/tokens", headers={"X-Auth-Token": admin, "X-Subject-Token": admin}).json()
admin_domain = validated["token"]["project"]["domain"]["id"]
admin_project = validated["token"]["project"]["id"]
roles = {r["name"]: r["id"] for r in api("GET", "/v3/roles")["roles"]}
group = api("POST", "/v3/groups", {"group": {"name": "sdk-users"}})["group"]["id"]
for target in (f"/v3/domains/{admin_domain}", f"/v3/projects/{admin_project}"):
    api("PUT", f"{target}/groups/{group}/roles/{roles['admin']}")
user = api("POST", "/v3/users", {"user": {"name": "sdk-user", "password": PASSWORD}})["user"]["id"]
api("PUT", f"/v3/groups/{group}/users/{user}")

state = {}


def password_then_temporary():
    token = password_token(admin_domain, "sdk-user", "admin")
    credential = temporary_from_token(admin_domain, token)
    state["temporary"] = credential
    names = project_names(client(credential.access, credential.secret, admin_domain, credential.securitytoken), "auth")
    return "admin" in names, f"projects {names}"


step("SDK: password token -> CreateTemporaryAccessKeyByToken -> a client of only the AK/SK + security token lists projects",
     password_then_temporary)


def temporary_lists_all_projects():
    c = state["temporary"]
    names = project_names(client(c.access, c.secret, admin_domain, c.securitytoken), "all")
    return "admin" in names, f"projects {names}"


step("SDK: the temporary credential calls KeystoneListProjects (X-Domain-Id scope)", temporary_lists_all_projects)


def forged_security_token_refused():
    c = state["temporary"]
    try:
        project_names(client(c.access, c.secret[::-1], admin_domain, c.securitytoken), "auth")
        return False, "a wrong secret was accepted"
    except ClientRequestException as e:
        return e.status_code == 401, f"{e.status_code} {e.error_msg}"


step("SDK: a client with the wrong secret gets 401", forged_security_token_refused)


def federated_ci_journey():
    # The CI journey: an id_token exchanged for a token (the OIDC interop covers the exchange
    # itself; here the provider is configured with a static key the script signs with).
    import base64
    import json
    import time

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def int_b64(n):
        return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    jwk = {"kty": "RSA", "kid": "ci-1", "alg": "RS256", "use": "sig", "n": int_b64(numbers.n), "e": int_b64(numbers.e)}
    api("PUT", "/v3/OS-FEDERATION/mappings/sdk-ci", {"mapping": {"rules": [{
        "remote": [{"type": "sub"}],
        "local": [{"user": {"name": "{0}"}}, {"group": {"id": group}}]}]}})
    api("PUT", "/v3/OS-FEDERATION/identity_providers/sdk-ci", {"identity_provider": {"enabled": True}})
    api("PUT", "/v3/OS-FEDERATION/identity_providers/sdk-ci/protocols/oidc", {"protocol": {"mapping_id": "sdk-ci"}})
    api("POST", "/v3.0/OS-FEDERATION/identity-providers/sdk-ci/openid-connect-config", {"openid_connect_config": {
        "access_mode": "program", "idp_url": "https://ci.sdk.example", "client_id": "sdk-ci-client",
        "signing_key": json.dumps({"keys": [jwk]})}})
    now = int(time.time())
    header = b64(json.dumps({"alg": "RS256", "kid": "ci-1", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"iss": "https://ci.sdk.example", "aud": "sdk-ci-client", "sub": "repo:acme/app:ref:refs/heads/main",
                             "iat": now - 5, "exp": now + 300, "jti": f"sdk-{now}"}).encode())
    signature = key.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    id_token = f"{header}.{claims}.{b64(signature)}"
    r = requests.post(f"{fedgate}/v3.0/OS-AUTH/id-token/tokens", headers={"X-Idp-Id": "sdk-ci"},
                      json={"auth": {"id_token": {"id": id_token}}})
    if r.status_code != 201:
        return False, f"id_token exchange: {r.status_code} {r.text}"
    token = r.headers["X-Subject-Token"]
    # Federated users present their token as X-Auth-Token (reference L3642).
    r = requests.post(f"{fedgate}/v3.0/OS-CREDENTIAL/securitytokens", headers={"X-Auth-Token": token},
                      json={"auth": {"identity": {"methods": ["token"], "token": {"duration_seconds": 900}}}})
    if r.status_code != 201:
        return False, f"securitytokens: {r.status_code} {r.text}"
    c = r.json()["credential"]
    names = project_names(client(c["access"], c["secret"], admin_domain, c["securitytoken"]), "auth")
    return "admin" in names, f"projects {names}"


step("SDK: CI journey, id_token -> token -> temporary AK/SK -> signed SDK call", federated_ci_journey)


def permanent_key_signs():
    token = password_token(admin_domain, "sdk-user", "admin")
    temp = temporary_from_token(admin_domain, token)
    c = client(temp.access, temp.secret, admin_domain, temp.securitytoken)
    body = CreatePermanentAccessKeyRequestBody(credential=CreateCredentialOption(user_id=user, description="sdk interop"))
    created = c.create_permanent_access_key(CreatePermanentAccessKeyRequest(body=body)).credential
    names = project_names(client(created.access, created.secret, admin_domain), "auth")
    return "admin" in names and len(created.secret) == 40, f"projects {names}"


step("SDK: CreatePermanentAccessKey, then the permanent AK/SK signs a call", permanent_key_signs)


def agency_credential_sees_agency_grants():
    # Account sdkcorp's owner is set up by tests/interop/run with `fedgate bootstrap`.
    corp = requests.post(f"{fedgate}/v3/auth/tokens", json={"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": "sdkcorp-admin", "domain": {"name": "sdkcorp"}, "password": PASSWORD}}},
        "scope": {"domain": {"name": "sdkcorp"}}}})
    corp_token = corp.headers["X-Subject-Token"]
    corp_domain = corp.json()["token"]["domain"]["id"]
    agency = api("POST", "/v3.0/OS-AGENCY/agencies", {"agency": {
        "name": "sdk-ops", "domain_id": admin_domain, "trust_domain_id": corp_domain}})["agency"]["id"]
    api("PUT", f"/v3.0/OS-AGENCY/projects/{admin_project}/agencies/{agency}/roles/{roles['member']}")
    temp = temporary_from_token(corp_domain, corp_token)
    corp_client = client(temp.access, temp.secret, corp_domain, temp.securitytoken)
    before = project_names(corp_client, "auth")
    identity = AgencyAuthIdentity(methods=["assume_role"], assume_role=IdentityAssumerole(
        agency_name="sdk-ops", domain_id=admin_domain, duration_seconds=900))
    body = CreateTemporaryAccessKeyByAgencyRequestBody(auth=AgencyAuth(identity=identity))
    agency_credential = corp_client.create_temporary_access_key_by_agency(
        CreateTemporaryAccessKeyByAgencyRequest(body=body)).credential
    state["agency"] = agency_credential
    after = project_names(client(agency_credential.access, agency_credential.secret, admin_domain,
                                 agency_credential.securitytoken), "auth")
    return after == ["admin"] and "admin" not in before, f"own {before}, as the agency {after}"


step("SDK: CreateTemporaryAccessKeyByAgency; the agency credential sees the agency's grants",
     agency_credential_sees_agency_grants)


def login_token():
    c = state["temporary"]
    body = CreateLoginTokenRequestBody(auth=LoginTokenAuth(securitytoken=LoginTokenSecurityToken(
        access=c.access, secret=c.secret, id=c.securitytoken, duration_seconds=600)))
    response = client(c.access, c.secret, admin_domain, c.securitytoken).create_login_token(
        CreateLoginTokenRequest(body=body))
    return (bool(response.x_subject_login_token) and response.logintoken.user_name == "sdk-user",
            f"{response.logintoken}")


step("SDK: CreateLoginToken from the temporary credential", login_token)

sys.exit(checks.summary())
