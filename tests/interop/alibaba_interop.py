"""Interop with Alibaba Cloud's official SDKs (alibabacloud-ims20190815 and
alibabacloud-sts20150401 from PyPI, unmodified, signing with their default ACS3-HMAC-SHA256)
against fedgate's Alibaba dialect: an account admin's access key (made through the Huawei
API) manages users, groups and access keys through IMS; a key made through IMS signs STS
calls; AssumeRole gives temporary credentials that sign further calls; what IMS made is what
the Huawei API sees. Every client gets explicit credentials and a loopback endpoint over http,
so no SDK looks for a metadata address or a real cloud.

usage: alibaba_interop.py FEDGATE_URL ADMIN_TOKEN ACCOUNT ACCOUNT_ADMIN PASSWORD
Prints `ok   name` / `FAIL name` lines and `alibaba: N passed, M failed`."""

import sys
import traceback

import requests
from alibabacloud_ims20190815 import models as ims_models
from alibabacloud_ims20190815.client import Client as ImsClient
from alibabacloud_sts20150401 import models as sts_models
from alibabacloud_sts20150401.client import Client as StsClient
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config
from checks import Checks

fedgate, admin, account, account_admin, password = sys.argv[1:6]
endpoint = fedgate.split("://", 1)[1]
checks = Checks("alibaba")
report = checks.report


def api(method, path, body=None, token=admin):
    r = requests.request(method, fedgate + path, json=body, headers={"X-Auth-Token": token})
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.text else None


def config(ak, sk, security_token=None):
    return Config(access_key_id=ak, access_key_secret=sk, security_token=security_token,
                  endpoint=endpoint, protocol="http", region_id="cn-hangzhou",
                  read_timeout=10000, connect_timeout=5000)


def step(name, fn):
    try:
        ok, detail = fn()
        report(name, ok, detail)
    except Exception as e:  # a failed step is a failed check, the others still run
        detail = f"{e.code}: {e.message}" if isinstance(e, ClientException) else traceback.format_exc()
        report(name, False, detail)


def refused(name, fn, code):
    try:
        fn()
        report(name, False, "it succeeded")
    except ClientException as e:
        report(name, e.code == code, f"{e.code}: {e.message}")


# --- set-up through the Huawei API: the account admin's token and a permanent key for it.
body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": account_admin, "password": password, "domain": {"name": account}}}},
    "scope": {"domain": {"name": account}}}}
r = requests.post(fedgate + "/v3/auth/tokens", json=body)
r.raise_for_status()
token = r.headers["X-Subject-Token"]
account_id = r.json()["token"]["domain"]["id"]
admin_id = r.json()["token"]["user"]["id"]
key = api("POST", "/v3.0/OS-CREDENTIAL/credentials", {"credential": {"user_id": admin_id}}, token)["credential"]
ims = ImsClient(config(key["access"], key["secret"]))
sts = StsClient(config(key["access"], key["secret"]))
suffix = f"{account}.onaliyun.com"
upn = f"ali-dev@{suffix}"
state = {}


def create_user():
    user = ims.create_user(ims_models.CreateUserRequest(
        user_principal_name=upn, display_name="Ali Dev", comments="made through IMS",
        email="ali.dev@example.com", mobile_phone="86-18600008888")).body.user
    state["user_id"] = user.user_id
    return user.user_principal_name == upn and user.display_name == "Ali Dev", user.to_map()


def get_user():
    user = ims.get_user(ims_models.GetUserRequest(user_principal_name=upn)).body.user
    return (user.user_id == state["user_id"] and user.comments == "made through IMS"
            and user.mobile_phone == "86-18600008888"), user.to_map()


def huawei_sees_user():
    users = api("GET", f"/v3/users?name=ali-dev&domain_id={account_id}", token=token)["users"]
    return [u["id"] for u in users] == [state["user_id"]] and users[0]["description"] == "made through IMS", users


def update_user():
    user = ims.update_user(ims_models.UpdateUserRequest(
        user_principal_name=upn, new_display_name="Ali Developer")).body.user
    return user.display_name == "Ali Developer", user.to_map()


def list_users():
    body = ims.list_users(ims_models.ListUsersRequest(max_items=100)).body
    names = [u.user_principal_name for u in body.users.user]
    return upn in names and f"{account_admin}@{suffix}" in names, names


