//! The lab as a whole: `up` (images, network, keys, hosts, image loads,
//! known_hosts, inventory — each step only when needed, reported), `down`,
//! and [`Lab`], the handle tests and later crates use to reach the hosts.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::docker;
use crate::faults;
use crate::hosts::{self, HostAction, HostSpec, READY_TIMEOUT};
use crate::images::{self, HOST_IMAGE, ImageAction, ImageSpec};
use crate::inventory::{self, InventoryInput};
use crate::keys;
use crate::network::{self, Subnet};
use crate::progress::Progress;
use crate::stack::Stack;
use crate::state::{LABEL_CACHE, LABEL_LAB, Paths, Record};
use crate::topology::Topology;

/// What `up` should make.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// Hosts and groups; `None`: the previous lab's, else
    /// [`Topology::default`].
    pub topology: Option<Topology>,
    /// What the hosts run; `None`: the previous lab's, else
    /// [`Stack::default`].
    pub stack: Option<Stack>,
    /// State directory (key pair, known_hosts, inventory).
    pub state_dir: PathBuf,
}

impl UpOptions {
    /// Defaults, with the state in `state_dir`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        UpOptions {
            topology: None,
            stack: None,
            state_dir: state_dir.into(),
        }
    }
}

/// What `up` did to one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReport {
    /// Inventory name.
    pub name: String,
    /// Lab IP.
    pub ip: Ipv4Addr,
    /// What happened to its container.
    pub action: HostAction,
    /// Its engine was emptied (new container on a cached volume).
    pub cleaned: bool,
    /// The lab key was (re)installed.
    pub key_installed: bool,
    /// A partition was healed.
    pub healed: bool,
}

impl HostReport {
    /// True when anything about the host changed.
    pub fn changed(&self) -> bool {
        self.action != HostAction::Unchanged || self.key_installed || self.healed
    }
}

/// Everything `up` did, for printing and for tests.
#[derive(Debug, Clone)]
pub struct UpReport {
    /// Outer engine version.
    pub engine: String,
    /// Each image and whether it was built.
    pub images: Vec<(String, ImageAction)>,
    /// The lab subnet.
    pub subnet: Subnet,
    /// The network was created now.
    pub network_created: bool,
    /// The VIP.
    pub vip: Ipv4Addr,
    /// The key pair was made now.
    pub key_created: bool,
    /// Per host.
    pub hosts: Vec<HostReport>,
    /// Host containers removed because they are no longer wanted.
    pub removed_hosts: Vec<String>,
    /// Images loaded into hosts' engines, per host.
    pub loaded: BTreeMap<String, Vec<String>>,
    /// known_hosts content changed.
    pub known_hosts_changed: bool,
    /// The inventory changed.
    pub inventory_changed: bool,
    /// `lab.json` changed.
    pub record_changed: bool,
    /// Where the inventory is.
    pub inventory: PathBuf,
    /// How long `up` took.
    pub elapsed: Duration,
}

impl UpReport {
    /// True when `up` changed anything at all.
    pub fn changed(&self) -> bool {
        self.images.iter().any(|(_, a)| *a == ImageAction::Built)
            || self.network_created
            || self.key_created
            || self.hosts.iter().any(HostReport::changed)
            || !self.removed_hosts.is_empty()
            || !self.loaded.is_empty()
            || self.known_hosts_changed
            || self.inventory_changed
            || self.record_changed
    }

    /// A short human report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (tag, a) in &self.images {
            let what = match a {
                ImageAction::Built => "built",
                ImageAction::Unchanged => "unchanged",
            };
            s.push_str(&format!("image    {tag:<28} {what}\n"));
        }
        s.push_str(&format!(
            "network  runner-lab {:<17} {}\n",
            self.subnet.to_string(),
            if self.network_created {
                "created"
            } else {
                "unchanged"
            }
        ));
        for h in &self.hosts {
            let mut what = h.action.to_string();
            if h.cleaned {
                what.push_str(", engine emptied");
            }
            if h.key_installed {
                what.push_str(", key installed");
            }
            if h.healed {
                what.push_str(", partition healed");
            }
            if let Some(l) = self.loaded.get(&h.name) {
                what.push_str(&format!(", loaded {}", l.join(" ")));
            }
            s.push_str(&format!(
                "host     {:<10} {:<15} {what}\n",
                h.name,
                h.ip.to_string()
            ));
        }
        for h in &self.removed_hosts {
            s.push_str(&format!("host     {h:<10} removed\n"));
        }
        s.push_str(&format!("VIP      {}\n", self.vip));
        s.push_str(&format!(
            "inventory {} ({})\n",
            self.inventory.display(),
            if self.inventory_changed {
                "written"
            } else {
                "unchanged"
            }
        ));
        s.push_str(&format!(
            "lab up in {:.1} s: {}\n",
            self.elapsed.as_secs_f64(),
            if self.changed() {
                "changed"
            } else {
                "nothing changed"
            }
        ));
        s
    }
}

