//! Everything chaos must know about what `playbooks/rabbit-ha.yaml` built,
//! in one place and read from the playbook itself (embedded at build time):
//! its groups, the admin user, container names, ports, the secrets file
//! and which secret is which. What the playbook leaves to a plugin's
//! default (HAProxy's stats user and ports, keepalived's files) is the
//! plugin's default, named here once.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_yaml_ng::Value;

/// The playbook chaos proves.
const PLAYBOOK: &str = include_str!("../../../playbooks/rabbit-ha.yaml");

/// The HAProxy container on a balancer (the haproxy plugin's).
const HAPROXY_CONTAINER: &str = "haproxy";
/// HAProxy's configuration, under the haproxy plugin's `project_dir`.
const HAPROXY_CONF: &str = "conf/haproxy.cfg";
/// The haproxy plugin's defaults for what the playbook leaves out.
const HAPROXY_DEFAULT_DIR: &str = "/opt/haproxy";
const HAPROXY_DEFAULT_AMQP_PORT: u16 = 5670;
const HAPROXY_DEFAULT_AMQPS_PORT: u16 = 5673;
const HAPROXY_DEFAULT_MANAGEMENT_PORT: u16 = 15670;
const HAPROXY_DEFAULT_STATS_PORT: u16 = 8100;
const HAPROXY_DEFAULT_HEALTH_PORT: u16 = 8101;
const HAPROXY_DEFAULT_STATS_USER: &str = "stats";
/// keepalived's configuration, pid file and start command (the keepalived
/// plugin's).
pub const KEEPALIVED_CONF: &str = "/etc/keepalived/keepalived.conf";
pub const KEEPALIVED_PID: &str = "/run/keepalived.pid";
pub const KEEPALIVED_START: &str =
    "keepalived --pid /run/keepalived.pid --use-file /etc/keepalived/keepalived.conf";

/// What the rabbit-ha playbook deployed, as chaos addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The inventory group of the RabbitMQ nodes.
    pub rabbits_group: String,
    /// The inventory group of the balancers.
    pub balancers_group: String,
    /// The RabbitMQ container on each node.
    pub rabbit_container: String,
    /// The HAProxy container on each balancer.
    pub haproxy_container: String,
    /// HAProxy's configuration file on a balancer.
    pub haproxy_config: String,
    /// The RabbitMQ admin user.
    pub admin_user: String,
    /// A node's own management API port.
    pub management_port: u16,
    /// AMQP through HAProxy (on the VIP).
    pub amqp_port: u16,
    /// AMQPS through HAProxy (on the VIP), when the playbook gives HAProxy
    /// a certificate.
    pub amqps_port: Option<u16>,
    /// The management UI and API through HAProxy (on the VIP).
    pub balanced_management_port: u16,
    /// HAProxy's stats page (CSV at `/;csv`).
    pub stats_port: u16,
    /// HAProxy's health URL (`/health`).
    pub health_port: u16,
    /// HAProxy's stats user.
    pub stats_user: String,
    /// The secrets file, `{{ inventory_dir }}` still in it.
    secrets_file: String,
    /// The certificates file, likewise (none: no `certificates:`).
    certificates_file: Option<String>,
    /// The secret holding the admin password.
    pub admin_password_secret: String,
    /// The secret holding the stats password.
    pub stats_password_secret: String,
}

impl Deployment {
    /// What `playbooks/rabbit-ha.yaml` deploys.
    pub fn rabbit_ha() -> Result<Deployment> {
        Deployment::from_playbook(PLAYBOOK).context("reading playbooks/rabbit-ha.yaml")
    }

    /// Reads a rabbit-ha-shaped playbook (see the module doc).
    pub fn from_playbook(text: &str) -> Result<Deployment> {
        let book: Value = serde_yaml_ng::from_str(text)?;
        let vars = &book["vars"];
        let compose = step(&book, "docker-compose")?;
        let rabbitmqctl = step(&book, "rabbitmqctl")?;
        let haproxy = step(&book, "haproxy")?;
        let with = |s: &Value, k: &str| resolve(vars, &s["with"][k]);
        let service = compose["with"]["compose"]["services"]
            .as_mapping()
            .and_then(|m| m.values().next())
            .context("the docker-compose step has no service")?;
        let management_url = with(rabbitmqctl, "management_url").context("management_url")?;
        let port = |k: &str, default: u16| -> Result<u16> {
            with(haproxy, k).map_or(Ok(default), |p| p.parse().context(k.to_string()))
        };
        let project_dir = with(haproxy, "project_dir").unwrap_or(HAPROXY_DEFAULT_DIR.into());
        Ok(Deployment {
            rabbits_group: group(compose)?,
            balancers_group: group(haproxy)?,
            rabbit_container: text_of(&service["container_name"]).context("container_name")?,
            haproxy_container: HAPROXY_CONTAINER.into(),
            haproxy_config: format!("{}/{HAPROXY_CONF}", project_dir.trim_end_matches('/')),
            admin_user: with(rabbitmqctl, "admin_user").context("admin_user")?,
            management_port: url_port(&management_url)?,
            amqp_port: port("amqp_port", HAPROXY_DEFAULT_AMQP_PORT)?,
            amqps_port: match haproxy["with"]["tls"] {
                Value::Null => None,
                _ => Some(port("amqps_port", HAPROXY_DEFAULT_AMQPS_PORT)?),
            },
            balanced_management_port: port("management_port", HAPROXY_DEFAULT_MANAGEMENT_PORT)?,
            stats_port: port("stats_port", HAPROXY_DEFAULT_STATS_PORT)?,
            health_port: port("health_port", HAPROXY_DEFAULT_HEALTH_PORT)?,
            stats_user: with(haproxy, "stats_user").unwrap_or(HAPROXY_DEFAULT_STATS_USER.into()),
            secrets_file: text_of(&book["secrets"]["file"]).context("secrets.file")?,
            certificates_file: text_of(&book["certificates"]["file"]),
            admin_password_secret: secret_name(&rabbitmqctl["with"]["admin_password"])?,
            stats_password_secret: secret_name(&haproxy["with"]["stats_password"])?,
        })
    }

