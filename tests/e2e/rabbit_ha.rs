//! End-to-end on the lab: `runner lab up`, then `runner play
//! playbooks/rabbit-ha.yaml` builds the seed's cluster — checked through
//! the virtual IP with real AMQP and HTTP — re-runs change nothing, a
//! changed check interval is previewed exactly and applied without
//! dropping an open AMQP connection, a node removed from the inventory
//! leaves the cluster, a new one in its place joins it; and on RabbitMQ 3.10 the seed itself: its three
//! machines (balancers beside the nodes on rabbit2 and rabbit3) and its
//! ha-all policy.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use crate::support::lab::{LAB, Lab};
use crate::support::*;
use serde_json::Value;

/// All the plugins the playbook uses, from the workspace build.
pub(crate) fn plugins() -> PathBuf {
    let dir = plugin_dir();
    for p in [
        "docker_compose",
        "rabbitmqctl",
        "policy",
        "haproxy",
        "keepalived",
    ] {
        assert!(
            dir.join(format!("runner_plugin_{p}.wasm")).exists(),
            "plugin {p} is not built (./dev build)"
        );
    }
    dir
}

/// GET through the VIP's management port. A run that restarted the nodes
/// ends when the VIP answers `/health` (the AMQP backend); HAProxy routes
/// the management port once its own checks of the nodes rise (2 × 1 s), so
/// its 503 "no server is available" is waited out, up to 30 s.
fn api(lab: &Lab, path: &str) -> Value {
    let get = || {
        http_get(
            &format!("http://{}:15670/api/{path}", lab.vip()),
            "admin",
            &lab.secret("rabbitmq_admin_password"),
        )
    };
    let mut answer = get();
    wait_until(Duration::from_secs(30), || {
        answer = get();
        answer.0 != 503
    });
    let (status, body) = answer;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

pub(crate) fn running_nodes(lab: &Lab) -> Vec<String> {
    let nodes = api(lab, "nodes");
    let mut names: Vec<String> = nodes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["running"] == true)
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Servers in HAProxy's `rabbitmq` backend and their status, per balancer.
pub(crate) fn backends(lab: &Lab, balancer_ip: &str) -> Vec<(String, String)> {
    backend_servers(lab, balancer_ip, "rabbitmq")
}

/// Every balancer in `balancer_ips` lists the three nodes UP, within 30 s:
/// the run ends when the VIP answers (a majority UP), and HAProxy marks the
/// last node UP after its checks rise (2 × 1 s).
pub(crate) fn all_backends_up(lab: &Lab, balancer_ips: &[&str]) {
    let up = |ip: &str| {
        let b = backends(lab, ip);
        b.len() == 3 && b.iter().all(|(_, s)| s == "UP")
    };
    wait_until(Duration::from_secs(30), || {
        balancer_ips.iter().all(|ip| up(ip))
    });
    for ip in balancer_ips {
        let b = backends(lab, ip);
        assert!(up(ip), "{ip}: {b:?}");
    }
}

/// Servers in one of HAProxy's backends and their check status.
pub(crate) fn backend_servers(
    lab: &Lab,
    balancer_ip: &str,
    backend: &str,
) -> Vec<(String, String)> {
    let (status, csv) = http_get(
        &format!("http://{balancer_ip}:8100/;csv"),
        "stats",
        &lab.secret("haproxy_stats_password"),
    );
    assert_eq!(status, 200);
    csv.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f.len() > 17 && f[0] == backend && f[1] != "BACKEND" && f[1] != "FRONTEND")
        .map(|f| (f[1].to_string(), f[17].to_string()))
        .collect()
}

pub(crate) fn vip_holders(lab: &Lab) -> Vec<String> {
    lab.vip_holders(&["lb1", "lb2"])
}

