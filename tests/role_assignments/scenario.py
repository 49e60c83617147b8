"""Builds the scenario of scenario.json through the Keystone v3 API (Keystone itself, or fedgate)
and answers its queries; only the standard library, so any venv can import it.

Each domain of the scenario holds what `fedgate bootstrap --domain-name D --user-name D-owner
--project-name D-main` makes: the project D-main, the user D-owner in the group D-admins, and
that group's `admin` on the domain, inherited to the domain's projects, and on D-main. On
Keystone `build` creates those through the API; on fedgate the bootstrap command has made
them, and `build` finds them."""

import json
import os
import re
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def load(name):
    with open(os.path.join(HERE, name)) as f:
        return json.load(f)


class Api:
    def __init__(self, base, token=None):
        self.base = base.rstrip("/")
        self.token = token

    def call(self, method, path, body=None, token=None):
        """Returns (status, response text, headers)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        tok = token or self.token
        if tok:
            req.add_header("X-Auth-Token", tok)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read().decode(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers

    def ok(self, method, path, body=None, want=(200, 201, 204)):
        status, text, _ = self.call(method, path, body)
        if status not in want:
            raise RuntimeError(f"{method} {path}: {status} {text}")
        return json.loads(text) if text.strip() else None

    def token_for(self, user, user_domain, password, scope):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": user_domain}, "password": password}}}, "scope": scope}}
        status, text, headers = self.call("POST", "/v3/auth/tokens?nocatalog", body, token="")
        if status != 201:
            raise RuntimeError(f"token for {user}: {status} {text}")
        return headers["X-Subject-Token"]

    def find(self, collection, name, domain_id=None):
        query = f"?domain_id={domain_id}" if domain_id else ""
        found = [x for x in self.ok("GET", f"/v3/{collection}{query}")[collection] if x["name"] == name]
        if len(found) != 1:
            raise RuntimeError(f"{collection} named {name}: {len(found)} found")
        return found[0]["id"]


def build(api, sc, make_domains):
    """Makes the scenario; returns {id: "<kind:name>"} for every object of it."""
    ids = {}
    tokens = {}
    roles = {r["name"]: r["id"] for r in api.ok("GET", "/v3/roles")["roles"]}
    for name in ("admin", "member", "reader"):
        tokens[("role", name)] = roles[name]
    password = sc["password"]
    for d in sc["domains"]:
        if make_domains:
            did = api.ok("POST", "/v3/domains", {"domain": {"name": d["name"]}})["domain"]["id"]
            pid = api.ok("POST", "/v3/projects", {"project": {"name": d["project"], "domain_id": did}})["project"]["id"]
            uid = api.ok("POST", "/v3/users", {"user": {"name": d["owner"], "domain_id": did, "password": password}})["user"]["id"]
            gid = api.ok("POST", "/v3/groups", {"group": {"name": d["admins"], "domain_id": did}})["group"]["id"]
            api.ok("PUT", f"/v3/groups/{gid}/users/{uid}")
            admin = roles["admin"]
            api.ok("PUT", f"/v3/domains/{did}/groups/{gid}/roles/{admin}")
            api.ok("PUT", f"/v3/OS-INHERIT/domains/{did}/groups/{gid}/roles/{admin}/inherited_to_projects")
            api.ok("PUT", f"/v3/projects/{pid}/groups/{gid}/roles/{admin}")
        else:
            did = [x for x in api.ok("GET", "/v3/domains")["domains"] if x["name"] == d["name"]][0]["id"]
            pid = api.find("projects", d["project"], did)
            uid = api.find("users", d["owner"], did)
            gid = api.find("groups", d["admins"], did)
        tokens[("domain", d["name"])] = did
        tokens[("project", d["project"])] = pid
        tokens[("user", d["owner"])] = uid
        tokens[("group", d["admins"])] = gid
    dom = lambda name: tokens[("domain", name)]
    for p in sc["projects"]:
        body = {"project": {"name": p["name"], "domain_id": dom(p["domain"])}}
        tokens[("project", p["name"])] = api.ok("POST", "/v3/projects", body)["project"]["id"]
    for u in sc["users"]:
        body = {"user": {"name": u["name"], "domain_id": dom(u["domain"]), "password": password}}
        tokens[("user", u["name"])] = api.ok("POST", "/v3/users", body)["user"]["id"]
    for g in sc["groups"]:
        body = {"group": {"name": g["name"], "domain_id": dom(g["domain"])}}
        tokens[("group", g["name"])] = api.ok("POST", "/v3/groups", body)["group"]["id"]
    for m in sc["memberships"]:
        api.ok("PUT", f"/v3/groups/{tokens[('group', m['group'])]}/users/{tokens[('user', m['user'])]}")
    for g in sc["grants"]:
        group, role = tokens[("group", g["group"])], tokens[("role", g["role"])]
        if "project" in g:
            api.ok("PUT", f"/v3/projects/{tokens[('project', g['project'])]}/groups/{group}/roles/{role}")
        elif g.get("inherited"):
            api.ok("PUT", f"/v3/OS-INHERIT/domains/{dom(g['domain'])}/groups/{group}/roles/{role}/inherited_to_projects")
        else:
            api.ok("PUT", f"/v3/domains/{dom(g['domain'])}/groups/{group}/roles/{role}")
    for (kind, name), raw in tokens.items():
        ids[raw] = f"<{kind}:{name}>"
    return ids


def names_for_cli(sc):
    """The cells `--names` prints for scenario objects: `alice@north`, `north`."""
    names = {d["name"] for d in sc["domains"]}
    for d in sc["domains"]:
        names |= {f"{d['project']}@{d['name']}", f"{d['owner']}@{d['name']}", f"{d['admins']}@{d['name']}"}
    for kind in ("projects", "users", "groups"):
        names |= {f"{x['name']}@{x['domain']}" for x in sc[kind]}
    return names


def resolve(query, ids):
    """`user.id={user:alice}` with the server's ids."""
    by_token = {token: raw for raw, token in ids.items()}
    return re.sub(r"\{(\w+):([\w-]+)\}", lambda m: by_token[f"<{m.group(1)}:{m.group(2)}>"], query)


def caller_tokens(api, sc, admin_token):
    """Tokens of the scenario's callers (scenario.json `callers`)."""
    pw = sc["password"]
    return {
        "admin": admin_token,
        "north-owner": api.token_for("north-owner", "north", pw, {"domain": {"name": "north"}}),
        "pam": api.token_for("pam", "north", pw, {"project": {"name": "n-beta", "domain": {"name": "north"}}}),
        "ben": api.token_for("ben", "north", pw, {"project": {"name": "n-alpha", "domain": {"name": "north"}}}),
        "erin": api.token_for("erin", "south", pw, {"domain": {"name": "south"}}),
    }
