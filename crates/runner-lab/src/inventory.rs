//! The inventory `up` writes, in Ansible's YAML shape: lab-wide variables
//! (user, key, known_hosts, VIP, then the stack's: images and versions) and
//! the topology's groups with their hosts' addresses.

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::Result;
use serde_yaml_ng::{Mapping, Value};

use crate::stack::Stack;
use crate::state::{Paths, write_if_changed};
use crate::topology::Topology;

/// Everything the inventory says.
#[derive(Debug, Clone)]
pub struct InventoryInput<'a> {
    /// State paths (key, known_hosts).
    pub paths: &'a Paths,
    /// The groups and which hosts are in them.
    pub topology: &'a Topology,
    /// Hosts and their lab IPs, in order.
    pub hosts: &'a [(String, Ipv4Addr)],
    /// The balancers' virtual IP.
    pub vip: Ipv4Addr,
    /// What the hosts run: its variables follow the lab's.
    pub stack: &'a Stack,
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn path(p: &Path) -> Value {
    s(p.to_string_lossy().into_owned())
}

/// The inventory as YAML text.
pub fn render(input: &InventoryInput<'_>) -> Result<String> {
    let mut vars = Mapping::new();
    vars.insert(s("ansible_user"), s("root"));
    vars.insert(
        s("ansible_ssh_private_key_file"),
        path(&input.paths.private_key()),
    );
    vars.insert(s("runner_known_hosts"), path(&input.paths.known_hosts()));
    vars.insert(
        s("ansible_ssh_common_args"),
        s(format!(
            "-o StrictHostKeyChecking=yes -o UserKnownHostsFile={}",
            input.paths.known_hosts().display()
        )),
    );
    vars.insert(s("vip"), s(input.vip.to_string()));
    vars.insert(s("vip_interface"), s("eth0"));
    for (k, v) in &input.stack.vars {
        vars.insert(k.clone(), v.clone());
    }

    let mut children = Mapping::new();
    for group in &input.topology.groups {
        let mut hosts = Mapping::new();
        let members = input
            .hosts
            .iter()
            .filter(|(n, _)| input.topology.groups_of(n).contains(group));
        for (name, ip) in members {
            let mut h = Mapping::new();
            h.insert(s("ansible_host"), s(ip.to_string()));
            hosts.insert(s(name.clone()), Value::Mapping(h));
        }
        let mut g = Mapping::new();
        g.insert(s("hosts"), Value::Mapping(hosts));
        children.insert(s(group.clone()), Value::Mapping(g));
    }

    let mut all = Mapping::new();
    all.insert(s("vars"), Value::Mapping(vars));
    all.insert(s("children"), Value::Mapping(children));
    let mut root = Mapping::new();
    root.insert(s("all"), Value::Mapping(all));
    let body = serde_yaml_ng::to_string(&Value::Mapping(root))?;
    Ok(format!(
        "# Written by `runner lab up`; rewritten on every up.\n{body}"
    ))
}

/// Writes the inventory; returns whether its content changed.
pub fn write(input: &InventoryInput<'_>) -> Result<bool> {
    write_if_changed(&input.paths.inventory(), &render(input)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_as_before() {
        // What `runner lab up` wrote before topologies and stacks were data.
        let before = "# Written by `runner lab up`; rewritten on every up.
all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: /l/id_ed25519
    runner_known_hosts: /l/known_hosts
    ansible_ssh_common_args: -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/l/known_hosts
    vip: 10.213.57.250
    vip_interface: eth0
    rabbitmq_image: runner-lab/rabbitmq:4.0
    haproxy_image: runner-lab/haproxy:3.0
    rabbitmq_version: '4.0'
  children:
    rabbits:
      hosts:
        rabbit1:
          ansible_host: 10.213.57.11
        rabbit2:
          ansible_host: 10.213.57.12
        rabbit3:
          ansible_host: 10.213.57.13
    balancers:
      hosts:
        lb1:
          ansible_host: 10.213.57.21
        lb2:
          ansible_host: 10.213.57.22
";
        let topology = Topology::default();
        let hosts: Vec<(String, Ipv4Addr)> = topology
            .names()
            .into_iter()
            .zip(topology.host_numbers().unwrap())
            .map(|(n, o)| (n, Ipv4Addr::new(10, 213, 57, o)))
            .collect();
        let text = render(&InventoryInput {
            paths: &Paths::new("/l"),
            topology: &topology,
            hosts: &hosts,
            vip: Ipv4Addr::new(10, 213, 57, 250),
            stack: &Stack::default(),
        })
        .unwrap();
        assert_eq!(text, before);
    }

    #[test]
    fn shape() {
        let paths = Paths::new("/tmp/lab");
        let hosts = vec![
            ("rabbit1".to_string(), Ipv4Addr::new(10, 213, 57, 11)),
            ("lb1".to_string(), Ipv4Addr::new(10, 213, 57, 21)),
        ];
        let text = render(&InventoryInput {
            paths: &paths,
            topology: &Topology::default(),
            hosts: &hosts,
            vip: Ipv4Addr::new(10, 213, 57, 250),
            stack: &Stack::default(),
        })
        .unwrap();
        let v: Value = serde_yaml_ng::from_str(&text).unwrap();
        let all = &v["all"];
        assert_eq!(all["vars"]["ansible_user"], s("root"));
        assert_eq!(all["vars"]["vip"], s("10.213.57.250"));
        assert_eq!(all["vars"]["rabbitmq_version"], s("4.0"));
        assert_eq!(
            all["vars"]["ansible_ssh_private_key_file"],
            s("/tmp/lab/id_ed25519")
        );
        assert_eq!(
            all["children"]["rabbits"]["hosts"]["rabbit1"]["ansible_host"],
            s("10.213.57.11")
        );
        assert_eq!(
            all["children"]["balancers"]["hosts"]["lb1"]["ansible_host"],
            s("10.213.57.21")
        );
    }
}
