//! The haproxy plugin's parameters and the configuration it renders.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The haproxy step's parameters; the schema is derived from them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Absolute directory of the compose project.
    #[serde(default = "default_dir")]
    #[schemars(regex(pattern = r"^/[^*?\[\]]+$"))]
    pub project_dir: String,
    /// Compose project name.
    #[serde(default = "default_project")]
    #[schemars(regex(pattern = "^[a-z0-9][a-z0-9_-]*$"))]
    pub project: String,
    /// HAProxy image.
    #[schemars(regex(pattern = "^[A-Za-z0-9._/:@-]+$"))]
    pub image: String,
    /// The RabbitMQ nodes.
    #[schemars(length(min = 1))]
    pub backends: Vec<BackendParam>,
    /// AMQP port clients dial.
    #[serde(default = "d5670")]
    #[schemars(range(min = 1))]
    pub amqp_port: u16,
    /// AMQPS port clients dial (with `tls`).
    #[serde(default = "d5673")]
    #[schemars(range(min = 1))]
    pub amqps_port: u16,
    /// Management UI and API port.
    #[serde(default = "d15670")]
    #[schemars(range(min = 1))]
    pub management_port: u16,
    /// HAProxy's stats page port (behind credentials).
    #[serde(default = "d8100")]
    #[schemars(range(min = 1))]
    pub stats_port: u16,
    /// Port of `/health`.
    #[serde(default = "d8101")]
    #[schemars(range(min = 1))]
    pub health_port: u16,
    /// RabbitMQ backends that must be UP for `/health` to answer 200;
    /// default: a majority of them.
    #[schemars(range(min = 1))]
    pub health_min_up: Option<usize>,
    /// User of the stats page.
    #[serde(default = "default_stats_user")]
    #[schemars(regex(pattern = "^[A-Za-z0-9_.-]+$"))]
    pub stats_user: String,
    /// Password of the stats page.
    #[schemars(length(min = 8), regex(pattern = r"^[^\s:]+$"))]
    pub stats_password: String,
    /// AMQPS on `amqps_port`: HAProxy ends the clients' TLS with `cert`
    /// and opens TLS to each node's `amqps_port`, verified against `ca`.
    pub tls: Option<Tls>,
    /// Health checks of the backends.
    #[serde(default)]
    pub check: Check,
    /// Idle timeout of client and server sides, seconds; must exceed
    /// twice the 60 s AMQP heartbeat.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1))]
    pub timeout_s: u32,
    /// Accept a `timeout_s` at or under twice AMQP's heartbeat, which cuts
    /// idle AMQP connections. Only for reproducing the seed's 5 s (the chaos
    /// comparison); never for a real cluster.
    #[serde(default)]
    pub allow_short_timeouts: bool,
    /// `on-marked-down shutdown-sessions`: when a node is marked down, its
    /// clients are cut at once and reconnect elsewhere (the seed has it
    /// off, so clients stay pinned to a dead node).
    #[serde(default = "default_true")]
    pub shutdown_sessions: bool,
    /// How long HAProxy waits for a backend to accept a connection before
    /// it retries on another node (`option redispatch 1`). The seed's 5 s
    /// held a reconnecting client on a crashed node for 5 s.
    #[serde(default = "default_connect_timeout_ms")]
    #[schemars(range(min = 100))]
    pub connect_timeout_ms: u32,
    /// Connections at most. HAProxy needs about two file descriptors each.
    #[serde(default = "default_maxconn")]
    #[schemars(range(min = 1))]
    pub maxconn: u32,
}

/// A backend as an object, or as `name:address` text.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BackendParam {
    /// `name:address`.
    Text(#[schemars(regex(pattern = "^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$"))] String),
    Full(Backend),
}

impl BackendParam {
    pub fn backend(&self) -> Result<Backend, String> {
        match self {
            BackendParam::Full(b) => Ok(b.clone()),
            BackendParam::Text(t) => {
                let (name, address) = t
                    .split_once(':')
                    .ok_or_else(|| format!("backend '{t}': expected name:address"))?;
                Ok(Backend {
                    name: name.into(),
                    address: address.into(),
                    amqp_port: 5672,
                    amqps_port: 5671,
                    management_port: 15672,
                })
            }
        }
    }
}

