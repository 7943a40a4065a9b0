//! Property tests of the YAML, inventory (YAML and INI), playbook and
//! host-pattern parsers: whatever the input, they return a value or an
//! error naming the file and a line — never a panic.

use std::path::Path;

use proptest::prelude::*;
use runner_engine::yaml::Document;
use runner_engine::{Inventory, Playbook, pattern};

/// YAML-looking text: keys, indentation, lists, flow collections, quotes,
/// templates and junk, in random order.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("all:".to_string()),
        Just("children:".to_string()),
        Just("hosts:".to_string()),
        Just("vars:".to_string()),
        Just("steps:".to_string()),
        Just("- name: x".to_string()),
        Just("  plugin: file".to_string()),
        Just("  on: all".to_string()),
        Just("  with: {path: /x}".to_string()),
        Just("    h1: {ansible_host: 10.0.0.1}".to_string()),
        Just("[1, 2".to_string()),
        Just("{a: 1}".to_string()),
        Just("'quoted: text'".to_string()),
        Just("\"{{ template }}\"".to_string()),
        Just("&anchor".to_string()),
        Just("*alias".to_string()),
        Just("!!tag x".to_string()),
        Just("key: key: key".to_string()),
        Just("\t".to_string()),
        "[ -~]{0,12}".prop_map(|s| s),
    ];
    prop::collection::vec((0usize..6, token), 0..24).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(indent, t)| format!("{}{}", "  ".repeat(indent), t))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// INI-looking text: sections, host lines with ranges, ports and
/// variables, quotes, comments and junk.
fn iniish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("[web]".to_string()),
        Just("[web:vars]".to_string()),
        Just("[site:children]".to_string()),
        Just("[all:vars]".to_string()),
        Just("[x:hosts]".to_string()),
        Just("web".to_string()),
        Just("h[01:12]".to_string()),
        Just("db-[a:c][1:2:0]".to_string()),
        Just("h1:2222 ansible_host=10.0.0.1".to_string()),
        Just("h2 a='b c' d=\"e".to_string()),
        Just("k=v # not a comment".to_string()),
        Just("x=[1, {'a': 2}]".to_string()),
        Just("# comment".to_string()),
        Just("; comment".to_string()),
        "[ -~]{0,16}".prop_map(|s| s),
    ];
    prop::collection::vec(token, 0..24).prop_map(|lines| lines.join("\n"))
}

fn check_error(text: &str) {
    assert!(
        text.starts_with("f.yaml:"),
        "error without a location: {text}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_parses_or_fails_with_a_location(text in "\\PC{0,200}") {
        if let Err(e) = Document::parse(Path::new("f.yaml"), &text) {
            check_error(&e.to_string());
        }
    }

    #[test]
    fn ini_inventories_and_patterns_never_panic(text in iniish(), pat in "\\PC{0,16}") {
        match Inventory::from_ini(Path::new("f.yaml"), &text) {
            Err(e) => check_error(&e.to_string()),
            Ok(inv) => {
                let _ = pattern::select(&inv, &pat);
                let _ = pattern::select(&inv, "web[0:1]:~h\\d:!*[-1]");
                let _ = inv.check_ansible_vars(&["h1".into()]);
            }
        }
    }

    #[test]
    fn yamlish_inventories_and_playbooks_never_panic(text in yamlish()) {
        match Document::parse(Path::new("f.yaml"), &text) {
            Err(e) => check_error(&e.to_string()),
            Ok(doc) => {
                if let Err(e) = Inventory::from_document(&doc) {
                    check_error(&e.to_string());
                }
                if let Err(e) = Playbook::from_document(doc) {
                    check_error(&e.to_string());
                }
            }
        }
    }
}

/// Plugin schemas: a remote `$ref` is never fetched (an error, at once),
/// and a catastrophic `pattern` cannot stall validation (linear regexes).
#[test]
fn plugin_schemas_fetch_nothing_and_match_in_linear_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let remote = serde_json::json!({"$ref": format!("http://127.0.0.1:{port}/schema.json")});
    let start = std::time::Instant::now();
    let compiled = jsonschema::validator_for(&remote);
    assert!(compiled.is_err(), "a remote $ref is refused");
    assert!(listener.accept().is_err(), "nothing connected to fetch it");
    let redos = serde_json::json!({"type": "string", "pattern": "^(a+)+$"});
    let v = jsonschema::validator_for(&redos).unwrap();
    let evil = format!("{}!", "a".repeat(50_000));
    assert!(!v.is_valid(&serde_json::json!(evil)));
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}
