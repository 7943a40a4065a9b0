//! The cluster under test: the lab's hosts (RabbitMQ nodes and balancers),
//! the virtual IP, the RabbitMQ line, and the credentials the rabbit-ha
//! playbook generated (read from `rabbit-ha.secrets.yaml` beside the lab's
//! inventory). Everything the scenarios and the health checks address.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use runner_amqp_probe::QueueKind;
use runner_lab::{Lab, RabbitmqVersion};

/// The playbook's admin user (`admin_user` in playbooks/rabbit-ha.yaml).
pub const ADMIN_USER: &str = "admin";
/// The HAProxy stats user (the haproxy plugin's default).
pub const STATS_USER: &str = "stats";
/// AMQP through HAProxy on the VIP.
pub const AMQP_PORT: u16 = 5670;
/// A RabbitMQ node's own management port.
pub const NODE_MANAGEMENT_PORT: u16 = 15672;
/// HAProxy's stats page (CSV at `/;csv`).
pub const STATS_PORT: u16 = 8100;
/// HAProxy's health URL (`/health`: 503 unless a RabbitMQ backend is UP).
pub const HEALTH_PORT: u16 = 8101;

/// One lab host and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub ip: Ipv4Addr,
}

/// The lab cluster as the chaos driver sees it.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub state_dir: PathBuf,
    pub rabbits: Vec<Host>,
    pub balancers: Vec<Host>,
    pub vip: Ipv4Addr,
    pub version: RabbitmqVersion,
    pub admin_password: String,
    pub stats_password: String,
}

impl Cluster {
    /// Opens the lab recorded in `state_dir` and reads the playbook's
    /// secrets. Fails with a hint when there is no lab or no cluster.
    pub fn open(state_dir: &Path) -> Result<Cluster> {
        let lab = Lab::open(state_dir)?;
        let hosts = |group: &str| -> Vec<Host> {
            lab.group(group)
                .into_iter()
                .map(|h| Host {
                    name: h.name,
                    ip: h.ip,
                })
                .collect()
        };
        let rabbits = hosts("rabbits");
        let balancers = hosts("balancers");
        if rabbits.is_empty() || balancers.is_empty() {
            bail!(
                "the lab in {} has no {} (the chaos scenarios need RabbitMQ hosts and balancers: \
                 `runner lab up` with the default hosts)",
                state_dir.display(),
                if rabbits.is_empty() {
                    "RabbitMQ hosts"
                } else {
                    "balancers"
                }
            );
        }
        let secrets_path = state_dir.join("rabbit-ha.secrets.yaml");
        let text = std::fs::read_to_string(&secrets_path).with_context(|| {
            format!(
                "no cluster secrets at {} (build the cluster first: `runner play playbooks/rabbit-ha.yaml`)",
                secrets_path.display()
            )
        })?;
        let secrets =
            parse_secrets(&text).with_context(|| format!("reading {}", secrets_path.display()))?;
        let get = |k: &str| -> Result<String> {
            secrets
                .get(k)
                .cloned()
                .with_context(|| format!("{} has no {k}", secrets_path.display()))
        };
        Ok(Cluster {
            state_dir: state_dir.to_path_buf(),
            vip: lab.vip(),
            version: lab.rabbitmq(),
            admin_password: get("rabbitmq_admin_password")?,
            stats_password: get("haproxy_stats_password")?,
            rabbits,
            balancers,
        })
    }

    /// Quorum queues on 4.x; on 3.x a classic queue, which the seed's
    /// `ha-all` policy mirrors.
    pub fn queue_kind(&self) -> QueueKind {
        match self.version {
            RabbitmqVersion::V3_10 => QueueKind::Classic,
            _ => QueueKind::Quorum,
        }
    }

    /// The workload's URL: AMQP through the VIP, vhost `/`.
    pub fn amqp_url(&self) -> String {
        format!(
            "amqp://{ADMIN_USER}:{}@{}:{AMQP_PORT}/%2f",
            percent_encode(&self.admin_password),
            self.vip
        )
    }

    /// A RabbitMQ host by its node name (`rabbit@rabbit2` → `rabbit2`).
    pub fn rabbit_by_node(&self, node: &str) -> Option<&Host> {
        let host = node.rsplit('@').next().unwrap_or(node);
        self.rabbits.iter().find(|h| h.name == host)
    }

    /// The node names the cluster must run (`rabbit@<host>`).
    pub fn node_names(&self) -> Vec<String> {
        self.rabbits
            .iter()
            .map(|h| format!("rabbit@{}", h.name))
            .collect()
    }

    pub fn is_balancer(&self, host: &str) -> bool {
        self.balancers.iter().any(|h| h.name == host)
    }
}

/// `key: value` pairs of the secrets file (a flat YAML mapping).
fn parse_secrets(text: &str) -> Result<std::collections::BTreeMap<String, String>> {
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
    let map = value.as_mapping().context("not a mapping")?;
    Ok(map
        .iter()
        .filter_map(|(k, v)| {
            let v = match v {
                serde_yaml_ng::Value::String(s) => s.clone(),
                serde_yaml_ng::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((k.as_str()?.to_string(), v))
        })
        .collect())
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_encoding() {
        let s = parse_secrets("rabbitmq_admin_password: \"a/b c\"\nerlang_cookie: 123\n").unwrap();
        assert_eq!(s["rabbitmq_admin_password"], "a/b c");
        assert_eq!(s["erlang_cookie"], "123");
        assert_eq!(percent_encode("a/b c~"), "a%2Fb%20c~");
    }
}