/// A RabbitMQ node behind the balancer.
#[derive(Deserialize, JsonSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    #[schemars(regex(pattern = "^[A-Za-z0-9_.-]+$"))]
    pub name: String,
    #[schemars(regex(pattern = "^[A-Za-z0-9_.:-]+$"))]
    pub address: String,
    #[serde(default = "d5672")]
    #[schemars(range(min = 1))]
    pub amqp_port: u16,
    /// The node's AMQPS port (with `tls`).
    #[serde(default = "d5671")]
    #[schemars(range(min = 1))]
    pub amqps_port: u16,
    #[serde(default = "d15672")]
    #[schemars(range(min = 1))]
    pub management_port: u16,
}

/// The balancer's certificate (for the names clients dial: the VIP), its
/// key, and the CA the nodes' certificates are checked against (PEM).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    #[schemars(regex(pattern = "BEGIN CERTIFICATE"))]
    pub cert: String,
    #[schemars(regex(pattern = "BEGIN (EC |RSA )?PRIVATE KEY"))]
    pub key: String,
    #[schemars(regex(pattern = "BEGIN CERTIFICATE"))]
    pub ca: String,
}

/// HAProxy's checks of each backend.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Milliseconds between checks.
    #[serde(default = "d1000")]
    #[schemars(range(min = 100))]
    pub inter_ms: u32,
    /// Failed checks before a backend is down.
    #[serde(default = "d2")]
    #[schemars(range(min = 1))]
    pub fall: u32,
    /// Good checks before it is up again.
    #[serde(default = "d2")]
    #[schemars(range(min = 1))]
    pub rise: u32,
}

impl Default for Check {
    fn default() -> Self {
        Check {
            inter_ms: 1000,
            fall: 2,
            rise: 2,
        }
    }
}

fn default_dir() -> String {
    "/opt/haproxy".into()
}
fn default_project() -> String {
    "haproxy".into()
}
fn default_stats_user() -> String {
    "stats".into()
}
fn default_timeout() -> u32 {
    3 * 3600
}
fn default_true() -> bool {
    true
}
fn default_connect_timeout_ms() -> u32 {
    1000
}
fn default_maxconn() -> u32 {
    8000
}
fn d5670() -> u16 {
    5670
}
fn d5673() -> u16 {
    5673
}
fn d15670() -> u16 {
    15670
}
fn d8100() -> u16 {
    8100
}
fn d8101() -> u16 {
    8101
}
fn d5672() -> u16 {
    5672
}
fn d5671() -> u16 {
    5671
}
fn d15672() -> u16 {
    15672
}
fn d1000() -> u32 {
    1000
}
fn d2() -> u32 {
    2
}

/// Where the container sees `conf/tls`.
pub const TLS_DIR: &str = "/usr/local/etc/haproxy/tls";

/// RabbitMQ's default heartbeat: an idle AMQP connection sends a frame
/// this often, so the proxy's idle timeout must be longer.
const AMQP_HEARTBEAT_S: u32 = 60;

impl Params {
    pub fn backends(&self) -> Result<Vec<Backend>, String> {
        self.backends.iter().map(BackendParam::backend).collect()
    }

    pub fn check(&self) -> Result<(), String> {
        if self.timeout_s <= 2 * AMQP_HEARTBEAT_S && !self.allow_short_timeouts {
            return Err(format!(
                "timeout_s {} would cut idle AMQP connections: RabbitMQ's heartbeat is {AMQP_HEARTBEAT_S} s, \
                 so the proxy's client/server timeouts must be well above it (more than {} s; default 3 h; \
                 `allow_short_timeouts: true` accepts it, only to reproduce the seed for comparison)",
                self.timeout_s,
                2 * AMQP_HEARTBEAT_S
            ));
        }
        Ok(())
    }

