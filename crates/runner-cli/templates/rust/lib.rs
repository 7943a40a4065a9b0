//! The `{{name}}` plugin: keeps a greeting file on the host.
//!
//! It declares exactly what it touches (`capabilities`) and plans actions;
//! the runner checks and executes them.

use runner_plugin_sdk::{
    Capabilities, Guest, Plan, PlanRequest, PluginInfo, ensure_file, export_plugin, params,
};
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
        let actions = ensure_file(&p.path, content.as_bytes(), 0o644)?
            .into_iter()
            .collect();
        Ok(Plan::done(actions))
    }
}

export_plugin!(Plugin);
