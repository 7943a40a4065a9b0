//! The `haproxy` plugin: renders `haproxy.cfg` for a RabbitMQ cluster (AMQP
//! on 5670, AMQPS on 5673 when a certificate is given, management on 15670,
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
use runner_plugin_sdk::{Guest, Plan, PlanRequest, PluginInfo, export_plugin, params};

use config::Params;

struct HaproxyPlugin;

const CONF: &str = "conf/haproxy.cfg";

impl Guest for HaproxyPlugin {
    fn describe() -> PluginInfo {
        let mut capabilities = runner_plugin_sdk::compose::capabilities("project_dir");
        capabilities.runs.push(
            "docker run --rm --network none -v {}:/tmp/haproxy.cfg:ro {image} haproxy -c -q -f /tmp/haproxy.cfg".into(),
        );
        PluginInfo {
            name: "haproxy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "HAProxy in front of a RabbitMQ cluster, with docker compose; validated, reloaded in place.".into(),
            params_schema: config::SCHEMA.into(),
            secret_params: vec!["stats_password".into(), "tls_pem".into()],
            capabilities,
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        p.check()?;
        let dir = p.project_dir.trim_end_matches('/').to_string();
        let validate = format!(
            "docker run --rm --network none -v {{}}:/tmp/haproxy.cfg:ro {} haproxy -c -q -f /tmp/haproxy.cfg",
            p.image
        );
        let mut files = vec![ProjectFile {
            path: CONF.into(),
            content: p.render()?.into_bytes(),
            mode: 0o644,
            reloadable: true,
            validate: Some(validate),
        }];
        if let Some(pem) = &p.tls_pem {
            files.push(ProjectFile {
                path: "conf/rabbitmq.pem".into(),
                content: pem.clone().into_bytes(),
                mode: 0o600,
                reloadable: true,
                validate: None,
            });
        }
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
