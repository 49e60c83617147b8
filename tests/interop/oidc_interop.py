"""Interop with oidc-provider (npm) as a real OpenID provider, driven the way a user would:
log in through its own login and consent pages (implicit flow, response_type id_token), take
the id_token it issues, and exchange it at fedgate. Covers RS256 and ES256, static JWKS and
discovery, a key rotation at the provider picked up without restarting fedgate, and
keystoneauth1's v3oidcaccesstoken through `openstack token issue`.

usage: oidc_interop.py FEDGATE_URL ADMIN_TOKEN OPENSTACK_BIN WORKDIR
Prints `ok   name` / `FAIL name` lines and `oidc: N passed, M failed`."""

import html
import json
import os
import re
import secrets
import subprocess
import sys
import time
from urllib.parse import parse_qs, quote, urljoin, urlparse

import requests
from checks import Checks, free_port

fedgate, admin, openstack, work = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
op_dir = os.path.join(here, "oidc")
checks = Checks("oidc")
report = checks.report


op_port = free_port()
op_url = f"http://127.0.0.1:{op_port}"
redirect_uri = "http://127.0.0.1:9/callback"


def gen_key(kid, alg):
    out = subprocess.run(["node", "op.mjs", "gen", kid, alg], cwd=op_dir, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def public(jwk):
    return {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}


op_proc = None


def start_op(keys):
    global op_proc
    stop_op()
    path = os.path.join(work, "op-keys.json")
    with open(path, "w") as f:
        json.dump(keys, f)
    op_proc = subprocess.Popen(
        ["node", "op.mjs", "serve", str(op_port), path,
         f"{redirect_uri},{fedgate}/v3-ext/auth/OS-FEDERATION/SSO/OIDC/callback"],
        cwd=op_dir, stdout=open(os.path.join(work, "op.log"), "a"), stderr=subprocess.STDOUT,
    )
    for _ in range(100):
        try:
            if requests.get(f"{op_url}/.well-known/openid-configuration", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit("oidc-provider did not start")


def stop_op():
    global op_proc
    if op_proc:
        op_proc.terminate()
        op_proc.wait()
        op_proc = None


FORM = re.compile(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S | re.I)
INPUT = re.compile(r"<input[^>]*>", re.I)


def login(client_id, user="alice"):
    """The implicit flow through oidc-provider's own pages; returns the id_token."""
    s = requests.Session()
    r = s.get(f"{op_url}/auth", params={
        "client_id": client_id, "response_type": "id_token", "scope": "openid email profile",
        "redirect_uri": redirect_uri, "nonce": secrets.token_urlsafe(16), "state": secrets.token_urlsafe(16),
    }, allow_redirects=False)
    for _ in range(10):
        location = r.headers.get("location")
        if location:
            if location.startswith(redirect_uri):
                fragment = parse_qs(urlparse(location).fragment)
                if "id_token" not in fragment:
                    raise RuntimeError(f"no id_token: {location}")
                return fragment["id_token"][0]
            r = s.get(urljoin(r.url, location), allow_redirects=False)
            continue
        form = FORM.search(r.text)
        if not form:
            raise RuntimeError(f"unexpected page {r.status_code}: {r.text[:300]}")
        fields = {}
        for tag in INPUT.findall(form.group(2)):
            name = re.search(r'name="([^"]+)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = html.unescape(value.group(1)) if value else ""
        if "login" in fields:
            fields["login"] = user
        if "password" in fields:
            fields["password"] = "any"
        r = s.post(urljoin(r.url, html.unescape(form.group(1))), data=fields, allow_redirects=False)
    raise RuntimeError("the login did not finish")


def api(method, path, body=None):
    r = requests.request(method, fedgate + path, json=body, headers={"X-Auth-Token": admin})
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.text else None


def exchange(idp, token, scope=True):
    auth = {"id_token": {"id": token}}
    if scope:
        auth["scope"] = {"project": {"name": "admin", "domain": {"name": "admin"}}}
    return requests.post(f"{fedgate}/v3.0/OS-AUTH/id-token/tokens", json={"auth": auth}, headers={"X-Idp-Id": idp})


def check_exchange(name, idp, token, want=201):
    r = exchange(idp, token)
    ok = r.status_code == want
    if ok and want == 201:
        body = r.json()["token"]
        ok = body["project"]["name"] == "admin" and body["user"]["OS-FEDERATION"]["identity_provider"]["id"] == idp
    report(name, ok, f"{r.status_code} {r.text}")


def configure(idp, config):
    api("PUT", f"/v3/OS-FEDERATION/identity_providers/{idp}", {"identity_provider": {"enabled": True}})
    api("PUT", f"/v3/OS-FEDERATION/identity_providers/{idp}/protocols/oidc", {"protocol": {"mapping_id": "corp-oidc"}})
    api("POST", f"/v3.0/OS-FEDERATION/identity-providers/{idp}/openid-connect-config", {"openid_connect_config": config})


def alibaba_assume_role_with_oidc():
    """Alibaba Cloud's SDKs: IMS creates an OIDC provider for oidc-provider, the account's
    mapping and agency decide who may assume the role, and STS AssumeRoleWithOIDC (no access
    key: the id_token is the credential) gives credentials that sign further calls."""
    from alibabacloud_ims20190815 import models as ims_models
    from alibabacloud_ims20190815.client import Client as ImsClient
    from alibabacloud_sts20150401 import models as sts_models
    from alibabacloud_sts20150401.client import Client as StsClient
    from alibabacloud_tea_openapi.exceptions import ClientException
    from alibabacloud_tea_openapi.utils_models import Config

    def config(ak, sk, security_token=None):
        return Config(access_key_id=ak, access_key_secret=sk, security_token=security_token,
                      endpoint=fedgate.split("://", 1)[1], protocol="http", region_id="cn-hangzhou")

    me = requests.get(f"{fedgate}/v3/auth/tokens", headers={"X-Auth-Token": admin, "X-Subject-Token": admin}).json()
    domain = me["token"]["project"]["domain"]["id"]
    key = api("POST", "/v3.0/OS-CREDENTIAL/credentials", {"credential": {"user_id": me["token"]["user"]["id"]}})
    key = key["credential"]
    ims = ImsClient(config(key["access"], key["secret"]))
    ims.create_oidcprovider(ims_models.CreateOIDCProviderRequest(
        oidcprovider_name="ali-corp", issuer_url=op_url, client_ids="fedgate-rs256,fedgate-es256",
        description="oidc-provider for CI"))
    # Who may assume: the provider's mapping puts `devs` into a group holding Agent Operator.
    group = api("POST", "/v3/groups", {"group": {"name": "ali-ci-operators"}})["group"]["id"]
    agent_operator = api("GET", "/v3/roles?name=te_agency")["roles"][0]["id"]
    api("PUT", f"/v3/domains/{domain}/groups/{group}/roles/{agent_operator}")
    api("PATCH", "/v3/OS-FEDERATION/mappings/ali-corp-mapping", {"mapping": {"rules": [{
        "remote": [{"type": "email"}, {"type": "groups", "any_one_of": ["devs"]}],
        "local": [{"user": {"name": "{0}"}}, {"group": {"name": "ali-ci-operators", "domain": {"name": "admin"}}}],
    }]}})
    agency = api("POST", "/v3.0/OS-AGENCY/agencies", {"agency": {
        "name": "ali-ci", "domain_id": domain, "trust_domain_id": domain}})["agency"]["id"]
    admin_role = api("GET", "/v3/roles?name=admin")["roles"][0]["id"]
    api("PUT", f"/v3.0/OS-AGENCY/domains/{domain}/agencies/{agency}/roles/{admin_role}")

    sts = StsClient(config(key["access"], key["secret"]))

    def assume(token):
        return sts.assume_role_with_oidc(sts_models.AssumeRoleWithOIDCRequest(
            oidcprovider_arn=f"acs:ram::{domain}:oidc-provider/ali-corp", role_arn=f"acs:ram::{domain}:role/ali-ci",
            oidctoken=token, role_session_name="ci-run-1", duration_seconds=900)).body

    token = login("fedgate-es256")
    try:
        body = assume(token)
        c = body.credentials
        who = StsClient(config(c.access_key_id, c.access_key_secret, c.security_token)).get_caller_identity().body
        report("Alibaba STS AssumeRoleWithOIDC with oidc-provider's id_token (second client id)",
               who.identity_type == "AssumedRoleUser" and who.arn.endswith(":assumed-role/ali-ci/ci-run-1"),
               who.to_map())
        providers = ImsClient(config(c.access_key_id, c.access_key_secret, c.security_token)).list_oidcproviders(
            ims_models.ListOIDCProvidersRequest()).body.oidcproviders.oidcprovider
        report("AssumeRoleWithOIDC's credentials sign an IMS call",
               "ali-corp" in [p.oidcprovider_name for p in providers], [p.to_map() for p in providers])
    except ClientException as e:
        report("Alibaba STS AssumeRoleWithOIDC with oidc-provider's id_token", False, f"{e.code}: {e.message}")
    try:
        assume(token)
        report("the same id_token a second time is refused", False, "it succeeded")
    except ClientException as e:
        report("the same id_token a second time is refused", e.code == "InvalidAuthentication", f"{e.code}: {e.message}")


try:
    rsa1, ec1 = gen_key("rsa-1", "RS256"), gen_key("ec-1", "ES256")
    start_op([rsa1, ec1])

    # Group devs (from the `groups` claim) holds member on the admin project.
    group = api("POST", "/v3/groups", {"group": {"name": "oidc-devs"}})["group"]["id"]
    member = api("GET", "/v3/roles?name=member")["roles"][0]["id"]
    project = [p for p in api("GET", "/v3/auth/projects")["projects"] if p["name"] == "admin"][0]["id"]
    api("PUT", f"/v3/projects/{project}/groups/{group}/roles/{member}")
    api("PUT", "/v3/OS-FEDERATION/mappings/corp-oidc", {"mapping": {"rules": [{
        "remote": [{"type": "email"}, {"type": "groups", "any_one_of": ["devs"]}],
        "local": [{"user": {"name": "{0}"}}, {"group": {"name": "oidc-devs", "domain": {"name": "admin"}}}],
    }]}})
    console = {"access_mode": "program_console", "authorization_endpoint": f"{op_url}/auth",
               "scope": "openid email profile", "response_type": "id_token", "response_mode": "form_post"}
    # Static JWKS: the provider's public keys pasted into the configuration.
    configure("corp-static", {**console, "idp_url": op_url, "client_id": "fedgate-rs256",
                              "signing_key": json.dumps({"keys": [public(rsa1), public(ec1)]})})
    configure("corp-es", {**console, "idp_url": op_url, "client_id": "fedgate-es256",
                          "signing_key": json.dumps({"keys": [public(rsa1), public(ec1)]})})
    # Discovery: idp_url alone.
    configure("corp", {**console, "idp_url": op_url, "client_id": "fedgate-rs256"})

    check_exchange("oidc-provider RS256 id_token, static JWKS", "corp-static", login("fedgate-rs256"))
    check_exchange("oidc-provider ES256 id_token, static JWKS", "corp-es", login("fedgate-es256"))
    check_exchange("oidc-provider RS256 id_token, keys by discovery", "corp", login("fedgate-rs256"))
    other = login("fedgate-es256")
    check_exchange("an id_token for another client is refused", "corp", other, want=401)

    r = requests.post(f"{fedgate}/v3/OS-FEDERATION/identity_providers/corp/protocols/oidc/auth",
                      headers={"Authorization": f"Bearer {login('fedgate-rs256')}"})
    report("Bearer id_token at the protocol auth URL", r.status_code == 201 and "X-Subject-Token" in r.headers,
           f"{r.status_code} {r.text}")

    env = dict(os.environ)
    for k in list(env):
        if k.startswith("OS_"):
            del env[k]
    env.update({
        "OS_AUTH_URL": f"{fedgate}/v3", "OS_IDENTITY_API_VERSION": "3", "OS_AUTH_TYPE": "v3oidcaccesstoken",
        "OS_IDENTITY_PROVIDER": "corp", "OS_PROTOCOL": "oidc", "OS_ACCESS_TOKEN": login("fedgate-rs256"),
        "OS_PROJECT_NAME": "admin", "OS_PROJECT_DOMAIN_NAME": "admin",
    })
    out = subprocess.run([openstack, "token", "issue", "-f", "json"], env=env, capture_output=True, text=True)
    report("openstack token issue with v3oidcaccesstoken (keystoneauth1)",
           out.returncode == 0 and json.loads(out.stdout or "{}").get("project_id") == project, out.stdout + out.stderr)

    # The browser journey: headless Chromium from the dashboard's link through the provider's
    # login and consent pages back to fedgate, which posts the token to the dashboard.
    dashboard_port = os.environ.get("DASHBOARD_PORT")
    if dashboard_port:
        shot = os.path.abspath(os.environ.get("SCREENSHOT", os.path.join(work, "websso-dashboard.png")))
        origin = f"http://127.0.0.1:{dashboard_port}/auth/websso/"
        start = f"{fedgate}/v3/auth/OS-FEDERATION/identity_providers/corp/protocols/oidc/websso?origin={quote(origin, safe='')}"
        out = subprocess.run(["node", "browser.mjs", start, dashboard_port, shot], cwd=op_dir,
                             capture_output=True, text=True, timeout=120)
        token = out.stdout.strip()
        ok = out.returncode == 0 and token != ""
        if ok:
            r = requests.get(f"{fedgate}/v3/auth/tokens", headers={"X-Auth-Token": admin, "X-Subject-Token": token})
            ok = r.status_code == 200 and r.json()["token"]["user"]["OS-FEDERATION"]["identity_provider"]["id"] == "corp"
        report(f"Chromium: WebSSO through oidc-provider's login lands a token on the dashboard ({shot})", ok,
               out.stderr or out.stdout)

    # Rotation: the provider restarts signing with a new key; fedgate (discovery) follows
    # without a restart, a static configuration does not until it is updated.
    time.sleep(5.5)  # fedgate refetches an unknown kid at most every 5 s
    rsa2 = gen_key("rsa-2", "RS256")
    start_op([rsa2, rsa1, ec1])
    rotated = login("fedgate-rs256")
    check_exchange("after a key rotation at the provider, discovery picks the new key up", "corp", rotated)
    check_exchange("a static JWKS without the new key refuses it", "corp-static", rotated, want=401)
    api("PUT", "/v3.0/OS-FEDERATION/identity-providers/corp-static/openid-connect-config",
        {"openid_connect_config": {"signing_key": json.dumps({"keys": [public(rsa2), public(rsa1)]})}})
    check_exchange("after updating the static JWKS the new key verifies", "corp-static", login("fedgate-rs256"))
    alibaba_assume_role_with_oidc()
except Exception as e:  # a broken setup is a failure, not a crash without a report
    report("oidc interop setup", False, repr(e))
finally:
    stop_op()

sys.exit(checks.summary())
