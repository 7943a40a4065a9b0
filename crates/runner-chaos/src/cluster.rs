//! The cluster under test: the lab's inventory (the RabbitMQ nodes and
//! balancers with their addresses, the virtual IP, the RabbitMQ line),
//! what the rabbit-ha playbook deployed ([`Deployment`]) and the
//! credentials it generated (its secrets file beside the inventory).
//! Everything the scenarios and the health checks address.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use runner_amqp_workload::QueueKind;
use runner_lab::Lab;
pub use runner_types::http::percent_encode;
use serde_yaml_ng::Value;

use crate::deployment::Deployment;

/// A lab host of the deployment: its inventory name and address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAddr {
    pub name: String,
    pub ip: Ipv4Addr,
}

/// The lab cluster as the chaos driver sees it.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub state_dir: PathBuf,
    /// What the playbook deployed: containers, ports, users.
    pub deployment: Deployment,
    pub rabbits: Vec<HostAddr>,
    pub balancers: Vec<HostAddr>,
    pub vip: Ipv4Addr,
    /// The inventory's `rabbitmq_version` (e.g. "4.0").
    pub rabbitmq_version: String,
    pub admin_password: String,
    pub stats_password: String,
    /// Where those passwords are kept.
    pub secrets_file: PathBuf,
    /// The CA certificate clients trust (when the playbook issues
    /// certificates).
    pub ca_file: Option<PathBuf>,
}

/// A page a person opens on the built cluster, and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub what: &'static str,
    pub url: String,
    pub user: String,
    /// The secret (in [`Cluster::secrets_file`]) holding the password.
    pub password_secret: String,
}

impl Cluster {
    /// Opens the lab recorded in `state_dir`, reads its inventory and the
    /// playbook's secrets. Fails with a hint when there is no lab or no
    /// cluster.
    pub fn open(state_dir: &Path) -> Result<Cluster> {
        let lab = Lab::open(state_dir)?;
        let deployment = Deployment::rabbit_ha()?;
        let inventory_path = lab.inventory_path();
        let inventory: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(&inventory_path)
                .with_context(|| format!("read {}", inventory_path.display()))?,
        )
        .with_context(|| format!("parse {}", inventory_path.display()))?;
        let rabbits = group_hosts(&inventory, &deployment.rabbits_group);
        let balancers = group_hosts(&inventory, &deployment.balancers_group);
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
        let var = |k: &str| inventory["all"]["vars"][k].as_str().map(str::to_string);
        let inventory_dir = inventory_path.parent().unwrap_or(state_dir);
        let secrets_file = deployment.secrets_path(inventory_dir);
        let secrets = Secrets::read(&secrets_file)?;
        Ok(Cluster {
            state_dir: state_dir.to_path_buf(),
            vip: var("vip").and_then(|v| v.parse().ok()).unwrap_or(lab.vip()),
            rabbitmq_version: var("rabbitmq_version")
                .context("the inventory has no rabbitmq_version")?,
            admin_password: secrets.get(&deployment.admin_password_secret)?,
            stats_password: secrets.get(&deployment.stats_password_secret)?,
            secrets_file,
            ca_file: deployment.ca_path(inventory_dir),
            deployment,
            rabbits,
            balancers,
        })
    }

    /// Quorum queues on 4.x; on 3.x a classic queue, which the playbook's
    /// `ha-all` policy mirrors (its `rabbitmq_version is startingwith('3.')`).
    pub fn queue_kind(&self) -> QueueKind {
        if self.rabbitmq_version.starts_with("3.") {
            QueueKind::Classic
        } else {
            QueueKind::Quorum
        }
    }

    /// The workload's URL: AMQP through the VIP, vhost `/`.
    pub fn amqp_url(&self) -> String {
        format!(
            "amqp://{}:{}@{}:{}/%2f",
            percent_encode(&self.deployment.admin_user),
            percent_encode(&self.admin_password),
            self.vip,
            self.deployment.amqp_port
        )
    }

    /// AMQPS through the VIP (HAProxy's TLS port), vhost `/`, and the CA
    /// certificate (PEM) that signed its certificate.
    pub fn amqps(&self) -> Result<(String, String)> {
        let (Some(port), Some(ca)) = (self.deployment.amqps_port, &self.ca_file) else {
            bail!("the playbook gives HAProxy no TLS certificate: there is no AMQPS to test");
        };
        let pem = std::fs::read_to_string(ca).with_context(|| {
            format!(
                "read the CA certificate {} (build the cluster first: `runner play playbooks/rabbit-ha.yaml`)",
                ca.display()
            )
        })?;
        let url = format!(
            "amqps://{}:{}@{}:{port}/%2f",
            percent_encode(&self.deployment.admin_user),
            percent_encode(&self.admin_password),
            self.vip,
        );
        Ok((url, pem))
    }

    /// The seed how-to's two result pages, through the VIP: HAProxy's
    /// stats and RabbitMQ's management UI.
    pub fn pages(&self) -> [Page; 2] {
        let d = &self.deployment;
        [
            Page {
                what: "HAProxy stats",
                url: format!("http://{}:{}/", self.vip, d.stats_port),
                user: d.stats_user.clone(),
                password_secret: d.stats_password_secret.clone(),
            },
            Page {
                what: "RabbitMQ management",
                url: format!("http://{}:{}/", self.vip, d.balanced_management_port),
                user: d.admin_user.clone(),
                password_secret: d.admin_password_secret.clone(),
            },
        ]
    }

    /// A RabbitMQ host by its node name (`rabbit@rabbit2` → `rabbit2`).
    pub fn rabbit_by_node(&self, node: &str) -> Option<&HostAddr> {
        self.rabbits
            .iter()
            .find(|h| self.deployment.node_name(&h.name) == node)
    }

    /// The node names the cluster must run.
    pub fn node_names(&self) -> Vec<String> {
        self.rabbits
            .iter()
            .map(|h| self.deployment.node_name(&h.name))
            .collect()
    }

    pub fn is_balancer(&self, host: &str) -> bool {
        self.balancers.iter().any(|h| h.name == host)
    }
}

