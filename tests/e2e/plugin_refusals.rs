//! End-to-end: the plugins refuse the seed how-to's unsafe settings before
//! touching anything, with a message that says why.

use crate::support::*;

fn play_one(w: &std::path::Path, plugin: &str, with: &str) -> std::process::Output {
    std::fs::write(
        w.join("inventory.yaml"),
        "all:\n  hosts:\n    lb1: { ansible_connection: local }\n",
    )
    .unwrap();
    std::fs::write(
        w.join("site.yaml"),
        format!("gather_facts: false\nsteps:\n  - name: s\n    plugin: {plugin}\n    on: all\n    with: {with}\n"),
    )
    .unwrap();
    run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "--output",
            "json",
        ],
    )
}

fn failure(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{}", stdout(out));
    events(out)
        .into_iter()
        .find(|e| e["event"] == "host" && e["status"] == "failed")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .expect("a failed host")
}

#[test]
fn haproxy_refuses_timeouts_under_the_amqp_heartbeat() {
    let work = scratch();
    let msg = failure(&play_one(
        work.path(),
        "haproxy",
        "{ image: h, backends: ['r1:10.0.0.1'], stats_password: abcdefgh12, timeout_s: 5 }",
    ));
    assert!(msg.contains("would cut idle AMQP connections"), "{msg}");
    assert!(msg.contains("heartbeat is 60 s"), "{msg}");
}

#[test]
fn keepalived_refuses_a_password_it_would_silently_cut() {
    let work = scratch();
    // The seed's own auth_pass: nine characters.
    let msg = failure(&play_one(
        work.path(),
        "keepalived",
        "{ interface: eth0, vip: 10.0.0.250, balancers: [lb1], vrrp_version: 2, advert_int: 1, auth_pass: qwe865123 }",
    ));
    assert!(msg.contains("uses only the first 8"), "{msg}");
    let work = scratch();
    let msg = failure(&play_one(
        work.path(),
        "keepalived",
        "{ interface: eth0, vip: 10.0.0.250, balancers: [lb1], auth_pass: secret12 }",
    ));
    assert!(msg.contains("VRRPv3 has no authentication"), "{msg}");
}
