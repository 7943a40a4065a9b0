//! The `docker-compose` plugin: a compose project on a host — its compose
//! file and the files it mounts, `up -d` only when something changed, a
//! wait until its services run, or the project gone (`state: absent`).

use runner_plugin_sdk::compose::{Project, ProjectFile, Reload};
use runner_plugin_sdk::{
    Capabilities, Guest, Plan, PlanRequest, PluginInfo, export_plugin, params, params_schema,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The docker-compose step's parameters; the schema is derived from them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Absolute directory of the project.
    #[schemars(regex(pattern = r"^/[^*?\[\]]+$"))]
    project_dir: String,
    /// Project name (default: the directory's name).
    #[schemars(regex(pattern = "^[a-z0-9][a-z0-9_-]*$"))]
    project: Option<String>,
    /// The compose file, as YAML; required unless state is absent.
    #[serde(default)]
    compose: serde_json::Map<String, serde_json::Value>,
    /// Files of the project (configs its services mount).
    #[serde(default)]
    files: Vec<FileParam>,
    /// Services that must run (default: all in compose).
    #[serde(default)]
    services: Vec<String>,
    /// A change to a `reload: true` file only needs this signal.
    reload: Option<ReloadParam>,
    /// `present`, or `absent`: the project down and its directory gone.
    #[serde(default)]
    state: State,
    /// How long to wait until the services run.
    #[serde(default = "default_wait")]
    #[schemars(range(min = 1))]
    wait_timeout_s: u32,
}

/// One file of the project.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct FileParam {
    /// Relative to project_dir.
    #[schemars(regex(pattern = "^[^/.][^*?]*$"))]
    path: String,
    content: String,
    /// Octal mode.
    #[serde(default = "default_mode")]
    #[schemars(regex(pattern = "^0?[0-7]{3,4}$"))]
    mode: String,
    /// A change only needs the reload signal.
    #[serde(default)]
    reload: bool,
    /// A command that checks the new file (`{}` is its path).
    validate: Option<String>,
}

/// Which service to signal, and with what.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReloadParam {
    service: String,
    #[serde(default = "default_signal")]
    #[schemars(regex(pattern = "^[A-Z0-9]+$"))]
    signal: String,
}

#[derive(Deserialize, Serialize, JsonSchema, Default, PartialEq)]
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
            params_schema: params_schema::<Params>(),
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
