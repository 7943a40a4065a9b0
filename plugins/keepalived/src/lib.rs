//! The `keepalived` plugin: keepalived holding a virtual IP in front of the
//! balancers. Installs the package where missing, renders
//! `keepalived.conf` (instance, VIP, interface, router id, priority from
//! the host's place in `balancers`, unicast peers when given) and a check
//! that asks HAProxy whether enough RabbitMQ backends are up, starts or reloads
//! keepalived, and waits until it runs and exactly one balancer holds the
//! VIP (a wait on every balancer: the `peers` capability). A balancer that
//! leaves MASTER resets the connections to the VIP it still holds, so
//! their clients reconnect to the new holder at once.
//!
//! Fixes to the seed: the VIP lives on the balancers; the check lowers the
//! priority by more than the gap between balancers (`fall`/`rise`), so a
//! recovered HAProxy takes the VIP back — no `killall keepalived`; VRRPv3
//! for sub-second adverts (v3 has no authentication; with v2 an `auth_pass`
//! over 8 characters is refused, keepalived would silently cut it).
//!
//! For the chaos comparison, the seed's settings can be reproduced with
//! parameters: `vrrp_version: 2`, `advert_int: 1`, `base_priority: 101`,
//! `priority_step: 1`, `check_weight: -2`, `check_interval: 2`,
//! `check_fall: 1`, `check_rise: 1` and `check_command: nc -z localhost 8100`
//! (the seed's check: HAProxy's stats port listens, nothing more; its
//! `killall keepalived` is not reproduced).

use runner_plugin_sdk::{
    Action, Capabilities, Guest, Plan, PlanRequest, PluginInfo, actions, ensure_file,
    export_plugin, params, params_schema, probe, probe_ok,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// The keepalived step's parameters; the schema is derived from them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Network interface that carries the VIP.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.@-]+$"))]
    interface: String,
    /// The virtual IPv4 address.
    #[schemars(regex(pattern = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$"))]
    vip: String,
    /// Prefix length of the VIP.
    #[serde(default = "d24")]
    #[schemars(range(min = 1, max = 32))]
    prefix: u8,
    /// VRRP router id, the same on every balancer.
    #[serde(default = "d51")]
    #[schemars(range(min = 1, max = 255))]
    virtual_router_id: u8,
    /// Balancers in order: the first gets the highest priority.
    #[schemars(length(min = 1))]
    balancers: Vec<String>,
    /// Priority of the first balancer.
    #[serde(default = "d150")]
    #[schemars(range(min = 2, max = 254))]
    base_priority: u32,
    /// Priority drop from one balancer to the next.
    #[serde(default = "d10")]
    #[schemars(range(min = 1, max = 100))]
    priority_step: u32,
    /// VRRP version: 3 for sub-second adverts (no authentication), or 2.
    #[serde(default = "d3")]
    #[schemars(extend("enum" = [2, 3]))]
    vrrp_version: u8,
    /// Seconds between adverts (fractions need VRRPv3).
    #[serde(default = "d_advert")]
    #[schemars(range(min = 0.01, max = 255))]
    advert_int: f64,
    /// VRRPv2 only, at most 8 characters; none by default.
    #[schemars(length(min = 1))]
    auth_pass: Option<String>,
    /// Unicast peers' addresses instead of multicast.
    #[serde(default)]
    #[schemars(inner(regex(pattern = r"^[0-9a-fA-F.:]+$")))]
    unicast_peers: Vec<String>,
    /// HAProxy's health URL that the check asks.
    #[serde(default = "d_check")]
    #[schemars(regex(pattern = r"^http://[^\s']+$"))]
    check_url: String,
    /// A shell command that replaces the check of `check_url` (the seed's:
    /// `nc -z localhost 8100`).
    #[schemars(regex(pattern = r"^[^\n]+$"))]
    check_command: Option<String>,
    /// Seconds between checks (fractions allowed: keepalived 2 reads them).
    #[serde(default = "d1f")]
    #[schemars(range(min = 0.1, max = 255))]
    check_interval: f64,
    /// Failed checks before the weight applies.
    #[serde(default = "d2")]
    #[schemars(range(min = 1, max = 255))]
    check_fall: u32,
    /// Good checks before it is lifted.
    #[serde(default = "d2")]
    #[schemars(range(min = 1, max = 255))]
    check_rise: u32,
    /// Priority change while the check fails; default: more than the gap
    /// between the highest and lowest balancer. Must exceed the gap.
    #[schemars(range(min = -253, max = -1))]
    check_weight: Option<i64>,
    /// A URL on the VIP that must answer once the VIP is up (checked from the runner).
    #[schemars(regex(pattern = r"^http://[^\s']+$"))]
    verify_url: Option<String>,
    /// Install the keepalived package where it is missing.
    #[serde(default = "d_install")]
    install: bool,
    /// How long to wait, after a change, until exactly one balancer holds the VIP.
    #[serde(default = "d_settle")]
    #[schemars(range(min = 1, max = 3600))]
    settle_timeout_s: u32,
    /// When this balancer loses the VIP, reset the TCP connections to the
    /// VIP it still has, so their clients reconnect to the new holder at
    /// once instead of hanging until a heartbeat or a timeout notices.
    #[serde(default = "d_true")]
    reset_on_loss: bool,
}

