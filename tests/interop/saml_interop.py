"""Interop with pysaml2 as a real SAML identity provider (signing and encrypting through
Debian's xmlsec1), driven the way users reach fedgate: IdP-initiated to the token API and to
the ACS, SP-initiated Redirect -> login page -> POST, ECP over SOAP with keystoneauth1's
v3samlpassword (in-process and through `openstack token issue`), and headless Chromium
through WebSSO to a trusted dashboard.

usage: saml_interop.py FEDGATE_URL ADMIN_TOKEN OPENSTACK_BIN WORKDIR
Prints `ok   name` / `FAIL name` lines and `saml: N passed, M failed`."""

import base64
import html
import os
import re
import subprocess
import sys
import threading
import traceback
import uuid
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs, quote, urlencode, urlparse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests
from checks import Checks, free_port
import saml2.entity
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, BINDING_PAOS, BINDING_SOAP
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import AUTHN_PASSWORD_PROTECTED, NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

fedgate, admin, openstack, work = sys.argv[1:5]
here = os.path.dirname(os.path.abspath(__file__))
checks = Checks("saml")
report = checks.report
USERS = {
    "alice": {"uid": ["alice"], "mail": ["alice@example.com"], "eduPersonAffiliation": ["member", "staff"]},
    "carol": {"uid": ["carol"], "mail": ["carol@example.com"], "eduPersonAffiliation": ["staff"]},
    # No uid: the mapping yields no user name and refuses the sign-in.
    "mallory": {"mail": ["mallory@example.com"], "eduPersonAffiliation": ["staff"]},
}
PASSWORD = "Idp-passw0rd"


idp_port = free_port()
idp_url = f"http://127.0.0.1:{idp_port}"
acs_post = f"{fedgate}/v3-ext/auth/OS-FEDERATION/SSO/SAML2/POST"
admin_headers = {"X-Auth-Token": admin, "Content-Type": "application/json"}

# The IdP's key pair (test-only, made for this run) and our SP metadata for pysaml2.
key_file, cert_file = os.path.join(work, "idp.key"), os.path.join(work, "idp.crt")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pysaml2 test idp",
                "-keyout", key_file, "-out", cert_file], check=True, capture_output=True)
sp_metadata = requests.get(f"{fedgate}/v3-ext/auth/OS-FEDERATION/SSO/metadata").text
sp_file = os.path.join(work, "sp.xml")
with open(sp_file, "w") as f:
    f.write(sp_metadata)
sp_entity = re.search(r'entityID="([^"]+)"', sp_metadata).group(1)

def idp_config(want_signed_requests):
    config = IdPConfig()
    config.load({
        "entityid": f"{idp_url}/metadata",
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [
                (f"{idp_url}/sso/redirect", BINDING_HTTP_REDIRECT),
                (f"{idp_url}/sso/post", BINDING_HTTP_POST),
                (f"{idp_url}/ecp", BINDING_SOAP),
            ]},
            "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None, "name_form": NAME_FORMAT_URI}},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "want_authn_requests_signed": want_signed_requests,
        }},
        "key_file": key_file,
        "cert_file": cert_file,
        "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
        "metadata": {"local": [sp_file]},
        "xmlsec_binary": "/usr/bin/xmlsec1",
    })
    return config


# Browser bindings require fedgate's signed AuthnRequests. The SOAP binding does not: pysaml2
# re-serialises SOAP bodies, which breaks any enveloped signature (fedgate sends ECP requests
# unsigned, as Shibboleth and Keystone do).
config = idp_config(True)
idp = Server(config=config)
ecp_idp = Server(config=idp_config(False))
pending = {}