def create_key():
    created = ims.create_access_key(ims_models.CreateAccessKeyRequest(user_principal_name=upn)).body.access_key
    state["ak"], state["sk"] = created.access_key_id, created.access_key_secret
    return created.status == "Active" and len(created.access_key_secret) == 40, created.access_key_id


def list_keys():
    keys = ims.list_access_keys(ims_models.ListAccessKeysRequest(user_principal_name=upn)).body.access_keys.access_key
    return [k.access_key_id for k in keys] == [state["ak"]], [k.to_map() for k in keys]


def group_membership():
    ims.create_group(ims_models.CreateGroupRequest(group_name="ali-devs", display_name="Ali devs", comments="IMS"))
    ims.add_user_to_group(ims_models.AddUserToGroupRequest(group_name="ali-devs", user_principal_name=upn))
    groups = ims.list_groups_for_user(ims_models.ListGroupsForUserRequest(user_principal_name=upn)).body.groups.group
    members = ims.list_users_for_group(ims_models.ListUsersForGroupRequest(group_name="ali-devs")).body.users.user
    huawei = api("GET", f"/v3/users/{state['user_id']}/groups", token=token)["groups"]
    ok = ([g.group_name for g in groups] == ["ali-devs"] and [m.user_principal_name for m in members] == [upn]
          and [g["name"] for g in huawei] == ["ali-devs"])
    return ok, ([g.to_map() for g in groups], [m.to_map() for m in members], huawei)


def caller_identity_admin():
    body = sts.get_caller_identity().body
    return (body.account_id == account_id and body.identity_type == "RAMUser"
            and body.arn == f"acs:ram::{account_id}:user/{account_admin}"), body.to_map()


def new_key_signs():
    body = StsClient(config(state["ak"], state["sk"])).get_caller_identity().body
    return body.user_id == state["user_id"] and body.arn.endswith(":user/ali-dev"), body.to_map()


def assume_role():
    # An agency in the account trusting the account itself, with a role on its domain.
    agency = api("POST", "/v3.0/OS-AGENCY/agencies", {"agency": {
        "name": "ali-deployer", "domain_id": account_id, "trust_domain_id": account_id}}, token)["agency"]
    roles = {r["name"]: r["id"] for r in api("GET", "/v3/roles", token=token)["roles"]}
    api("PUT", f"/v3.0/OS-AGENCY/domains/{account_id}/agencies/{agency['id']}/roles/{roles['admin']}", token=token)
    body = sts.assume_role(sts_models.AssumeRoleRequest(
        role_arn=f"acs:ram::{account_id}:role/ali-deployer", role_session_name="deploy-42",
        duration_seconds=900)).body
    state["temp"] = body.credentials
    ok = body.credentials.access_key_secret and body.credentials.security_token and body.credentials.expiration
    return bool(ok) and body.assumed_role_user.arn.endswith(":assumed-role/ali-deployer/deploy-42"), body.to_map()


def temporary_signs_sts():
    c = state["temp"]
    body = StsClient(config(c.access_key_id, c.access_key_secret, c.security_token)).get_caller_identity().body
    return body.identity_type == "AssumedRoleUser" and body.arn.endswith("ali-deployer/deploy-42"), body.to_map()


def temporary_signs_ims():
    c = state["temp"]
    client = ImsClient(config(c.access_key_id, c.access_key_secret, c.security_token))
    user = client.get_user(ims_models.GetUserRequest(user_principal_name=upn)).body.user
    return user.user_id == state["user_id"], user.to_map()


def key_disabled_refused():
    ims.update_access_key(ims_models.UpdateAccessKeyRequest(
        user_access_key_id=state["ak"], user_principal_name=upn, status="Inactive"))
    refused("an inactive key no longer signs",
            lambda: StsClient(config(state["ak"], state["sk"])).get_caller_identity(), "InvalidAuthentication")
    return True, ""


FINGERPRINT = "902ef2deeb3c5b13ea4c3d5193629309e231ae55"
OTHER_PRINT = "0123456789abcdef0123456789abcdef01234567"