/// Brings the lab up (or makes sure it is up): builds missing images,
/// creates the network, key pair and hosts, loads service images into the
/// hosts' engines, writes known_hosts and the inventory. Idempotent: a
/// second call changes nothing ([`UpReport::changed`] is false).
pub async fn up(opts: UpOptions) -> Result<UpReport> {
    let t0 = Instant::now();
    let engine = docker::ensure_engine().await?;
    let paths = Paths::new(&opts.state_dir);
    let prev = Record::load(&paths)?;
    let topology = opts
        .topology
        .or_else(|| prev.as_ref().map(|r| r.topology.clone()))
        .unwrap_or_default();
    topology.validate()?;
    let stack = opts
        .stack
        .or_else(|| prev.map(|r| r.stack))
        .unwrap_or_default();
    let progress = Progress::new();

    let images = build_images(&stack, &progress).await?;
    progress.phase("network and keys");
    let (subnet, network_created) = network::ensure_network().await?;
    let key_created = keys::ensure_key_pair(&paths).await?;
    let host_names = topology.names();
    let removed_hosts = remove_unwanted(&host_names).await?;
    let (hosts, host_keys) = start_hosts(&topology, subnet, &paths, &progress).await?;
    let loaded = hosts::load_images(&host_names, &stack.image_tags(), &paths, &progress).await?;

    let entries: Vec<(String, Ipv4Addr, String)> = hosts
        .iter()
        .map(|r| (r.name.clone(), r.ip, host_keys[&r.name].clone()))
        .collect();
    let known_hosts_changed = keys::write_known_hosts(&paths, &entries)?;
    let inv_hosts: Vec<(String, Ipv4Addr)> = hosts.iter().map(|r| (r.name.clone(), r.ip)).collect();
    let inventory_changed = inventory::write(&InventoryInput {
        paths: &paths,
        topology: &topology,
        hosts: &inv_hosts,
        vip: subnet.vip(),
        stack: &stack,
    })?;
    let record_changed = Record {
        topology,
        stack,
        subnet: subnet.to_string(),
        vip: subnet.vip().to_string(),
    }
    .save(&paths)?;
    progress.finish();

    Ok(UpReport {
        engine,
        images,
        subnet,
        network_created,
        vip: subnet.vip(),
        key_created,
        hosts,
        removed_hosts,
        loaded,
        known_hosts_changed,
        inventory_changed,
        record_changed,
        inventory: paths.inventory(),
        elapsed: t0.elapsed(),
    })
}

/// Builds the host image and the stack's images where needed.
async fn build_images(stack: &Stack, progress: &Progress) -> Result<Vec<(String, ImageAction)>> {
    let mut specs = vec![ImageSpec::host()];
    specs.extend(stack.images.iter().map(ImageSpec::service));
    let mut report = Vec::new();
    for spec in specs {
        let action = images::ensure_image(&spec, progress).await?;
        if action == ImageAction::Built {
            progress.println(&format!("built {}", spec.tag));
        }
        report.push((spec.tag.clone(), action));
    }
    Ok(report)
}

/// Removes host containers the topology no longer has.
async fn remove_unwanted(wanted: &[String]) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for h in hosts::existing_hosts().await? {
        if !wanted.contains(&h) {
            hosts::remove(&h).await?;
            removed.push(h);
        }
    }
    Ok(removed)
}

/// Brings every host of the topology up, in parallel; returns their
/// reports in topology order and their host keys.
async fn start_hosts(
    topology: &Topology,
    subnet: Subnet,
    paths: &Paths,
    progress: &Progress,
) -> Result<(Vec<HostReport>, BTreeMap<String, String>)> {
    let host_image_id = images::image_id(HOST_IMAGE)
        .await?
        .context("host image missing after build")?;
    let pubkey = keys::public_key(paths)?;
    let names = topology.names();
    progress.phase(&format!("starting hosts {}", names.join(", ")));
    let mut tasks = tokio::task::JoinSet::new();
    for (name, octet) in names.iter().zip(topology.host_numbers()?) {
        let spec = HostSpec {
            name: name.clone(),
            ip: subnet.host(octet),
        };
        let (image_id, pubkey) = (host_image_id.clone(), pubkey.clone());
        tasks.spawn(async move { bring_up_host(spec, image_id, pubkey).await });
    }
    let mut reports = Vec::new();
    let mut host_keys = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (report, key) = joined??;
        progress.step(&format!("{} {}", report.name, report.action));
        host_keys.insert(report.name.clone(), key);
        reports.push(report);
    }
    reports.sort_by_key(|r| names.iter().position(|n| *n == r.name));
    Ok((reports, host_keys))
}