fn d_true() -> bool {
    true
}

fn d24() -> u8 {
    24
}
fn d51() -> u8 {
    51
}
fn d150() -> u32 {
    150
}
fn d10() -> u32 {
    10
}
fn d3() -> u8 {
    3
}
fn d2() -> u32 {
    2
}
fn d1f() -> f64 {
    1.0
}

fn d_advert() -> f64 {
    0.5
}
fn d_check() -> String {
    "http://127.0.0.1:8101/health".into()
}
fn d_install() -> bool {
    true
}
fn d_settle() -> u32 {
    30
}

const CONF: &str = "/etc/keepalived/keepalived.conf";
const CHECK: &str = "/etc/keepalived/check-haproxy.sh";
/// Run by keepalived when this balancer leaves MASTER (BACKUP or FAULT).
const LOST: &str = "/etc/keepalived/lost-vip.sh";
const PID: &str = "/run/keepalived.pid";
const RELOAD: &str = "kill -HUP $(cat /run/keepalived.pid)";
const START: &str =
    "keepalived --pid /run/keepalived.pid --use-file /etc/keepalived/keepalived.conf";
const INSTALL: &str = "DEBIAN_FRONTEND=noninteractive apt-get install -y keepalived";
/// Prints the VIP's address line on the balancer that holds it, nothing elsewhere.
const HOLDS_VIP: &str = "ip -o -4 addr show dev {interface} to {vip}/32";

struct KeepalivedPlugin;

impl Params {
    fn check(&self, host: &str) -> Result<(u32, i64), String> {
        let pos = self
            .balancers
            .iter()
            .position(|b| b == host)
            .ok_or_else(|| {
                format!(
                    "{host} is not in `balancers` ({})",
                    self.balancers.join(", ")
                )
            })?;
        let priority = self
            .base_priority
            .checked_sub(self.priority_step * pos as u32)
            .filter(|p| *p >= 1)
            .ok_or("base_priority is too low for this many balancers")?;
        // The check must move the VIP: its weight exceeds the widest gap.
        let gap = i64::from(self.priority_step) * (self.balancers.len() as i64 - 1);
        let weight = match self.check_weight {
            None => -(gap + i64::from(self.priority_step) + 10),
            Some(w) if w >= 0 || -w <= gap => {
                return Err(format!(
                    "check_weight {w} does not exceed the priority gap {gap} between the balancers: \
                     a balancer whose HAProxy fails would keep the VIP"
                ));
            }
            Some(w) => w,
        };
        if self.vrrp_version == 2 {
            if self.advert_int.fract() != 0.0 {
                return Err("advert_int below one second needs vrrp_version 3".into());
            }
            match &self.auth_pass {
                Some(p) if p.len() > 8 => {
                    return Err(format!(
                        "auth_pass is {} characters: keepalived uses only the first 8 and ignores the rest, \
                         so a longer password only looks stronger. Use at most 8 characters.",
                        p.len()
                    ));
                }
                _ => {}
            }
        } else if self.auth_pass.is_some() {
            return Err(
                "auth_pass with vrrp_version 3: VRRPv3 has no authentication and keepalived ignores it; \
                 drop auth_pass (isolate the VRRP network or use unicast_peers) or use vrrp_version 2"
                    .into(),
            );
        }
        Ok((priority, weight))
    }

