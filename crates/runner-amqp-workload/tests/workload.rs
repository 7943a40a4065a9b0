//! Real-broker tests of the workload, nothing mocked: a RabbitMQ 4.0 container
//! (`runner-lab/rabbitmq:4.0`, built by runner-lab if missing) published on
//! 127.0.0.1 only; a steady quorum run, a classic run, the CLI unpaced, a
//! run where the broker is SIGKILLed and started again mid-run, and one
//! where it is frozen (`docker pause`: connections hang, nothing closes
//! them) so only the confirm timeout and heartbeats can notice. Skipped
//! (loudly) only when no Docker engine answers.

use runner_amqp_workload::command::{self, WorkloadOptions};
use runner_amqp_workload::{ClientMode, QueueKind, Report, Workload, WorkloadConfig};
use runner_lab::Stack;
use runner_lab::docker;
use runner_lab::images::{ImageSpec, ensure_image};
use runner_lab::progress::Progress;
use std::process::Command;
use std::time::{Duration, Instant};

/// The broker container; removed (with its volume) on drop, panics included.
struct Broker {
    name: String,
    url: String,
}

impl Broker {
    async fn start() -> Broker {
        let name = format!("runner-workload-test-{}", std::process::id());
        let _ = Command::new(docker::docker_bin())
            .args(["rm", "-f", "-v", &name])
            .output();
        // A free loopback port, fixed so it survives the container's restart.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pass = format!("pw{:x}", std::process::id() as u64 * 7919 + port as u64);
        let out = Command::new(docker::docker_bin())
            .args([
                "run",
                "-d",
                "--name",
                &name,
                "--label",
                "runner-workload-test",
                "-p",
                &format!("127.0.0.1:{port}:5672"),
                "-e",
                "RABBITMQ_DEFAULT_USER=probe",
                "-e",
                &format!("RABBITMQ_DEFAULT_PASS={pass}"),
                &Stack::default().images[0].tag,
            ])
            .output()
            .unwrap();
        let broker = Broker {
            name,
            url: format!("amqp://probe:{pass}@127.0.0.1:{port}/%2f"),
        };
        assert!(
            out.status.success(),
            "docker run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        broker
    }

    fn docker(&self, verb: &str) {
        let out = Command::new(docker::docker_bin())
            .args([verb, &self.name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker {verb} {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Polls until an AMQP connection opens (the broker takes a while to
    /// boot on two cores).
    async fn wait_amqp(&self, limit: Duration) {
        let t0 = Instant::now();
        loop {
            let attempt = tokio::time::timeout(
                Duration::from_secs(3),
                lapin::Connection::connect(&self.url, lapin::ConnectionProperties::default()),
            )
            .await;
            if let Ok(Ok(conn)) = attempt {
                let _ = conn.close(200, "ready".into()).await;
                eprintln!(
                    "broker answers AMQP after {:.1} s",
                    t0.elapsed().as_secs_f64()
                );
                return;
            }
            if t0.elapsed() > limit {
                let logs = Command::new(docker::docker_bin())
                    .args(["logs", "--tail", "40", &self.name])
                    .output()
                    .unwrap();
                panic!(
                    "broker did not answer AMQP within {limit:?}; last logs:\n{}{}",
                    String::from_utf8_lossy(&logs.stdout),
                    String::from_utf8_lossy(&logs.stderr)
                );
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = Command::new(docker::docker_bin())
            .args(["rm", "-f", "-v", &self.name])
            .output();
    }
}

fn config(url: &str, queue: &str, kind: QueueKind, rate: u32) -> WorkloadConfig {
    let mut cfg = WorkloadConfig::new(url);
    cfg.queue = queue.into();
    cfg.queue_kind = kind;
    cfg.rate_per_sec = rate;
    cfg
}

fn show(title: &str, report: &Report) {
    eprintln!("=== {title}\n{}", report.render_table());
}

fn assert_sound(report: &Report) {
    assert!(report.drained, "queue did not drain");
    assert_eq!(report.lost, 0, "lost: {:?}", report.lost_sample);
    assert!(report.confirmed > 0);
    assert!(report.published >= report.confirmed);
    assert!(report.consumed >= report.confirmed);
    assert!(report.deliveries >= report.consumed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_against_a_real_broker() {
    if let Err(e) = docker::ensure_engine().await {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPING the runner-amqp-workload broker tests: no Docker engine.\n\
             !!! {e:#}\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    }
    let progress = Progress::new();
    ensure_image(&ImageSpec::service(&Stack::default().images[0]), &progress)
        .await
        .expect("building runner-lab/rabbitmq:4.0");
    drop(progress);

    let broker = Broker::start().await;
    broker.wait_amqp(Duration::from_secs(180)).await;

    // 1. Steady quorum run: 5 s at 200 msg/s.
    let handle = Workload::start(config(&broker.url, "probe-steady", QueueKind::Quorum, 200))
        .await
        .expect("workload starts");
    tokio::time::sleep(Duration::from_secs(5)).await;
    handle.stop_publishing();
    let report = handle.drain(Duration::from_secs(30)).await;
    show("steady quorum, 200 msg/s", &report);
    assert_sound(&report);
    assert_eq!(report.duplicates, 0);
    assert_eq!(report.connection_losses, 0);
    assert!(
        report.confirmed >= 500,
        "only {} confirmed",
        report.confirmed
    );
    assert!(report.confirm_latency.samples == report.confirmed);
    assert!(report.timeline.iter().map(|p| p.confirmed).sum::<u64>() == report.confirmed);

    // 2. Classic queue, two publishers and two consumers.
    let mut cfg = config(&broker.url, "probe-classic", QueueKind::Classic, 300);
    cfg.publishers = 2;
    cfg.consumers = 2;
    let handle = Workload::start(cfg).await.expect("workload starts");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = handle.drain(Duration::from_secs(30)).await;
    show("classic, 2+2 clients, 300 msg/s", &report);
    assert_sound(&report);
    assert_eq!(report.queue_kind, QueueKind::Classic);

    // A quorum declare of an existing classic queue is refused up front.
    let mut cfg = config(&broker.url, "probe-kind-clash", QueueKind::Classic, 10);
    cfg.delete_queue_at_end = false;
    let handle = Workload::start(cfg).await.expect("workload starts");
    let _ = handle.drain(Duration::from_secs(10)).await;
    let err = Workload::start(config(
        &broker.url,
        "probe-kind-clash",
        QueueKind::Quorum,
        10,
    ))
    .await
    .err()
    .expect("a quorum declare over a classic queue must fail");
    let msg = format!("{err:#}");
    assert!(msg.contains("cannot declare"), "{msg}");
    assert!(
        !msg.contains(
            broker
                .url
                .split(':')
                .nth(2)
                .unwrap()
                .split('@')
                .next()
                .unwrap()
        )
    );

    // 3. The CLI, unpaced (throughput and latency figures).
    let svg = tempfile::NamedTempFile::new().unwrap();
    let args = WorkloadOptions {
        url: broker.url.clone(),
        duration: Duration::from_secs(5),
        rate: 0,
        client_modes: vec![ClientMode::Impatient, ClientMode::Stock],
        publishers: 1,
        consumers: 1,
        queue: "probe-cli".into(),
        classic: false,
        json: false,
        svg: Some(svg.path().to_path_buf()),
        drain_timeout: Duration::from_secs(30),
        ca_pem: None,
    };
    let code = command::run(args).await.expect("the workload runs");
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(svg.path()).unwrap();
    assert!(text.starts_with("<svg") && text.contains("<polyline"));

    // 4. The broker is killed (SIGKILL) and started again mid-run.
    let handle = Workload::start(config(&broker.url, "probe-restart", QueueKind::Quorum, 200))
        .await
        .expect("workload starts");
    tokio::time::sleep(Duration::from_secs(3)).await;
    handle.mark("kill broker");
    broker.docker("kill");
    broker.docker("start");
    broker.wait_amqp(Duration::from_secs(180)).await;
    handle.mark("broker back");
    tokio::time::sleep(Duration::from_secs(4)).await;
    handle.stop_publishing();
    let report = handle.drain(Duration::from_secs(90)).await;
    show("quorum, broker killed and restarted", &report);
    let svg_out = std::env::temp_dir().join("runner-workload-restart.svg");
    let _ = std::fs::write(&svg_out, report.timeline_svg());
    eprintln!("timeline: {}", svg_out.display());
    assert_sound(&report);
    assert!(
        report.connection_losses >= 2,
        "both clients must lose their connection"
    );
    assert!(report.reconnects >= 2, "both clients must reconnect");
    assert_eq!(report.outages.len(), 2);
    let outage = &report.outages[0];
    assert_eq!(outage.marker, "kill broker");
    assert!(
        outage.seconds > 0.5 && outage.seconds < 120.0,
        "outage {outage:?}"
    );
    // "broker back" is marked when AMQP answers, maybe before the clients
    // reconnect: the same gap may overlap its window too.
    assert!(report.outages[1].seconds <= outage.seconds);
    // Confirms resumed after the restart.
    let after = report
        .timeline
        .iter()
        .filter(|p| p.t_s as f64 > outage.gap_end_s)
        .map(|p| p.confirmed)
        .sum::<u64>();
    assert!(after > 0, "no confirms after the restart");

    // 5. The broker freezes for 12 s: the connections hang open, so the
    // publisher must notice by its confirm timeout and the consumer by
    // missing heartbeats; nothing confirmed may be lost.
    let mut cfg = config(&broker.url, "probe-pause", QueueKind::Quorum, 200);
    cfg.confirm_timeout = Duration::from_secs(4);
    cfg.heartbeat_s = 2;
    cfg.connect_timeout = Duration::from_secs(2);
    let handle = Workload::start(cfg).await.expect("workload starts");
    tokio::time::sleep(Duration::from_secs(2)).await;
    handle.mark("freeze broker");
    broker.docker("pause");
    tokio::time::sleep(Duration::from_secs(12)).await;
    broker.docker("unpause");
    handle.mark("thawed");
    tokio::time::sleep(Duration::from_secs(5)).await;
    handle.stop_publishing();
    let report = handle.drain(Duration::from_secs(60)).await;
    show("quorum, broker frozen 12 s", &report);
    assert_sound(&report);
    let outage = &report.outages[0];
    assert!(
        outage.seconds > 10.0 && outage.seconds < 60.0,
        "outage {outage:?}"
    );
    assert!(
        report.connection_losses >= 1,
        "the hung publisher must give up its connection"
    );
}
