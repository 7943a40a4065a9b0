//! The `policy` plugin: RabbitMQ policies (name, vhost, pattern, apply-to,
//! definition, priority) and a vhost's default queue type. On RabbitMQ 4.x,
//! where classic queue mirroring no longer exists, an `ha-*` definition is
//! refused with a pointer to quorum queues.
//!
//! Observes through the management API when `management_url` is given,
//! through `rabbitmqctl` otherwise; changes go through `rabbitmqctl`, except
//! the default queue type on 4.x when observed through the API (one PUT).

use runner_plugin_rabbitmq_common::{NodeAccess, ctl_patterns};
use runner_plugin_sdk::{
    Capabilities, GetError, Guest, Plan, PlanRequest, PluginInfo, actions, export_plugin, params,
    params_schema, percent_encode, probe, sh_quote,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The policy step's parameters; the schema is derived from them.
/// Unknown fields are refused by the schema (`additionalProperties`).
#[derive(Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
struct Params {
    #[serde(flatten)]
    node: NodeAccess,
    /// The vhost of the policies.
    #[serde(default = "default_vhost")]
    vhost: String,
    /// Policies that must exist as given.
    #[serde(default)]
    policies: Vec<Policy>,
    /// Policies to remove.
    #[serde(default)]
    absent: Vec<String>,
    /// The vhost's default queue type.
    #[schemars(extend("enum" = ["quorum", "classic", "stream"]))]
    default_queue_type: Option<String>,
}

/// One policy.
#[derive(Deserialize, JsonSchema, Clone)]
#[serde(deny_unknown_fields)]
struct Policy {
    #[schemars(length(min = 1))]
    name: String,
    /// Regular expression of the names it applies to.
    pattern: String,
    #[serde(default = "default_apply_to")]
    #[schemars(extend("enum" = ["all", "queues", "exchanges", "classic_queues", "quorum_queues", "streams"]))]
    apply_to: String,
    definition: Map<String, Value>,
    #[serde(default)]
    priority: i64,
}

fn default_vhost() -> String {
    "/".into()
}
fn default_apply_to() -> String {
    "all".into()
}

struct PolicyPlugin;

fn json_probe(command: &str) -> Result<Value, String> {
    let out = probe(command)?;
    if out.exit_code != 0 {
        return Err(format!("`{command}` failed: {}", out.stderr.trim()));
    }
    serde_json::from_str(&out.stdout).map_err(|e| format!("`{command}`: {e}"))
}

/// What the plugin needs to know, from the management API or the CLI.
struct Observed {
    major: u32,
    policies: Vec<Value>,
    vhosts: Vec<Value>,
}

/// The node does not answer yet, or not to these credentials yet: why,
/// for a pending plan.
struct NotRunning(String);

fn observe(p: &Params) -> Result<Result<Observed, NotRunning>, String> {
    let (version, policies, vhosts) = match p.node.api()? {
        Some(api) => {
            let overview = match api.get("overview") {
                Err(GetError::NoAnswer { reason, .. }) => {
                    return Ok(Err(NotRunning(format!(
                        "RabbitMQ's management API does not answer yet: {reason}"
                    ))));
                }
                // A node first booted with other secrets: the rabbitmqctl
                // step on the seed node gives the admin its password.
                Err(GetError::Status {
                    status: status @ (401 | 403),
                    ..
                }) => {
                    return Ok(Err(NotRunning(format!(
                        "RabbitMQ's management API refuses {}'s password (HTTP {status}) until an earlier step sets it",
                        p.node.admin_user
                    ))));
                }
                other => other?,
            };
            (
                overview["rabbitmq_version"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                api.get(&format!("policies/{}", percent_encode(&p.vhost)))?,
                api.get("vhosts")?,
            )
        }
        None => {
            let out = probe(&p.node.ctl("version"))?;
            if out.exit_code != 0 {
                return Ok(Err(NotRunning(format!(
                    "`{}` does not answer yet: {}",
                    p.node.ctl("version"),
                    out.stderr.trim()
                ))));
            }
            (
                out.stdout.trim().to_string(),
                json_probe(&p.node.ctl(&format!(
                    "list_policies -p {} --formatter json",
                    sh_quote(&p.vhost)
                )))?,
                json_probe(
                    &p.node
                        .ctl("list_vhosts name default_queue_type --formatter json"),
                )?,
            )
        }
    };
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| format!("cannot read the RabbitMQ version from '{version}'"))?;
    Ok(Ok(Observed {
        major,
        policies: policies.as_array().cloned().unwrap_or_default(),
        vhosts: vhosts.as_array().cloned().unwrap_or_default(),
    }))
}

/// What the step ensures, in words, for a pending preview.
fn wanted(p: &Params) -> String {
    let mut parts: Vec<String> = p
        .policies
        .iter()
        .map(|pol| format!("policy {}", pol.name))
        .collect();
    parts.extend(p.absent.iter().map(|n| format!("no policy {n}")));
    if let Some(qt) = &p.default_queue_type {
        parts.push(format!("default queue type {qt}"));
    }
    format!("{} on vhost {}", parts.join(", "), p.vhost)
}

impl Policy {
    /// Whether `listed` (a policy as the server lists it) is this one: the
    /// same name, pattern, apply-to, priority and definition.
    fn is(&self, listed: &Value) -> bool {
        listed["name"] == self.name.as_str()
            && listed["pattern"] == self.pattern.as_str()
            && listed["apply-to"] == self.apply_to.as_str()
            && listed["priority"].as_i64() == Some(self.priority)
            && definition_of(&listed["definition"]) == Value::Object(self.definition.clone())
    }
}

/// A listed policy's definition, an object or (older servers) JSON text.
fn definition_of(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    }
}

