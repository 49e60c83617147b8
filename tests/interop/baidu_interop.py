"""Interop with Baidu Cloud's official SDK (bce-python-sdk from PyPI, unmodified, signing with
its bce-auth-v1 signer) against fedgate's Baidu dialect: an account admin's access key (made
through the Huawei API) manages users, groups, memberships, login profiles and access keys
through IamClient; a key made through IamClient signs further calls; StsClient gets a session
token whose ACL narrows and whose credentials sign further IamClient calls; what IamClient
made is what the Huawei API sees. Every client gets explicit credentials and a loopback
endpoint over http, so no SDK looks for a metadata address or a real cloud.

bce-python-sdk's IamClient does not send a configuration's security token (only its BOS and
BTS clients do), so the session token's calls go through a wrapper that adds the
`x-bce-security-token` header the signer then covers; signing and sending stay the SDK's.

usage: baidu_interop.py FEDGATE_URL ADMIN_TOKEN ACCOUNT ACCOUNT_ADMIN PASSWORD
Prints `ok   name` / `FAIL name` lines and `baidu: N passed, M failed`."""

import sys
import traceback

import baidubce.protocol
import requests
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.exception import BceHttpClientError, BceServerError
from baidubce.http import http_headers
from baidubce.services.iam.iam_client import IamClient
from baidubce.services.sts.sts_client import StsClient
from checks import Checks

fedgate, admin, account, account_admin, password = sys.argv[1:6]
endpoint = fedgate.split("://", 1)[1]
checks = Checks("baidu")
report = checks.report


def session_iam(ak, sk, security_token):
    """An IamClient that sends its security token, as BosClient does; the SDK still signs and
    sends every request."""
    client = IamClient(config(ak, sk, security_token))
    send = client._send_iam_request

    def with_token(http_method, path, body=None, headers=None, params=None, config=None, body_parser=None):
        headers = dict(headers or {})
        headers[http_headers.STS_SECURITY_TOKEN] = security_token
        return send(http_method, path, body, headers, params, config, body_parser)

    client._send_iam_request = with_token
    return client


def api(method, path, body=None, token=admin):
    r = requests.request(method, fedgate + path, json=body, headers={"X-Auth-Token": token})
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.text else None


def config(ak, sk, security_token=None):
    return BceClientConfiguration(credentials=BceCredentials(ak, sk), endpoint=endpoint,
                                  protocol=baidubce.protocol.HTTP, security_token=security_token,
                                  connection_timeout_in_mills=10000)


def code_of(e):
    """(status, code) of an SDK error: BceHttpClientError wraps the server's answer."""
    return getattr(e, "status_code", None), getattr(e, "code", None)


def step(name, fn):
    try:
        ok, detail = fn()
        report(name, ok, detail)
    except Exception as e:  # a failed step is a failed check, the others still run
        detail = code_of(e) if isinstance(e, (BceHttpClientError, BceServerError)) else ""
        report(name, False, f"{detail} {traceback.format_exc()}")


def refused(name, fn, status, code):
    try:
        fn()
        report(name, False, "it succeeded")
    except (BceHttpClientError, BceServerError) as e:
        report(name, code_of(e) == (status, code), code_of(e))


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
iam = IamClient(config(key["access"], key["secret"]))
sts = StsClient(config(key["access"], key["secret"]))
name = b"bce-dev"
state = {}


def create_user():
    user = iam.create_user({"name": "bce-dev", "description": "made through IamClient"})
    state["user_id"] = user.id
    return user.name == "bce-dev" and user.description == "made through IamClient", user.raw_data


def get_user():
    user = iam.get_user(name)
    return user.id == state["user_id"] and user.metadata.bce_request_id.startswith("req-"), user.raw_data


def huawei_sees_user():
    users = api("GET", f"/v3/users?name=bce-dev&domain_id={account_id}", token=token)["users"]
    return [u["id"] for u in users] == [state["user_id"]] and users[0]["description"] == "made through IamClient", users


def update_user():
    user = iam.update_user(name, {"description": "updated through IamClient"})
    return user.description == "updated through IamClient", user.raw_data


def list_users():
    names = [u.name for u in iam.list_user().users]
    return "bce-dev" in names and account_admin in names, names


def group_membership():
    iam.create_group({"name": "bce-devs", "description": "IamClient"})
    iam.add_user_to_group(b"bce-devs", name)
    groups = [g.name for g in iam.list_user_group(name).groups]
    members = [u.name for u in iam.list_group_user(b"bce-devs").users]
    huawei = [g["name"] for g in api("GET", f"/v3/users/{state['user_id']}/groups", token=token)["groups"]]
    return groups == ["bce-devs"] and members == ["bce-dev"] and huawei == ["bce-devs"], (groups, members, huawei)


