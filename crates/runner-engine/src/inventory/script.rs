//! Ansible's inventory-script JSON (what `script --list` prints, or a
//! saved copy of it): top-level groups with `hosts` as a list, `vars` and
//! `children`, and `_meta.hostvars`. Turned into the YAML inventory shape.
//! Without `_meta`, Ansible would ask the script `--host` for each host;
//! runner does not, and says so.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::yaml::{Document, InputError, Location};

/// Whether an inventory is a saved script output: it has `_meta` (which
/// `ansible-inventory --list` always prints). Anything else is read as a
/// YAML inventory, whose errors then name what is wrong there.
pub fn is_script_json(value: &Value) -> bool {
    value.as_object().is_some_and(|m| m.contains_key("_meta"))
}

/// Run an executable inventory with `--list` (at most a minute) and read
/// what it prints.
pub fn run(path: &Path) -> Result<Document, InputError> {
    let err = |msg: String| InputError::new(Location::file(path), "", msg);
    let mut child = std::process::Command::new(path)
        .arg("--list")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run the inventory script: {e}")))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().map_err(|e| err(e.to_string()))?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return Err(err("the inventory script did not finish within 60 s".into()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        return Err(err(format!(
            "the inventory script `--list` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| err("the inventory script printed something that is not UTF-8".into()))?;
    let printed = Document::parse(path, &text)
        .map_err(|e| err(format!("its `--list` output is not JSON: {e}")))?;
    convert(&printed)
}

/// The script shape, as the YAML inventory shape.
pub fn convert(doc: &Document) -> Result<Document, InputError> {
    let Some(root) = doc.value.as_object() else {
        return Err(doc.error("", "an inventory script prints a JSON object of groups"));
    };
    let Some(hostvars) = root
        .get("_meta")
        .and_then(|m| m.get("hostvars"))
        .and_then(Value::as_object)
    else {
        return Err(doc.error(
            "",
            "no _meta.hostvars: runner does not ask an inventory script `--host` for each host; print _meta.hostvars (an empty {} will do) with --list",
        ));
    };
    let mut groups = Map::new();
    for (name, group) in root.iter().filter(|(n, _)| *n != "_meta") {
        let at = format!("/{}", crate::yaml::escape(name));
        let mut out = Map::new();
        let hosts = match group {
            // A group may be just its list of hosts.
            Value::Array(hosts) => hosts.clone(),
            Value::Object(g) => g
                .get("hosts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            _ => {
                return Err(doc.error(
                    &at,
                    "a group is an object (hosts, vars, children) or a list of hosts",
                ));
            }
        };
        let mut members = Map::new();
        for h in &hosts {
            let Some(h) = h.as_str() else {
                return Err(doc.error(&format!("{at}/hosts"), "host names are strings"));
            };
            members.insert(h.to_string(), hostvars.get(h).cloned().unwrap_or(json!({})));
        }
        out.insert("hosts".into(), Value::Object(members));
        if let Some(vars) = group.get("vars") {
            out.insert("vars".into(), vars.clone());
        }
        if let Some(children) = group.get("children").and_then(Value::as_array) {
            let children: Map<String, Value> = children
                .iter()
                .filter_map(Value::as_str)
                .map(|c| (c.to_string(), json!({})))
                .collect();
            out.insert("children".into(), Value::Object(children));
        }
        groups.insert(name.clone(), Value::Object(out));
    }
    // Hosts only in _meta are members of `all`, as Ansible takes them.
    let listed: Vec<String> = groups
        .values()
        .flat_map(|g| {
            g["hosts"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys().cloned())
        })
        .collect();
    for (h, vars) in hostvars.iter().filter(|(h, _)| !listed.contains(h)) {
        let all = groups.entry("all").or_insert_with(|| json!({"hosts": {}}));
        if all.get("hosts").is_none() {
            all["hosts"] = json!({});
        }
        all["hosts"][h] = vars.clone();
    }
    Ok(Document::from_parts(
        doc.file.clone(),
        Value::Object(groups),
        Default::default(),
    ))
}