impl Guest for PolicyPlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "policy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "RabbitMQ policies and a vhost's default queue type (no ha-* on 4.x).".into(),
            params_schema: params_schema::<Params>(),
            secret_params: vec!["admin_password".into()],
            capabilities: Capabilities {
                probes: [
                    "version",
                    "list_policies -p * --formatter json",
                    "list_vhosts name default_queue_type --formatter json",
                ]
                .iter()
                .flat_map(|a| ctl_patterns(a))
                .collect(),
                reads: vec![],
                writes: vec![],
                runs: ["set_policy *", "clear_policy *", "update_vhost_metadata *"]
                    .iter()
                    .flat_map(|a| ctl_patterns(a))
                    .collect(),
                http: vec![
                    "{management_url}/api/*".into(),
                    "PUT {management_url}/api/vhosts/*".into(),
                ],
                peers: vec![],
                local_reads: vec![],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        let seen = match observe(&p)? {
            Ok(seen) => seen,
            Err(NotRunning(why)) => {
                return Ok(Plan::pending(
                    format!("{why}; {} planned once it runs", wanted(&p)),
                    vec![],
                ));
            }
        };
        if seen.major >= 4 {
            for pol in &p.policies {
                if let Some(key) = pol.definition.keys().find(|k| k.starts_with("ha-")) {
                    return Err(format!(
                        "policy '{}' sets '{key}': classic queue mirroring (ha-mode, ha-sync-mode, ...) was removed in RabbitMQ 4.0, \
                         so this policy would replicate nothing. Use quorum queues instead: set `default_queue_type: quorum` \
                         for the vhost (or declare queues with x-queue-type: quorum) and drop the ha-* keys.",
                        pol.name
                    ));
                }
            }
        }
        let vhost = sh_quote(&p.vhost);
        let current = &seen.policies;
        let mut out = Vec::new();
        for pol in &p.policies {
            let wanted_def = Value::Object(pol.definition.clone());
            if !current.iter().any(|c| pol.is(c)) {
                let def = serde_json::to_string(&wanted_def).map_err(|e| e.to_string())?;
                out.push(actions::described(
                    actions::run(&p.node.ctl(&format!(
                        "set_policy -p {vhost} --priority {} --apply-to {} {} {} {}",
                        pol.priority,
                        sh_quote(&pol.apply_to),
                        sh_quote(&pol.name),
                        sh_quote(&pol.pattern),
                        sh_quote(&def)
                    ))),
                    format!("set policy {} on {} ({def})", pol.name, p.vhost),
                ));
            }
        }
        for name in &p.absent {
            if current.iter().any(|c| c["name"] == name.as_str()) {
                out.push(actions::described(
                    actions::run(
                        &p.node
                            .ctl(&format!("clear_policy -p {vhost} {}", sh_quote(name))),
                    ),
                    format!("remove policy {name} from {}", p.vhost),
                ));
            }
        }
        if let Some(qt) = &p.default_queue_type {
            let now = seen
                .vhosts
                .iter()
                .find(|v| v["name"] == p.vhost.as_str())
                .ok_or_else(|| format!("vhost '{}' does not exist", p.vhost))?;
            let current_type = now["default_queue_type"]
                .as_str()
                .or(now["metadata"]["default_queue_type"].as_str())
                .unwrap_or("classic");
            if current_type != qt {
                let summary = format!(
                    "make {qt} the default queue type of {} (was {current_type})",
                    p.vhost
                );
                out.push(match (p.node.api()?, seen.major >= 4) {
                    // One HTTP request, where rabbitmqctl starts an Erlang
                    // VM (about a second). A PUT sets the whole metadata:
                    // the description, tags and tracing go back as they are.
                    (Some(api), true) => {
                        let mut body = json!({ "default_queue_type": qt });
                        for key in ["description", "tags", "tracing"] {
                            if let Some(v) = now.get(key).filter(|v| !v.is_null()) {
                                body[key] = v.clone();
                            }
                        }
                        let path = format!("vhosts/{}", percent_encode(&p.vhost));
                        api.send("PUT", &path, Some(&body), summary)
                    }
                    _ => actions::described(
                        actions::run(&p.node.ctl(&format!(
                            "update_vhost_metadata {vhost} --default-queue-type {}",
                            sh_quote(qt)
                        ))),
                        summary,
                    ),
                });
            }
        }
        Ok(Plan::done(out))
    }
}

