//! End-to-end on the seed how-to's own topology (`runner lab up --topology
//! seed`): three hosts, a RabbitMQ node on each, HAProxy and keepalived
//! beside the node on rabbit2 and rabbit3. The playbook builds it as it
//! is: one cluster, every backend UP on both balancers, one VIP holder
//! (rabbit2, the higher priority), AMQP and the management API through the
//! VIP (AMQPS too), a re-run that changes nothing; then a crash of the
//! host that holds both a node and the VIP loses no confirmed message of
//! clients on AMQPS, and the cluster is whole again once that host is back;
//! last, the management API over HTTPS when asked.

use std::path::PathBuf;
use std::time::Duration;

use crate::rabbit_ha::{all_backends_up, running_nodes};
use crate::support::browser::{Browser, screenshot, wait_for_content};
use crate::support::lab::{LAB, Lab};
use crate::support::*;
use serde_json::Value;

const BALANCERS: [&str; 2] = ["rabbit2", "rabbit3"];

#[test]
fn the_seed_topology_builds_and_loses_nothing_when_its_vip_holder_crashes() {
    let _one = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lab) = Lab::up_with(&["--topology", "seed", "--rabbitmq", "4.0"]) else {
        return;
    };
    let inv = lab.inventory();
    let built = lab.play(&inv, &["--output", "json"]);
    assert_eq!(built.status.code(), Some(0), "the seed's three hosts build");
    assert_eq!(
        running_nodes(&lab),
        ["rabbit@rabbit1", "rabbit@rabbit2", "rabbit@rabbit3"]
    );
    all_backends_up(&lab, &["10.213.57.12", "10.213.57.13"]);
    assert_eq!(lab.vip_holders(&BALANCERS), ["rabbit2"]);
    amqp_round_trip(&lab);
    crate::tls::amqps_holds(&lab, &crate::tls::NODES, &["10.213.57.12", "10.213.57.13"]);
    result_pages_in_a_browser(&lab);
    let again = lab.play(&inv, &["--output", "json"]);
    assert_eq!(
        total(&recap(&again), "changed"),
        0,
        "a re-run changes nothing"
    );

    // The interesting case of this topology: the host that holds the VIP
    // also runs a RabbitMQ node, and it crashes.
    let report_dir: PathBuf = lab.dir().join("chaos");
    let out = lab.runner(&[
        "lab",
        "chaos",
        "--scenario",
        "crash-balancer",
        "--report",
        report_dir.to_str().unwrap(),
        "--duration",
        "8s",
        "--warmup",
        "3s",
        "--settle",
        "3s",
        "--rate",
        "100",
        // Over TLS: HAProxy's 5673 on the VIP, trusting only the cluster's CA.
        "--tls",
    ]);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 1);
    let crash = &scenarios[0];
    assert_eq!(crash["target"], "rabbit2", "the VIP holder crashed");
    crate::chaos::assert_lossless_and_whole(crash);
    assert!(crash["vip_moved_s"].as_f64().is_some(), "the VIP moved");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let status = lab.lab(&["status"]);
    assert!(
        stdout(&status).contains("cluster: whole"),
        "{}",
        stdout(&status)
    );
    management_over_https(&lab, &inv);
}

/// Asked for (`management_https=true`), each node's management API answers
/// on HTTPS 15671 with its certificate: to a client trusting the CA, not
/// to one that does not; the next play changes nothing.
fn management_over_https(lab: &Lab, inv: &std::path::Path) {
    let https = ["-e", "management_https=true", "--output", "json"];
    let out = lab.play(inv, &https);
    assert_eq!(out.status.code(), Some(0), "management over HTTPS");
    let ca = crate::tls::ca_pem(lab);
    let password = lab.secret("rabbitmq_admin_password");
    for (name, ip) in crate::tls::NODES {
        let url = format!("https://{ip}:15671/api/overview");
        let mut answer = Err(String::new());
        wait_until(Duration::from_secs(60), || {
            answer = https_get_trusting(&url, Some(&ca), "admin", &password);
            answer.as_ref().is_ok_and(|(status, _)| *status == 200)
        });
        let (status, body) = answer.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(status, 200, "{name}: {body}");
        let refused = https_get_trusting(&url, None, "admin", &password);
        assert!(
            refused.is_err(),
            "{name}: a client without the CA is refused"
        );
    }
    let again = lab.play(inv, &https);
    assert_eq!(total(&recap(&again), "changed"), 0);
}

