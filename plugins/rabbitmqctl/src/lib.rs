//! The `rabbitmqctl` plugin: RabbitMQ cluster membership, the seed how-to's
//! way (`stop_app`, `reset`, `join_cluster`, `start_app`) but only on a node
//! that is not yet a member; on the seed node also the cluster name,
//! forgetting nodes no longer expected, removing default users, and giving
//! the admin user its password from the secrets when the management API
//! refuses it (a node first booted with other secrets); then a wait until
//! the cluster has every expected node running.
//!
//! It observes through the management API when `management_url` is given
//! (milliseconds per question) and through `rabbitmqctl` otherwise (an
//! Erlang VM start, about a second, per question). The cluster name and the
//! removal of a user go through the API when it answers; membership
//! changes (join, forget) and the admin's password through `rabbitmqctl`,
//! in the node's container or natively.

use runner_plugin_rabbitmq_common::{Api, ApiState, NodeAccess, ctl_patterns};
use runner_plugin_sdk::{
    Action, Capabilities, Guest, LogLevel, Plan, PlanRequest, PluginInfo, actions, export_plugin,
    log, params, params_schema, percent_encode, probe, sh_quote,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// The rabbitmqctl step's parameters; the schema is derived from them.
/// Unknown fields are refused by the schema (`additionalProperties`).
#[derive(Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
struct Params {
    #[serde(flatten)]
    node: NodeAccess,
    /// The seed host (its node is `{node_prefix}{seed}`), which others join.
    #[schemars(regex(pattern = "^[A-Za-z0-9_.-]+$"))]
    seed: String,
    /// Every host whose node the cluster should have.
    #[schemars(length(min = 1), inner(regex(pattern = "^[A-Za-z0-9_.-]+$")))]
    members: Vec<String>,
    /// Node name = prefix + host name (`rabbit@` as in the image's default).
    #[serde(default = "default_prefix")]
    #[schemars(regex(pattern = "^[A-Za-z0-9_-]+@$"))]
    node_prefix: String,
    /// The cluster's name, set on the seed node.
    #[schemars(length(min = 1))]
    cluster_name: Option<String>,
    /// Users to remove (the image's `guest`).
    #[serde(default)]
    absent_users: Vec<String>,
    /// Wait until every member runs.
    #[serde(default = "yes")]
    wait: bool,
    /// Only stop and forget members no longer expected (a step that runs
    /// before the remaining nodes are reconfigured).
    #[serde(default)]
    leavers_only: bool,
    /// Seconds to wait for the cluster.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1))]
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

struct RabbitmqctlPlugin;

fn run(node: &NodeAccess, args: &str, summary: String) -> Action {
    actions::described(actions::run(&node.ctl(args)), summary)
}

/// The seed how-to's join, for a node that is not a member: `reset` wipes
/// the node, which is right only because it holds nothing of the cluster.
/// First a wait until the seed node runs: nodes boot in parallel, and a
/// join to a seed still booting fails (`tables_not_present`).
fn join_sequence(access: &NodeAccess, node: &str, seed: &str, timeout_ms: u32) -> Vec<Action> {
    vec![
        wait_for_seed(access, seed, timeout_ms),
        run(
            access,
            "stop_app",
            format!("stop the RabbitMQ app on {node}"),
        ),
        run(
            access,
            "reset",
            format!("reset {node} (not yet a cluster member)"),
        ),
        run(
            access,
            &format!("join_cluster {}", sh_quote(seed)),
            format!("join {node} to {seed}"),
        ),
        start_app(access, node),
    ]
}

/// Wait until the seed node runs, asked from this node.
fn wait_for_seed(access: &NodeAccess, seed: &str, timeout_ms: u32) -> Action {
    actions::described(
        actions::wait_command(&access.diag(&seed_running(seed)), None, timeout_ms),
        format!("wait until {seed} runs"),
    )
}

/// Whether the seed node runs, asked from this node.
fn seed_runs(access: &NodeAccess, seed: &str) -> Result<bool, String> {
    Ok(probe(&access.diag(&seed_running(seed)))?.exit_code == 0)
}

/// `check_running` asked of the seed node (from the joining node's CLI,
/// which reaches it by name with the shared cookie).
fn seed_running(seed: &str) -> String {
    format!("-n {} check_running", sh_quote(seed))
}

/// The join's last action. A stopped member gets this same action (same
/// digest), so a resumed run knows it from the journal.
fn start_app(access: &NodeAccess, node: &str) -> Action {
    run(
        access,
        "start_app",
        format!("start the RabbitMQ app on {node}"),
    )
}

/// A node whose Erlang runtime runs, not booting, with its app stopped: a
/// join that did not finish (the runner died between `stop_app` and
/// `start_app`) or an operator's stop. Plan what the join would still do,
/// with the join's own actions — so a resumed run skips the ones the
/// journal saw done and never resets a node twice — or only `start_app`
/// when the node is already a member. `None`: the node is down or booting.
fn finish_stopped_join(
    access: &NodeAccess,
    node: &str,
    seed: &str,
    timeout_ms: u32,
) -> Result<Option<Plan>, String> {
    if node == seed || probe(&access.diag("ping"))?.exit_code != 0 {
        return Ok(None);
    }
    // While the seed boots, a node may be mid-way through peer discovery:
    // wait for it, and for the seed, before finishing anything.
    if !seed_runs(access, seed)? {
        return Ok(None);
    }
    let booting = probe(&access.diag("is_booting --formatter json"))?;
    let booting: Value = serde_json::from_str(&booting.stdout).unwrap_or_default();
    if booting["result"] != false {
        return Ok(None);
    }
    let members = stopped_node_members(access)?;
    log(
        LogLevel::Info,
        &format!("{node} runs with its app stopped: finishing its join"),
    );
    let actions = if members.iter().any(|m| m == seed) {
        vec![start_app(access, node)]
    } else {
        join_sequence(access, node, seed, timeout_ms)
    };
    Ok(Some(Plan::then_replan(actions)))
}

/// The cluster members a node with its app stopped knows (`cluster_status`
/// needs the app): `rabbit_nodes:list_members()` on 3.13 and later, the
/// Mnesia view before.
const MEMBERS_OF_STOPPED_NODE: &str = "eval 'case erlang:function_exported(rabbit_nodes, list_members, 0) of true -> rabbit_nodes:list_members(); false -> rabbit_mnesia:cluster_nodes(all) end.'";

fn stopped_node_members(access: &NodeAccess) -> Result<Vec<String>, String> {
    let out = probe(&access.ctl(MEMBERS_OF_STOPPED_NODE))?;
    let list = out.stdout.trim();
    let inner = list
        .strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .filter(|_| out.exit_code == 0)
        .ok_or_else(|| {
            format!(
                "cannot read the members of a stopped node: {list} {}",
                out.stderr.trim()
            )
        })?;
    Ok(inner
        .split(',')
        .map(|n| n.trim().trim_matches('\'').to_string())
        .filter(|n| !n.is_empty())
        .collect())
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
    /// The API, and whether it answered the admin's credentials when the
    /// plan began (asked once per plan).
    Api {
        api: Api,
        answers: bool,
    },
    Cli(&'a NodeAccess),
}

impl Source<'_> {
    /// Name the cluster: through the API when it answers (no Erlang VM to
    /// start), else `rabbitmqctl`.
    fn set_cluster_name(&self, node: &NodeAccess, name: &str) -> Action {
        let summary = format!("name the cluster {name}");
        match self {
            Source::Api { api, answers: true } => api.send(
                "PUT",
                "cluster-name",
                Some(&json!({ "name": name })),
                summary,
            ),
            _ => run(
                node,
                &format!("set_cluster_name {}", sh_quote(name)),
                summary,
            ),
        }
    }

    /// Remove a user: through the API when it answers, else `rabbitmqctl`.
    fn delete_user(&self, node: &NodeAccess, user: &str) -> Action {
        let summary = format!("remove the user {user}");
        match self {
            Source::Api { api, answers: true } => {
                let path = format!("users/{}", percent_encode(user));
                api.send("DELETE", &path, None, summary)
            }
            _ => run(node, &format!("delete_user {}", sh_quote(user)), summary),
        }
    }

    /// Whether the node's RabbitMQ application runs.
    fn running(&self) -> Result<bool, String> {
        match self {
            Source::Api { answers, .. } => Ok(*answers),
            Source::Cli(node) => Ok(probe(&node.diag("check_running"))?.exit_code == 0),
        }
    }

    fn status(&self) -> Result<Status, String> {
        match self {
            Source::Api { api, .. } => {
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
            Source::Api { api, .. } => api.get("users")?,
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

/// The API when it takes the admin's password, the CLI otherwise; and the
/// API's refusal (401, 403), which the seed's step mends.
fn observe_through(node: &NodeAccess) -> Result<(Source<'_>, Option<u16>), String> {
    let Some(api) = node.api()? else {
        return Ok((Source::Cli(node), None));
    };
    let state = api.state();
    if let ApiState::Refused(status) = state {
        log(
            LogLevel::Info,
            &format!(
                "{}/api refuses {}'s password (HTTP {status}): observing through rabbitmqctl",
                api.base, node.admin_user
            ),
        );
        return Ok((Source::Cli(node), Some(status)));
    }
    let answers = state == ApiState::Answers;
    Ok((Source::Api { api, answers }, None))
}

/// The management API refused the admin's password: the node first booted
/// with other secrets (`RABBITMQ_DEFAULT_PASS` counts on a first boot only).
/// Give the admin user the password from the secrets, the administrator tag
/// and every permission on `/`, through `rabbitmqctl` (the cookie's trust).
fn mend_admin(node: &NodeAccess, users: &[String], status: u16) -> Result<Vec<Action>, String> {
    let user = &node.admin_user;
    let password = node
        .admin_password
        .as_deref()
        .ok_or("management_url needs admin_password")?;
    let (verb, what) = if users.contains(user) {
        ("change_password", "set the password of")
    } else {
        ("add_user", "add")
    };
    Ok(vec![
        run(
            node,
            &format!("{verb} {} {}", sh_quote(user), sh_quote(password)),
            format!(
                "{what} the user {user}, with the password from the secrets (the management API refused it: HTTP {status})"
            ),
        ),
        run(
            node,
            &format!("set_user_tags {} administrator", sh_quote(user)),
            format!("tag {user} administrator"),
        ),
        run(
            node,
            &format!("set_permissions -p / {} '.*' '.*' '.*'", sh_quote(user)),
            format!("give {user} every permission on the vhost /"),
        ),
    ])
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
            params_schema: params_schema::<Params>(),
            secret_params: vec!["admin_password".into()],
            capabilities: Capabilities {
                probes: [
                    "cluster_status --formatter json",
                    "list_users --formatter json",
                    "await_online_nodes '*' --timeout 10",
                    MEMBERS_OF_STOPPED_NODE,
                ]
                .iter()
                .flat_map(|a| ctl_patterns(a))
                .chain(["check_running", "ping", "is_booting --formatter json", "-n * check_running"].iter().flat_map(|c| {
                    [
                        format!("docker exec {{container}} rabbitmq-diagnostics -q {c}"),
                        format!("rabbitmq-diagnostics -q {c}"),
                    ]
                }))
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
                http: vec![
                    "{management_url}/api/*".into(),
                    "PUT {management_url}/api/cluster-name".into(),
                    "DELETE {management_url}/api/users/*".into(),
                ],
                peers: vec![],
                local_reads: vec![],
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
        let (source, refused) = observe_through(&p.node)?;
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
            if let Some(plan) = finish_stopped_join(&p.node, &node, &seed, timeout_ms)? {
                return Ok(plan);
            }
            let diag = p.node.diag("check_running");
            return Ok(Plan::then_replan(vec![actions::described(
                actions::wait_command(&diag, None, timeout_ms),
                format!("wait until {node} runs"),
            )]));
        }
        let mut st = source.status()?;
        let mut out = Vec::new();
        if node != seed && !st.members.contains(&seed) {
            // Peer discovery may be forming the cluster around another
            // node, which the seed joins as it boots: decide once the seed
            // runs, on what the node says then.
            if !seed_runs(&p.node, &seed)? {
                return Ok(Plan::then_replan(vec![wait_for_seed(
                    &p.node, &seed, timeout_ms,
                )]));
            }
            st = source.status()?;
            if !st.members.contains(&seed) {
                return Ok(Plan::then_replan(join_sequence(
                    &p.node, &node, &seed, timeout_ms,
                )));
            }
        }
        // Forgetting a leaver changes who must run; naming the cluster or
        // removing a user does not.
        let mut membership_changed = false;
        if node == seed {
            let forgets = forget_leavers(&p.node, &st, &nodes);
            membership_changed = !forgets.is_empty();
            out.extend(forgets);
            if let Some(name) = &p.cluster_name
                && *name != st.name
            {
                out.push(source.set_cluster_name(&p.node, name));
            }
            if !p.absent_users.is_empty() || refused.is_some() {
                let present = source.users()?;
                if let Some(status) = refused {
                    out.extend(mend_admin(&p.node, &present, status)?);
                }
                for u in p.absent_users.iter().filter(|u| present.contains(u)) {
                    out.push(source.delete_user(&p.node, u));
                }
            }
        }
        let all_running = nodes.iter().all(|n| st.running.contains(n))
            && st.running.iter().all(|n| nodes.contains(n));
        if p.wait && (!all_running || membership_changed) {
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
