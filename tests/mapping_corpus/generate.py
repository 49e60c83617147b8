#!/usr/bin/env python3
"""Runs every case of cases.py through the real Keystone mapping engine and writes
corpus.json (inputs and Keystone's outcomes). Usage: tests/mapping_corpus/generate (sets up
the venv) or, with keystone importable, python3 generate.py."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402

import keystone.conf  # noqa: E402
from keystone import exception  # noqa: E402
from keystone.federation import utils  # noqa: E402


def keystone_outcome(version, ref, assertion):
    try:
        utils.validate_mapping_structure(dict(ref, schema_version=version))
    except exception.ValidationError:
        return {"error": "invalid_rules"}
    processor = utils.IDP_ATTRIBUTE_MAPPING_SCHEMAS[version]["processor"]("m", ref["rules"])
    try:
        result = processor.process(assertion)
    except exception.DirectMappingError:
        return {"error": "direct_mapping"}
    except exception.ValidationError as e:
        if "Could not map any" in str(e):
            return {"error": "no_match"}
        return {"error": "invalid_result"}
    except Exception as e:  # Keystone would answer 500
        return {"error": "exception", "type": type(e).__name__}
    result["group_ids"] = sorted(result["group_ids"])
    return {"result": result}


def main():
    keystone.conf.configure()
    keystone.conf.CONF([], project="keystone", default_config_files=[])
    corpus = []
    for name, (version, rules, assertions) in cases.MAPPINGS.items():
        for aname, assertion in assertions.items():
            ref = {"rules": rules}
            corpus.append({
                "name": f"{name}/{aname}", "schema_version": version, "rules": rules,
                "assertion": assertion, "keystone": keystone_outcome(version, ref, assertion),
            })
    for name, ref in cases.INVALID.items():
        version = ref.get("schema_version", "1.0")
        ref = {k: v for k, v in ref.items() if k != "schema_version"}
        corpus.append({
            "name": f"invalid/{name}", "schema_version": version, "mapping": ref,
            "assertion": {"a": "x"}, "keystone": keystone_outcome(version, ref, {"a": "x"}),
        })
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.json")
    with open(out, "w") as f:
        json.dump(corpus, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(corpus)} cases to {out}")


if __name__ == "__main__":
    main()
