//! The `haproxy` plugin: renders `haproxy.cfg` for a RabbitMQ cluster (AMQP
//! on 5670; with `tls`, AMQPS on 5673, ended here and opened again to each
//! node's 5671, checked against the CA; management on 15670,
//! stats on 8100 behind credentials, a health URL that fails unless a
//! majority of the RabbitMQ backends is up), validates it with `haproxy -c` before it
//! replaces the live file, runs HAProxy with docker compose as the seed
//! does, and reloads it without dropping connections when only the config
//! changed.
//!
//! Fixes to the seed: client/server timeouts longer than AMQP's 60 s
//! heartbeat (refused otherwise), one-second checks with
//! `on-marked-down shutdown-sessions` so clients leave a dead node at once,
//! and the stats password generated rather than admin/admin.
//!
//! For the chaos comparison only, the seed's settings can be reproduced:
//! `allow_short_timeouts: true` (an explicit opt-out of the timeout lint)
//! with `timeout_s: 5`, `shutdown_sessions: false`, and `check` at
//! `inter_ms: 5000, fall: 3, rise: 2`.

mod config;

use runner_plugin_sdk::compose::{Project, ProjectFile, Reload};
use runner_plugin_sdk::{
    Guest, Plan, PlanRequest, PluginInfo, export_plugin, params, params_schema,
};

use config::{Params, TLS_DIR, Tls};

struct HaproxyPlugin;

const CONF: &str = "conf/haproxy.cfg";
/// `haproxy -c` on a new config, in a container with no network.
const VALIDATE_PREFIX: &str = "docker run --rm --network none -v {}:/tmp/haproxy.cfg:ro";
const VALIDATE_SUFFIX: &str = "haproxy -c -q -f /tmp/haproxy.cfg";

/// The balancer's certificate with its key (one file, as HAProxy reads
/// it; 0640: root and the container's root group), and the CA.
fn tls_files(tls: &Tls) -> [ProjectFile; 2] {
    let pem = format!("{}\n{}\n", tls.cert.trim_end(), tls.key.trim_end());
    [
        ProjectFile {
            path: "conf/tls/balancer.pem".into(),
            content: pem.into_bytes(),
            mode: 0o640,
            reloadable: true,
            validate: None,
        },
        ProjectFile {
            path: "conf/tls/ca.pem".into(),
            content: tls.ca.clone().into_bytes(),
            mode: 0o644,
            reloadable: true,
            validate: None,
        },
    ]
}

impl Guest for HaproxyPlugin {
    fn describe() -> PluginInfo {
        let mut capabilities = runner_plugin_sdk::compose::capabilities("project_dir");
        capabilities
            .runs
            .push(format!("{VALIDATE_PREFIX} {{image}} {VALIDATE_SUFFIX}"));
        capabilities.runs.push(format!(
            "{VALIDATE_PREFIX} -v {{project_dir}}/conf/tls:{TLS_DIR}:ro {{image}} {VALIDATE_SUFFIX}"
        ));
        PluginInfo {
            name: "haproxy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "HAProxy in front of a RabbitMQ cluster, with docker compose; validated, reloaded in place.".into(),
            params_schema: params_schema::<Params>(),
            secret_params: vec!["stats_password".into(), "tls".into()],
            capabilities,
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        p.check()?;
        let dir = p.project_dir.trim_end_matches('/').to_string();
        // The certificates first: the new config is checked with them.
        let mut files = Vec::new();
        let validate = match &p.tls {
            Some(tls) => {
                files.extend(tls_files(tls));
                format!(
                    "{VALIDATE_PREFIX} -v {}/conf/tls:{TLS_DIR}:ro {} {VALIDATE_SUFFIX}",
                    p.project_dir, p.image
                )
            }
            None => format!("{VALIDATE_PREFIX} {} {VALIDATE_SUFFIX}", p.image),
        };
        files.push(ProjectFile {
            path: CONF.into(),
            content: p.render()?.into_bytes(),
            mode: 0o644,
            reloadable: true,
            validate: Some(validate),
        });
        let project = Project {
            dir,
            name: p.project.clone(),
            compose: p.compose_file()?,
            files,
            services: vec!["haproxy".into()],
            // Master-worker mode: SIGUSR2 starts new workers on the new
            // config; old ones finish their connections.
            reload: Some(Reload {
                service: "haproxy".into(),
                signal: "USR2".into(),
            }),
            wait_timeout_ms: 120_000,
        };
        Ok(Plan::done(project.plan()?))
    }
}

export_plugin!(HaproxyPlugin);
