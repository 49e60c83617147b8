"""Mapping conformance cases: each mapping is run against several assertions.

generate.py feeds every case to Keystone's RuleProcessor and writes corpus.json; the Rust test
(tests/journeys/mapping_corpus.rs) compares fedgate's engine with it.
"""

D = {"name": "Default"}
R = lambda remote, local: {"local": local, "remote": remote}  # noqa: E731
USER0 = {"user": {"name": "{0}"}}

MAPPINGS = {
    # name: (schema_version, rules, {assertion_name: assertion})
    "reference_example": ("1.0", [R(
        [{"type": "UserName"}, {"type": "orgPersonType", "not_any_of": ["Contractor", "Guest"]}],
        [{"user": {"name": "LocalUser"}}, {"group": {"name": "LocalGroup", "domain": D}}])], {
        "employee": {"UserName": "alice", "orgPersonType": "Employee"},
        "contractor": {"UserName": "bob", "orgPersonType": "Contractor"},
        "guest_among_others": {"UserName": "bob", "orgPersonType": "Staff;Guest"},
        "no_username": {"orgPersonType": "Employee"},
        "no_type": {"UserName": "alice"},
    }),
    "user_from_attribute": ("1.0", [R([{"type": "UserName"}], [USER0])], {
        "single": {"UserName": "alice"},
        "multi": {"UserName": "alice;bob"},
        "quote": {"UserName": "o'brien;x"},
        "both_quotes": {"UserName": "a'b\"c;d"},
        "backslash": {"UserName": "dom\\user;x"},
        "empty": {"UserName": ""},
        "unicode": {"UserName": "Zoë 山田"},
        "missing": {"Other": "x"},
        "non_string_ignored": {"UserName": 5},
        "empty_segments": {"UserName": ";"},
    }),
    "two_slots_and_literal_braces": ("1.0", [R(
        [{"type": "FirstName"}, {"type": "LastName"}],
        [{"user": {"name": "{0} {1}", "email": "{{literal}} {1}"}}])], {
        "both": {"FirstName": "Ada", "LastName": "Lovelace"},
        "one_missing": {"FirstName": "Ada"},
        "multi_last": {"FirstName": "Ada", "LastName": "A;B"},
    }),
    "auto_numbered_slots": ("1.0", [R([{"type": "a"}, {"type": "b"}], [{"user": {"name": "{}-{}"}}])], {
        "both": {"a": "x", "b": "y"},
    }),
    "conditions_do_not_take_slots": ("1.0", [R(
        [{"type": "Dept", "any_one_of": ["eng"]}, {"type": "UserName"}, {"type": "Mail"}],
        [{"user": {"name": "{0}", "email": "{1}"}}])], {
        "eng": {"Dept": "eng", "UserName": "alice", "Mail": "a@x.org"},
        "sales": {"Dept": "sales", "UserName": "alice", "Mail": "a@x.org"},
        "eng_among_many": {"Dept": "ops;eng", "UserName": "alice", "Mail": "a@x.org"},
    }),
    "no_value_remotes_still_format": ("1.0", [R(
        [{"type": "Dept", "any_one_of": ["eng"]}],
        [{"user": {"name": "fixed {{braces}}"}}, {"group": {"id": "{{id}}"}}])], {
        "eng": {"Dept": "eng"},
        "other": {"Dept": "x"},
    }),
    "slot_without_value_remote": ("1.0", [R(
        [{"type": "Dept", "any_one_of": ["eng"]}], [{"user": {"name": "{0}"}}])], {
        "eng": {"Dept": "eng"},
        "other": {"Dept": "x"},
    }),
    "slot_beyond_value_remotes": ("1.0", [R([{"type": "UserName"}], [{"user": {"name": "{0} {1}"}}])], {
        "one": {"UserName": "u"},
    }),
    "regex_is_unanchored_search": ("1.0", [R(
        [{"type": "Mail", "any_one_of": ["@example\\.com$", "^root"], "regex": True}, {"type": "UserName"}],
        [USER0])], {
        "suffix": {"Mail": "a@example.com", "UserName": "a"},
        "lookalike": {"Mail": "a@example.com.evil", "UserName": "a"},
        "prefix_anywhere": {"Mail": "root@x", "UserName": "r"},
        "middle": {"Mail": "xroot", "UserName": "r"},
        "dot_is_literal": {"Mail": "a@exampleXcom", "UserName": "a"},
    }),
    "exact_lists_treat_regex_characters_literally": ("1.0", [R(
        [{"type": "Role", "any_one_of": ["a.b", "c*"]}, {"type": "UserName"}], [USER0])], {
        "literal_dot": {"Role": "a.b", "UserName": "u"},
        "would_match_as_regex": {"Role": "aXb", "UserName": "u"},
        "star": {"Role": "c*", "UserName": "u"},
        "case_differs": {"Role": "A.B", "UserName": "u"},
    }),
    "not_any_of_regex": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "not_any_of": ["^ext-"], "regex": True}], [USER0])], {
        "internal": {"UserName": "u", "Groups": "staff;dev"},
        "one_external": {"UserName": "u", "Groups": "staff;ext-vendor"},
        "infix_is_fine": {"UserName": "u", "Groups": "my-ext-team"},
    }),
    "whitelist_to_groups": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "whitelist": ["admins", "devs"]}],
        [USER0, {"groups": "{1}", "domain": D}])], {
        "both_allowed_plus_other": {"UserName": "u", "Groups": "admins;sales;devs"},
        "one_allowed": {"UserName": "u", "Groups": "sales;devs"},
        "none_allowed": {"UserName": "u", "Groups": "sales"},
        "duplicates": {"UserName": "u", "Groups": "devs;devs"},
    }),
    "whitelist_regex_keeps_order": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "whitelist": ["^team-"], "regex": True}],
        [{"user": {"name": "{0}", "email": "{1}"}}])], {
        "two": {"UserName": "u", "Groups": "team-b;x;team-a"},
        "one": {"UserName": "u", "Groups": "team-b;x"},
        "none": {"UserName": "u", "Groups": "x"},
    }),
    "blacklist_to_groups": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "blacklist": ["sales"]}],
        [USER0, {"groups": "{1}", "domain": {"id": "d1"}}])], {
        "removes_one": {"UserName": "u", "Groups": "sales;devs;ops"},
        "only_blacklisted": {"UserName": "u", "Groups": "sales"},
        "single_left": {"UserName": "u", "Groups": "sales;devs"},
    }),
    "blacklist_regex": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "blacklist": ["^tmp"], "regex": True}],
        [USER0, {"groups": "{1}", "domain": D}])], {
        "drop_tmp": {"UserName": "u", "Groups": "tmp1;keep"},
    }),
    "groups_from_multivalued_attribute": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups"}],
        [USER0, {"groups": "{1}", "domain": {"name": "corp"}}])], {
        "many": {"UserName": "u", "Groups": "a;b;c"},
        "one": {"UserName": "u", "Groups": "a"},
        "quotes_in_names": {"UserName": "u", "Groups": "o'neil;\"q\""},
        "brackets_in_name": {"UserName": "u", "Groups": "[weird]"},
        "unicode": {"UserName": "u", "Groups": "équipe;チーム"},
    }),
    "groups_without_domain": ("1.0", [R([{"type": "Groups"}], [{"groups": "{0}"}])], {
        "fails": {"Groups": "a;b"},
    }),
    "group_ids_from_attribute": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Ids"}], [USER0, {"group_ids": "{1}"}])], {
        "many": {"UserName": "u", "Ids": "id1;id2;id1"},
        "one": {"UserName": "u", "Ids": "id9"},
    }),
    "group_by_id_and_name": ("1.0", [R(
        [{"type": "UserName"}],
        [USER0, {"group": {"id": "g-1"}}, {"group": {"name": "admins", "domain": {"id": "d1"}}},
         {"group": {"name": "devs", "domain": {"id": "d1"}}}, {"group": {"name": "admins", "domain": D}}])], {
        "any": {"UserName": "u"},
    }),
    "rules_merge_groups_first_user_wins": ("1.0", [
        R([{"type": "UserName"}], [USER0, {"group": {"id": "base"}}]),
        R([{"type": "Dept", "any_one_of": ["eng"]}], [{"group": {"id": "eng"}}, {"user": {"name": "ignored"}}]),
        R([{"type": "Mail"}], [{"user": {"name": "{0}"}}, {"group": {"name": "{0}", "domain": D}}]),
    ], {
        "all_rules": {"UserName": "alice", "Dept": "eng", "Mail": "a@x"},
        "no_first_rule": {"Dept": "eng", "Mail": "a@x"},
        "only_condition_rule": {"Dept": "eng"},
        "nothing": {"Other": "1"},
    }),
    "user_type_and_fields": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Id"}],
        [{"user": {"name": "{0}", "id": "{1}", "type": "local", "email": "{0}@corp", "domain": {"name": "corp"}}}])], {
        "full": {"UserName": "u", "Id": "abc"},
    }),
    "ephemeral_default_and_no_user": ("1.0", [R([{"type": "Groups"}], [{"groups": "{0}", "domain": D}])], {
        "groups_only": {"Groups": "a"},
    }),
    "semicolons_split_values": ("1.0", [R(
        [{"type": "Dept", "any_one_of": ["eng;ops"]}, {"type": "UserName"}], [USER0])], {
        "joined_value_never_matches": {"Dept": "eng;ops", "UserName": "u"},
    }),
    "domain_in_schema_2": ("2.0", [R(
        [{"type": "UserName"}, {"type": "Proj"}],
        [{"user": {"name": "{0}"}, "domain": {"name": "corp"}},
         {"projects": [{"name": "{1}", "roles": [{"name": "member"}]},
                       {"name": "fixed", "roles": [{"name": "reader"}], "domain": {"id": "d2"}}],
          "domain": {"name": "projdom"}}])], {
        "one_project": {"UserName": "u", "Proj": "p1"},
        "multi_project": {"UserName": "u", "Proj": "p1;p2"},
    }),
    "user_domain_from_last_local_2": ("2.0", [
        R([{"type": "UserName"}], [USER0]),
        R([{"type": "Dept"}], [{"groups": "{0}", "domain": {"id": "gd"}}]),
    ], {
        "both": {"UserName": "u", "Dept": "d"},
        "user_only": {"UserName": "u"},
    }),
    "explicit_user_domain_2": ("2.0", [R(
        [{"type": "UserName"}], [{"user": {"name": "{0}", "domain": {"id": "ud"}}, "domain": {"id": "other"}}])], {
        "any": {"UserName": "u"},
    }),
    "projects_last_wins_1": ("1.0", [
        R([{"type": "A"}], [{"projects": [{"name": "pa", "roles": [{"name": "r"}]}]}]),
        R([{"type": "B"}], [{"projects": [{"name": "pb", "roles": [{"name": "r"}]}]}]),
    ], {
        "both": {"A": "1", "B": "1"},
        "first": {"A": "1"},
    }),
    "projects_json_3": ("3.0", [R(
        [{"type": "UserName"}, {"type": "Projects"}],
        [{"user": {"name": "{0}"}, "projects_json": "{1}", "domain": {"name": "corp"}}])], {
        "valid": {"UserName": "u", "Projects": "[{\"name\": \"p\", \"roles\": [{\"name\": \"member\"}]}]"},
        "with_domain": {"UserName": "u", "Projects": "[{\"name\": \"p\", \"roles\": [{\"name\": \"r\"}], \"domain\": {\"id\": \"x\"}}]"},
        "bad_json": {"UserName": "u", "Projects": "not json"},
        "missing_roles": {"UserName": "u", "Projects": "[{\"name\": \"p\"}]"},
    }),
    "json_groups": ("1.0", [R(
        [{"type": "UserName"}, {"type": "G"}], [USER0, {"groups": "{1}"}])], {
        "json_entries": {"UserName": "u", "G": "JSON:{\"name\": \"g1\", \"domain\": {\"name\": \"d\"}}"},
    }),
    "regex_alternation_and_classes": ("1.0", [R(
        [{"type": "UserName", "any_one_of": ["^(alice|bob)$", "^[0-9]+$"], "regex": True}, {"type": "UserName"}],
        [USER0])], {
        "alice": {"UserName": "alice"},
        "alicia": {"UserName": "alicia"},
        "digits": {"UserName": "12345"},
        "unicode_digits": {"UserName": "١٢٣"},
    }),
    "group_names_containing_name": ("1.0", [R(
        [{"type": "G"}], [{"groups": "{0}", "domain": D}])], {
        "username_team": {"G": "username-team"},
        "plain": {"G": "team"},
    }),
    "non_string_list_items": ("1.0", [R(
        [{"type": "Level", "any_one_of": [1, "1"]}, {"type": "UserName"}], [USER0])], {
        "text_one": {"Level": "1", "UserName": "u"},
    }),
    "lookaround_regex": ("1.0", [R(
        [{"type": "UserName", "any_one_of": ["^(?!admin)"], "regex": True}, {"type": "UserName"}], [USER0])], {
        "user": {"UserName": "bob"},
    }),
    # Python `re` features the `regex` crate lacks: fedgate runs these on fancy-regex.
    "lookahead_keeps_guests_out": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Mail", "any_one_of": ["^(?!guest[.-])\\w+@corp\\.example$"], "regex": True}],
        [USER0, {"group": {"name": "staff", "domain": D}}])], {
        "staff": {"UserName": "alice", "Mail": "alice@corp.example"},
        "guest": {"UserName": "g", "Mail": "guest.1@corp.example"},
        "guest_among_others": {"UserName": "g", "Mail": "guest-2@corp.example;alice@corp.example"},
    }),
    "lookahead_not_any_of": ("2.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "not_any_of": ["^(?=.*suspended)"], "regex": True}],
        [{"user": {"name": "{0}"}, "domain": D}])], {
        "active": {"UserName": "u", "Groups": "devs;ops"},
        "suspended": {"UserName": "u", "Groups": "devs;x-suspended-y"},
    }),
    "lookbehind_whitelist": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "whitelist": ["(?<=^team-)(ops|devs)$", "(?<!ext-)admins$"], "regex": True}],
        [USER0, {"groups": "{1}", "domain": D}])], {
        "kept_in_order": {"UserName": "u", "Groups": "team-devs;ops;ext-admins;team-ops;admins"},
        "none_kept": {"UserName": "u", "Groups": "ops;ext-admins"},
    }),
    "lookbehind_blacklist": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "blacklist": ["(?<=-)tmp$"], "regex": True}],
        [USER0, {"groups": "{1}", "domain": D}])], {
        "drops_suffix": {"UserName": "u", "Groups": "a-tmp;tmp;b"},
    }),
    "backreference": ("1.0", [R(
        [{"type": "UserName", "any_one_of": ["^(\\w+)\\.\\1$", "^(?P<d>[a-z])(?P=d)"], "regex": True}, {"type": "UserName"}],
        [USER0])], {
        "repeated": {"UserName": "ab.ab"},
        "named_repeat": {"UserName": "xxy"},
        "different": {"UserName": "ab.cd"},
    }),
    # Python `re` as Python reads it: fedgate translates each pattern (src/mapping/python_re.rs)
    # where the `regex` crate would read the same text differently. Deny-lists first.
    "dollar_before_final_newline": ("1.0", [R(
        [{"type": "UserName"}, {"type": "UserName", "not_any_of": ["^guest$"], "regex": True}], [USER0])], {
        "guest": {"UserName": "guest"},
        "guest_newline": {"UserName": "guest\n"},
        "guest_two_newlines": {"UserName": "guest\n\n"},
        "other": {"UserName": "guests"},
    }),
    "dollar_inside_pattern": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Groups", "blacklist": ["^(tmp|test)$", "x$|^y$", "^z$\n"], "regex": True}],
        [USER0, {"groups": "{1}", "domain": D}])], {
        "mixed": {"UserName": "u", "Groups": "tmp\n;test;tmpx;x\n;y\n;z\n;w"},
    }),
    "end_of_text_escape": ("1.0", [R(
        [{"type": "UserName", "any_one_of": ["^admin\\Z"], "regex": True}, {"type": "UserName"}], [USER0])], {
        "exact": {"UserName": "admin"},
        "newline": {"UserName": "admin\n"},
    }),
    "ignorecase_dotted_and_dotless_i": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Role", "not_any_of": ["(?i)^admin$", "(?i)^[h-j]nfra"], "regex": True}],
        [USER0])], {
        "dotted_capital": {"UserName": "u", "Role": "adm\u0130n"},
        "dotless": {"UserName": "u", "Role": "adm\u0131n"},
        "class_range": {"UserName": "u", "Role": "\u0130nfra"},
        "kelvin": {"UserName": "u", "Role": "user;\u212a"},
        "user": {"UserName": "u", "Role": "user"},
    }),
    "python_escapes_and_classes": ("1.0", [R(
        [{"type": "UserName"},
         {"type": "Tag", "whitelist": ["^\\<b\\>$", "^[[:alpha:]]$", "^a{,2}$", "^x{}$", "\\s", "^[a&&b]$"], "regex": True}],
        [USER0, {"groups": "{1}", "domain": D}])], {
        "tags": {"UserName": "u", "Tag": "<b>;a;:];aa;aaa;x{};a\u001cb;&;[b"},
    }),
    "word_boundaries_as_python_reads_them": ("1.0", [R(
        [{"type": "UserName"}, {"type": "Role", "not_any_of": ["\\badmin\\b", "^\\B"], "regex": True}], [USER0])], {
        "combining_mark_after": {"UserName": "u", "Role": "admin\u0301"},
        "superscript_after": {"UserName": "u", "Role": "admin\u00b2"},
        "plain": {"UserName": "u", "Role": "x-admin"},
        "empty": {"UserName": "u", "Role": ""},
    }),
    "verbose_and_scoped_flags": ("1.0", [R(
        [{"type": "UserName", "any_one_of": ["(?x) ^ ops \\- (?i: TEAM ) $  # a comment"], "regex": True},
         {"type": "UserName"}], [USER0])], {
        "mixed_case": {"UserName": "ops-Team"},
        "case_outside_scope": {"UserName": "OPS-team"},
    }),
    "comments_as_python_reads_them": ("1.0", [R(
        [{"type": "UserName", "any_one_of": ["^admin(?#\\)|(x)$", "(?x) ^svc\\\\  # CORP\\\n | ^ops$"], "regex": True},
         {"type": "UserName"}], [USER0])], {
        "after_the_comment": {"UserName": "mallory-x"},
        "after_the_verbose_comment": {"UserName": "ops"},
        "admin": {"UserName": "admin"},
        "service": {"UserName": "svc\\a"},
    }),
    "array_valued_assertion": ("1.0", [R([{"type": "Groups"}], [{"groups": "{0}", "domain": D}])], {
        "array": {"Groups": ["a", "b"]},
    }),
    "same_attribute_twice": ("1.0", [R([{"type": "UserName"}, {"type": "UserName"}], [{"user": {"name": "{0}/{1}"}}])], {
        "one": {"UserName": "u"},
    }),
}

