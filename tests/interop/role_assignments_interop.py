"""`openstack role assignment list` against fedgate prints Keystone's rows: builds the scenario
of tests/role_assignments/scenario.json over HTTP (its domains were made by `fedgate
bootstrap`, as tests/interop/run does), runs each recorded command and compares its rows
with what Keystone printed (tests/role_assignments/keystone.json), as multisets.

Usage: role_assignments_interop.py FEDGATE_URL ADMIN_TOKEN OPENSTACK_BIN
(the OS_* variables of the cloud admin in the environment)."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "role_assignments"))

import normalise  # noqa: E402
import scenario  # noqa: E402
from checks import Checks  # noqa: E402


def main():
    base, token, openstack = sys.argv[1], sys.argv[2], sys.argv[3]
    checks = Checks("role-assignments")
    sc = scenario.load("scenario.json")
    recorded = scenario.load("keystone.json")
    if recorded["scenario"] != sc:
        checks.report("keystone.json was recorded from scenario.json", False,
                      "run tests/role_assignments/generate")
        return checks.summary()
    try:
        scenario.build(scenario.Api(base, token), sc, make_domains=False)
    except RuntimeError as e:
        checks.report("the scenario builds over HTTP", False, e)
        return checks.summary()
    names = scenario.names_for_cli(sc)
    for case in recorded["cli"]:
        args = next(c["args"] for c in sc["cli"] if c["name"] == case["name"])
        shown = " ".join(args)
        run = subprocess.run([openstack, "role", "assignment", "list", *args, "-f", "json"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            checks.report(f"openstack role assignment list {shown}", False, run.stderr)
            continue
        rows = normalise.cli_rows(json.loads(run.stdout), names)
        want = case["rows"]
        detail = ""
        if rows != want:
            missing = [r for r in want if r not in rows]
            extra = [r for r in rows if r not in want]
            detail = f"{len(rows)} rows, Keystone {len(want)}; missing {missing}; extra {extra}"
        checks.report(f"openstack role assignment list {shown} prints Keystone's {len(want)} rows",
                      rows == want, detail)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