/// The dry-run of a fresh build: every step-host changed, pending (with
/// its reason) or skipped, none failed; `ok` only where nothing would
/// change (step 1: no running node, so no leaver), never for a step that
/// will act; the "changes" exit code; no secrets file written.
fn preview_of_a_fresh_build(lab: &Lab, inv: &std::path::Path) {
    let out = lab.play(
        inv,
        &["--dry-run", "--detailed-exitcode", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(6), "the documented 'changes' code");
    let hosts: Vec<Value> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "host")
        .collect();
    assert!(!hosts.is_empty());
    for h in &hosts {
        let status = h["status"].as_str().unwrap();
        let nothing_to_leave =
            h["step"] == 1 && h["message"].as_str().unwrap().contains("no node to leave");
        assert!(
            ["changed", "pending", "skipped"].contains(&status) || nothing_to_leave,
            "step {} on {}: {status} {}",
            h["step"],
            h["host"],
            h["message"]
        );
        if status == "pending" {
            assert!(
                h["message"].as_str().unwrap().contains("known after apply"),
                "{h}"
            );
        }
    }
    // The policy step asks RabbitMQ, which does not run yet: pending.
    let policy = hosts.iter().find(|h| h["step"] == 6).unwrap();
    assert_eq!(policy["status"], "pending", "{policy}");
    // The join: changed or pending on each joining node, never ok.
    let recap = recap(&out);
    assert!(total(&recap, "pending") >= 3, "{recap}");
    for file in [
        "rabbit-ha.secrets.yaml",
        "rabbit-ha.tls.yaml",
        "rabbit-ha.tls.ca.pem",
    ] {
        assert!(
            !lab.dir().join("lab").join(file).exists(),
            "a preview writes no secrets or certificates: {file}"
        );
    }
    assert!(
        !stdout(&out).contains("BEGIN"),
        "no certificate or key in the preview"
    );
}

fn changed(out: &Output) -> u64 {
    total(&recap(out), "changed")
}

