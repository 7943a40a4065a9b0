//! The `rabbitmqctl` plugin: RabbitMQ cluster membership, the seed how-to's
//! way (`stop_app`, `reset`, `join_cluster`, `start_app`) but only on a node
//! that is not yet a member; on the seed node also the cluster name,
//! forgetting nodes no longer expected, and removing default users; then
//! a wait until the cluster has every expected node running.
//!
//! It observes through the management API when `management_url` is given
//! (milliseconds per question) and through `rabbitmqctl` otherwise (an
//! Erlang VM start, about a second, per question). Changes always go
//! through `rabbitmqctl`, in the node's container or natively.

use runner_plugin_rabbitmq_common::{Api, NodeAccess, SCHEMA_PROPERTIES, ctl_patterns};
use runner_plugin_sdk::{
    Action, Capabilities, Guest, LogLevel, Plan, PlanRequest, PluginInfo, actions, export_plugin,
    log, params, probe, sh_quote,
};
use serde::Deserialize;
use serde_json::Value;

/// Unknown fields are refused by the schema (`additionalProperties`).
#[derive(Deserialize)]
struct Params {
    #[serde(flatten)]
    node: NodeAccess,
    /// The seed host (its node is `{node_prefix}{seed}`), which others join.
    seed: String,
    /// Every host whose node the cluster should have.
    members: Vec<String>,
    /// Node name = prefix + host name (`rabbit@` as in the image's default).
    #[serde(default = "default_prefix")]
    node_prefix: String,
    cluster_name: Option<String>,
    #[serde(default)]
    absent_users: Vec<String>,
    #[serde(default = "yes")]
    wait: bool,
    /// Only stop and forget members no longer expected (a step that runs
    /// before the remaining nodes are reconfigured).
    #[serde(default)]
    leavers_only: bool,
    #[serde(default = "default_timeout")]
    timeout_s: u32,
}

fn default_prefix() -> String {
    "rabbit@".into()
}
fn yes() -> bool {
    true
}
fn default_timeout() -> u32 {
    180
}

const SCHEMA_HEAD: &str = r#"{
  "type": "object",
  "required": ["seed", "members"],
  "additionalProperties": false,
  "properties": {
    "seed": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$", "description": "host whose node the others join"},
    "members": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}, "description": "hosts whose nodes form the cluster"},
    "node_prefix": {"type": "string", "pattern": "^[A-Za-z0-9_-]+@$"},
    "cluster_name": {"type": "string", "minLength": 1},
    "absent_users": {"type": "array", "items": {"type": "string"}},
    "wait": {"type": "boolean"},
    "leavers_only": {"type": "boolean", "description": "only stop and forget members no longer expected"},
    "timeout_s": {"type": "integer", "minimum": 1},"#;

struct RabbitmqctlPlugin;

fn run(node: &NodeAccess, args: &str, summary: String) -> Action {
    actions::described(actions::run(&node.ctl(args)), summary)
}

/// Members and running nodes from `cluster_status --formatter json`.
struct Status {
    name: String,
    members: Vec<String>,
    running: Vec<String>,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Where the plugin looks: the management API or the CLI.
enum Source<'a> {
    Api(Api),
    Cli(&'a NodeAccess),
}

impl Source<'_> {
    /// Whether the node's RabbitMQ application runs.
    fn running(&self) -> Result<bool, String> {
        match self {
            Source::Api(api) => Ok(api.answers("overview")),
            Source::Cli(node) => Ok(probe(&format!(
                "{}rabbitmq-diagnostics -q check_running",
                node.exec_prefix()
            ))?
            .exit_code
                == 0),
        }
    }

    fn status(&self) -> Result<Status, String> {
        match self {
            Source::Api(api) => {
                let nodes = api.get("nodes")?;
                let list = nodes.as_array().cloned().unwrap_or_default();
                let name = api.get("cluster-name")?;
                Ok(Status {
                    name: name["name"].as_str().unwrap_or_default().to_string(),
                    members: list
                        .iter()
                        .filter_map(|n| n["name"].as_str().map(str::to_string))
                        .collect(),
                    running: list
                        .iter()
                        .filter(|n| n["running"] == true)
                        .filter_map(|n| n["name"].as_str().map(str::to_string))
                        .collect(),
                })
            }
            Source::Cli(node) => {
                let out = probe(&node.ctl("cluster_status --formatter json"))?;
                if out.exit_code != 0 {
                    return Err(format!("cluster_status failed: {}", out.stderr.trim()));
                }
                let v: Value = serde_json::from_str(&out.stdout).map_err(|e| {
                    format!("cannot read cluster_status: {e}: {}", out.stdout.trim())
                })?;
                let mut members = strings(&v["disk_nodes"]);
                members.extend(strings(&v["ram_nodes"]));
                Ok(Status {
                    name: v["cluster_name"].as_str().unwrap_or_default().to_string(),
                    members,
                    running: strings(&v["running_nodes"]),
                })
            }
        }
    }