# pysaml2 encrypts with triple-DES unless its template and session key are changed; fedgate
# accepts AES only. `cipher` picks what the next encrypted response uses.
cipher = {"msg_enc": "http://www.w3.org/2001/04/xmlenc#aes256-cbc", "key_type": "aes-256"}
_pre_encryption_part = saml2.entity.pre_encryption_part
saml2.entity.pre_encryption_part = lambda **kw: _pre_encryption_part(msg_enc=cipher["msg_enc"], **kw)
_encrypt_assertion = idp.sec.encrypt_assertion
idp.sec.encrypt_assertion = lambda statement, key, template, key_type=None, node_xpath=None: _encrypt_assertion(
    statement, key, template, key_type=cipher["key_type"], node_xpath=node_xpath)


def login_form(key, error=""):
    return f"""<!doctype html><title>pysaml2 IdP</title><h1>Sign in at the test IdP</h1><p>{html.escape(error)}</p>
<form method="post" action="/sso/login"><input type="hidden" name="key" value="{key}">
<label>User <input name="username"></label> <label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form>"""


def make_response(user, resp_args, **extra):
    # pysaml2 signs with RSA-SHA1 unless told otherwise; fedgate refuses that (check 4).
    extra = {"sign_alg": SIG_RSA_SHA256, "digest_alg": DIGEST_SHA256, **extra}
    return idp.create_authn_response(
        USERS[user], userid=user, name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=user),
        authn={"class_ref": AUTHN_PASSWORD_PROTECTED, "authn_auth": f"{idp_url}/login"},
        sign_response=True, sign_assertion=True, **resp_args, **extra)


def unsolicited(user, destination=acs_post, **extra):
    return make_response(user, {"in_response_to": None, "destination": destination, "sp_entity_id": sp_entity}, **extra)


# Users whose ECP password the IdP refused, in order.
ecp_refused = []


