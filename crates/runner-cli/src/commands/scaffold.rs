//! `runner plugin new NAME`: a plugin crate that builds and runs as is.

use std::path::Path;

use anyhow::{Context, bail};

use crate::exit;
use crate::paths::workspace_root;

pub fn new_plugin(name: &str, parent: &Path) -> anyhow::Result<i32> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || !name.as_bytes()[0].is_ascii_lowercase()
    {
        bail!(
            "plugin name '{name}': use lowercase letters, digits and '-', starting with a letter"
        );
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let sdk = std::path::absolute(workspace_root().join("crates/runner-plugin-sdk"))?;
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[lib]
crate-type = ["cdylib"]

[dependencies]
runner-plugin-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}

# A plugin is its own workspace.
[workspace]
"#,
        sdk = sdk.display()
    );
    let lib = LIB_TEMPLATE.replace("{{name}}", name);
    std::fs::write(dir.join("Cargo.toml"), cargo)?;
    std::fs::write(dir.join("src/lib.rs"), lib)?;
    println!("created plugin '{name}' in {}", dir.display());
    println!(
        "build it:  (cd {} && cargo build --release --target wasm32-wasip2)",
        dir.display()
    );
    println!(
        "use it:    runner play site.yaml -i inventory.yaml --plugins {}/target/wasm32-wasip2/release",
        dir.display()
    );
    Ok(exit::OK)
}

const LIB_TEMPLATE: &str = r##"//! The `{{name}}` plugin: keeps a greeting file on the host.
//!
//! It declares exactly what it touches (`capabilities`) and plans actions;
//! the runner checks and executes them.

use runner_plugin_sdk::{Capabilities, Guest, Plan, PlanRequest, PluginInfo, ensure_file, export_plugin, params};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    path: String,
    greeting: String,
}

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "{{name}}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Keeps a greeting file on the host.".into(),
            params_schema: r#"{
                "type": "object",
                "required": ["path", "greeting"],
                "additionalProperties": false,
                "properties": {
                    "path": {"type": "string", "pattern": "^/"},
                    "greeting": {"type": "string"}
                }
            }"#
            .into(),
            secret_params: vec![],
            capabilities: Capabilities {
                probes: vec!["stat -c %a {path}".into()],
                reads: vec!["{path}".into()],
                writes: vec!["{path}".into()],
                runs: vec![],
                http: vec![],
                peers: vec![],
                local_reads: vec![],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        let content = format!("{}\n", p.greeting);
        let actions = ensure_file(&p.path, content.as_bytes(), 0o644)?.into_iter().collect();
        Ok(Plan::done(actions))
    }
}

export_plugin!(Plugin);
"##;