    pub fn compose_file(&self) -> Result<String, String> {
        let compose = serde_json::json!({
            "services": {
                "haproxy": {
                    "image": self.image,
                    "container_name": "haproxy",
                    "restart": "always",
                    // Host networking: HAProxy binds *:5670 on the balancer
                    // itself, the virtual IP included, with no proxy hop.
                    "network_mode": "host",
                    "volumes": ["./conf:/usr/local/etc/haproxy:ro"],
                    // The official image runs as `haproxy`: the root group
                    // lets it read the key (0640), which no one else can.
                    "group_add": ["0"],
                }
            }
        });
        Ok(format!(
            "# Managed by runner (haproxy plugin).\n{}",
            serde_yaml_ng::to_string(&compose).map_err(|e| e.to_string())?
        ))
    }

    /// AMQPS: TLS ends here and is opened again to each node, whose
    /// certificate must be the CA's and carry the node's name; the checks
    /// go over TLS too.
    fn render_amqps(&self, backends: &[Backend], on_down: &str) -> String {
        let c = &self.check;
        let mut s = format!(
            "\nfrontend amqps\n    bind *:{} ssl crt {TLS_DIR}/balancer.pem\n    default_backend rabbitmq_tls\n\n\
             backend rabbitmq_tls\n    balance leastconn\n    option tcpka\n\
             \x20   # TLS again to the nodes, each checked against the CA and its name.\n\
             \x20   default-server check inter {}ms fall {} rise {}{on_down} ssl verify required ca-file {TLS_DIR}/ca.pem\n",
            self.amqps_port, c.inter_ms, c.fall, c.rise
        );
        for b in backends {
            s.push_str(&format!(
                "    server {} {}:{} verifyhost {}\n",
                b.name, b.address, b.amqps_port, b.name
            ));
        }
        s
    }