def app(environ, start_response):
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length).decode() if length else ""
    try:
        if path == "/sso/redirect" or (path == "/sso/post" and method == "POST"):
            if path == "/sso/redirect":
                q = {k: v[0] for k, v in parse_qs(environ["QUERY_STRING"]).items()}
                req = idp.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"),
                                              sigalg=q.get("SigAlg"), signature=q.get("Signature"))
            else:
                q = {k: v[0] for k, v in parse_qs(body).items()}
                req = idp.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_POST)
            key = uuid.uuid4().hex
            pending[key] = (req.message, q.get("RelayState"))
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [login_form(key).encode()]
        if path == "/sso/login" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body).items()}
            message, relay = pending.pop(form["key"])
            user = form.get("username", "")
            if user not in USERS or form.get("password") != PASSWORD:
                start_response("401 Unauthorized", [("Content-Type", "text/plain")])
                return [b"wrong user or password"]
            resp_args = idp.response_args(message, [BINDING_HTTP_POST])
            binding = resp_args.pop("binding")
            response = make_response(user, resp_args)
            http = idp.apply_binding(binding, str(response), resp_args["destination"], relay, response=True)
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [http["data"].encode() if isinstance(http["data"], str) else http["data"]]
        if path == "/ecp" and method == "POST":
            auth = environ.get("HTTP_AUTHORIZATION", "")
            user, _, password = base64.b64decode(auth.split(" ", 1)[1]).decode().partition(":") if auth.startswith("Basic ") else ("", "", "")
            if user not in USERS or password != PASSWORD:
                ecp_refused.append(user)
                start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="idp"')])
                return [b""]
            req = ecp_idp.parse_authn_request(body, BINDING_SOAP)
            resp_args = ecp_idp.response_args(req.message, [BINDING_PAOS])
            resp_args.pop("binding")
            response = str(make_response(user, resp_args))
            response = re.sub(r"^<\?xml[^>]*\?>", "", response).strip()
            envelope = (
                '<soap11:Envelope xmlns:soap11="http://schemas.xmlsoap.org/soap/envelope/"><soap11:Header>'
                '<ecp:Response xmlns:ecp="urn:oasis:names:tc:SAML:2.0:profiles:SSO:ecp" soap11:mustUnderstand="1" '
                'soap11:actor="http://schemas.xmlsoap.org/soap/actor/next" '
                f'AssertionConsumerServiceURL="{html.escape(resp_args["destination"])}"/></soap11:Header>'
                f"<soap11:Body>{response}</soap11:Body></soap11:Envelope>")
            start_response("200 OK", [("Content-Type", "application/vnd.paos+xml")])
            return [envelope.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    except Exception as e:  # the IdP's own failures show up in the check that needed it
        traceback.print_exc()
        start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
        return [f"{type(e).__name__}: {e}".encode()]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


server = make_server("127.0.0.1", idp_port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()


def api(method, path, body=None):
    r = requests.request(method, f"{fedgate}{path}", headers=admin_headers, json=body)
    if r.status_code >= 400:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.content else None


def form_fields(page):
    return {m.group(1): html.unescape(m.group(2))
            for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)}


def token_of(r):
    return r.status_code == 201 and r.headers.get("X-Subject-Token") and r.json()["token"]["user"]["name"]


# fedgate: provider, mapping (FriendlyNames, as pysaml2 sends OIDs as Names), protocol, metadata.
me = requests.get(f"{fedgate}/v3/auth/tokens", headers={"X-Auth-Token": admin, "X-Subject-Token": admin}).json()
domain_id, project_id = me["token"]["project"]["domain"]["id"], me["token"]["project"]["id"]
group = api("POST", "/v3/groups", {"group": {"name": "pysaml2-staff"}})["group"]["id"]
member = api("GET", "/v3/roles?name=member")["roles"][0]["id"]
api("PUT", f"/v3/projects/{project_id}/groups/{group}/roles/{member}")
api("PUT", "/v3/OS-FEDERATION/mappings/pysaml2-map", {"mapping": {"rules": [
    {"remote": [{"type": "uid"}], "local": [{"user": {"name": "{0}"}}]},
    {"remote": [{"type": "eduPersonAffiliation", "any_one_of": ["staff"]}],
     "local": [{"group": {"name": "pysaml2-staff", "domain": {"name": "admin"}}}]},
]}})
api("PUT", "/v3/OS-FEDERATION/identity_providers/pysaml2", {"identity_provider": {"enabled": True}})
api("PUT", "/v3/OS-FEDERATION/identity_providers/pysaml2/protocols/saml", {"protocol": {"mapping_id": "pysaml2-map"}})
idp_metadata = str(entity_descriptor(config))
api("POST", "/v3-ext/OS-FEDERATION/identity_providers/pysaml2/protocols/saml/metadata",
    {"domain_id": domain_id, "xaccount_type": "", "metadata": idp_metadata})


def post_tokens(response_xml):
    return requests.post(f"{fedgate}/v3.0/OS-FEDERATION/tokens", headers={"X-Idp-Id": "pysaml2"},
                         data={"SAMLResponse": base64.b64encode(str(response_xml).encode()).decode()})


# 1. IdP-initiated to the token API, with the group from the mapped affiliation.
try:
    r = post_tokens(unsolicited("alice"))
    groups = r.json()["token"]["user"]["OS-FEDERATION"]["groups"] if r.status_code == 201 else []
    report("pysaml2 IdP-initiated -> POST /v3.0/OS-FEDERATION/tokens", token_of(r) == "alice" and len(groups) == 1, r.text)
except Exception as e:
    report("pysaml2 IdP-initiated -> POST /v3.0/OS-FEDERATION/tokens", False, e)

# 2. IdP-initiated through pysaml2's own POST binding page to the ACS.
try:
    http = idp.apply_binding(BINDING_HTTP_POST, str(unsolicited("carol")), acs_post, None, response=True)
    fields = form_fields(http["data"])
    r = requests.post(acs_post, data=fields)
    report("pysaml2 IdP-initiated POST binding -> ACS", token_of(r) == "carol", r.text)
except Exception as e:
    report("pysaml2 IdP-initiated POST binding -> ACS", False, e)

# 3. Assertions encrypted by pysaml2 (xmlsec1) to our encryption certificate: AES-256-CBC and
# AES-128-CBC are decrypted and their inner signature verified; pysaml2's default triple-DES is
# refused.
enc_cert = re.search(r'use="encryption">.*?<ds:X509Certificate>([^<]+)<', sp_metadata, re.S).group(1)
pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(enc_cert[i:i + 64] for i in range(0, len(enc_cert), 64)) + "\n-----END CERTIFICATE-----\n"
for name, msg_enc, key_type, want in [
    ("AES-256-CBC", "http://www.w3.org/2001/04/xmlenc#aes256-cbc", "aes-256", 201),
    ("AES-128-CBC", "http://www.w3.org/2001/04/xmlenc#aes128-cbc", "aes-128", 201),
    ("triple-DES (refused)", "http://www.w3.org/2001/04/xmlenc#tripledes-cbc", "des-192", 401),
]:
    try:
        cipher.update(msg_enc=msg_enc, key_type=key_type)
        response = unsolicited("alice", encrypt_assertion=True, encrypt_cert_assertion=pem)
        r = post_tokens(response)
        ok = msg_enc in str(response) and r.status_code == want and (want != 201 or token_of(r) == "alice")
        report(f"pysaml2 encrypted assertion, {name}", ok, r.text)
    except Exception as e:
        report(f"pysaml2 encrypted assertion, {name}", False, e)

# 4. pysaml2 signing with RSA-SHA1: refused by the allow-list.
try:
    r = post_tokens(unsolicited("alice", sign_alg=SIG_RSA_SHA1, digest_alg=DIGEST_SHA1))
    report("pysaml2 RSA-SHA1 response is refused", r.status_code == 401, r.text)
except Exception as e:
    report("pysaml2 RSA-SHA1 response is refused", False, e)

# 5. SP-initiated: fedgate's signed Redirect AuthnRequest (pysaml2 checks the signature), the
# IdP's login page, its POST binding back to the ACS; the same answer again is refused.
try:
    s = requests.Session()
    r = s.get(f"{fedgate}/v3/OS-FEDERATION/identity_providers/pysaml2/protocols/saml/auth", allow_redirects=False)
    location = r.headers.get("Location", "")
    page = s.get(location).text
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)
    answer = s.post(f"{idp_url}/sso/login", data={"key": key, "username": "alice", "password": PASSWORD}).text
    fields = form_fields(answer)
    r = s.post(acs_post, data=fields)
    report("SP-initiated Redirect -> pysaml2 login -> POST to the ACS",
           location.startswith(f"{idp_url}/sso/redirect?") and "RelayState" in fields and token_of(r) == "alice", r.text or answer)
    r = s.post(acs_post, data=fields)
    report("the same SP-initiated answer again is refused", r.status_code == 401, r.text)
