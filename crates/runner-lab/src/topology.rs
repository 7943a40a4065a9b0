//! What the lab is made of, as data: hosts with a name, an address (the
//! last octet in the lab subnet) and the inventory groups they belong to,
//! and the groups in the order the inventory lists them. The lab knows
//! nothing of what the hosts will run: that is the [`crate::Stack`].

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The first host number given to a host that names none.
const FIRST_FREE: u8 = 31;
/// The last host number: dynamic addresses and the VIP live above it.
const LAST_HOST: u8 = 127;

/// One lab host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostDef {
    /// Inventory name, also the hostname and part of the container name.
    pub name: String,
    /// Last octet of its address in the lab subnet; `None`: the next free
    /// one from .31 up.
    pub host_number: Option<u8>,
    /// Inventory groups it belongs to.
    pub groups: Vec<String>,
}

impl HostDef {
    /// A host in `groups`, with the next free address.
    pub fn new(name: impl Into<String>, groups: &[&str]) -> Self {
        HostDef {
            name: name.into(),
            host_number: None,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    /// The same host at address `.n`.
    pub fn at(mut self, n: u8) -> Self {
        self.host_number = Some(n);
        self
    }
}

/// Every host of a lab and the inventory's groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// Group names in inventory order (a group may be empty).
    pub groups: Vec<String>,
    /// Hosts in `up` order.
    pub hosts: Vec<HostDef>,
}

impl Default for Topology {
    /// rabbit1-3 (group `rabbits`, .11-.13) and lb1-2 (`balancers`, .21-.22).
    fn default() -> Self {
        let rabbit = |n: u8| HostDef::new(format!("rabbit{n}"), &["rabbits"]).at(10 + n);
        let lb = |n: u8| HostDef::new(format!("lb{n}"), &["balancers"]).at(20 + n);
        Topology {
            groups: vec!["rabbits".into(), "balancers".into()],
            hosts: vec![rabbit(1), rabbit(2), rabbit(3), lb(1), lb(2)],
        }
    }
}

impl Topology {
    /// The seed how-to's three machines: rabbit1-3 (.11-.13) all in
    /// `rabbits`, and rabbit2 and rabbit3 also in `balancers` (HAProxy and
    /// keepalived beside the RabbitMQ node, as on the how-to's vm2 and vm3).
    pub fn seed() -> Self {
        let rabbit = |n: u8, groups: &[&str]| HostDef::new(format!("rabbit{n}"), groups).at(10 + n);
        Topology {
            groups: vec!["rabbits".into(), "balancers".into()],
            hosts: vec![
                rabbit(1, &["rabbits"]),
                rabbit(2, &["rabbits", "balancers"]),
                rabbit(3, &["rabbits", "balancers"]),
            ],
        }
    }

    /// Host names, in order.
    pub fn names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name.clone()).collect()
    }

    /// Checks names (lowercase letters, digits, `-`; unique), addresses
    /// (unique, .2-.127) and that every host's groups are listed.
    pub fn validate(&self) -> Result<()> {
        if self.hosts.is_empty() {
            bail!("no lab hosts named");
        }
        for (i, h) in self.hosts.iter().enumerate() {
            let name = &h.name;
            let ok = !name.is_empty()
                && name.len() <= 40
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                bail!(
                    "bad lab host name {name:?}: use lowercase letters, digits and '-', starting with a letter"
                );
            }
            if self.hosts[..i].iter().any(|o| o.name == *name) {
                bail!("lab host {name} named twice");
            }
            if let Some(g) = h.groups.iter().find(|g| !self.groups.contains(g)) {
                bail!("lab host {name} is in group {g}, which the topology does not list");
            }
        }
        self.host_numbers().map(drop)
    }

    /// Each host's address (last octet), in order: its own, or the next
    /// free one from .31 up.
    pub fn host_numbers(&self) -> Result<Vec<u8>> {
        let mut taken: Vec<u8> = Vec::new();
        for h in &self.hosts {
            if let Some(n) = h.host_number {
                if !(2..=LAST_HOST).contains(&n) {
                    bail!("lab host {} at .{n}: use .2 to .{LAST_HOST}", h.name);
                }
                if taken.contains(&n) {
                    bail!("two lab hosts at .{n}");
                }
                taken.push(n);
            }
        }
        let mut next = FIRST_FREE;
        let mut out = Vec::new();
        for h in &self.hosts {
            if let Some(n) = h.host_number {
                out.push(n);
                continue;
            }
            while taken.contains(&next) {
                next += 1;
            }
            if next > LAST_HOST {
                bail!("too many lab hosts");
            }
            taken.push(next);
            out.push(next);
        }
        Ok(out)
    }

    /// The groups of host `name` (empty when it is not in the topology).
    pub fn groups_of(&self, name: &str) -> &[String] {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .map_or(&[], |h| h.groups.as_slice())
    }

    /// Where a group comes in the inventory (groups not listed last).
    pub fn group_rank(&self, group: &str) -> usize {
        self.groups
            .iter()
            .position(|g| g == group)
            .unwrap_or(self.groups.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_lab() {
        let t = Topology::default();
        assert_eq!(t.names(), ["rabbit1", "rabbit2", "rabbit3", "lb1", "lb2"]);
        assert_eq!(t.host_numbers().unwrap(), [11, 12, 13, 21, 22]);
        assert_eq!(t.groups_of("lb2"), ["balancers"]);
        assert!(t.validate().is_ok());
    }

    #[test]
    fn seed_lab() {
        let t = Topology::seed();
        assert_eq!(t.names(), ["rabbit1", "rabbit2", "rabbit3"]);
        assert_eq!(t.host_numbers().unwrap(), [11, 12, 13]);
        assert_eq!(t.groups_of("rabbit1"), ["rabbits"]);
        assert_eq!(t.groups_of("rabbit3"), ["rabbits", "balancers"]);
        assert!(t.validate().is_ok());
    }

    #[test]
    fn free_addresses_and_validation() {
        let mut t = Topology {
            groups: vec!["g".into()],
            hosts: vec![
                HostDef::new("a", &["g"]),
                HostDef::new("b", &["g"]).at(31),
                HostDef::new("c", &[]),
            ],
        };
        assert_eq!(t.host_numbers().unwrap(), [32, 31, 33]);
        assert!(t.validate().is_ok());
        t.hosts.push(HostDef::new("Bad", &[]));
        assert!(t.validate().is_err());
        t.hosts.pop();
        t.hosts.push(HostDef::new("a", &[]));
        assert!(t.validate().is_err());
        t.hosts.pop();
        t.hosts.push(HostDef::new("d", &["nope"]));
        assert!(t.validate().is_err());
        t.hosts.pop();
        t.hosts.push(HostDef::new("d", &[]).at(31));
        assert!(t.validate().is_err());
    }
}