    fn users(&self) -> Result<Vec<String>, String> {
        let listed = match self {
            Source::Api(api) => api.get("users")?,
            Source::Cli(node) => {
                let out = probe(&node.ctl("list_users --formatter json"))?;
                serde_json::from_str(&out.stdout).unwrap_or_default()
            }
        };
        Ok(listed
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|u| {
                        u["user"]
                            .as_str()
                            .or(u["name"].as_str())
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Stop and forget the cluster's members that are no longer expected.
fn forget_leavers(node: &NodeAccess, st: &Status, expected: &[String]) -> Vec<Action> {
    let mut out = Vec::new();
    for extra in st.members.iter().filter(|m| !expected.contains(m)) {
        if st.running.contains(extra) {
            // Through the cluster's own connection: the leaver is no
            // longer in the inventory, so its name may not resolve.
            out.push(actions::described(
                actions::run(&node.ctl(&format!(
                    "eval 'rpc:call(list_to_atom(\"{extra}\"), rabbit, stop, []).'"
                ))),
                format!("stop the RabbitMQ app on {extra}, which leaves the cluster"),
            ));
        }
        out.push(run(
            node,
            &format!("forget_cluster_node {}", sh_quote(extra)),
            format!("forget {extra}: no longer in the inventory"),
        ));
    }
    out
}

impl Guest for RabbitmqctlPlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "rabbitmqctl".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "RabbitMQ cluster membership: join, name, forget, default users, wait for all nodes.".into(),
            params_schema: format!("{SCHEMA_HEAD}{SCHEMA_PROPERTIES}\n  }}\n}}"),
            secret_params: vec!["admin_password".into()],
            capabilities: Capabilities {
                probes: [
                    "cluster_status --formatter json",
                    "list_users --formatter json",
                    "await_online_nodes '*' --timeout 10",
                ]
                .iter()
                .flat_map(|a| ctl_patterns(a))
                .chain([
                    "docker exec {container} rabbitmq-diagnostics -q check_running".into(),
                    "rabbitmq-diagnostics -q check_running".into(),
                ])
                .collect(),
                reads: vec![],
                writes: vec![],
                runs: [
                    // Stopping a leaver through the cluster's own connection.
                    "eval 'rpc:call(list_to_atom(\"*\"), rabbit, stop, []).'",
                    "*",
                ]
                .iter()
                .flat_map(|a| ctl_patterns(a))
                .chain([
                    "docker exec {container} rabbitmq-diagnostics *".into(),
                    "rabbitmq-diagnostics *".into(),
                ])
                .collect(),
                http: vec!["{management_url}/api/*".into()],
                peers: vec![],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        let node_of = |h: &str| format!("{}{h}", p.node_prefix);
        let node = node_of(&request.host);
        let seed = node_of(&p.seed);
        let nodes: Vec<String> = p.members.iter().map(|h| node_of(h)).collect();
        if !p.members.contains(&request.host) {
            return Err(format!(
                "{} is not in members ({})",
                request.host,
                p.members.join(", ")
            ));
        }
        let timeout_ms = p.timeout_s.saturating_mul(1000);
        let source = match p.node.api()? {
            Some(api) => Source::Api(api),
            None => Source::Cli(&p.node),
        };
        // Not booted yet (a fresh container): wait, then plan again.
        if p.leavers_only {
            // Before the remaining nodes change (and forget the leavers'
            // addresses): nothing to do on a node that does not run yet.
            if !source.running()? {
                log(
                    LogLevel::Info,
                    &format!("{node} does not run: no cluster here, so no node to leave"),
                );
                return Ok(Plan::done(vec![]));
            }
            let st = source.status()?;
            return Ok(Plan::done(forget_leavers(&p.node, &st, &nodes)));
        }
        if !source.running()? {
            let diag = format!(
                "{}rabbitmq-diagnostics -q check_running",
                p.node.exec_prefix()
            );
            return Ok(Plan::then_replan(vec![actions::described(
                actions::wait_command(&diag, None, timeout_ms),
                format!("wait until {node} runs"),
            )]));
        }
        let st = source.status()?;
        let mut out = Vec::new();
        let joined = node == seed || st.members.contains(&seed);
        if !joined {
            // Not a member: the seed's sequence. `reset` wipes this node,
            // which is right only because it holds nothing of the cluster.
            out.push(run(
                &p.node,
                "stop_app",
                format!("stop the RabbitMQ app on {}", node),
            ));
            out.push(run(
                &p.node,
                "reset",
                format!("reset {} (not yet a cluster member)", node),
            ));
            out.push(run(
                &p.node,
                &format!("join_cluster {}", sh_quote(&seed)),
                format!("join {} to {}", node, seed),
            ));
            out.push(run(
                &p.node,
                "start_app",
                format!("start the RabbitMQ app on {}", node),
            ));
            return Ok(Plan::then_replan(out));
        }
        if node == seed {
            out.extend(forget_leavers(&p.node, &st, &nodes));
            if let Some(name) = &p.cluster_name
                && *name != st.name
            {
                out.push(run(
                    &p.node,
                    &format!("set_cluster_name {}", sh_quote(name)),
                    format!("name the cluster {name}"),
                ));
            }
            if !p.absent_users.is_empty() {
                let present = source.users()?;
                for u in p.absent_users.iter().filter(|u| present.contains(u)) {
                    out.push(run(
                        &p.node,
                        &format!("delete_user {}", sh_quote(u)),
                        format!("remove the user {u}"),
                    ));
                }
            }
        }
        let all_running = nodes.iter().all(|n| st.running.contains(n))
            && st.running.iter().all(|n| nodes.contains(n));
        if p.wait && (!all_running || !out.is_empty()) {
            out.push(actions::described(
                actions::wait_command(
                    &p.node
                        .ctl(&format!("await_online_nodes {} --timeout 10", nodes.len())),
                    None,
                    timeout_ms,
                ),
                format!("wait until {} nodes run in the cluster", nodes.len()),
            ));
        }
        Ok(Plan::done(out))
    }
}

export_plugin!(RabbitmqctlPlugin);
