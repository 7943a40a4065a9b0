//! The `docker-compose` plugin: a compose project on a host — its compose
//! file and the files it mounts, `up -d` only when something changed, a
//! wait until its services run, or the project gone (`state: absent`).

use runner_plugin_sdk::compose::{Project, ProjectFile, Reload};
use runner_plugin_sdk::{
    Capabilities, Guest, Plan, PlanRequest, PluginInfo, export_plugin, params,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    project_dir: String,
    project: Option<String>,
    #[serde(default)]
    compose: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    files: Vec<FileParam>,
    #[serde(default)]
    services: Vec<String>,
    reload: Option<ReloadParam>,
    #[serde(default)]
    state: State,
    #[serde(default = "default_wait")]
    wait_timeout_s: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileParam {
    path: String,
    content: String,
    #[serde(default = "default_mode")]
    mode: String,
    #[serde(default)]
    reload: bool,
    validate: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadParam {
    service: String,
    #[serde(default = "default_signal")]
    signal: String,
}

#[derive(Deserialize, Default, PartialEq)]
#[serde(rename_all = "lowercase")]
enum State {
    #[default]
    Present,
    Absent,
}

fn default_wait() -> u32 {
    180
}
fn default_mode() -> String {
    "0644".into()
}
fn default_signal() -> String {
    "HUP".into()
}

const SCHEMA: &str = r#"{
  "type": "object",
  "required": ["project_dir"],
  "additionalProperties": false,
  "properties": {
    "project_dir": {"type": "string", "pattern": "^/[^*?\\[\\]]+$", "description": "absolute directory of the project"},
    "project": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$", "description": "project name (default: the directory's name)"},
    "compose": {"type": "object", "description": "the compose file, as YAML; required unless state is absent"},
    "files": {"type": "array", "items": {
      "type": "object", "required": ["path", "content"], "additionalProperties": false,
      "properties": {
        "path": {"type": "string", "pattern": "^[^/.][^*?]*$", "description": "relative to project_dir"},
        "content": {"type": "string"},
        "mode": {"type": "string", "pattern": "^0?[0-7]{3,4}$"},
        "reload": {"type": "boolean", "description": "a change only needs the reload signal"},
        "validate": {"type": "string"}
      }}},
    "services": {"type": "array", "items": {"type": "string"}, "description": "that must run (default: all in compose)"},
    "reload": {"type": "object", "required": ["service"], "additionalProperties": false,
      "properties": {"service": {"type": "string"}, "signal": {"type": "string", "pattern": "^[A-Z0-9]+$"}}},
    "state": {"enum": ["present", "absent"]},
    "wait_timeout_s": {"type": "integer", "minimum": 1}
  }
}"#;

struct ComposePlugin;

fn capabilities() -> Capabilities {
    let mut caps = runner_plugin_sdk::compose::capabilities("project_dir");
    caps.runs.push("rm -rf {project_dir}".into());
    caps.runs.push("{files.validate}".into());
    caps
}

impl Guest for ComposePlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "docker-compose".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary:
                "A docker compose project: its files, started when something changed, or absent."
                    .into(),
            params_schema: SCHEMA.into(),
            secret_params: vec![],
            capabilities: capabilities(),
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        let name = p.project.clone().unwrap_or_else(|| {
            p.project_dir
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("project")
                .to_string()
        });
        let services = if p.services.is_empty() {
            p.compose
                .get("services")
                .and_then(|s| s.as_object())
                .map(|s| s.keys().cloned().collect())
                .unwrap_or_default()
        } else {
            p.services.clone()
        };
        let compose = if p.compose.is_empty() {
            String::new()
        } else {
            format!(
                "# Managed by runner: changes here are undone on the next play.\n{}",
                serde_yaml_ng::to_string(&p.compose).map_err(|e| e.to_string())?
            )
        };
        let mut files = Vec::new();
        for f in p.files {
            files.push(ProjectFile {
                path: f.path,
                content: f.content.into_bytes(),
                mode: u32::from_str_radix(&f.mode, 8).map_err(|e| format!("mode: {e}"))?,
                reloadable: f.reload,
                validate: f.validate,
            });
        }
        let project = Project {
            dir: p.project_dir.trim_end_matches('/').to_string(),
            name,
            compose,
            files,
            services,
            reload: p.reload.map(|r| Reload {
                service: r.service,
                signal: r.signal,
            }),
            wait_timeout_ms: p.wait_timeout_s.saturating_mul(1000),
        };
        let actions = match p.state {
            State::Absent => project.plan_absent()?,
            State::Present => {
                if project.compose.is_empty() {
                    return Err("`compose` is required when the project is present".into());
                }
                project.plan()?
            }
        };
        Ok(Plan::done(actions))
    }
}

export_plugin!(ComposePlugin);