export_plugin!(PolicyPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> Policy {
        serde_json::from_value(json!({
            "name": "qq", "pattern": "^", "definition": {"queue-mode": "lazy"}
        }))
        .unwrap()
    }

    #[test]
    fn a_listed_policy_is_the_wanted_one_only_when_everything_matches() {
        let listed = json!({"name": "qq", "pattern": "^", "apply-to": "all", "priority": 0,
                            "definition": {"queue-mode": "lazy"}});
        assert!(policy().is(&listed));
        for (key, other) in [
            ("name", json!("other")),
            ("pattern", json!("^x")),
            ("apply-to", json!("queues")),
            ("priority", json!(1)),
            ("definition", json!({"queue-mode": "default"})),
        ] {
            let mut changed = listed.clone();
            changed[key] = other;
            assert!(!policy().is(&changed), "{key} differs");
        }
    }

    #[test]
    fn older_servers_list_the_definition_as_json_text() {
        let listed = json!({"name": "qq", "pattern": "^", "apply-to": "all", "priority": 0,
                            "definition": "{\"queue-mode\":\"lazy\"}"});
        assert!(policy().is(&listed));
        assert_eq!(definition_of(&json!("not json")), Value::Null);
    }

    #[test]
    fn the_pending_summary_names_what_the_step_wants() {
        let p: Params = serde_json::from_value(json!({
            "policies": [{"name": "qq", "pattern": "^", "definition": {}}],
            "absent": ["ha-all"], "default_queue_type": "quorum"
        }))
        .unwrap();
        assert_eq!(
            wanted(&p),
            "policy qq, no policy ha-all, default queue type quorum on vhost /"
        );
    }
}
