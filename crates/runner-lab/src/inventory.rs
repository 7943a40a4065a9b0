//! The inventory `up` writes, in Ansible's YAML shape: lab-wide variables
//! (user, key, known_hosts, VIP, images) and two groups, `rabbits` (hosts
//! named rabbit*) and `balancers` (the others).

use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::Result;
use serde_yaml_ng::{Mapping, Value};

use crate::images::{HAPROXY_IMAGE, RabbitmqVersion};
use crate::state::{Paths, write_if_changed};

/// The group a host belongs to: `rabbits` for names starting with `rabbit`,
/// `balancers` for the rest.
pub fn group_of(host: &str) -> &'static str {
    if host.starts_with("rabbit") {
        "rabbits"
    } else {
        "balancers"
    }
}

/// Everything the inventory says.
#[derive(Debug, Clone)]
pub struct InventoryInput<'a> {
    /// State paths (key, known_hosts).
    pub paths: &'a Paths,
    /// Hosts and their lab IPs, in order.
    pub hosts: &'a [(String, Ipv4Addr)],
    /// The balancers' virtual IP.
    pub vip: Ipv4Addr,
    /// RabbitMQ line.
    pub rabbitmq: RabbitmqVersion,
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
    vars.insert(s("rabbitmq_image"), s(input.rabbitmq.image()));
    vars.insert(s("haproxy_image"), s(HAPROXY_IMAGE));
    vars.insert(s("rabbitmq_version"), s(input.rabbitmq.as_str()));

    let mut children = Mapping::new();
    for group in ["rabbits", "balancers"] {
        let mut hosts = Mapping::new();
        for (name, ip) in input.hosts.iter().filter(|(n, _)| group_of(n) == group) {
            let mut h = Mapping::new();
            h.insert(s("ansible_host"), s(ip.to_string()));
            hosts.insert(s(name.clone()), Value::Mapping(h));
        }
        let mut g = Mapping::new();
        g.insert(s("hosts"), Value::Mapping(hosts));
        children.insert(s(group), Value::Mapping(g));
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
    fn shape() {
        let paths = Paths::new("/tmp/lab");
        let hosts = vec![
            ("rabbit1".to_string(), Ipv4Addr::new(10, 213, 57, 11)),
            ("lb1".to_string(), Ipv4Addr::new(10, 213, 57, 21)),
        ];
        let text = render(&InventoryInput {
            paths: &paths,
            hosts: &hosts,
            vip: Ipv4Addr::new(10, 213, 57, 250),
            rabbitmq: RabbitmqVersion::V4_0,
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