except Exception as e:
    report("SP-initiated Redirect -> pysaml2 login -> POST to the ACS", False, e)

# 6. ECP with keystoneauth1's v3samlpassword, unscoped and project-scoped.
try:
    from keystoneauth1 import session as ks_session
    from keystoneauth1.extras._saml2 import V3Saml2Password

    def ecp(**scope):
        auth = V3Saml2Password(auth_url=f"{fedgate}/v3", identity_provider="pysaml2", protocol="saml",
                               identity_provider_url=f"{idp_url}/ecp", username="alice", password=PASSWORD, **scope)
        sess = ks_session.Session(auth=auth)
        return sess.get_token(), auth.get_access(sess)

    token, access = ecp()
    report("keystoneauth1 v3samlpassword (ECP) gets an unscoped token", bool(token) and access.username == "alice")
    token, access = ecp(project_name="admin", project_domain_name="admin")
    report("keystoneauth1 v3samlpassword (ECP) gets a project-scoped token", access.project_id == project_id)
except Exception as e:
    report("keystoneauth1 v3samlpassword (ECP)", False, e)
# A user the mapping rejects: fedgate answers the ECP consumer in Keystone's error shape, so
# keystoneauth1 raises Unauthorized with fedgate's message rather than "Unrecognized schema".
try:
    from keystoneauth1 import exceptions as ks_exceptions
    auth = V3Saml2Password(auth_url=f"{fedgate}/v3", identity_provider="pysaml2", protocol="saml",
                           identity_provider_url=f"{idp_url}/ecp", username="mallory", password=PASSWORD)
    ks_session.Session(auth=auth).get_token()
    report("keystoneauth1 ECP: a user the mapping rejects gets no token", False, "got a token")
