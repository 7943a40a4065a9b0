//! The `command` plugin: run a command, unless a guard says it already ran.
//!
//! `creates: PATH` skips the command when PATH exists; `removes: PATH` runs
//! it only while PATH exists; `unless: CMD` skips it when CMD exits 0.
//! Without a guard it runs on every play and reports `changed`.

use runner_plugin_sdk::{
    Capabilities, Guest, Plan, PlanRequest, PluginInfo, actions, export_plugin, params,
    params_schema, probe, sh_quote,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// The command step's parameters; the schema is derived from them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Shell command to run.
    #[schemars(length(min = 1))]
    cmd: String,
    /// Skip when this path exists.
    #[schemars(regex(pattern = "^/"))]
    creates: Option<String>,
    /// Run only while this path exists.
    #[schemars(regex(pattern = "^/"))]
    removes: Option<String>,
    /// Skip when this read-only command exits 0.
    unless: Option<String>,
    /// Seconds the command may take.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 86400))]
    timeout_s: u32,
}

fn default_timeout() -> u32 {
    300
}

struct CommandPlugin;

fn exists(path: &str) -> Result<bool, String> {
    Ok(probe(&format!("test -e {}", sh_quote(path)))?.exit_code == 0)
}

impl Guest for CommandPlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "command".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Run a shell command, guarded by creates / removes / unless.".into(),
            params_schema: params_schema::<Params>(),
            secret_params: vec![],
            capabilities: Capabilities {
                probes: vec![
                    "test -e {creates}".into(),
                    "test -e {removes}".into(),
                    "{unless}".into(),
                ],
                reads: vec![],
                writes: vec![],
                runs: vec!["{cmd}".into()],
                http: vec![],
                peers: vec![],
                local_reads: vec![],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        let skip = match (&p.creates, &p.removes, &p.unless) {
            (Some(path), _, _) if exists(path)? => true,
            (_, Some(path), _) if !exists(path)? => true,
            (_, _, Some(cmd)) if probe(cmd)?.exit_code == 0 => true,
            _ => false,
        };
        let actions = if skip {
            vec![]
        } else {
            vec![actions::run_with(
                &p.cmd,
                &[],
                p.timeout_s.saturating_mul(1000),
            )]
        };
        Ok(Plan::done(actions))
    }
}

export_plugin!(CommandPlugin);
