//! End-to-end on the lab (RabbitMQ 4.0, our balancer defaults): `runner lab
//! up`, `runner play playbooks/rabbit-ha.yaml`, then `runner lab chaos`
//! runs every fault scenario under an AMQP workload through the VIP. Every
//! scenario must lose no confirmed message, drain, and leave the cluster
//! whole again; outages are bounded generously (noisy 2-core machines; the
//! real figures are in docs/BENCHMARKS.md), for the workload's own clients
//! and for stock clients; every host restarted in turn must come back whole
//! by itself. Shorter faults than the figures' to keep the wall time down.

use std::path::PathBuf;

use crate::support::lab::Lab;
use crate::support::*;
use serde_json::Value;

/// Generous: the goals are 2 s (VIP) and 5 s (clients), the test machine
/// is slow and shared.
const MAX_OUTAGE_S: f64 = 60.0;

#[test]
fn every_fault_loses_nothing_and_heals_on_rabbitmq_4() {
    let Some(lab) = Lab::up("4.0") else { return };
    let built = lab.play(&lab.inventory(), &["--output", "json"]);
    assert_eq!(built.status.code(), Some(0), "the cluster builds");

    let report_dir: PathBuf = lab.dir().join("chaos");
    let out = lab.runner(&[
        "lab",
        "chaos",
        "--report",
        report_dir.to_str().unwrap(),
        "--duration",
        "8s",
        "--partition",
        "15s",
        "--warmup",
        "3s",
        "--settle",
        "3s",
        "--rate",
        "100",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("outage s"),
        "the HA table is printed:\n{text}"
    );

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["rabbitmq"], "4.0");
    assert_eq!(report["queue_kind"], "quorum");
    assert_eq!(report["settings"], "ours");
    assert_eq!(report["not_run"].as_array().unwrap().len(), 0, "{text}");
    let scenarios = report["scenarios"].as_array().unwrap();
    let names: Vec<&str> = scenarios
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "kill-rabbit-container",
            "crash-rabbit-host",
            "kill-haproxy",
            "crash-balancer",
            "stop-keepalived",
            "partition-rabbit-host",
            "partition-balancer",
            "rolling-restart",
            "restart-each-host"
        ]
    );
    for s in scenarios {
        let name = assert_lossless_and_whole(s);
        assert!(
            report_dir.join(format!("{name}.svg")).exists(),
            "{name}.svg"
        );
    }
    // Every host restarted came back whole on its own (keepalived and the
    // compose projects start at boot).
    let restarts = scenarios
        .iter()
        .find(|s| s["scenario"] == "restart-each-host")
        .unwrap()["host_restarts"]
        .as_array()
        .unwrap();
    assert_eq!(restarts.len(), 5, "{restarts:?}");
    for name in [
        "kill-haproxy",
        "crash-balancer",
        "stop-keepalived",
        "partition-balancer",
    ] {
        let s = scenarios.iter().find(|s| s["scenario"] == name).unwrap();
        let moved = s["vip_moved_s"].as_f64();
        assert!(
            moved.is_some_and(|m| m < 30.0),
            "{name}: the VIP moved ({moved:?})"
        );
    }
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(report["ok"], true);
}

/// One scenario of a chaos report: no error, no confirmed message lost by
/// either kind of client, drained, whole again, outages under the bound.
/// Returns its name.
pub(crate) fn assert_lossless_and_whole(s: &Value) -> &str {
    let name = s["scenario"].as_str().unwrap();
    assert!(s["error"].is_null(), "{name}: {}", s["error"]);
    assert_eq!(
        s["healed"], true,
        "{name}: the cluster is whole again: {}",
        s["problems"]
    );
    let p = &s["workload"];
    assert_eq!(
        p["lost"], 0,
        "{name}: confirmed messages lost: {}",
        p["lost_sample"]
    );
    assert_eq!(p["drained"], true, "{name}: drained");
    // Both kinds of client: the workload's own, and a stock client that
    // waits for every confirm and reconnects only on a drop.
    let modes = s["client_modes"].as_array().unwrap();
    assert_eq!(modes.len(), 2, "{name}: {modes:?}");
    for m in modes {
        assert_eq!(m["lost"], 0, "{name}: {} clients lost messages", m["mode"]);
        let worst = m["worst_client_s"].as_f64().unwrap_or(0.0);
        assert!(
            worst < MAX_OUTAGE_S,
            "{name}: worst {} client {worst} s",
            m["mode"]
        );
    }
    assert!(p["confirmed"].as_u64().unwrap() > 100, "{name}: load ran");
    assert!(
        p["consumed"].as_u64().unwrap() >= p["confirmed"].as_u64().unwrap(),
        "{name}: every confirmed message consumed"
    );
    let outage = s["row"]["outage_s"].as_f64().unwrap_or(0.0);
    assert!(outage < MAX_OUTAGE_S, "{name}: outage {outage} s");
    name
}
