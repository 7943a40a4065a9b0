//! End-to-end on the seed how-to's own topology (`runner lab up --topology
//! seed`): three hosts, a RabbitMQ node on each, HAProxy and keepalived
//! beside the node on rabbit2 and rabbit3. The playbook builds it as it
//! is: one cluster, every backend UP on both balancers, one VIP holder
//! (rabbit2, the higher priority), AMQP and the management API through the
//! VIP, a re-run that changes nothing; then a crash of the host that holds
//! both a node and the VIP loses no confirmed message, and the cluster is
//! whole again once that host is back.

use std::path::PathBuf;

use crate::rabbit_ha::{backends, running_nodes};
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
    for ip in ["10.213.57.12", "10.213.57.13"] {
        let b = backends(&lab, ip);
        assert_eq!(b.len(), 3, "{b:?}");
        assert!(b.iter().all(|(_, s)| s == "UP"), "{ip}: {b:?}");
    }
    assert_eq!(lab.vip_holders(&BALANCERS), ["rabbit2"]);
    amqp_round_trip(&lab);
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