    fn render(&self, host: &str, priority: u32, weight: i64) -> String {
        let mut s = format!(
            "# Managed by runner (keepalived plugin) for {host}: edits are undone on the next play.\n\
             global_defs {{\n    vrrp_version {}\n    script_user root\n    enable_script_security\n}}\n\n\
             vrrp_script chk_haproxy {{\n    script \"{CHECK}\"\n    interval {}\n    timeout 2\n\
             \x20   fall {}\n    rise {}\n    # More than the gap between balancers: a failing HAProxy hands the VIP on,\n\
             \x20   # a recovered one takes it back.\n    weight {weight}\n}}\n\n\
             vrrp_instance VI_RABBITMQ {{\n    state BACKUP\n    interface {}\n    virtual_router_id {}\n\
             \x20   priority {priority}\n    advert_int {}\n",
            self.vrrp_version,
            self.check_interval,
            self.check_fall,
            self.check_rise,
            self.interface,
            self.virtual_router_id,
            self.advert_int
        );
        if let Some(p) = &self.auth_pass {
            s.push_str(&format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}\n"
            ));
        }
        if !self.unicast_peers.is_empty() {
            s.push_str("    unicast_peer {\n");
            for peer in &self.unicast_peers {
                s.push_str(&format!("        {peer}\n"));
            }
            s.push_str("    }\n");
        }
        if self.reset_on_loss {
            s.push_str(&format!(
                "    # Leaving MASTER: reset the connections to the VIP still held here.\n\
                 \x20   notify_backup \"{LOST}\"\n    notify_fault \"{LOST}\"\n"
            ));
        }
        s.push_str(&format!(
            "    virtual_ipaddress {{\n        {}/{} dev {}\n    }}\n    track_script {{\n        chk_haproxy\n    }}\n}}\n",
            self.vip, self.prefix, self.interface
        ));
        s
    }
}

/// Resets (RST) every established TCP connection whose local address is
/// the VIP: the clients of a balancer that lost it would otherwise wait on
/// a connection nobody answers any more (its replies now reach the new
/// holder, which knows nothing of it) until their heartbeat gives up.
fn lost_vip_script(p: &Params) -> String {
    format!(
        "#!/bin/sh\n# Managed by runner: this balancer no longer holds the VIP {vip}.\n\
         exec ss -K -tn state established src {vip}\n",
        vip = p.vip
    )
}

fn check_script(p: &Params) -> String {
    match &p.check_command {
        Some(cmd) => {
            format!("#!/bin/sh\n# Managed by runner: the check_command parameter.\n{cmd}\n")
        }
        None => format!(
            "#!/bin/sh\n# Managed by runner: succeeds while HAProxy reports enough RabbitMQ backends up.\n\
             exec curl -fsS -m 1 -o /dev/null '{}'\n",
            p.check_url
        ),
    }
}

