//! Lab host containers: create/start them with the flags that let a nested
//! Docker engine run without `--privileged`, wait until sshd and the engine
//! answer, install the lab's SSH key, read the host key, and load service
//! images into each host's engine (only those whose image ID differs).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::AsyncReadExt;

use crate::docker;
use crate::images::HOST_IMAGE;
use crate::progress::Progress;
use crate::state::{
    LABEL_CACHE, LABEL_HOST, LABEL_LAB, NETWORK, Paths, container_name, docker_volume,
};

/// The flags that run a nested Docker engine here without `--privileged`
/// (which fails: CAP_SYS_RESOURCE is not available).
pub const NESTED_ENGINE_FLAGS: &[&str] = &[
    "--cap-add",
    "ALL",
    "--cap-drop",
    "SYS_RESOURCE",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
    "--cgroupns",
    "host",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--device-cgroup-rule",
    "a *:* rwm",
];

/// How long a host may take to answer on SSH and Docker after a start.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A lab host as `up` wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSpec {
    /// Inventory name, also the container's hostname.
    pub name: String,
    /// Address on the lab network.
    pub ip: Ipv4Addr,
}

/// What `up` did to a host container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostAction {
    /// Nothing: it was running as wanted.
    Unchanged,
    /// Created (it did not exist).
    Created,
    /// Removed and created again (new host image, other IP, or broken).
    Recreated,
    /// Started (it was stopped or killed).
    Started,
    /// Unpaused.
    Unpaused,
}

impl std::fmt::Display for HostAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HostAction::Unchanged => "unchanged",
            HostAction::Created => "created",
            HostAction::Recreated => "recreated",
            HostAction::Started => "started",
            HostAction::Unpaused => "unpaused",
        })
    }
}

/// A host container as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// `running`, `paused`, `exited`, `created`, `restarting`, `dead`…
    pub status: String,
    /// Image ID the container runs.
    pub image: String,
    /// Its (static) address on the lab network, also while stopped.
    pub ip: Option<Ipv4Addr>,
}

/// Inspects the container of lab host `host`.
pub async fn container_info(host: &str) -> Result<Option<ContainerInfo>> {
    let format = format!(
        "{{{{.State.Status}}}}|{{{{.Image}}}}|{{{{with index .NetworkSettings.Networks \"{NETWORK}\"}}}}\
         {{{{if .IPAMConfig}}}}{{{{.IPAMConfig.IPv4Address}}}}{{{{else}}}}{{{{.IPAddress}}}}{{{{end}}}}{{{{end}}}}"
    );
    let Some(out) = docker::inspect("container", &container_name(host), &format).await? else {
        return Ok(None);
    };
    let mut parts = out.splitn(3, '|');
    let status = parts.next().unwrap_or_default().to_string();
    let image = parts.next().unwrap_or_default().to_string();
    let ip = parts.next().and_then(|s| s.trim().parse().ok());
    Ok(Some(ContainerInfo { status, image, ip }))
}

/// Names of all lab host containers on the engine (from their label).
pub async fn existing_hosts() -> Result<Vec<String>> {
    let filter = format!("label={LABEL_HOST}");
    let format = format!("{{{{.Label \"{LABEL_HOST}\"}}}}");
    let out = docker::run(&["ps", "-a", "--filter", &filter, "--format", &format]).await?;
    let mut names: Vec<String> = out.lines().map(|l| l.trim().to_string()).collect();
    names.retain(|n| !n.is_empty());
    names.sort();
    Ok(names)
}

async fn create(spec: &HostSpec) -> Result<()> {
    let volume = docker_volume(&spec.name);
    if !docker::exists("volume", &volume).await? {
        docker::run(&[
            "volume",
            "create",
            "--label",
            &format!("{LABEL_LAB}=1"),
            "--label",
            &format!("{LABEL_CACHE}=docker"),
            &volume,
        ])
        .await?;
    }
    let name = container_name(&spec.name);
    let ip = spec.ip.to_string();
    let host_label = format!("{LABEL_HOST}={}", spec.name);
    let mount = format!("{volume}:/var/lib/docker");
    let mut args: Vec<&str> = vec![
        "run",
        "-d",
        "--name",
        &name,
        "--hostname",
        &spec.name,
        "--init",
        "--network",
        NETWORK,
        "--ip",
        &ip,
        "--label",
        &host_label,
        "--stop-timeout",
        "30",
    ];
    args.extend_from_slice(NESTED_ENGINE_FLAGS);
    args.extend_from_slice(&["-v", &mount, HOST_IMAGE]);
    docker::run(&args)
        .await
        .with_context(|| format!("start lab host {}", spec.name))?;
    Ok(())
}

