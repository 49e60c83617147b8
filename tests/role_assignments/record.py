"""Builds scenario.json on a running Keystone and prints, as JSON, its answer to each query and
each `openstack role assignment list` of the scenario, normalised (normalise.py).
Run by ./generate: record.py KEYSTONE_URL ADMIN_PASSWORD OPENSTACK_BIN."""

import json
import os
import subprocess
import sys
from importlib.metadata import version

import normalise
import scenario


def main():
    base, password, openstack = sys.argv[1], sys.argv[2], sys.argv[3]
    sc = scenario.load("scenario.json")
    api = scenario.Api(base)
    # Setup runs system-scoped (Keystone's policies for roles want it); listings use the
    # project-scoped token `openstack` uses, like fedgate's cloud admin.
    api.token = api.token_for("admin", "Default", password, {"system": {"all": True}})
    # Implied roles are not part of fedgate: without this, effective listings would add
    # member and reader beside admin (bootstrap makes admin imply manager, member, reader).
    for rule in api.ok("GET", "/v3/role_inferences")["role_inferences"]:
        for implied in rule["implies"]:
            api.ok("DELETE", f"/v3/roles/{rule['prior_role']['id']}/implies/{implied['id']}")
    ids = scenario.build(api, sc, make_domains=True)
    admin = api.token_for("admin", "Default", password, {"project": {"name": "admin", "domain": {"name": "Default"}}})
    callers = scenario.caller_tokens(api, sc, admin)

    queries = []
    for q in sc["queries"]:
        query = scenario.resolve(q["query"], ids)
        path = "/v3/role_assignments" + (f"?{query}" if query else "")
        status, text, _ = api.call("GET", path, token=callers[q.get("as", "admin")])
        queries.append({"name": q["name"], **normalise.rest(status, text, base, ids)})

    env = dict(os.environ, OS_AUTH_URL=f"{base}/v3", OS_IDENTITY_API_VERSION="3", OS_USERNAME="admin",
               OS_PASSWORD=password, OS_USER_DOMAIN_NAME="Default", OS_PROJECT_NAME="admin",
               OS_PROJECT_DOMAIN_NAME="Default")
    names = scenario.names_for_cli(sc)
    cli = []
    for c in sc["cli"]:
        out = subprocess.run([openstack, "role", "assignment", "list", *c["args"], "-f", "json"],
                             env=env, capture_output=True, text=True, check=True).stdout
        cli.append({"name": c["name"], "rows": normalise.cli_rows(json.loads(out), names)})

    json.dump({
        "recorded_with": {"keystone": version("keystone"),
                          "python-openstackclient": version("python-openstackclient")},
        "scenario": sc,
        "queries": queries,
        "cli": cli,
    }, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