#[test]
fn rabbit_ha_on_rabbitmq_4() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::up("4.0") else { return };
    let inv = lab.inventory();
    let rt = tokio::runtime::Runtime::new().unwrap();

    // Preview the fresh build: honest, and nothing written anywhere.
    preview_of_a_fresh_build(&lab, &inv);

    // Build it from the saved plan, from another working directory.
    let plan = lab.dir().join("fresh.plan.json");
    let out = lab.runner(&[
        "plan",
        root().join("playbooks/rabbit-ha.yaml").to_str().unwrap(),
        "-i",
        inv.to_str().unwrap(),
        "-o",
        plan.to_str().unwrap(),
        "--detailed-exitcode",
    ]);
    assert_eq!(out.status.code(), Some(6), "a fresh plan has changes");
    for file in ["rabbit-ha.secrets.yaml", "rabbit-ha.tls.yaml"] {
        assert!(
            !lab.dir().join("lab").join(file).exists(),
            "a plan writes no secrets or certificates: {file}"
        );
    }
    let elsewhere = scratch();
    let mut apply = runner(elsewhere.path());
    apply
        .env("RUNNER_STATE_DIR", lab.dir().join(".runner"))
        .env("RUNNER_CONFIG_DIR", lab.dir().join("config"))
        .env("RUNNER_LAB_DIR", lab.dir().join("lab"))
        .args(["apply", plan.to_str().unwrap(), "--output", "json"]);
    let first = apply.output().unwrap();
    eprintln!("$ runner apply\n{}{}", stdout(&first), stderr(&first));
    assert_eq!(
        first.status.code(),
        Some(0),
        "the saved plan builds the cluster"
    );
    assert_eq!(total(&recap(&first), "failed"), 0);
    assert!(total(&recap(&first), "changed") > 0);
    no_secret_kept(
        &lab,
        &[&plan, &lab.dir().join(".runner/runs")],
        &stdout(&first),
    );
    let second = lab.play(
        &inv,
        &["--dry-run", "--detailed-exitcode", "--output", "json"],
    );
    assert_eq!(
        second.status.code(),
        Some(0),
        "a converged cluster previews no changes"
    );
    assert_eq!(total(&recap(&second), "changed"), 0);
    assert_eq!(total(&recap(&second), "pending"), 0);

    // One cluster, all three nodes running, quorum by default, no guest,
    // no admin/admin; the management API through VIP:15670.
    assert_eq!(
        running_nodes(&lab),
        ["rabbit@rabbit1", "rabbit@rabbit2", "rabbit@rabbit3"]
    );
    let overview = api(&lab, "overview");
    assert_eq!(overview["cluster_name"], "rabbit-ha");
    let vhost = api(&lab, "vhosts/%2F");
    assert_eq!(vhost["default_queue_type"], "quorum", "{vhost}");
    let vip = lab.vip();
    assert_eq!(
        http_get(
            &format!("http://{vip}:15670/api/overview"),
            "guest",
            "guest"
        )
        .0,
        401
    );
    assert_eq!(
        http_get(
            &format!("http://{vip}:15670/api/overview"),
            "admin",
            "admin"
        )
        .0,
        401
    );
    assert_eq!(
        lab.ssh("rabbit1", "stat -c %a /opt/rabbitmq/erlang.cookie")
            .trim(),
        "400"
    );
    crate::tls::amqps_holds(&lab, &crate::tls::NODES, &["10.213.57.21", "10.213.57.22"]);

    // Every backend UP on both balancers; exactly one VIP holder.
    all_backends_up(&lab, &["10.213.57.21", "10.213.57.22"]);
    assert_eq!(
        vip_holders(&lab).len(),
        1,
        "exactly one balancer holds the VIP"
    );

    // A balancer that crashes and comes back is whole again: keepalived
    // runs on it (the lab host boots its configured services, as a real
    // host does) and, the higher priority, it takes the VIP back.
    assert!(lab.lab(&["kill", "lb1"]).status.success());
    assert!(
        wait_until(Duration::from_secs(30), || vip_holders(&lab) == ["lb2"]),
        "the VIP moved to lb2"
    );
    assert!(lab.lab(&["start", "lb1"]).status.success());
    assert!(
        wait_until(Duration::from_secs(90), || {
            lab.ssh("lb1", "pidof keepalived >/dev/null && echo running")
                .contains("running")
                && vip_holders(&lab) == ["lb1"]
        }),
        "lb1 came back with keepalived and holds the VIP again"
    );

    // Cluster-wide operator commands answer (the CLI's own distribution
    // ports are published), within the command's own timeout.
    for cmd in [
        "docker exec rabbit rabbitmqctl --timeout 30 list_queues",
        "docker exec rabbit rabbitmq-diagnostics --timeout 30 check_port_connectivity",
    ] {
        let out = lab.lab(&["ssh", "rabbit2", "--", &format!("{cmd} && echo ANSWERED")]);
        assert!(
            stdout(&out).contains("ANSWERED"),
            "{cmd}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }

    // The seed's mistakes, fixed in what the plugins rendered (#1, #3, #9, #10).
    let cfg = lab.ssh("lb1", "cat /opt/haproxy/conf/haproxy.cfg");
    for line in [
        "timeout client 10800s",
        "timeout server 10800s",
        "default-server check inter 1000ms fall 2 rise 2 on-marked-down shutdown-sessions",
        "monitor fail if { nbsrv(rabbitmq) lt 2 }",
    ] {
        assert!(cfg.contains(line), "haproxy.cfg lacks `{line}`:\n{cfg}");
    }
    let ka = lab.ssh(
        "lb2",
        "cat /etc/keepalived/keepalived.conf /etc/keepalived/check-haproxy.sh",
    );
    assert!(!ka.contains("killall"), "{ka}");
    assert!(ka.contains("fall 2") && ka.contains("rise 2"), "{ka}");
    assert!(
        ka.contains("weight -30"),
        "more than the priority gap of 10: {ka}"
    );
    assert!(ka.contains("priority 140"), "{ka}");
    assert!(ka.contains("http://127.0.0.1:8101/health"), "{ka}");
    for ip in ["10.213.57.21", "10.213.57.22"] {
        assert_eq!(
            http_get(&format!("http://{ip}:8101/health"), "", "").0,
            200,
            "{ip} health"
        );
    }

    // AMQP through VIP:5670: publish with confirms, consume; quorum queue.
    let url = format!(
        "amqp://admin:{}@{vip}:5670/%2f",
        lab.secret("rabbitmq_admin_password")
    );
    let client = rt
        .block_on(crate::support::amqp::Amqp::connect(&url))
        .expect("AMQP through the VIP");
    rt.block_on(client.declare("e2e")).unwrap();
    for i in 0..20 {
        rt.block_on(client.publish("e2e", format!("m{i}").as_bytes()))
            .unwrap();
    }
    let mut got = 0;
    while rt.block_on(client.get("e2e")).unwrap().is_some() {
        got += 1;
    }
    assert_eq!(got, 20);
    assert_eq!(api(&lab, "queues/%2F/e2e")["type"], "quorum");

    // Converged: the second play changes nothing, a dry-run plans nothing.
    let again = lab.play(&inv, &["--output", "json"]);
    assert_eq!(changed(&again), 0, "second play: 0 changed");
    let dry = lab.play(&inv, &["--dry-run"]);
    assert!(
        !stdout(&dry).contains("→"),
        "nothing to do:\n{}",
        stdout(&dry)
    );

    // One variable changes: the preview shows exactly haproxy.cfg on both
    // balancers, the apply keeps an open AMQP connection, then 0 changed.
    let dry = lab.play(&inv, &["--dry-run", "-e", "check_inter_ms=2000"]);
    let text = stdout(&dry);
    let diffs: Vec<&str> = text.lines().filter(|l| l.contains("+++ ")).collect();
    assert_eq!(diffs.len(), 2, "{text}");
    assert!(
        diffs
            .iter()
            .all(|d| d.contains("/opt/haproxy/conf/haproxy.cfg")),
        "{text}"
    );
    assert!(
        text.contains("-    default-server check inter 1000ms"),
        "{text}"
    );
    assert!(
        text.contains("+    default-server check inter 2000ms"),
        "{text}"
    );
    assert_eq!(
        text.matches("default-server check inter 2000ms").count(),
        6,
        "the amqp, amqps and management sections on two balancers:\n{text}"
    );
    let applied = lab.play(&inv, &["-e", "check_inter_ms=2000", "--output", "json"]);
    assert_eq!(applied.status.code(), Some(0));
    assert_eq!(changed(&applied), 2, "haproxy on lb1 and lb2");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        client.conn.status().connected(),
        "the AMQP connection survived the reload"
    );
    rt.block_on(client.publish("e2e", b"after reload"))
        .expect("the same connection still publishes");
    assert_eq!(
        rt.block_on(client.get("e2e")).unwrap().as_deref(),
        Some(&b"after reload"[..])
    );
    let again = lab.play(&inv, &["-e", "check_inter_ms=2000", "--output", "json"]);
    assert_eq!(changed(&again), 0);

    // After a change keepalived waits until exactly one balancer holds the
    // VIP: with the VIP added by hand on lb2 too (a split brain), the step
    // fails and names both holders; once lb2 lets go, a change passes.
    lab.ssh("lb2", &format!("ip addr add {vip}/32 dev eth0"));
    assert_eq!(vip_holders(&lab).len(), 2, "the split brain is set up");
    let split = lab.play(
        &inv,
        &[
            "-e",
            "vrrp_check_interval=2",
            "-e",
            "vrrp_settle_timeout_s=3",
        ],
    );
    assert_eq!(split.status.code(), Some(2), "{}", stdout(&split));
    assert!(
        stdout(&split).contains("2 of 2 match (lb1, lb2)"),
        "{}",
        stdout(&split)
    );
    lab.ssh("lb2", &format!("ip addr del {vip}/32 dev eth0"));
    let healed = lab.play(&inv, &["-e", "vrrp_check_interval=3"]);
    assert_eq!(healed.status.code(), Some(0), "{}", stdout(&healed));
    assert_eq!(
        stdout(&healed)
            .matches("✓ wait until exactly one of lb1, lb2 holds the VIP")
            .count(),
        2,
        "{}",
        stdout(&healed)
    );
    assert_eq!(vip_holders(&lab).len(), 1);

    // RabbitMQ 4 refuses the seed's ha-all policy, pointing at quorum queues.
    std::fs::write(
        lab.dir().join("ha-all.yaml"),
        "steps:\n  - name: ha-all\n    plugin: policy\n    on: rabbits[0]\n    with:\n      policies:\n        - { name: ha-all, pattern: '.*', definition: { ha-mode: all } }\n",
    )
    .unwrap();
    let mut c = runner(lab.dir());
    c.env("RUNNER_PLUGIN_PATH", plugins()).args([
        "play",
        "ha-all.yaml",
        "-i",
        inv.to_str().unwrap(),
        "--output",
        "json",
    ]);
    let refused = c.output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stdout(&refused).contains("removed in RabbitMQ 4.0"),
        "{}",
        stdout(&refused)
    );
    assert!(stdout(&refused).contains("quorum"), "{}", stdout(&refused));

    // A node removed from the inventory leaves the cluster cleanly.
    let text = std::fs::read_to_string(&inv).unwrap();
    let without: String = {
        let mut out = Vec::new();
        let mut skip = false;
        for line in text.lines() {
            if line.trim_start().starts_with("rabbit3:") {
                skip = true;
                continue;
            }
            if skip && line.starts_with("          ") {
                continue;
            }
            skip = false;
            out.push(line);
        }
        out.join("\n") + "\n"
    };
    assert!(!without.contains("rabbit3"));
    let two = lab.dir().join("lab/two-nodes.yaml");
    std::fs::write(&two, without).unwrap();
    let shrink = lab.play(&two, &["--output", "json"]);
    assert_eq!(shrink.status.code(), Some(0));
    let nodes = api(&lab, "nodes");
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "rabbit3 was forgotten: {names:?}");
    assert!(!names.contains(&"rabbit@rabbit3"));
    assert_eq!(backends(&lab, "10.213.57.21").len(), 2);
    let again = lab.play(&two, &["--output", "json"]);
    assert_eq!(changed(&again), 0);
    drop(client);

    // The secrets file is lost (a fresh clone beside built hosts): new
    // secrets are generated, and the nodes, which keep the admin password
    // of their first boot, are given the new one.
    rebuilt_with_new_secrets(&lab, &two);

    // A new machine in rabbit3's place (no RabbitMQ data) is added back:
    // it joins the running cluster as it boots.
    replaced_node_joins(&lab, &inv);
}

