//! TLS as the seed's ports promise, checked as a client sees it: through
//! the VIP's 5673 (HAProxy ends TLS with the VIP's certificate and opens
//! it again to each node's 5671, checking the node against the CA), a
//! client that trusts the cluster's CA publishes and consumes; one that
//! does not is refused; each node answers AMQPS itself; HAProxy's TLS
//! backends are UP; the node's key is 0400; `lab status` names the CA file
//! and shows no PEM.

use crate::support::amqp::Amqp;
use crate::support::lab::Lab;
use crate::support::*;

/// The lab's RabbitMQ hosts, in both topologies.
pub(crate) const NODES: [(&str, &str); 3] = [
    ("rabbit1", "10.213.57.11"),
    ("rabbit2", "10.213.57.12"),
    ("rabbit3", "10.213.57.13"),
];

/// The CA certificate clients trust (the runner writes it beside the
/// certificates file).
pub(crate) fn ca_pem(lab: &Lab) -> String {
    std::fs::read_to_string(lab.dir().join("lab/rabbit-ha.tls.ca.pem"))
        .expect("the runner wrote the CA certificate beside the certificates file")
}

/// Every check above; `nodes` are the RabbitMQ hosts' (name, address),
/// `balancer_ips` the balancers' addresses.
pub(crate) fn amqps_holds(lab: &Lab, nodes: &[(&str, &str)], balancer_ips: &[&str]) {
    let ca = ca_pem(lab);
    let password = lab.secret("rabbitmq_admin_password");
    let vip = lab.vip();
    round_trip(
        &format!("amqps://admin:{password}@{vip}:5673/%2f"),
        &ca,
        "tls-vip",
    );
    for (_, ip) in nodes {
        round_trip(
            &format!("amqps://admin:{password}@{ip}:5671/%2f"),
            &ca,
            "tls-node",
        );
    }
    let refused = block_on(Amqp::connect_tls(
        &format!("amqps://admin:{password}@{vip}:5673/%2f"),
        None,
    ));
    let err = refused
        .err()
        .expect("a client that trusts no CA is refused");
    assert!(
        err.contains("UnknownIssuer") || err.to_lowercase().contains("certificate"),
        "{err}"
    );
    for ip in balancer_ips {
        let b = crate::rabbit_ha::backend_servers(lab, ip, "rabbitmq_tls");
        assert_eq!(b.len(), nodes.len(), "{ip}: {b:?}");
        assert!(b.iter().all(|(_, s)| s == "UP"), "{ip}: TLS checks: {b:?}");
    }
    probe_over_tls(lab, &format!("amqps://admin:{password}@{vip}:5673/%2f"));
    let (host, _) = nodes[0];
    let mode = lab.ssh(host, "stat -c %a /opt/rabbitmq/tls/node.key");
    assert_eq!(mode.trim(), "400", "the node's key is private");
    let status = stdout(&lab.lab(&["status"]));
    assert!(status.contains("rabbit-ha.tls.ca.pem"), "{status}");
    assert!(!status.contains("BEGIN"), "{status}");
}

/// A certificate whose names change (the balancers' carries the cluster
/// name) is shown to be issued again, and the HAProxy files that hold it
/// as changed, by a preview that writes nothing.
pub(crate) fn renewal_is_previewed(lab: &Lab, inv: &std::path::Path) {
    let file = lab.dir().join("lab/rabbit-ha.tls.yaml");
    let before = std::fs::read(&file).unwrap();
    let out = lab.play(
        inv,
        &[
            "--dry-run",
            "-e",
            "cluster_name=renamed",
            "--output",
            "json",
        ],
    );
    let events = events(&out);
    let reissued = events.iter().any(|e| {
        e["event"] == "note"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("balancer/rabbit2 (its names or addresses changed)"))
    });
    assert!(reissued, "{}", stdout(&out));
    let haproxy_changed = events.iter().any(|e| {
        e["event"] == "host" && e["step"] == 3 && e["host"] == "rabbit2" && e["status"] == "changed"
    });
    assert!(haproxy_changed, "{}", stdout(&out));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "a preview writes nothing"
    );
    assert!(
        !stdout(&out).contains("BEGIN"),
        "no certificate in the preview"
    );
}

/// `runner probe amqps://... --ca FILE` as a user runs it: nothing lost;
/// without `--ca`, a clear error before any connection.
fn probe_over_tls(lab: &Lab, url: &str) {
    let ca = lab.dir().join("lab/rabbit-ha.tls.ca.pem");
    let ca = ca.to_str().unwrap();
    let ok = lab.runner(&["probe", url, "--duration", "2s", "--rate", "50", "--ca", ca]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(!stdout(&ok).contains(&lab.secret("rabbitmq_admin_password")));
    let no_ca = lab.runner(&["probe", url, "--duration", "1s"]);
    assert_ne!(no_ca.status.code(), Some(0));
    assert!(
        stderr(&no_ca).contains("needs --ca FILE"),
        "{}",
        stderr(&no_ca)
    );
}

/// Publish ten with confirms and get them back over AMQPS.
fn round_trip(url: &str, ca: &str, queue: &str) {
    block_on(async {
        let client = Amqp::connect_tls(url, Some(ca))
            .await
            .unwrap_or_else(|e| panic!("AMQPS with the CA: {e}"));
        client.declare(queue).await.unwrap();
        for i in 0..10 {
            client
                .publish(queue, format!("m{i}").as_bytes())
                .await
                .unwrap();
        }
        let mut got = 0;
        while client.get(queue).await.unwrap().is_some() {
            got += 1;
        }
        assert_eq!(got, 10, "{queue}");
    });
}