async fn bring_up_host(
    spec: HostSpec,
    host_image_id: String,
    pubkey: String,
) -> Result<(HostReport, String)> {
    let action = hosts::ensure_host(&spec, &host_image_id).await?;
    hosts::wait_ready(&spec.name, spec.ip, READY_TIMEOUT).await?;
    hosts::isolate(&spec.name).await?;
    let fresh = matches!(action, HostAction::Created | HostAction::Recreated);
    if fresh {
        hosts::clean_engine(&spec.name).await?;
    }
    let key_installed = hosts::install_authorized_key(&spec.name, &pubkey).await?;
    let healed = !fresh && faults::heal_host(&spec.name).await?;
    let host_key = hosts::host_key(&spec.name).await?;
    Ok((
        HostReport {
            name: spec.name,
            ip: spec.ip,
            action,
            cleaned: fresh,
            // A new host always gets the key; only a changed one is news.
            key_installed: key_installed && !fresh,
            healed,
        },
        host_key,
    ))
}

/// What `down` removed.
#[derive(Debug, Clone, Default)]
pub struct DownReport {
    /// Host containers removed.
    pub hosts: Vec<String>,
    /// The network existed and was removed.
    pub network: bool,
    /// Volumes removed.
    pub volumes: Vec<String>,
    /// Images removed (`--purge`).
    pub images: Vec<String>,
}

impl DownReport {
    /// A short human report.
    pub fn render(&self) -> String {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        format!(
            "removed hosts: {}\nremoved network: {}\nremoved volumes: {}\nremoved images: {}\n",
            list(&self.hosts),
            if self.network { "runner-lab" } else { "none" },
            list(&self.volumes),
            list(&self.images)
        )
    }
}

/// Removes the lab: host containers, the network, non-cache volumes and
/// the lab's files but the key pair; with `purge` also the hosts'
/// `/var/lib/docker` cache volumes, the lab's images and the key pair.
pub async fn down(state_dir: &Path, purge: bool) -> Result<DownReport> {
    docker::ensure_engine().await?;
    let paths = Paths::new(state_dir);
    let mut report = DownReport::default();
    let mut tasks = tokio::task::JoinSet::new();
    for h in hosts::existing_hosts().await? {
        tasks.spawn(async move {
            // Empty the engine first, so its cached /var/lib/docker holds
            // no container that would restart (and create bind-mount
            // paths) in the next lab before `up` cleans it. Best effort:
            // a killed or paused host is removed all the same.
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(60), hosts::clean_engine(&h))
                    .await;
            hosts::remove(&h).await.map(|_| h)
        });
    }
    while let Some(r) = tasks.join_next().await {
        report.hosts.push(r??);
    }
    report.hosts.sort();
    report.network = network::remove_network().await?;

    let filter = format!("label={LABEL_LAB}");
    let format = format!("{{{{.Name}}}} {{{{.Label \"{LABEL_CACHE}\"}}}}");
    let vols = docker::run(&["volume", "ls", "--filter", &filter, "--format", &format]).await?;
    for line in vols.lines() {
        let mut w = line.split_whitespace();
        let Some(name) = w.next() else { continue };
        let cache = w.next().is_some();
        if purge || !cache {
            docker::run(&["volume", "rm", "-f", name]).await?;
            report.volumes.push(name.to_string());
        }
    }

    if purge {
        let tags = docker::run(&[
            "image",
            "ls",
            "--filter",
            "reference=runner-lab/*",
            "--format",
            "{{.Repository}}:{{.Tag}}",
        ])
        .await?;
        // Service and host images first, bases last (they are parents).
        let mut tags: Vec<&str> = tags.lines().filter(|t| !t.contains("<none>")).collect();
        tags.sort_by_key(|t| t.starts_with("runner-lab/base:"));
        for t in tags {
            let out = docker::output(&["image", "rm", "-f", t]).await?;
            if out.ok() {
                report.images.push(t.to_string());
            }
        }
        let label = format!("label={}", images::LABEL_SHA);
        let _ = docker::output(&["image", "prune", "-f", "--filter", &label]).await;
    }

    let mut files = vec![paths.inventory(), paths.known_hosts(), paths.record()];
    if purge {
        files.push(paths.private_key());
        files.push(paths.public_key());
    }
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    let _ = std::fs::remove_dir_all(paths.cache());
    Ok(report)
}