/// Removes the container of lab host `host` (its cache volume stays).
pub async fn remove(host: &str) -> Result<()> {
    docker::run(&["rm", "-f", "-v", &container_name(host)]).await?;
    Ok(())
}

/// Brings one host's container to running as `spec` says.
pub async fn ensure_host(spec: &HostSpec, host_image_id: &str) -> Result<HostAction> {
    let name = container_name(&spec.name);
    let Some(info) = container_info(&spec.name).await? else {
        create(spec).await?;
        return Ok(HostAction::Created);
    };
    let healthy_status = matches!(
        info.status.as_str(),
        "running" | "paused" | "exited" | "created"
    );
    if info.image != host_image_id || info.ip != Some(spec.ip) || !healthy_status {
        remove(&spec.name).await?;
        create(spec).await?;
        return Ok(HostAction::Recreated);
    }
    match info.status.as_str() {
        "running" => Ok(HostAction::Unchanged),
        "paused" => {
            docker::run(&["unpause", &name]).await?;
            Ok(HostAction::Unpaused)
        }
        _ => {
            docker::run(&["start", &name]).await?;
            Ok(HostAction::Started)
        }
    }
}

/// True when something on `ip:22` answers with an SSH banner within
/// `timeout`.
pub async fn sshd_answers(ip: Ipv4Addr, timeout: Duration) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((ip, 22)).await.ok()?;
        let mut buf = [0u8; 8];
        let mut got = 0;
        while got < 4 {
            let n = stream.read(&mut buf[got..]).await.ok()?;
            if n == 0 {
                return None;
            }
            got += n;
        }
        Some(buf.starts_with(b"SSH-"))
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
}

/// The version of the Docker engine inside lab host `host`, if it answers.
pub async fn engine_version(host: &str) -> Option<String> {
    let name = container_name(host);
    let args = [
        "exec",
        name.as_str(),
        "docker",
        "version",
        "--format",
        "{{.Server.Version}}",
    ];
    match tokio::time::timeout(Duration::from_secs(10), docker::output(&args)).await {
        Ok(Ok(out)) if out.ok() && !out.stdout.trim().is_empty() => {
            Some(out.stdout.trim().to_string())
        }
        _ => None,
    }
}