    pub fn render(&self) -> Result<String, String> {
        let backends = self.backends()?;
        let c = &self.check;
        let t = self.timeout_s;
        let maxconn = self.maxconn;
        let connect_ms = self.connect_timeout_ms;
        let timeout_note = if t > 2 * AMQP_HEARTBEAT_S {
            format!("Longer than AMQP's {AMQP_HEARTBEAT_S} s heartbeat, so idle connections live.")
        } else {
            format!(
                "allow_short_timeouts: under AMQP's {AMQP_HEARTBEAT_S} s heartbeat, idle connections are cut."
            )
        };
        let mut s = String::new();
        s.push_str(&format!(
            "# Managed by runner (haproxy plugin): edits are undone on the next play.\n\
             global\n    maxconn {maxconn}\n    log stdout format raw local0 info\n\n\
             defaults\n    log global\n    mode tcp\n    option tcplog\n    option dontlognull\n\
             \x20   # A connection a node does not accept within {connect_ms} ms is retried on\n\
             \x20   # another node (a crashed host never refuses: it just does not answer).\n\
             \x20   retries 3\n    option redispatch 1\n    timeout connect {connect_ms}ms\n    timeout check 2s\n\
             \x20   # {timeout_note}\n\
             \x20   timeout client {t}s\n    timeout server {t}s\n\n"
        ));
        s.push_str(&format!(
            "frontend amqp\n    bind *:{}\n    default_backend rabbitmq\n\n",
            self.amqp_port
        ));
        let (note, on_down) = if self.shutdown_sessions {
            (
                "Fast checks; on a node's death its clients are cut at once and reconnect.",
                " on-marked-down shutdown-sessions",
            )
        } else {
            (
                "No shutdown-sessions: a down node's clients stay until their connection breaks.",
                "",
            )
        };
        s.push_str(&format!(
            "backend rabbitmq\n    balance leastconn\n    option tcpka\n\
             \x20   # {note}\n\
             \x20   default-server check inter {}ms fall {} rise {}{on_down}\n",
            c.inter_ms, c.fall, c.rise
        ));
        for b in &backends {
            s.push_str(&format!(
                "    server {} {}:{}\n",
                b.name, b.address, b.amqp_port
            ));
        }
        if self.tls.is_some() {
            s.push_str(&self.render_amqps(&backends, on_down));
        }
        s.push_str(&format!(
            "\nlisten management\n    mode http\n    bind *:{}\n    balance roundrobin\n\
             \x20   timeout client 60s\n    timeout server 60s\n    option httpchk GET /\n\
             \x20   default-server check inter {}ms fall {} rise {}\n",
            self.management_port, c.inter_ms, c.fall, c.rise
        ));
        for b in &backends {
            s.push_str(&format!(
                "    server {} {}:{}\n",
                b.name, b.address, b.management_port
            ));
        }
        s.push_str(&format!(
            "\nlisten stats\n    mode http\n    bind *:{}\n    timeout client 60s\n    timeout server 60s\n\
             \x20   stats enable\n    stats uri /\n    stats realm HAProxy\\ Statistics\n\
             \x20   stats auth {}:{}\n",
            self.stats_port, self.stats_user, self.stats_password
        ));
        // A balancer that sees only a minority of the nodes (cut off from
        // the others, or just back from such a cut) is not where the VIP
        // should send clients: that minority is what pause_minority pauses.
        let min_up = self.health_min_up.unwrap_or(backends.len() / 2 + 1);
        s.push_str(&format!(
            "\n# 200 while at least {min_up} RabbitMQ backend(s) are up, 503 otherwise:\n\
             # what keepalived's check asks.\n\
             frontend health\n    mode http\n    bind *:{}\n    timeout client 10s\n\
             \x20   monitor-uri /health\n    monitor fail if {{ nbsrv(rabbitmq) lt {min_up} }}\n",
            self.health_port
        ));
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(extra: serde_json::Value) -> Params {
        let mut p = json!({
            "image": "haproxy:3.0",
            "backends": ["rabbit1:10.0.0.11", {"name": "rabbit2", "address": "10.0.0.12", "amqp_port": 5682}],
            "stats_password": "s3cretpass"
        });
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(p).unwrap()
    }

    #[test]
    fn the_config_has_every_backend_the_timeouts_and_a_majority_health_check() {
        let conf = params(json!({})).render().unwrap();
        assert!(conf.contains("frontend amqp\n    bind *:5670\n"), "{conf}");
        assert!(
            conf.contains("    server rabbit1 10.0.0.11:5672\n"),
            "{conf}"
        );
        assert!(
            conf.contains("    server rabbit2 10.0.0.12:5682\n"),
            "{conf}"
        );
        assert!(
            conf.contains("    server rabbit2 10.0.0.12:15672\n"),
            "{conf}"
        );
        assert!(
            conf.contains("timeout client 10800s\n    timeout server 10800s"),
            "{conf}"
        );
        assert!(conf.contains("on-marked-down shutdown-sessions"), "{conf}");
        assert!(conf.contains("stats auth stats:s3cretpass"), "{conf}");
        assert!(
            conf.contains("monitor fail if { nbsrv(rabbitmq) lt 2 }"),
            "{conf}"
        );
        assert!(!conf.contains("frontend amqps"), "no TLS unless asked");
    }

    #[test]
    fn tls_adds_an_amqps_frontend_verifying_each_node() {
        let pem = "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----";
        let conf = params(
            json!({"tls": {"cert": pem, "key": pem, "ca": pem}, "shutdown_sessions": false}),
        )
        .render()
        .unwrap();
        assert!(
            conf.contains("frontend amqps\n    bind *:5673 ssl crt"),
            "{conf}"
        );
        assert!(
            conf.contains("server rabbit1 10.0.0.11:5671 verifyhost rabbit1"),
            "{conf}"
        );
        assert!(!conf.contains("on-marked-down"), "{conf}");
    }

    #[test]
    fn timeouts_under_the_amqp_heartbeat_are_refused_unless_allowed() {
        let err = params(json!({"timeout_s": 5})).check().unwrap_err();
        assert!(
            err.contains("timeout_s 5 would cut idle AMQP connections"),
            "{err}"
        );
        assert!(
            params(json!({"timeout_s": 5, "allow_short_timeouts": true}))
                .check()
                .is_ok()
        );
        assert!(params(json!({"timeout_s": 121})).check().is_ok());
    }

    #[test]
    fn a_text_backend_needs_name_and_address() {
        let err = params(json!({"backends": ["rabbit1"]}))
            .backends()
            .err()
            .expect("refused");
        assert_eq!(err, "backend 'rabbit1': expected name:address");
    }
}
