//! The `probe` plugin: run one read-only command while planning and plan
//! nothing. With `register:`, its exit code and output become a variable
//! later steps' `when` and parameters can read (Ansible's `register` of a
//! command run in check mode).

use runner_plugin_sdk::{
    Capabilities, Guest, Plan, PlanRequest, PluginInfo, export_plugin, params, params_schema, probe,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// The probe step's parameters; the schema is derived from them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// A read-only shell command: what it prints and its exit code are
    /// the step's result. Whatever it exits, the step is `ok`.
    #[schemars(length(min = 1))]
    cmd: String,
}

struct ProbePlugin;

impl Guest for ProbePlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Ask a host a read-only question (a command); plans nothing.".into(),
            params_schema: params_schema::<Params>(),
            secret_params: vec![],
            capabilities: Capabilities {
                probes: vec!["{cmd}".into()],
                reads: vec![],
                writes: vec![],
                runs: vec![],
                http: vec![],
                peers: vec![],
                local_reads: vec![],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        probe(&p.cmd)?;
        Ok(Plan::done(vec![]))
    }
}

export_plugin!(ProbePlugin);