# Invalid rule sets: Keystone's schema refuses them (fedgate must too).
INVALID = {
    "rules_missing": {},
    "rules_empty": {"rules": []},
    "rules_not_array": {"rules": {"local": [], "remote": []}},
    "rule_without_local": {"rules": [{"remote": [{"type": "a"}]}]},
    "rule_without_remote": {"rules": [{"local": []}]},
    "remote_empty": {"rules": [R([], [])]},
    "remote_item_without_type": {"rules": [R([{"any_one_of": ["x"]}], [])]},
    "remote_type_not_string": {"rules": [R([{"type": 5}], [])]},
    "regex_not_boolean": {"rules": [R([{"type": "a", "any_one_of": ["x"], "regex": "yes"}], [])]},
    "regex_alone": {"rules": [R([{"type": "a", "regex": True}], [])]},
    "two_lists": {"rules": [R([{"type": "a", "any_one_of": ["x"], "not_any_of": ["y"]}], [])]},
    "whitelist_and_blacklist": {"rules": [R([{"type": "a", "whitelist": ["x"], "blacklist": ["y"]}], [])]},
    "list_not_array": {"rules": [R([{"type": "a", "any_one_of": "x"}], [])]},
    "unknown_remote_key": {"rules": [R([{"type": "a", "anyoneof": ["x"]}], [])]},
    "unknown_rule_key": {"rules": [{"local": [], "remote": [{"type": "a"}], "extra": 1}]},
    "unknown_local_key": {"rules": [R([{"type": "a"}], [{"usr": {"name": "x"}}])]},
    "user_not_object": {"rules": [R([{"type": "a"}], [{"user": "x"}])]},
    "user_unknown_field": {"rules": [R([{"type": "a"}], [{"user": {"nick": "x"}}])]},
    "user_bad_type": {"rules": [R([{"type": "a"}], [{"user": {"name": "x", "type": "robot"}}])]},
    "group_name_without_domain": {"rules": [R([{"type": "a"}], [{"group": {"name": "x"}}])]},
    "group_id_and_name": {"rules": [R([{"type": "a"}], [{"group": {"id": "x", "name": "y"}}])]},
    "group_empty": {"rules": [R([{"type": "a"}], [{"group": {}}])]},
    "groups_not_string": {"rules": [R([{"type": "a"}], [{"groups": ["x"], "domain": D}])]},
    "domain_unknown_field": {"rules": [R([{"type": "a"}], [{"groups": "x", "domain": {"nm": "x"}}])]},
    "projects_without_roles": {"rules": [R([{"type": "a"}], [{"projects": [{"name": "p"}]}])]},
    "project_role_extra": {"rules": [R([{"type": "a"}], [{"projects": [{"name": "p", "roles": [{"name": "r", "x": 1}]}]}])]},
    "project_domain_in_1_0": {"rules": [R([{"type": "a"}], [{"projects": [{"name": "p", "roles": [], "domain": D}]}])]},
    "projects_json_in_2_0": {"schema_version": "2.0", "rules": [R([{"type": "a"}], [{"projects_json": "{0}"}])]},
}