except ks_exceptions.Unauthorized as e:
    report("keystoneauth1 ECP: a user the mapping rejects gets Unauthorized with fedgate's message",
           "The request you have made requires authentication." in str(e) and "Unrecognized schema" not in str(e), e)
except Exception as e:
    report("keystoneauth1 ECP: a user the mapping rejects gets Unauthorized with fedgate's message", False, repr(e))

# 7. The same through the openstack CLI.
env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
env.update({
    "OS_AUTH_TYPE": "v3samlpassword", "OS_AUTH_URL": f"{fedgate}/v3", "OS_IDENTITY_API_VERSION": "3",
    "OS_IDENTITY_PROVIDER": "pysaml2", "OS_PROTOCOL": "saml", "OS_IDENTITY_PROVIDER_URL": f"{idp_url}/ecp",
    "OS_USERNAME": "carol", "OS_PASSWORD": PASSWORD, "OS_PROJECT_NAME": "admin", "OS_PROJECT_DOMAIN_NAME": "admin",
})
out = subprocess.run([openstack, "token", "issue", "-f", "json"], env=env, capture_output=True, text=True)
report("openstack token issue with v3samlpassword (ECP)", out.returncode == 0 and project_id in out.stdout, out.stderr or out.stdout)
env["OS_PASSWORD"] = "wrong"
out = subprocess.run([openstack, "token", "issue", "-f", "json"], env=env, capture_output=True, text=True)
# The IdP refuses the password with a bare 401, as Shibboleth does; keystoneauth1 then fails
# to read its (empty) answer and never reaches fedgate.
report("a wrong IdP password gets no token",
       out.returncode != 0 and ecp_refused == ["carol"]
       and "Error parsing XML returned from Identity Provider: Document is empty" in out.stderr,
       f"refused at the IdP: {ecp_refused}; {out.stderr or out.stdout}")

# 8. Headless Chromium through WebSSO: the chooser's link, pysaml2's login page, back to the
# ACS, and the token posted to the trusted dashboard.
dashboard_port = os.environ.get("DASHBOARD_PORT")
shot = os.environ.get("SCREENSHOT")
if dashboard_port and shot:
    origin = f"http://127.0.0.1:{dashboard_port}/auth/websso/"
    start = f"{fedgate}/v3/auth/OS-FEDERATION/identity_providers/pysaml2/protocols/saml/websso?origin={quote(origin, safe='')}"
    out = subprocess.run(["node", "browser.mjs", start, dashboard_port, shot], cwd=os.path.join(here, "oidc"),
                         env={**os.environ, "LOGIN": "form", "LOGIN_USER": "carol", "LOGIN_PASSWORD": PASSWORD},
                         capture_output=True, text=True, timeout=90)
    token = out.stdout.strip()
    ok = out.returncode == 0 and token and requests.get(
        f"{fedgate}/v3/auth/tokens", headers={"X-Auth-Token": admin, "X-Subject-Token": token}).json()["token"]["user"]["name"] == "carol"
    report("Chromium WebSSO through pysaml2 lands the token on the dashboard", ok, out.stderr)

server.shutdown()
sys.exit(checks.summary())