impl Guest for KeepalivedPlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "keepalived".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "keepalived holding a virtual IP on the balancers, tracking HAProxy's health."
                .into(),
            params_schema: params_schema::<Params>(),
            secret_params: vec!["auth_pass".into()],
            capabilities: Capabilities {
                probes: vec![
                    "command -v keepalived".into(),
                    format!("cat {PID}"),
                    "pidof keepalived".into(),
                    format!("stat -c %a {CONF}"),
                    format!("stat -c %a {CHECK}"),
                    format!("stat -c %a {LOST}"),
                    HOLDS_VIP.into(),
                ],
                reads: vec![CONF.into(), CHECK.into(), LOST.into()],
                writes: vec![CONF.into(), CHECK.into(), LOST.into()],
                runs: vec![
                    INSTALL.into(),
                    START.into(),
                    RELOAD.into(),
                    "keepalived -t -f {}".into(),
                ],
                http: vec!["{verify_url}".into()],
                peers: vec!["{balancers}".into()],
                local_reads: vec![],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        let (priority, weight) = p.check(&request.host)?;
        let mut out: Vec<Action> = Vec::new();
        let installed = probe("command -v keepalived")?.exit_code == 0;
        if !installed {
            if !p.install {
                return Err("keepalived is not installed and install is false".into());
            }
            out.push(actions::described(
                actions::run_with(INSTALL, &[], 600_000),
                "install keepalived",
            ));
        }
        let mut changed = false;
        if let Some(a) = ensure_file(CHECK, check_script(&p).as_bytes(), 0o755)? {
            out.push(a);
            changed = true;
        }
        if p.reset_on_loss
            && let Some(a) = ensure_file(LOST, lost_vip_script(&p).as_bytes(), 0o755)?
        {
            out.push(a);
            changed = true;
        }
        if let Some(mut a) = ensure_file(
            CONF,
            p.render(&request.host, priority, weight).as_bytes(),
            0o644,
        )? {
            if installed && let runner_plugin_sdk::ActionKind::WriteFile(w) = &mut a.kind {
                w.validate = Some("keepalived -t -f {}".into());
            }
            out.push(a);
            changed = true;
        }
        let running =
            probe_ok("pidof keepalived")?.is_some() && probe_ok(&format!("cat {PID}"))?.is_some();
        if !running {
            out.push(actions::described(
                actions::run(START),
                format!("start keepalived (priority {priority})"),
            ));
        } else if changed {
            out.push(actions::described(
                actions::run(RELOAD),
                "reload keepalived",
            ));
        }
        // Converged here, but is the VIP answering? (Checked from the runner.)
        let vip_down = match (&p.verify_url, out.is_empty()) {
            (Some(url), true) => runner_plugin_sdk::http_get(url, &[])
                .map(|r| !(200..300).contains(&r.status))
                .unwrap_or(true),
            _ => false,
        };
        if !out.is_empty() || vip_down {
            out.push(actions::described(
                actions::wait_command("pidof keepalived", None, 30_000),
                "wait until keepalived runs",
            ));
            let holds_vip = HOLDS_VIP
                .replace("{interface}", &p.interface)
                .replace("{vip}", &p.vip);
            out.push(actions::described(
                actions::wait_hosts(
                    &p.balancers,
                    &holds_vip,
                    Some(" inet "),
                    1,
                    p.settle_timeout_s.saturating_mul(1000),
                ),
                format!(
                    "wait until exactly one of {} holds the VIP {}",
                    p.balancers.join(", "),
                    p.vip
                ),
            ));
            if let Some(url) = &p.verify_url {
                out.push(runner_plugin_sdk::Action {
                    summary: format!("wait until {url} answers through the VIP"),
                    kind: runner_plugin_sdk::ActionKind::Wait(runner_plugin_sdk::WaitUntil {
                        probe: runner_plugin_sdk::Probe::HttpGet(url.clone()),
                        contains: None,
                        timeout_ms: 60_000,
                        interval_ms: 500,
                    }),
                });
            }
        }
        Ok(Plan::done(out))
    }
}