/// The hosts of an inventory group with their `ansible_host`, in order.
fn group_hosts(inventory: &Value, group: &str) -> Vec<HostAddr> {
    inventory["all"]["children"][group]["hosts"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(name, vars)| {
            Some(HostAddr {
                name: name.as_str()?.to_string(),
                ip: vars["ansible_host"].as_str()?.parse().ok()?,
            })
        })
        .collect()
}

/// The playbook's secrets file.
struct Secrets {
    path: PathBuf,
    values: std::collections::BTreeMap<String, String>,
}

impl Secrets {
    fn read(path: &Path) -> Result<Secrets> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "no cluster secrets at {} (build the cluster first: `runner play playbooks/rabbit-ha.yaml`)",
                path.display()
            )
        })?;
        let values = parse_secrets(&text).with_context(|| format!("reading {}", path.display()))?;
        Ok(Secrets {
            path: path.to_path_buf(),
            values,
        })
    }

    fn get(&self, name: &str) -> Result<String> {
        self.values
            .get(name)
            .cloned()
            .with_context(|| format!("{} has no {name}", self.path.display()))
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

    #[test]
    fn hosts_of_a_group() {
        let inv: Value = serde_yaml_ng::from_str(
            "all:\n  children:\n    lbs:\n      hosts:\n        lb1: {ansible_host: 10.0.0.21}\n        lb2: {ansible_host: 10.0.0.22}\n",
        )
        .unwrap();
        let hosts = group_hosts(&inv, "lbs");
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[1].ip, Ipv4Addr::new(10, 0, 0, 22));
        assert!(group_hosts(&inv, "none").is_empty());
    }
}