def oidc_provider():
    created = ims.create_oidcprovider(ims_models.CreateOIDCProviderRequest(
        oidcprovider_name="ali-okta", issuer_url="https://127.0.0.1:9/oauth2", client_ids="ali-client-1",
        fingerprints=FINGERPRINT.upper(), description="pinned issuer")).body.oidcprovider
    ims.add_client_id_to_oidcprovider(ims_models.AddClientIdToOIDCProviderRequest(
        oidcprovider_name="ali-okta", client_id="ali-client-2"))
    ims.add_fingerprint_to_oidcprovider(ims_models.AddFingerprintToOIDCProviderRequest(
        oidcprovider_name="ali-okta", fingerprint=OTHER_PRINT))
    ims.remove_fingerprint_from_oidcprovider(ims_models.RemoveFingerprintFromOIDCProviderRequest(
        oidcprovider_name="ali-okta", fingerprint=FINGERPRINT))
    got = ims.get_oidcprovider(ims_models.GetOIDCProviderRequest(oidcprovider_name="ali-okta")).body.oidcprovider
    listed = ims.list_oidcproviders(ims_models.ListOIDCProvidersRequest()).body.oidcproviders.oidcprovider
    huawei = api("GET", "/v3.0/OS-FEDERATION/identity-providers/ali-okta/openid-connect-config", token=token)
    ok = (created.fingerprints == FINGERPRINT and created.arn == f"acs:ram::{account_id}:oidc-provider/ali-okta"
          and got.client_ids == "ali-client-1,ali-client-2" and got.fingerprints == OTHER_PRINT
          and [p.oidcprovider_name for p in listed] == ["ali-okta"]
          and huawei["openid_connect_config"]["fingerprints"] == [OTHER_PRINT])
    return ok, (created.to_map(), got.to_map(), huawei)


def oidc_provider_deleted():
    ims.delete_oidcprovider(ims_models.DeleteOIDCProviderRequest(oidcprovider_name="ali-okta"))
    r = requests.get(fedgate + "/v3/OS-FEDERATION/identity_providers/ali-okta", headers={"X-Auth-Token": token})
    return r.status_code == 404, r.text


step("IMS CreateOIDCProvider with a fingerprint, client ids and fingerprints edited, seen by the Huawei API",
     oidc_provider)
refused("a malformed fingerprint is refused", lambda: ims.add_fingerprint_to_oidcprovider(
    ims_models.AddFingerprintToOIDCProviderRequest(oidcprovider_name="ali-okta", fingerprint="abc")),
    "InvalidParameter")
step("IMS DeleteOIDCProvider", oidc_provider_deleted)
step("IMS CreateUser", create_user)
step("IMS GetUser", get_user)
step("the Huawei API sees the IMS user", huawei_sees_user)
step("IMS UpdateUser", update_user)
step("IMS ListUsers", list_users)
step("IMS CreateAccessKey", create_key)
step("IMS ListAccessKeys", list_keys)
step("IMS groups and membership, seen by the Huawei API", group_membership)
step("STS GetCallerIdentity (account admin's key)", caller_identity_admin)
step("a key made through IMS signs STS calls", new_key_signs)
step("STS AssumeRole", assume_role)
step("AssumeRole's credentials sign STS", temporary_signs_sts)
step("AssumeRole's credentials sign IMS", temporary_signs_ims)
refused("a wrong secret is refused",
        lambda: StsClient(config(key["access"], "x" * 30)).get_caller_identity(), "InvalidAuthentication")
refused("an unknown user is EntityNotExist.User",
        lambda: ims.get_user(ims_models.GetUserRequest(user_principal_name=f"nobody@{suffix}")), "EntityNotExist.User")
refused("another account's principal name is refused",
        lambda: ims.get_user(ims_models.GetUserRequest(user_principal_name="ali-dev@other.onaliyun.com")),
        "InvalidParameter")
step("UpdateAccessKey Inactive", key_disabled_refused)
step("IMS DeleteUser after its key and groups", lambda: (
    ims.delete_access_key(ims_models.DeleteAccessKeyRequest(user_access_key_id=state["ak"], user_principal_name=upn)),
    ims.remove_user_from_group(ims_models.RemoveUserFromGroupRequest(group_name="ali-devs", user_principal_name=upn)),
    ims.delete_group(ims_models.DeleteGroupRequest(group_name="ali-devs")),
    ims.delete_user(ims_models.DeleteUserRequest(user_principal_name=upn)),
    (True, ""))[-1])
refused("the deleted user is gone",
        lambda: ims.get_user(ims_models.GetUserRequest(user_principal_name=upn)), "EntityNotExist.User")
sys.exit(checks.summary())