export_plugin!(KeepalivedPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(extra: serde_json::Value) -> Params {
        let mut p = json!({"interface": "eth0", "vip": "10.0.0.100", "balancers": ["lb1", "lb2"]});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(p).unwrap()
    }

    #[test]
    fn priorities_fall_by_step_and_the_check_weight_exceeds_the_gap() {
        let p = params(json!({}));
        assert_eq!(p.check("lb1").unwrap(), (150, -30));
        assert_eq!(p.check("lb2").unwrap(), (140, -30));
        let err = p.check("lb3").unwrap_err();
        assert_eq!(err, "lb3 is not in `balancers` (lb1, lb2)");
    }

    #[test]
    fn a_weight_within_the_gap_is_refused() {
        let err = params(json!({"check_weight": -10}))
            .check("lb1")
            .unwrap_err();
        assert!(err.contains("does not exceed the priority gap 10"), "{err}");
        assert_eq!(
            params(json!({"check_weight": -11})).check("lb2").unwrap(),
            (140, -11)
        );
    }

    #[test]
    fn authentication_rules_follow_the_vrrp_version() {
        let err = params(json!({"auth_pass": "secret"}))
            .check("lb1")
            .unwrap_err();
        assert!(err.contains("VRRPv3 has no authentication"), "{err}");
        let v2 = json!({"vrrp_version": 2, "advert_int": 1.0, "auth_pass": "longerthan8"});
        let err = params(v2).check("lb1").unwrap_err();
        assert!(err.contains("auth_pass is 11 characters"), "{err}");
        let err = params(json!({"vrrp_version": 2})).check("lb1").unwrap_err();
        assert_eq!(err, "advert_int below one second needs vrrp_version 3");
        assert!(
            params(json!({"vrrp_version": 2, "advert_int": 1.0, "auth_pass": "pw"}))
                .check("lb1")
                .is_ok()
        );
    }

    #[test]
    fn too_many_balancers_for_the_base_priority_are_refused() {
        let p = params(json!({"balancers": ["a", "b", "c"], "base_priority": 20}));
        assert_eq!(
            p.check("c").unwrap_err(),
            "base_priority is too low for this many balancers"
        );
    }

    #[test]
    fn the_config_holds_the_instance_the_check_and_the_peers() {
        let p = params(
            json!({"unicast_peers": ["10.0.0.2"], "vrrp_version": 2, "advert_int": 1.0, "auth_pass": "pw"}),
        );
        let conf = p.render("lb2", 140, -30);
        for line in [
            "    vrrp_version 2\n",
            "    interval 1\n",
            "    weight -30\n",
            "    interface eth0\n",
            "    virtual_router_id 51\n",
            "    priority 140\n",
            "    advert_int 1\n",
            "        auth_pass pw\n",
            "    unicast_peer {\n        10.0.0.2\n    }\n",
            "    notify_backup \"/etc/keepalived/lost-vip.sh\"\n",
            "        10.0.0.100/24 dev eth0\n",
        ] {
            assert!(conf.contains(line), "{line:?} not in\n{conf}");
        }
        let quiet = params(json!({"reset_on_loss": false})).render("lb1", 150, -30);
        assert!(
            !quiet.contains("notify_backup") && !quiet.contains("authentication"),
            "{quiet}"
        );
        assert!(quiet.contains("advert_int 0.5\n"), "{quiet}");
    }

    #[test]
    fn the_check_script_asks_the_health_url_or_runs_the_given_command() {
        assert!(
            check_script(&params(json!({})))
                .contains("curl -fsS -m 1 -o /dev/null 'http://127.0.0.1:8101/health'")
        );
        assert!(
            check_script(&params(json!({"check_command": "nc -z localhost 8100"})))
                .ends_with("\nnc -z localhost 8100\n")
        );
        assert!(
            lost_vip_script(&params(json!({})))
                .contains("ss -K -tn state established src 10.0.0.100")
        );
    }
}
