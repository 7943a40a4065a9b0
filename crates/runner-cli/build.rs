//! Embeds what `runner plugin new` writes beside a new plugin, so that it
//! builds wherever the runner binary is: the WIT contract, and the Rust
//! SDK with the `runner-types` crate it uses. Their manifests are made
//! standalone here (the workspace's package fields and dependency
//! versions filled in, paths made relative to each other); the workspace's
//! Cargo.lock goes along so the plugin builds with the versions tested.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Value};

/// The crates a Rust plugin builds against, from the workspace's `crates/`.
const SDK_CRATES: [&str; 2] = ["runner-plugin-sdk", "runner-types"];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let workspace = read_toml(&root.join("Cargo.toml"));
    let mut files: Vec<(String, PathBuf)> = vec![
        ("wit/plugin.wit".into(), root.join("wit/plugin.wit")),
        ("Cargo.lock".into(), root.join("Cargo.lock")),
    ];
    for name in SDK_CRATES {
        let dir = root.join("crates").join(name);
        let manifest = standalone(&read_toml(&dir.join("Cargo.toml")), &workspace);
        let written = out.join(format!("{name}.Cargo.toml"));
        std::fs::write(&written, manifest.to_string()).unwrap();
        files.push((format!("sdk/{name}/Cargo.toml"), written));
        for source in sources(&dir.join("src")) {
            let rel = source
                .strip_prefix(&dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            files.push((format!("sdk/{name}/{rel}"), source));
        }
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    for path in ["wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo::rerun-if-changed={}", root.join(path).display());
    }
    let mut code = String::from(
        "/// (path in the new plugin, content).\npub const FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, path) in files {
        let path = std::fs::canonicalize(&path).unwrap();
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("sdk_files.rs"), code).unwrap();
}

fn read_toml(path: &Path) -> DocumentMut {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sources(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// A member's manifest with every `workspace = true` replaced by the
/// workspace's value; dev-dependencies dropped (its tests do not go along).
fn standalone(member: &DocumentMut, workspace: &DocumentMut) -> DocumentMut {
    let mut doc = member.clone();
    doc.remove("dev-dependencies");
    doc.remove("lints");
    let package = doc["package"].as_table_mut().unwrap();
    let keys: Vec<String> = package.iter().map(|(k, _)| k.to_string()).collect();
    for key in keys {
        if inherits(&package[&key]) {
            package[&key] = workspace["workspace"]["package"][&key].clone();
        }
    }
    for section in ["dependencies", "build-dependencies"] {
        let Some(deps) = doc.get_mut(section).and_then(Item::as_table_like_mut) else {
            continue;
        };
        let names: Vec<String> = deps.iter().map(|(k, _)| k.to_string()).collect();
        for name in names {
            let item = deps.get_mut(&name).unwrap();
            if inherits(item) {
                *item = Item::Value(Value::InlineTable(dependency(&name, item, workspace)));
            }
        }
    }
    doc
}

fn inherits(item: &Item) -> bool {
    item.get("workspace").and_then(Item::as_bool) == Some(true)
}

/// The workspace's entry for `name`, with the member's own keys (features,
/// optional) on top; a path dependency points at its sibling in `sdk/`.
fn dependency(name: &str, member: &Item, workspace: &DocumentMut) -> InlineTable {
    let mut table = InlineTable::new();
    match &workspace["workspace"]["dependencies"][name] {
        Item::Value(Value::String(version)) => {
            table.insert("version", version.value().as_str().into());
        }
        entry => {
            for (k, v) in entry.as_table_like().expect("a dependency table").iter() {
                table.insert(k, v.as_value().expect("a plain value").clone());
            }
        }
    }
    if table.contains_key("path") {
        table.insert("path", format!("../{name}").into());
    }
    for (k, v) in member.as_table_like().unwrap().iter() {
        match k {
            "workspace" => {}
            "features" => {
                let mut all = table
                    .get("features")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                all.extend(v.as_array().unwrap().iter().cloned());
                table.insert("features", all.into());
            }
            _ => {
                table.insert(k, v.as_value().expect("a plain value").clone());
            }
        }
    }
    table
}
