//! The `file` plugin: a file with given content and mode, or no file.

use runner_plugin_sdk::{
    Capabilities, Guest, Plan, PlanRequest, PluginInfo, actions, ensure_file, export_plugin,
    params, read_file,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    path: String,
    #[serde(default)]
    content: String,
    #[serde(default = "default_mode")]
    mode: String,
    #[serde(default)]
    state: State,
    validate: Option<String>,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum State {
    #[default]
    Present,
    Absent,
}

fn default_mode() -> String {
    "0644".into()
}

const SCHEMA: &str = r#"{
  "type": "object",
  "required": ["path"],
  "additionalProperties": false,
  "properties": {
    "path": {"type": "string", "pattern": "^/", "description": "absolute path of the file"},
    "content": {"type": "string", "description": "the whole content (default empty)"},
    "mode": {"type": "string", "pattern": "^0?[0-7]{3,4}$", "description": "octal mode, e.g. \"0640\" (default 0644)"},
    "state": {"enum": ["present", "absent"], "description": "default present"},
    "validate": {"type": "string", "description": "command that must accept the new content; {} is its path"}
  }
}"#;

struct FilePlugin;

impl Guest for FilePlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "file".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "A file with the given content and mode, or absent.".into(),
            params_schema: SCHEMA.into(),
            secret_params: vec![],
            capabilities: Capabilities {
                probes: vec!["stat -c %a {path}".into()],
                reads: vec!["{path}".into()],
                writes: vec!["{path}".into()],
                runs: vec!["{validate}".into()],
                http: vec![],
                peers: vec![],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        let actions = match p.state {
            State::Absent => read_file(&p.path)?
                .map(|_| actions::remove_file(&p.path))
                .into_iter()
                .collect(),
            State::Present => {
                let mode = u32::from_str_radix(&p.mode, 8).map_err(|e| format!("mode: {e}"))?;
                ensure_file(&p.path, p.content.as_bytes(), mode)?
                    .map(|mut a| {
                        if let (Some(v), runner_plugin_sdk::ActionKind::WriteFile(w)) =
                            (&p.validate, &mut a.kind)
                        {
                            w.validate = Some(v.clone());
                        }
                        a
                    })
                    .into_iter()
                    .collect()
            }
        };
        Ok(Plan::done(actions))
    }
}

export_plugin!(FilePlugin);
