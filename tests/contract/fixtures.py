"""Resources for schemathesis to reach past 404: a domain, project, users, a group, an
identity provider with its mapping and protocol, an agency and an access key, made through the
API as an admin would. Writes a schemathesis.toml that pins each route's path parameters to
them, so generated requests read, change and delete real records (and answer 200, 201, 204,
each checked against the document). The admin's own domain, project and user are never
targets: a generated PATCH that disables them would end the run's credential.

usage: fixtures.py BASE_URL TOKEN OUT_TOML
"""

import json
import sys

import requests

base, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = requests.Session()
s.headers["X-Auth-Token"] = token


def call(method, path, body=None, ok=(200, 201, 204)):
    r = s.request(method, base + path, json=body, timeout=30)
    if r.status_code not in ok:
        sys.exit(f"contract fixtures: {method} {path} answered {r.status_code}: {r.text}")
    return r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else None


me = s.get(base + "/v3/auth/tokens", headers={"X-Subject-Token": token}, timeout=30).json()["token"]
admin_domain = me["user"]["domain"]["id"]
role = {r["name"]: r["id"] for r in call("GET", "/v3/roles")["roles"]}["member"]

domain = call("POST", "/v3/domains", {"domain": {"name": "contract-acme", "description": "schemathesis"}})["domain"]["id"]
project = call("POST", "/v3/projects", {"project": {"name": "contract-project", "domain_id": admin_domain}})["project"]["id"]
user = call("POST", "/v3/users", {"user": {"name": "contract-user", "domain_id": admin_domain,
                                           "password": "Contract-user-passw0rd"}})["user"]["id"]
group = call("POST", "/v3/groups", {"group": {"name": "contract-group", "domain_id": admin_domain}})["group"]["id"]
call("PUT", f"/v3/groups/{group}/users/{user}")
call("PUT", f"/v3/projects/{project}/groups/{group}/roles/{role}")
mapping = "contract-mapping"
call("PUT", f"/v3/OS-FEDERATION/mappings/{mapping}", {"mapping": {"rules": [{
    "local": [{"user": {"name": "{0}"}}, {"group": {"id": group}}],
    "remote": [{"type": "NameID"}]}]}})
idp = "contract-idp"
call("PUT", f"/v3/OS-FEDERATION/identity_providers/{idp}", {"identity_provider": {"enabled": True}})
call("PUT", f"/v3/OS-FEDERATION/identity_providers/{idp}/protocols/saml",
     {"protocol": {"mapping_id": mapping}})
agency = call("POST", "/v3.0/OS-AGENCY/agencies", {"agency": {
    "name": "contract-agency", "domain_id": admin_domain, "trust_domain_name": "contract-acme",
    "duration": "ONEDAY"}})["agency"]["id"]
key = call("POST", "/v3.0/OS-CREDENTIAL/credentials",
           {"credential": {"user_id": me["user"]["id"], "description": "contract"}})["credential"]
access = key["access"]
# A second key, for `bce_auth.py` to sign Baidu's routes with: the routes may disable or
# delete the first one.
signing = call("POST", "/v3.0/OS-CREDENTIAL/credentials",
               {"credential": {"user_id": me["user"]["id"], "description": "contract signer"}})["credential"]
# The catalog is configuration: pinned when the server has one.
catalog = {name: [item["id"] for item in call("GET", f"/v3/{name}")[name]] for name in ("services", "endpoints", "regions")}

# (path regex, parameters): the first pattern a route matches pins its parameters.
pins = [
    (r"^/v3/domains/\{d\}/groups", {"d": domain, "g": group, "r": role}),
    (r"^/v3/domains/", {"id": domain}),
    (r"^/v3/projects/\{p\}/groups", {"p": project, "g": group, "r": role}),
    (r"^/v3(-ext)?/projects/", {"id": project}),
    (r"^/v3/OS-INHERIT/domains/", {"d": domain, "g": group, "r": role}),
    (r"^/v3/users/", {"id": user}),
    (r"^/v3\.0/OS-USER/users/", {"id": user}),
    (r"^/v3/groups/\{group_id\}", {"group_id": group, "user_id": user}),
    (r"^/v3/groups/", {"id": group}),
    (r"^/v3/roles/", {"id": role}),
    (r"^/v3\.0/OS-AGENCY/agencies/", {"id": agency}),
    (r"^/v3\.0/OS-AGENCY/domains/", {"d": admin_domain, "a": agency, "r": role}),
    (r"^/v3\.0/OS-AGENCY/projects/", {"p": project, "a": agency, "r": role}),
    (r"^/v3\.0/OS-INHERIT/domains/", {"d": admin_domain, "a": agency, "r": role}),
    (r"^/v3\.0/OS-CREDENTIAL/credentials/", {"access": access}),
    (r"^/v3/OS-FEDERATION/identity_providers/", {"id": idp, "protocol": "saml"}),
    (r"^/v3-ext/OS-FEDERATION/identity_providers/", {"id": idp, "protocol": "saml"}),
    (r"^/v3\.0/OS-FEDERATION/identity-providers/", {"id": idp}),
    (r"^/v3(-ext)?/OS-FEDERATION/mappings/", {"id": mapping}),
    (r"^/v1/user/\{userName\}/accesskey/", {"userName": "contract-user", "accessKeyId": access}),
    (r"^/v1/accesskey/", {"accessKeyId": access}),
    (r"^/v1/user/", {"userName": "contract-user"}),
    (r"^/v1/group/\{groupName\}/user/", {"groupName": "contract-group", "userName": "contract-user"}),
    (r"^/v1/group/", {"groupName": "contract-group"}),
    (r"^/v1/subUser/", {"userName": "contract-user"}),
] + [(f"^/v3/{name}/", {"id": ids[0]}) for name, ids in catalog.items() if ids]

with open(out, "w") as f:
    for regex, params in pins:
        f.write("[[operations]]\n")
        f.write(f"include-path-regex = {json.dumps(regex)}\n")
        f.write("parameters = { " + ", ".join(f"{json.dumps('path.' + k)} = {json.dumps(v)}"
                                               for k, v in params.items()) + " }\n\n")
with open(out + ".env", "w") as f:
    f.write(f"CONTRACT_AK={signing['access']}\nCONTRACT_SK={signing['secret']}\n")
print(f"contract fixtures: {len(pins)} routes' parameters pinned to real records")