    /// The secrets file of a cluster built with the inventory in `dir`.
    pub fn secrets_path(&self, inventory_dir: &Path) -> PathBuf {
        in_dir(&self.secrets_file, inventory_dir)
    }

    /// The CA certificate clients trust, beside the certificates file
    /// (`x.tls.yaml` → `x.tls.ca.pem`, as the runner writes it).
    pub fn ca_path(&self, inventory_dir: &Path) -> Option<PathBuf> {
        let file = in_dir(self.certificates_file.as_ref()?, inventory_dir);
        Some(file.with_extension("ca.pem"))
    }

    /// The RabbitMQ node name of a host (`rabbit@<host>`: the playbook sets
    /// each node's hostname to its inventory name).
    pub fn node_name(&self, host: &str) -> String {
        format!("rabbit@{host}")
    }
}

fn in_dir(template: &str, inventory_dir: &Path) -> PathBuf {
    PathBuf::from(template.replace("{{ inventory_dir }}", &inventory_dir.to_string_lossy()))
}

/// The first step that uses `plugin`.
fn step<'a>(book: &'a Value, plugin: &str) -> Result<&'a Value> {
    book["steps"]
        .as_sequence()
        .and_then(|s| s.iter().find(|s| s["plugin"] == plugin))
        .with_context(|| format!("no {plugin} step"))
}

/// The group a step runs on (`on: rabbits`, `on: rabbits[0]`).
fn group(step: &Value) -> Result<String> {
    let on = text_of(&step["on"]).context("a step without `on`")?;
    Ok(on.split('[').next().unwrap_or(&on).to_string())
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A value with `{{ var }}` replaced by the playbook's variable of that
/// name (one level; other expressions are left as they are).
fn resolve(vars: &Value, v: &Value) -> Option<String> {
    let text = text_of(v)?;
    let name = text
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map(str::trim);
    match name {
        Some(name) if vars[name] != Value::Null => text_of(&vars[name]),
        _ => Some(text),
    }
}

/// `name` of a `{{ secrets.name }}` value.
fn secret_name(v: &Value) -> Result<String> {
    let text = text_of(v).context("no secret")?;
    let name = text
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .and_then(|t| t.trim().strip_prefix("secrets."))
        .with_context(|| format!("{text} is not a secret"))?;
    Ok(name.trim().to_string())
}

/// The port of `scheme://host:port[/...]`.
fn url_port(url: &str) -> Result<u16> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((_, p)) => Ok(p.parse().with_context(|| format!("port of {url}"))?),
        None => bail!("{url} names no port"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rabbit_ha_playbook() {
        let d = Deployment::rabbit_ha().unwrap();
        assert_eq!(d.rabbits_group, "rabbits");
        assert_eq!(d.balancers_group, "balancers");
        assert_eq!(d.rabbit_container, "rabbit");
        assert_eq!(d.haproxy_container, "haproxy");
        assert_eq!(d.haproxy_config, "/opt/haproxy/conf/haproxy.cfg");
        assert_eq!(d.admin_user, "admin");
        assert_eq!(d.management_port, 15672);
        assert_eq!(
            (d.amqp_port, d.stats_port, d.health_port),
            (5670, 8100, 8101)
        );
        assert_eq!(d.stats_user, "stats");
        assert_eq!(d.admin_password_secret, "rabbitmq_admin_password");
        assert_eq!(d.stats_password_secret, "haproxy_stats_password");
        assert_eq!(
            d.secrets_path(Path::new("/s/lab")),
            PathBuf::from("/s/lab/rabbit-ha.secrets.yaml")
        );
        assert_eq!(d.node_name("rabbit2"), "rabbit@rabbit2");
        assert_eq!(d.amqps_port, Some(5673));
        assert_eq!(
            d.ca_path(Path::new("/s/lab")),
            Some(PathBuf::from("/s/lab/rabbit-ha.tls.ca.pem"))
        );
    }

    #[test]
    fn playbook_values_win_over_plugin_defaults() {
        let book = "vars: {user: boss, dir: /srv/lb}
secrets: {file: x}
steps:
  - {plugin: docker-compose, on: mq, with: {compose: {services: {r: {container_name: mq}}}}}
  - {plugin: rabbitmqctl, on: 'mq[0]', with: {management_url: 'http://{{ ansible_host }}:1567',
     admin_user: '{{ user }}', admin_password: '{{ secrets.pw }}'}}
  - {plugin: haproxy, on: lbs, with: {project_dir: '{{ dir }}', stats_port: 9000,
     stats_password: '{{ secrets.st }}'}}
";
        let d = Deployment::from_playbook(book).unwrap();
        assert_eq!(
            (d.rabbits_group.as_str(), d.balancers_group.as_str()),
            ("mq", "lbs")
        );
        assert_eq!(d.admin_user, "boss");
        assert_eq!(d.management_port, 1567);
        assert_eq!((d.stats_port, d.amqp_port), (9000, 5670));
        assert_eq!(d.haproxy_config, "/srv/lb/conf/haproxy.cfg");
        assert_eq!(d.stats_password_secret, "st");
        assert_eq!((d.amqps_port, d.ca_path(Path::new("/x"))), (None, None));
    }
}
