"""Makes role-assignment answers comparable across servers: every id of a scenario object
becomes `<kind:name>`, the server's base URL is dropped from links, entries about objects
outside the scenario (each server's own bootstrap admin, Keystone's system scope) are left
out, and lists are sorted, since neither server promises an order.

tests/journeys/role_assignments/mod.rs does the same in Rust; keep the two in step."""

import json


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _has_foreign_id(value):
    """True when some `id` in `value` is not a scenario object's (`<kind:name>`)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" and isinstance(item, str) and not (item.startswith("<") and item.endswith(">")):
                return True
            if _has_foreign_id(item):
                return True
    elif isinstance(value, list):
        return any(_has_foreign_id(v) for v in value)
    return False


def rest(status, text, base, ids):
    """One answer of GET /v3/role_assignments: {"status", "body"}."""
    for raw, token in sorted(ids.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(raw, token)
    text = text.replace(base, "")
    body = json.loads(text) if text.strip() else None
    if status == 200 and isinstance(body, dict):
        kept = [a for a in body.get("role_assignments", []) if not _has_foreign_id(a)]
        body["role_assignments"] = sorted(kept, key=canonical)
    elif isinstance(body, dict) and "error" in body:
        body = {"error": {k: body["error"].get(k) for k in ("code", "title", "message")}}
    return {"status": status, "body": body}


def cli_rows(rows, names):
    """`openstack role assignment list ... --names -f json` rows, keeping those whose user,
    group, project and domain cells are empty or scenario names (`alice@north`, `north`)."""
    kept = []
    for row in rows:
        cells = [row.get(k, "") for k in ("User", "Group", "Project", "Domain")]
        if row.get("System"):
            continue
        if all(c == "" or c in names for c in cells):
            kept.append(row)
    return sorted(kept, key=canonical)
