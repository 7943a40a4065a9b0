//! Where the lab keeps its files (key pair, known_hosts, inventory, its own
//! record `lab.json`: topology, stack, subnet, VIP) and the names it gives
//! Docker objects.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::stack::Stack;
use crate::topology::{HostDef, Topology};

/// Prefix of every Docker object the lab creates.
pub const PREFIX: &str = "runner-lab";
/// The lab's Docker network.
pub const NETWORK: &str = "runner-lab";
/// Label on every lab host container; its value is the host name.
pub const LABEL_HOST: &str = "runner-lab.host";
/// Label on the lab's objects (network, volumes).
pub const LABEL_LAB: &str = "runner-lab";
/// Label on cache volumes (kept by `down`, removed by `down --purge`).
pub const LABEL_CACHE: &str = "runner-lab.cache";

/// The container name of lab host `host`.
pub fn container_name(host: &str) -> String {
    format!("{PREFIX}-{host}")
}

/// The volume that holds `host`'s `/var/lib/docker` (a cache).
pub fn docker_volume(host: &str) -> String {
    format!("{PREFIX}-{host}-docker")
}

/// The state directory: `$RUNNER_LAB_DIR`, else `.runner/lab` under the
/// current directory. Always absolute.
pub fn state_dir() -> PathBuf {
    let dir = match std::env::var_os("RUNNER_LAB_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(".runner/lab"),
    };
    absolute(&dir)
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// The inventory written by `up`: `<state>/inventory.yaml`.
pub fn inventory_path() -> PathBuf {
    Paths::new(state_dir()).inventory()
}

/// The files in one state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The state directory itself.
    pub dir: PathBuf,
}

impl Paths {
    /// Paths under `dir` (made absolute).
    pub fn new(dir: impl AsRef<Path>) -> Self {
        Paths {
            dir: absolute(dir.as_ref()),
        }
    }

    /// The lab's private SSH key (ed25519).
    pub fn private_key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// The lab's public SSH key.
    pub fn public_key(&self) -> PathBuf {
        self.dir.join("id_ed25519.pub")
    }

    /// known_hosts holding each host's real host key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// The Ansible-shaped inventory.
    pub fn inventory(&self) -> PathBuf {
        self.dir.join("inventory.yaml")
    }

    /// The lab's own record of what `up` made.
    pub fn record(&self) -> PathBuf {
        self.dir.join("lab.json")
    }

    /// Scratch space for image archives loaded into hosts.
    pub fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }
}

/// What `up` made, kept in `lab.json` so later commands (and the next `up`
/// without flags) know the lab's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The hosts and groups.
    pub topology: Topology,
    /// What the hosts run.
    pub stack: Stack,
    /// The lab network's subnet, e.g. `10.213.57.0/24`.
    pub subnet: String,
    /// The virtual IP the balancers share.
    pub vip: String,
}

/// `lab.json` as earlier versions wrote it: host names and a RabbitMQ line.
#[derive(Deserialize)]
struct LegacyRecord {
    hosts: Vec<String>,
    rabbitmq: String,
    subnet: String,
    vip: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RecordFile {
    Current(Record),
    Legacy(LegacyRecord),
}

impl Record {
    /// Reads `lab.json`, if there is one (one written by an earlier
    /// version too: its groups and addresses are read from the inventory
    /// it wrote beside it).
    pub fn load(paths: &Paths) -> Result<Option<Record>> {
        let p = paths.record();
        let text = match std::fs::read_to_string(&p) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("read {}", p.display())),
        };
        let file: RecordFile =
            serde_json::from_str(&text).with_context(|| format!("parse {}", p.display()))?;
        Ok(Some(match file {
            RecordFile::Current(r) => r,
            RecordFile::Legacy(old) => Record {
                topology: legacy_topology(paths, &old.hosts),
                stack: Stack::builtin(&format!("rabbitmq-{}", old.rabbitmq))?,
                subnet: old.subnet,
                vip: old.vip,
            },
        }))
    }

    /// Writes `lab.json`; returns whether its content changed.
    pub fn save(&self, paths: &Paths) -> Result<bool> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        write_if_changed(&paths.record(), &text)
    }
}

/// The topology of a lab an earlier version made: `hosts` in order, with
/// the groups and addresses of the inventory it wrote.
fn legacy_topology(paths: &Paths, hosts: &[String]) -> Topology {
    let inventory: serde_yaml_ng::Value = std::fs::read_to_string(paths.inventory())
        .ok()
        .and_then(|t| serde_yaml_ng::from_str(&t).ok())
        .unwrap_or_default();
    let children = inventory["all"]["children"]
        .as_mapping()
        .cloned()
        .unwrap_or_default();
    let groups: Vec<String> = children
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    let hosts = hosts
        .iter()
        .map(|name| {
            let mut def = HostDef::new(name.clone(), &[]);
            for g in &groups {
                let entry = &children[g.as_str()]["hosts"][name.as_str()];
                if entry.is_mapping() {
                    def.groups.push(g.clone());
                    def.host_number = entry["ansible_host"]
                        .as_str()
                        .and_then(|ip| ip.parse::<std::net::Ipv4Addr>().ok())
                        .map(|ip| ip.octets()[3]);
                }
            }
            def
        })
        .collect();
    Topology { groups, hosts }
}

/// Writes `text` to `path` unless it already holds exactly that; returns
/// whether it wrote.
pub fn write_if_changed(path: &Path, text: &str) -> Result<bool> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_legacy_record() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        std::fs::write(
            paths.record(),
            r#"{"hosts": ["rabbit1", "lb1"], "rabbitmq": "3.10",
                "subnet": "10.213.57.0/24", "vip": "10.213.57.250"}"#,
        )
        .unwrap();
        std::fs::write(
            paths.inventory(),
            "all:\n  children:\n    rabbits:\n      hosts:\n        rabbit1:\n          ansible_host: 10.213.57.11\n    balancers:\n      hosts:\n        lb1:\n          ansible_host: 10.213.57.21\n",
        )
        .unwrap();
        let r = Record::load(&paths).unwrap().unwrap();
        assert_eq!(r.stack.name, "rabbitmq-3.10");
        assert_eq!(r.topology.groups, ["rabbits", "balancers"]);
        assert_eq!(r.topology.hosts[1].groups, ["balancers"]);
        assert_eq!(r.topology.host_numbers().unwrap(), [11, 21]);
        r.save(&paths).unwrap();
        assert_eq!(Record::load(&paths).unwrap().unwrap(), r);
    }
}
