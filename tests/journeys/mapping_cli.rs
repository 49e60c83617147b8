//! `fedgate mapping test`, run as a user would: files in, JSON lines and an exit code out.

use serde_json::{Value, json};

fn run(args: &[&str], files: &[(&str, String)]) -> (i32, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fedgate"))
        .current_dir(dir.path())
        .args(["mapping", "test"])
        .args(args)
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap_or(-1), lines)
}

#[test]
fn mapping_test_follows_the_command_line_contract() {
    let rules = json!({"mapping": {"rules": [{
        "remote": [{"type": "UserName"}, {"type": "Groups", "whitelist": ["admins"]}],
        "local": [{"user": {"name": "{0}"}}, {"groups": "{1}", "domain": {"name": "corp"}}],
    }]}})
    .to_string();
    let bare_rules =
        json!({"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]}).to_string();
    let mapped = json!({"UserName": "alice", "Groups": "admins;x"}).to_string();
    let rejected = json!({"Other": "1"}).to_string();
    let batch = format!("{mapped}\n{rejected}\n");
    let invalid =
        json!({"rules": [{"remote": [{"type": "a", "any_one_of": ["x"], "regex": "yes"}], "local": []}]}).to_string();

    let (code, out) = run(
        &["--rules", "r.json", "--assertion", "a.json"],
        &[("r.json", rules.clone()), ("a.json", mapped.clone())],
    );
    assert_eq!(code, 0);
    assert_eq!(out[0]["user"], json!({"name": "alice", "type": "ephemeral"}));
    assert_eq!(
        out[0]["group_names"],
        json!([{"name": "admins", "domain": {"name": "corp"}}])
    );
    assert!(out[0].get("trace").is_none());

    let (code, out) = run(
        &["--rules", "r.json", "--assertion", "a.json"],
        &[("r.json", bare_rules), ("a.json", rejected)],
    );
    assert_eq!(code, 1);
    assert_eq!(out[0]["error"]["code"], 401);

    let (code, out) = run(
        &["--rules", "r.json", "--assertions", "b.jsonl", "--trace"],
        &[("r.json", rules.clone()), ("b.jsonl", batch)],
    );
    assert_eq!(code, 1, "one of the batch was rejected");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["trace"][0]["matched"], true);
    assert_eq!(out[1]["trace"][0]["failed"]["check"], "missing attribute");

    let (code, out) = run(
        &["--rules", "r.json", "--assertion", "a.json"],
        &[("r.json", invalid), ("a.json", mapped.clone())],
    );
    assert_eq!(code, 2);
    assert_eq!(out[0]["error"]["code"], 400);
    assert!(
        out[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rules[0].remote[0].regex")
    );

    let (code, out) = run(
        &["--rules", "r.json", "--assertion", "a.json", "--schema-version", "2.0"],
        &[("r.json", rules), ("a.json", mapped)],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out[0]["user"]["domain"],
        json!({"name": "corp"}),
        "2.0 fills the user's domain"
    );
}

/// A reader that stops early (`| head -1`) ends the batch quietly: no error on stderr.
#[test]
fn mapping_test_stops_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let rules = json!({"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]});
    std::fs::write(dir.path().join("r.json"), rules.to_string()).unwrap();
    // Far more output than a pipe buffers, so the writer meets the closed pipe.
    let line = format!("{}\n", json!({"UserName": "x".repeat(200)}));
    std::fs::write(dir.path().join("a.jsonl"), line.repeat(20_000)).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fedgate"))
        .current_dir(dir.path())
        .args(["mapping", "test", "--rules", "r.json", "--assertions", "a.jsonl"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("\"name\""), "{first}");
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "stderr after the reader left");
    assert_eq!(out.status.code(), Some(0));
}

/// A file that cannot be read is a usage error (2) that names the file, not a rejection (1).
#[test]
fn mapping_test_exits_2_for_an_unreadable_file() {
    let rules = json!({"rules": [{"remote": [{"type": "UserName"}], "local": [{"user": {"name": "{0}"}}]}]});
    let assertion = json!({"UserName": "alice"}).to_string();
    let cases: [(&[&str], &str); 3] = [
        (&["--rules", "missing.json", "--assertion", "a.json"], "missing.json"),
        (&["--rules", "r.json", "--assertion", "missing.json"], "missing.json"),
        (&["--rules", "r.json", "--assertions", "missing.jsonl"], "missing.jsonl"),
    ];
    for (args, named) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.json"), rules.to_string()).unwrap();
        std::fs::write(dir.path().join("a.json"), &assertion).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fedgate"))
            .current_dir(dir.path())
            .args(["mapping", "test"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("cannot read {named}")), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// The batch path (parse into a reused assertion, serialize the engine's structs) writes the
/// same bytes as mapping each line through a `serde_json::Value`, as the command did before:
/// on the bench fixtures and odd lines, with and without the trace.
#[test]
fn batch_output_is_byte_for_byte_what_the_value_path_writes() {
    use fedgate::mapping::report::{compile_document, map_one};
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/fixtures");
    let rules = std::fs::read_to_string(format!("{fixtures}/mapping_rules.json")).unwrap();
    let mut batch = std::fs::read_to_string(format!("{fixtures}/mapping_assertions.jsonl")).unwrap();
    batch.push_str("\n  \n[1]\n{\"UserName\": 5}\n{\"UserName\": \"x\", \"memberOf\": [\"devs\", 1]}\r\n{\"a\": \n");
    let mapping = compile_document(&rules, None).unwrap();
    for trace in [false, true] {
        let want: String = batch
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(obj)) => format!("{}\n", map_one(&mapping, &obj, trace).0),
                _ => format!(
                    "{}\n",
                    json!({"error": {"code": 400, "message": "an assertion must be a JSON object of attribute -> string or array"}})
                ),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("r.json"), &rules).unwrap();
        std::fs::write(dir.path().join("b.jsonl"), &batch).unwrap();
        let mut args = vec!["mapping", "test", "--rules", "r.json", "--assertions", "b.jsonl"];
        if trace {
            args.push("--trace");
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fedgate"))
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "some lines are rejected");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "trace: {trace}");
    }
}