def login_profile():
    made = iam.update_user_login_profile(name, {"password": "Bce-dev-passw0rd", "needResetPassword": False})
    got = iam.get_user_login_profile(name)
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "bce-dev", "password": "Bce-dev-passw0rd", "domain": {"name": account}}}}}}
    signed_in = requests.post(fedgate + "/v3/auth/tokens", json=body).status_code
    iam.delete_user_login_profile(name)
    shown = api("GET", f"/v3.0/OS-USER/users/{state['user_id']}", token=token)["user"]["access_mode"]
    ok = made.enabled_login and got.enabled_login and signed_in == 201 and shown == "programmatic"
    return ok, (made.raw_data, got.raw_data, signed_in, shown)


def create_key():
    created = iam.create_user_accesskey(name)
    state["ak"], state["sk"] = created.id, created.secret
    return created.enabled and len(created.secret) == 40, created.id


def list_keys():
    keys = iam.list_user_accesskey(name).access_keys
    return [k.id for k in keys] == [state["ak"]], [k.__dict__ for k in keys]


def new_key_signs():
    user = IamClient(config(state["ak"], state["sk"])).get_user(name)
    return user.id == state["user_id"], user.raw_data


def disable_enable_key():
    disabled = iam.disable_user_accesskey(name, state["ak"].encode())
    shown = api("GET", f"/v3.0/OS-CREDENTIAL/credentials/{state['ak']}", token=token)["credential"]["status"]
    enabled = iam.enable_user_accesskey(name, state["ak"].encode())
    return disabled.enabled is False and shown == "inactive" and enabled.enabled is True, shown


ACL = {"id": "read-iam", "accessControlList": [{
    "service": "bce:iam", "region": "*", "effect": "Allow", "permission": ["READ"], "resource": ["*"]}]}


def session_token():
    issued = sts.get_session_token(ACL, duration_seconds=900)
    state["temp"] = issued
    ok = issued.access_key_id and issued.secret_access_key and issued.session_token and issued.expiration
    return bool(ok) and issued.user_id == admin_id, issued.raw_data


def session_signs_iam():
    t = state["temp"]
    client = session_iam(t.access_key_id, t.secret_access_key, t.session_token)
    user = client.get_user(name)
    names = [u.name for u in client.list_user().users]
    return user.id == state["user_id"] and "bce-dev" in names, names


step("IamClient create_user", create_user)
step("IamClient get_user (x-bce-request-id read)", get_user)
step("the Huawei API sees the IamClient user", huawei_sees_user)
step("IamClient update_user", update_user)
step("IamClient list_user", list_users)
step("IamClient groups and membership, seen by the Huawei API", group_membership)
step("IamClient login profile: console sign-in, then programmatic", login_profile)
step("IamClient create_user_accesskey", create_key)
step("IamClient list_user_accesskey", list_keys)
step("a key made through IamClient signs IamClient calls", new_key_signs)
step("IamClient disable and enable an access key", disable_enable_key)
step("StsClient get_session_token with an ACL", session_token)
step("the session token's credentials sign IamClient calls", session_signs_iam)
refused("the session token's ACL refuses a write", lambda: session_iam(
    state["temp"].access_key_id, state["temp"].secret_access_key, state["temp"].session_token,
).create_user({"name": "bce-mallory"}), 403, "AccessDenied")
refused("a wrong secret is refused",
        lambda: IamClient(config(key["access"], "x" * 40)).list_user(), 401, "SignatureDoesNotMatch")
refused("a session token without its security token is refused",
        lambda: IamClient(config(state["temp"].access_key_id, state["temp"].secret_access_key)).list_user(),
        401, "SignatureDoesNotMatch")
refused("an unknown user is NoSuchObject", lambda: iam.get_user(b"nobody"), 404, "NoSuchObject")
step("IamClient deletes the key, the membership, the group and the user", lambda: (
    iam.delete_user_accesskey(name, state["ak"].encode()),
    iam.remove_user_from_group(b"bce-devs", name),
    iam.delete_group(b"bce-devs"),
    iam.delete_user(name),
    (requests.get(fedgate + f"/v3/users/{state['user_id']}", headers={"X-Auth-Token": token}).status_code == 404,
     ""))[-1])
refused("the deleted user is gone", lambda: iam.get_user(name), 404, "NoSuchObject")
sys.exit(checks.summary())