/// Waits until host `host` (at `ip`) answers on SSH and its engine answers.
pub async fn wait_ready(host: &str, ip: Ipv4Addr, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let (mut ssh, mut engine) = (false, false);
    while start.elapsed() < timeout {
        ssh = ssh || sshd_answers(ip, Duration::from_secs(2)).await;
        engine = engine || engine_version(host).await.is_some();
        if ssh && engine {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let log = docker::output(&[
        "exec",
        &container_name(host),
        "sh",
        "-c",
        "tail -n 20 /var/log/dockerd.log /var/log/sshd.log",
    ])
    .await
    .map(|o| o.stdout)
    .unwrap_or_default();
    bail!(
        "lab host {host} not ready after {}s (sshd answers: {ssh}, engine answers: {engine})\n{log}",
        timeout.as_secs()
    )
}

/// Removes the host's default route (its init script does too, at every
/// start), so nothing on it can send to any address off the lab network;
/// fails if one is left.
pub async fn isolate(host: &str) -> Result<()> {
    let out = exec(
        host,
        "ip -4 route del default 2>/dev/null; ip -4 route show default",
    )
    .await?;
    if !out.ok() || !out.stdout.trim().is_empty() {
        bail!(
            "lab host {host} keeps a default route: {}{}",
            out.stdout.trim(),
            out.stderr.trim()
        );
    }
    Ok(())
}

/// Runs `sh -c CMD` inside lab host `host`'s container (`docker exec`).
pub async fn exec(host: &str, cmd: &str) -> Result<docker::Output> {
    docker::output(&["exec", &container_name(host), "sh", "-c", cmd]).await
}

/// Like [`exec`] with `input` on the command's stdin.
pub async fn exec_with_stdin(host: &str, cmd: &str, input: &[u8]) -> Result<docker::Output> {
    docker::output_with_stdin(
        &["exec", "-i", &container_name(host), "sh", "-c", cmd],
        input,
    )
    .await
}

/// Empties a newly created host's engine: its `/var/lib/docker` is a cache
/// kept across `down`, but a new lab starts with no containers, volumes or
/// networks from an old one (images stay).
pub async fn clean_engine(host: &str) -> Result<()> {
    let out = exec(
        host,
        "ids=$(docker ps -aq); [ -z \"$ids\" ] || docker rm -f -v $ids >/dev/null; \
         docker volume prune -af >/dev/null 2>&1 || docker volume prune -f >/dev/null; \
         docker network prune -f >/dev/null",
    )
    .await?;
    if !out.ok() {
        bail!("cleaning lab host {host}'s engine: {}", out.stderr.trim());
    }
    Ok(())
}

/// Installs `pubkey` as root's only authorized key; returns whether the
/// file changed.
pub async fn install_authorized_key(host: &str, pubkey: &str) -> Result<bool> {
    let want = format!("{}\n", pubkey.trim());
    let have = exec(host, "cat /root/.ssh/authorized_keys 2>/dev/null").await?;
    if have.ok() && have.stdout == want {
        return Ok(false);
    }
    let out = exec_with_stdin(
        host,
        "umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys",
        want.as_bytes(),
    )
    .await?;
    if !out.ok() {
        bail!("installing the lab key on {host}: {}", out.stderr.trim());
    }
    Ok(true)
}

/// The host's ed25519 host key (`ssh-ed25519 AAAA…`), read from the host.
pub async fn host_key(host: &str) -> Result<String> {
    let out = exec(host, "cat /etc/ssh/ssh_host_ed25519_key.pub").await?;
    if !out.ok() {
        bail!("reading {host}'s host key: {}", out.stderr.trim());
    }
    crate::keys::parse_host_key(&out.stdout)
}

/// The image ID of `tag` inside lab host `host`'s engine, if present.
pub async fn inner_image_id(host: &str, tag: &str) -> Result<Option<String>> {
    let out = docker::output(&[
        "exec",
        &container_name(host),
        "docker",
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        tag,
    ])
    .await?;
    Ok(out.ok().then(|| out.stdout.trim().to_string()))
}

/// Loads `images` (tags in the outer engine) into every host in `hosts`
/// that lacks them or has another image ID under the tag: one
/// `docker save` per distinct set of missing images, then
/// `docker exec -i HOST docker load` per host, in parallel. Returns, per
/// host, the images it was given.
pub async fn load_images(
    hosts: &[String],
    images: &[String],
    paths: &Paths,
    progress: &Progress,
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut outer = BTreeMap::new();
    for img in images {
        let id = crate::images::image_id(img)
            .await?
            .with_context(|| format!("image {img} is not in the engine"))?;
        outer.insert(img.clone(), id);
    }
    // Which hosts miss which images.
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for h in hosts {
        for img in images {
            if inner_image_id(h, img).await?.as_deref() != Some(outer[img].as_str()) {
                missing.entry(h.clone()).or_default().push(img.clone());
            }
        }
    }
    if missing.is_empty() {
        return Ok(missing);
    }
    let mut sets: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (h, imgs) in &missing {
        sets.entry(imgs.clone()).or_default().push(h.clone());
    }
    std::fs::create_dir_all(paths.cache())?;
    for (i, (imgs, set_hosts)) in sets.iter().enumerate() {
        progress.phase(&format!(
            "loading {} into {}",
            imgs.join(", "),
            set_hosts.join(", ")
        ));
        let tar = paths.cache().join(format!("images-{i}.tar"));
        let tar_s = tar.to_string_lossy().into_owned();
        progress.step("docker save");
        let mut args = vec!["save", "-o", tar_s.as_str()];
        args.extend(imgs.iter().map(String::as_str));
        docker::run(&args).await?;
        progress.step("docker load in each host");
        let mut tasks = tokio::task::JoinSet::new();
        for h in set_hosts {
            let (h, tar) = (h.clone(), tar.clone());
            tasks.spawn(async move {
                let name = container_name(&h);
                // Images replaced by the load are dropped (dangling only).
                let r = docker::run_with_file(
                    &[
                        "exec",
                        "-i",
                        &name,
                        "sh",
                        "-c",
                        "docker load -q && docker image prune -f >/dev/null",
                    ],
                    &tar,
                )
                .await;
                (h, r)
            });
        }
        let mut failure = None;
        while let Some(joined) = tasks.join_next().await {
            let (h, r) = joined?;
            match r {
                Ok(_) => progress.step(&format!("loaded into {h}")),
                Err(e) => failure = Some(e.context(format!("loading images into {h}"))),
            }
        }
        let _ = std::fs::remove_file(&tar);
        if let Some(e) = failure {
            return Err(e);
        }
    }
    Ok(missing)
}