/// rabbit3's RabbitMQ and its data removed, then the whole inventory
/// played: three nodes run in one cluster, and the run after changes
/// nothing.
fn replaced_node_joins(lab: &Lab, inv: &std::path::Path) {
    lab.ssh(
        "rabbit3",
        "cd /opt/rabbitmq && docker compose down --volumes && rm -rf /opt/rabbitmq",
    );
    let grow = lab.play(inv, &["--output", "json"]);
    assert_eq!(grow.status.code(), Some(0), "{}", stdout(&grow));
    assert!(
        wait_until(Duration::from_secs(60), || running_nodes(lab).len() == 3),
        "rabbit3 is back in the cluster: {:?}",
        running_nodes(lab)
    );
    let again = lab.play(inv, &["--output", "json"]);
    assert_eq!(changed(&again), 0, "{}", stdout(&again));
}

/// The build's output, plan and journals hold no secret, in any form the
/// build sent it: not the password of the `Authorization` header the
/// cluster-name request carried (masked whole in the journal), nor that
/// header's base64 token.
fn no_secret_kept(lab: &Lab, paths: &[&std::path::Path], output: &str) {
    let password = lab.secret("rabbitmq_admin_password");
    let (_, header) = runner_types::http::basic_auth("admin", &password);
    let token = header.trim_start_matches("Basic ").to_string();
    let secrets = [
        password,
        lab.secret("erlang_cookie"),
        lab.secret("haproxy_stats_password"),
        token,
    ];
    let mut texts = vec![("output".to_string(), output.to_string())];
    for path in paths {
        let files: Vec<std::path::PathBuf> = if path.is_dir() {
            std::fs::read_dir(path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect()
        } else {
            vec![path.to_path_buf()]
        };
        for f in files {
            texts.push((
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            ));
        }
    }
    for (name, text) in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{name} holds a secret");
        }
    }
    let journals: String = texts.iter().map(|(_, t)| t.as_str()).collect();
    assert!(
        journals.contains(r#""method":"PUT","url":"#)
            && journals.contains(r#"["Authorization","********"]"#),
        "the build sent the cluster name through the API, its credentials masked"
    );
}

/// Hosts built with other secrets: the preview is honest (the policy step
/// pending, nothing failed), the build converges them to the new secrets,
/// and the run after it changes nothing.
fn rebuilt_with_new_secrets(lab: &Lab, inv: &std::path::Path) {
    let old = lab.secret("rabbitmq_admin_password");
    std::fs::remove_file(lab.dir().join("lab/rabbit-ha.secrets.yaml")).unwrap();
    let preview = lab.play(
        inv,
        &["--dry-run", "--detailed-exitcode", "--output", "json"],
    );
    assert_eq!(preview.status.code(), Some(6), "{}", stdout(&preview));
    assert_eq!(total(&recap(&preview), "failed"), 0, "{}", stdout(&preview));
    let build = lab.play(inv, &[]);
    let text = stdout(&build);
    assert_eq!(build.status.code(), Some(0), "{text}{}", stderr(&build));
    assert!(
        text.contains("set the password of the user admin"),
        "{text}"
    );
    assert!(!text.contains(&old), "the old password is never shown");
    let new = lab.secret("rabbitmq_admin_password");
    assert_ne!(new, old);
    assert!(!text.contains(&new), "the new password is never shown");
    let overview = format!("http://{}:15670/api/overview", lab.vip());
    assert!(
        wait_until(Duration::from_secs(30), || {
            http_get(&overview, "admin", &new).0 == 200
        }),
        "the API takes the new password through the VIP"
    );
    let again = lab.play(inv, &["--output", "json"]);
    assert_eq!(changed(&again), 0, "{}", stdout(&again));
}

#[test]
fn rabbit_ha_on_rabbitmq_3_10_the_seeds_own_topology_and_mirroring() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::up_with(&["--topology", "seed", "--rabbitmq", "3.10"]) else {
        return;
    };
    let inv = lab.inventory();
    let first = lab.play(&inv, &["--output", "json"]);
    assert_eq!(first.status.code(), Some(0));
    assert_eq!(running_nodes(&lab).len(), 3);
    assert_eq!(lab.vip_holders(&["rabbit2", "rabbit3"]), ["rabbit2"]);
    all_backends_up(&lab, &["10.213.57.12", "10.213.57.13"]);
    assert!(
        api(&lab, "overview")["rabbitmq_version"]
            .as_str()
            .unwrap()
            .starts_with("3.10")
    );
    let policies = api(&lab, "policies/%2F");
    let ha = policies
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ha-all")
        .expect("ha-all");
    assert_eq!(ha["definition"]["ha-mode"], "all");
    assert_eq!(ha["definition"]["ha-sync-mode"], "automatic");
    crate::tls::amqps_holds(&lab, &crate::tls::NODES, &["10.213.57.12", "10.213.57.13"]);
    crate::tls::renewal_is_previewed(&lab, &inv);
    let again = lab.play(&inv, &["--output", "json"]);
    assert_eq!(changed(&again), 0);
}