/// The how-to's last look, as a person takes it: HAProxy's stats page and
/// RabbitMQ's management UI through the VIP, in headless Chromium, logged
/// in with the generated credentials (the UI through its login form).
/// Screenshots go to target/e2e-artifacts/seed/.
fn result_pages_in_a_browser(lab: &Lab) {
    let vip = lab.vip();
    let browser = Browser::launch(&[&vip]).expect("headless Chromium");
    let artifacts = root().join("target/e2e-artifacts/seed");
    let stats_password = lab.secret("haproxy_stats_password");
    let stats = browser
        .open(
            &format!("http://{vip}:8100/"),
            Some(("stats", &stats_password)),
        )
        .expect("the stats page through the VIP");
    let servers: Vec<String> = (1..=3).map(|n| format!("rabbitmq/rabbit{n}")).collect();
    let html = wait_for_content(&stats, Duration::from_secs(30), |h| {
        servers.iter().all(|s| h.contains(s.as_str()))
    })
    .expect("the stats page lists the three RabbitMQ servers");
    for server in &servers {
        assert_eq!(
            server_row_class(&html, server),
            Some("active_up"),
            "{server} is UP on the stats page"
        );
    }
    let shot = screenshot(&stats, &artifacts, "haproxy-stats").unwrap();
    eprintln!("screenshot: {}", shot.display());

    let ui = browser
        .open(&format!("http://{vip}:15670/"), None)
        .expect("the management UI through the VIP");
    let password = lab.secret("rabbitmq_admin_password");
    ui.wait_for_element("input[name=username]")
        .and_then(|e| e.click().map(drop))
        .expect("the login form");
    ui.type_str("admin").unwrap();
    ui.find_element("input[name=password]")
        .and_then(|e| e.click().map(drop))
        .unwrap();
    ui.type_str(&password).unwrap();
    ui.press_key("Enter").unwrap();
    let nodes = ["rabbit@rabbit1", "rabbit@rabbit2", "rabbit@rabbit3"];
    let html = wait_for_content(&ui, Duration::from_secs(60), |h| {
        nodes.iter().all(|n| h.contains(n)) || h.contains("Login failed")
    })
    .expect("the overview shows the three nodes");
    assert!(
        !html.contains("Login failed"),
        "the generated password logs in"
    );
    assert!(
        !html.contains("Node not running"),
        "every node runs on the overview"
    );
    let shot = screenshot(&ui, &artifacts, "rabbitmq-overview").unwrap();
    eprintln!("screenshot: {}", shot.display());
}

/// The class of the stats page's row for `server` (`backend/server`):
/// `active_up` when HAProxy shows it UP.
fn server_row_class<'a>(html: &'a str, server: &str) -> Option<&'a str> {
    let at = html.find(&format!("name=\"{server}\""))?;
    let start = html[..at].rfind("<tr class=\"")? + "<tr class=\"".len();
    let len = html[start..].find('"')?;
    Some(&html[start..start + len])
}

/// Publish with confirms and consume back through the VIP's AMQP port,
/// and read the management API through the VIP.
fn amqp_round_trip(lab: &Lab) {
    let vip = lab.vip();
    let password = lab.secret("rabbitmq_admin_password");
    let (status, _) = http_get(
        &format!("http://{vip}:15670/api/overview"),
        "admin",
        &password,
    );
    assert_eq!(status, 200, "the management API through the VIP");
    let url = format!("amqp://admin:{password}@{vip}:5670/%2f");
    block_on(async {
        let client = crate::support::amqp::Amqp::connect(&url)
            .await
            .expect("AMQP through the VIP");
        client.declare("seed").await.unwrap();
        for i in 0..10 {
            client
                .publish("seed", format!("m{i}").as_bytes())
                .await
                .unwrap();
        }
        let mut got = 0;
        while client.get("seed").await.unwrap().is_some() {
            got += 1;
        }
        assert_eq!(got, 10);
    });
}
