//! End-to-end tests of `runner lab` on a real Docker engine, nothing mocked:
//! up (twice: the second changes nothing), strict-host-key SSH to every
//! host, a compose service on one host reached from another, partition and
//! heal, RabbitMQ 4.0 and 3.10 answering AMQP and the management API, the
//! other faults, and down leaving nothing behind. One lab serves every
//! assertion to keep the wall time modest. Skips (loudly) only when no
//! Docker engine answers. All traffic goes to the lab network only.
//!
//! The lab's Docker objects have fixed names, so this test takes over (and
//! finally removes) any lab already up on the engine; its files live in a
//! temporary state directory.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use runner_lab::images::{self, ImageSpec};
use runner_lab::progress::Progress;
use runner_lab::{Lab, Stack, UpOptions, docker, faults, hosts, status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Ssh {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn ssh(lab: &Lab, host: &str, script: &str) -> Ssh {
    let cmd = lab.ssh_command(host, &[script.to_string()]).unwrap();
    let out = tokio::process::Command::from(cmd)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run ssh");
    Ssh {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn retry<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if start.elapsed() > timeout => panic!("{what}: still failing: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Sends the AMQP 0-9-1 protocol header and returns the first frame's
/// (type, channel, class id, method id).
async fn amqp_first_frame(ip: Ipv4Addr) -> Result<(u8, u16, u16, u16), String> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect((ip, 5672)).await?;
        s.write_all(b"AMQP\x00\x00\x09\x01").await?;
        let mut head = [0u8; 11];
        s.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head)
    };
    let head = tokio::time::timeout(Duration::from_secs(5), io)
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    Ok((
        head[0],
        u16::from_be_bytes([head[1], head[2]]),
        u16::from_be_bytes([head[7], head[8]]),
        u16::from_be_bytes([head[9], head[10]]),
    ))
}

/// A plain HTTP/1.0 GET with basic auth; returns (status code, body).
async fn http_get(
    ip: Ipv4Addr,
    port: u16,
    path: &str,
    user: &str,
    pass: &str,
) -> Result<(u16, String), String> {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let io = async {
        let mut s = tokio::net::TcpStream::connect((ip, port)).await?;
        let req = format!(
            "GET {path} HTTP/1.0\r\nHost: {ip}:{port}\r\nAuthorization: Basic {auth}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(10), io)
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {text:?}"))?;
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Ok((code, body))
}

const HAPROXY_CFG: &str = "global
  log stdout format raw local0
defaults
  mode http
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend probe
  bind :8080
  http-request return status 200 content-type text/plain string lab-ok
";

fn rabbit_compose(image: &str) -> String {
    format!(
        "services:
  rabbitmq:
    image: {image}
    pull_policy: never
    hostname: rmq
    environment:
      RABBITMQ_DEFAULT_USER: lab
      RABBITMQ_DEFAULT_PASS: lab-pass
    ports: [\"5672:5672\", \"15672:15672\"]
    volumes:
      - ./cookie:/var/lib/rabbitmq/.erlang.cookie:ro
      - data:/var/lib/rabbitmq
volumes:
  data: {{}}
"
    )
}

async fn lab_objects() -> (String, String, String) {
    let containers = docker::run(&["ps", "-a", "--filter", "label=runner-lab.host", "-q"])
        .await
        .unwrap();
    let networks = docker::run(&["network", "ls", "--filter", "name=^runner-lab$", "-q"])
        .await
        .unwrap();
    let volumes = docker::run(&[
        "volume",
        "ls",
        "--filter",
        "label=runner-lab",
        "--format",
        "{{.Name}} {{.Label \"runner-lab.cache\"}}",
    ])
    .await
    .unwrap();
    (containers, networks, volumes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_end_to_end() {
    if let Err(e) = docker::ensure_engine().await {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPING the runner-lab end-to-end test: no Docker engine.\n\
             !!! {e:#}\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    }
    let t0 = Instant::now();
    let stage = |name: &str| eprintln!("=== [{:>5.1} s] {name}", t0.elapsed().as_secs_f64());
    let state = tempfile::tempdir().unwrap();
    // A lab left by an earlier failed run goes first.
    runner_lab::down(state.path(), false).await.unwrap();

    stage("up");
    let first = runner_lab::up(UpOptions::new(state.path())).await.unwrap();
    eprint!("{}", first.render());
    assert_eq!(first.hosts.len(), 5);
    assert!(first.changed());

    stage("up again changes nothing");
    let second = runner_lab::up(UpOptions::new(state.path())).await.unwrap();
    eprint!("{}", second.render());
    assert!(!second.changed(), "second up changed something");

    let lab = Lab::open(state.path()).unwrap();
    assert_eq!(lab.vip(), runner_lab::vip().await.unwrap());
    let inventory = std::fs::read_to_string(lab.inventory_path()).unwrap();
    assert!(inventory.contains(&format!("vip: {}", lab.vip())));
    assert!(
        lab.ssh_options()
            .contains(&"StrictHostKeyChecking=yes".to_string())
    );

    stage("ssh with strict host-key checking to every host");
    for h in lab.hosts() {
        assert_eq!(runner_lab::host_ip(&h.name).await.unwrap(), h.ip);
        let out = ssh(
            &lab,
            &h.name,
            "hostname; docker info --format '{{.ServerVersion}}'",
        )
        .await;
        assert_eq!(out.code, 0, "ssh {}: {}", h.name, out.stderr);
        assert!(
            out.stdout.starts_with(&format!("{}\n", h.name)),
            "{}",
            out.stdout
        );
    }
    // The check is real: with an empty known_hosts, ssh refuses.
    let empty = state.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let rabbit1 = lab.host("rabbit1").unwrap();
    let refused = std::process::Command::new("ssh")
        .args([
            "-i",
            lab.key_path().to_str().unwrap(),
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            &format!("UserKnownHostsFile={}", empty.display()),
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            &format!("root@{}", rabbit1.ip),
            "true",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Host key verification failed"));

    stage("docker compose up HAProxy on lb1, reach it from lb2");
    let lb1 = lab.host("lb1").unwrap();
    let script = format!(
        "set -e; mkdir -p /srv/probe && cd /srv/probe
cat > haproxy.cfg <<'EOF'
{HAPROXY_CFG}EOF
cat > compose.yaml <<'EOF'
services:
  haproxy:
    image: {}
    pull_policy: never
    ports: [\"8080:8080\"]
    volumes: [\"./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro\"]
EOF
docker compose up -d --quiet-pull 2>&1",
        Stack::default().images[1].tag
    );
    let out = ssh(&lab, "lb1", &script).await;
    assert_eq!(
        out.code, 0,
        "compose up on lb1: {}{}",
        out.stdout, out.stderr
    );
    let probe = format!("curl -s -m 3 http://{}:8080/", lb1.ip);
    retry(
        "HAProxy on lb1 from lb2",
        Duration::from_secs(30),
        || async {
            let out = ssh(&lab, "lb2", &probe).await;
            if out.stdout == "lab-ok" {
                Ok(())
            } else {
                Err(format!("{} {}", out.code, out.stderr))
            }
        },
    )
    .await;
    let st = status::gather(Some(lab.topology())).await.unwrap();
    let lb1_status = st.hosts.iter().find(|h| h.name == "lb1").unwrap();
    assert!(lb1_status.services.iter().any(|s| s.contains("haproxy")));
    assert!(lb1_status.sshd && lb1_status.engine.is_some());

    stage("partition lb1: unreachable; heal: reachable at the same IP");
    faults::partition("lb1").await.unwrap();
    assert!(faults::is_partitioned("lb1").await.unwrap());
    let out = ssh(&lab, "lb2", &probe).await;
    assert_ne!(
        out.stdout, "lab-ok",
        "lb1 still reachable while partitioned"
    );
    assert!(!hosts::sshd_answers(lb1.ip, Duration::from_secs(2)).await);
    // Its own state is intact: HAProxy still answers inside lb1.
    let inside = runner_lab::exec("lb1", "curl -s -m 3 http://127.0.0.1:8080/")
        .await
        .unwrap();
    assert_eq!(inside.stdout, "lab-ok");
    assert_eq!(faults::heal(None).await.unwrap(), vec!["lb1".to_string()]);
    assert_eq!(runner_lab::host_ip("lb1").await.unwrap(), lb1.ip);
    let out = ssh(&lab, "lb2", &probe).await;
    assert_eq!(out.stdout, "lab-ok", "after heal: {}", out.stderr);

    stage("keepalived on lb1 and lb2: one VIP holder; partition splits; heal rejoins");
    for (host, prio) in [("lb1", 150), ("lb2", 100)] {
        let script = format!(
            "cat > /etc/keepalived/keepalived.conf <<'EOF'
vrrp_instance lab {{
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority {prio}
  advert_int 1
  virtual_ipaddress {{
    {}/24
  }}
}}
EOF
keepalived -D -f /etc/keepalived/keepalived.conf",
            lab.vip()
        );
        let out = ssh(&lab, host, &script).await;
        assert_eq!(out.code, 0, "keepalived on {host}: {}", out.stderr);
    }
    let holders = |want: &'static [&'static str]| async move {
        let got = runner_lab::vip_holders().await.map_err(|e| e.to_string())?;
        if got == want {
            Ok(())
        } else {
            Err(format!("VIP holders {got:?}, want {want:?}"))
        }
    };
    retry("lb1 alone holds the VIP", Duration::from_secs(30), || {
        holders(&["lb1"])
    })
    .await;
    faults::partition("lb1").await.unwrap();
    retry("lb2 takes the VIP", Duration::from_secs(30), || {
        holders(&["lb1", "lb2"])
    })
    .await;
    faults::heal(Some("lb1")).await.unwrap();
    retry("lb1 alone again", Duration::from_secs(30), || {
        holders(&["lb1"])
    })
    .await;

    stage("RabbitMQ 4.0 on rabbit1 and 3.10 on rabbit2: AMQP and management API");
    let progress = Progress::new();
    let rabbit_4_0 = Stack::default().images[0].clone();
    let rabbit_3_10 = Stack::builtin("rabbitmq-3.10").unwrap().images[0].clone();
    images::ensure_image(&ImageSpec::service(&rabbit_3_10), &progress)
        .await
        .unwrap();
    hosts::load_images(
        &["rabbit2".to_string()],
        std::slice::from_ref(&rabbit_3_10.tag),
        &lab.paths,
        &progress,
    )
    .await
    .unwrap();
    progress.finish();
    let cookie = "LABTESTCOOKIE0123456789";
    let runs = [
        ("rabbit1", &rabbit_4_0.tag, "4.0."),
        ("rabbit2", &rabbit_3_10.tag, "3.10."),
    ];
    for (host, image, _) in runs {
        let script = format!(
            "set -e; mkdir -p /srv/rmq && cd /srv/rmq
printf '%s' '{cookie}' > cookie && chmod 0400 cookie
cat > compose.yaml <<'EOF'
{}EOF
docker compose up -d --quiet-pull 2>&1",
            rabbit_compose(image)
        );
        let out = ssh(&lab, host, &script).await;
        assert_eq!(
            out.code, 0,
            "compose up on {host}: {}{}",
            out.stdout, out.stderr
        );
    }
    for (host, _, want) in runs {
        let ip = lab.host(host).unwrap().ip;
        let frame = retry(&format!("AMQP on {host}"), Duration::from_secs(120), || {
            amqp_first_frame(ip)
        })
        .await;
        // Method frame on channel 0: Connection.Start (class 10, method 10).
        assert_eq!(frame, (1, 0, 10, 10), "{host}: not a Connection.Start");
        let (code, body) = retry(
            &format!("management API on {host}"),
            Duration::from_secs(60),
            || async {
                match http_get(ip, 15672, "/api/overview", "lab", "lab-pass").await {
                    Ok((200, body)) => Ok((200, body)),
                    Ok((c, b)) => Err(format!("HTTP {c}: {b}")),
                    Err(e) => Err(e),
                }
            },
        )
        .await;
        assert_eq!(code, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let version = v["rabbitmq_version"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(version.starts_with(want), "{host}: version {version}");
        // The read-only 0400 cookie is the node's cookie, and the CLI works.
        let out = ssh(
            &lab,
            host,
            "cd /srv/rmq && docker compose exec -T rabbitmq rabbitmqctl eval 'erlang:get_cookie().'",
        )
        .await;
        assert!(
            out.stdout.contains(cookie),
            "{host}: {}{}",
            out.stdout,
            out.stderr
        );
    }

    stage("kill/start, stop/start, pause/unpause");
    faults::kill("rabbit3").await.unwrap();
    assert!(!hosts::sshd_answers(lab.host("rabbit3").unwrap().ip, Duration::from_secs(1)).await);
    faults::start("rabbit3").await.unwrap();
    faults::stop("lb2").await.unwrap();
    assert_eq!(
        hosts::container_info("lb2").await.unwrap().unwrap().status,
        "exited"
    );
    faults::start("lb2").await.unwrap();
    faults::pause("rabbit2").await.unwrap();
    assert_eq!(
        hosts::container_info("rabbit2")
            .await
            .unwrap()
            .unwrap()
            .status,
        "paused"
    );
    faults::unpause("rabbit2").await.unwrap();
    for h in ["rabbit3", "lb2", "rabbit2"] {
        // Same host key after a restart: strict checking still passes.
        let out = ssh(&lab, h, "true").await;
        assert_eq!(out.code, 0, "ssh {h} after restart: {}", out.stderr);
    }
    let rendered = status::render(&status::gather(Some(lab.topology())).await.unwrap());
    eprint!("{rendered}");
    for h in lab.hosts() {
        assert!(rendered.contains(&h.name));
    }

    stage("down leaves no container, network or non-cache volume");
    let report = runner_lab::down(state.path(), false).await.unwrap();
    eprint!("{}", report.render());
    assert_eq!(report.hosts.len(), 5);
    let (containers, networks, volumes) = lab_objects().await;
    assert_eq!(containers, "", "containers left");
    assert_eq!(networks, "", "network left");
    for line in volumes.lines() {
        assert!(line.ends_with(" docker"), "non-cache volume left: {line}");
    }
    assert!(!lab.inventory_path().exists());
    stage("done");
}