/// One host of a lab that is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// Inventory name (also the hostname).
    pub name: String,
    /// Lab IP.
    pub ip: Ipv4Addr,
    /// Its inventory groups.
    pub groups: Vec<String>,
}

/// A handle on a lab that `up` made, read from its state directory.
#[derive(Debug, Clone)]
pub struct Lab {
    /// The state files.
    pub paths: Paths,
    /// What `up` recorded.
    pub record: Record,
    /// The lab subnet.
    pub subnet: Subnet,
}

impl Lab {
    /// Opens the lab recorded in `state_dir`; fails when no `up` ran there.
    pub fn open(state_dir: impl AsRef<Path>) -> Result<Lab> {
        let paths = Paths::new(state_dir);
        let record = Record::load(&paths)?.with_context(|| {
            format!(
                "no lab recorded in {} (run `runner lab up`)",
                paths.dir.display()
            )
        })?;
        let subnet = Subnet::parse(&record.subnet)?;
        Ok(Lab {
            paths,
            record,
            subnet,
        })
    }

    /// Opens the lab in the default state directory ([`crate::state_dir`]).
    pub fn open_default() -> Result<Lab> {
        Lab::open(crate::state::state_dir())
    }

    /// The lab's hosts, in `up` order.
    pub fn hosts(&self) -> Vec<LabHost> {
        let topology = &self.record.topology;
        let octets = topology.host_numbers().unwrap_or_default();
        topology
            .hosts
            .iter()
            .zip(octets)
            .map(|(h, o)| LabHost {
                name: h.name.clone(),
                ip: self.subnet.host(o),
                groups: h.groups.clone(),
            })
            .collect()
    }

    /// One host by name.
    pub fn host(&self, name: &str) -> Result<LabHost> {
        self.hosts()
            .into_iter()
            .find(|h| h.name == name)
            .with_context(|| {
                format!(
                    "no lab host {name}; the lab has {}",
                    self.record.topology.names().join(", ")
                )
            })
    }

    /// Hosts of one inventory group, in `up` order.
    pub fn group(&self, group: &str) -> Vec<LabHost> {
        self.hosts()
            .into_iter()
            .filter(|h| h.groups.iter().any(|g| g == group))
            .collect()
    }

    /// The balancers' virtual IP.
    pub fn vip(&self) -> Ipv4Addr {
        self.subnet.vip()
    }

    /// What the lab's hosts run.
    pub fn stack(&self) -> &Stack {
        &self.record.stack
    }

    /// The lab's topology.
    pub fn topology(&self) -> &Topology {
        &self.record.topology
    }

    /// The private key that logs in as root on every host.
    pub fn key_path(&self) -> PathBuf {
        self.paths.private_key()
    }

    /// known_hosts with every host's key.
    pub fn known_hosts_path(&self) -> PathBuf {
        self.paths.known_hosts()
    }

    /// The inventory.
    pub fn inventory_path(&self) -> PathBuf {
        self.paths.inventory()
    }

    /// The options the system `ssh` needs to reach a lab host with strict
    /// host-key checking (no destination, no command).
    pub fn ssh_options(&self) -> Vec<String> {
        vec![
            "-i".into(),
            self.key_path().to_string_lossy().into_owned(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "StrictHostKeyChecking=yes".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.known_hosts_path().display()),
            "-o".into(),
            "ConnectTimeout=10".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
        ]
    }

    /// A system `ssh` command to `host` running `command` (a shell when
    /// empty), as root, with strict host-key checking.
    pub fn ssh_command(&self, host: &str, command: &[String]) -> Result<std::process::Command> {
        let h = self.host(host)?;
        let mut cmd = std::process::Command::new("ssh");
        cmd.args(self.ssh_options());
        if !command.is_empty() {
            cmd.args(["-o", "BatchMode=yes"]);
        }
        cmd.arg(format!("root@{}", h.ip));
        if !command.is_empty() {
            cmd.arg("--").args(command);
        }
        Ok(cmd)
    }

    /// Runs `sh -c CMD` inside a host's container (`docker exec`).
    pub async fn exec(&self, host: &str, cmd: &str) -> Result<docker::Output> {
        self.host(host)?;
        hosts::exec(host, cmd).await
    }
}
