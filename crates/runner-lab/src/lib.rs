//! `runner lab`: five real hosts on one machine, the way kind gives
//! Kubernetes nodes. Each lab host is a container with its own IP on a
//! private Docker network the lab creates, running sshd and its own nested
//! Docker engine, with keepalived installed; RabbitMQ and HAProxy images are
//! built locally (no registry) and loaded into each host's engine.
//!
//! The CLI entry points are [`LabCommand`] and [`run`]. Tests and later
//! crates use the library API: [`up`]/[`down`], [`Lab`] (hosts, IPs, VIP,
//! SSH options, key and known_hosts paths), [`exec`], [`host_ip`], [`vip`],
//! [`vip_holders`], the [`faults`] module and [`status`].
//!
//! Network rule: lab hosts have no default route; they reach each other and
//! this machine over the lab network, nothing else, and nothing in this
//! crate sends traffic anywhere but loopback and the lab network.

pub mod docker;
pub mod faults;
pub mod hosts;
pub mod images;
pub mod inventory;
pub mod keys;
mod lab;
pub mod network;
pub mod progress;
pub mod state;
pub mod status;

use std::net::Ipv4Addr;

use anyhow::{Context, Result};

pub use images::RabbitmqVersion;
pub use lab::{DEFAULT_HOSTS, DownReport, HostReport, Lab, LabHost, UpOptions, UpReport, down, up};
pub use state::{inventory_path, state_dir};

/// `runner lab ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// Build images if needed and bring the lab hosts up (idempotent).
    Up {
        /// Host names; rabbit* go to the `rabbits` group, others to
        /// `balancers` [default: the previous lab's, else
        /// rabbit1,rabbit2,rabbit3,lb1,lb2].
        #[arg(long, value_delimiter = ',')]
        hosts: Option<Vec<String>>,
        /// RabbitMQ line [default: the previous lab's, else 4.0].
        #[arg(long, value_enum)]
        rabbitmq: Option<RabbitmqVersion>,
    },
    /// Show each host: state, IP, sshd, engine, service containers, VIP.
    Status,
    /// Open a shell, or run one command, on a lab host over SSH (lab key,
    /// strict host-key checking against the lab's known_hosts).
    Ssh {
        /// Lab host name.
        host: String,
        /// Command to run (after `--`); a login shell when absent.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Remove the hosts, the network and non-cache volumes.
    Down {
        /// Also remove the hosts' image cache volumes, the lab's images and
        /// the key pair.
        #[arg(long)]
        purge: bool,
    },
    /// Kill a host (`docker kill`: no clean shutdown).
    Kill {
        /// Lab host name.
        host: String,
    },
    /// Stop a host cleanly.
    Stop {
        /// Lab host name.
        host: String,
    },
    /// Start a stopped or killed host and wait until it answers.
    Start {
        /// Lab host name.
        host: String,
    },
    /// Freeze every process of a host.
    Pause {
        /// Lab host name.
        host: String,
    },
    /// Thaw a paused host.
    Unpause {
        /// Lab host name.
        host: String,
    },
    /// Cut a host off the lab network (its state and IP stay).
    Partition {
        /// Lab host name.
        host: String,
    },
    /// End the partition of one host, or of every host.
    Heal {
        /// Lab host name; all hosts when absent.
        host: Option<String>,
    },
}

/// Run one lab subcommand; returns the process exit code.
pub async fn run(cmd: LabCommand) -> Result<i32> {
    docker::ensure_engine().await?;
    match cmd {
        LabCommand::Up { hosts, rabbitmq } => {
            let report = up(UpOptions {
                hosts,
                rabbitmq,
                state_dir: state_dir(),
            })
            .await?;
            print!("{}", report.render());
            Ok(0)
        }
        LabCommand::Status => {
            let st = status::gather().await?;
            if st.hosts.is_empty() && st.vip.is_none() {
                println!("no lab is up (run `runner lab up`)");
                return Ok(1);
            }
            print!("{}", status::render(&st));
            Ok(0)
        }
        LabCommand::Ssh { host, command } => {
            let lab = Lab::open_default()?;
            let status = lab
                .ssh_command(&host, &command)?
                .status()
                .context("run ssh (install openssh-client)")?;
            Ok(status.code().unwrap_or(255))
        }
        LabCommand::Down { purge } => {
            let report = down(&state_dir(), purge).await?;
            print!("{}", report.render());
            Ok(0)
        }
        LabCommand::Kill { host } => {
            faults::kill(&host).await?;
            println!("killed {host}");
            Ok(0)
        }
        LabCommand::Stop { host } => {
            faults::stop(&host).await?;
            println!("stopped {host}");
            Ok(0)
        }
        LabCommand::Start { host } => {
            faults::start(&host).await?;
            println!("started {host}");
            Ok(0)
        }
        LabCommand::Pause { host } => {
            faults::pause(&host).await?;
            println!("paused {host}");
            Ok(0)
        }
        LabCommand::Unpause { host } => {
            faults::unpause(&host).await?;
            println!("unpaused {host}");
            Ok(0)
        }
        LabCommand::Partition { host } => {
            faults::partition(&host).await?;
            println!("partitioned {host} (heal with `runner lab heal {host}`)");
            Ok(0)
        }
        LabCommand::Heal { host } => {
            let healed = faults::heal(host.as_deref()).await?;
            if healed.is_empty() {
                println!("nothing was partitioned");
            } else {
                println!("healed {}", healed.join(", "));
            }
            Ok(0)
        }
    }
}

/// Runs `sh -c CMD` inside lab host `host`'s container (`docker exec`);
/// the output carries the exit code, stdout and stderr.
pub async fn exec(host: &str, cmd: &str) -> Result<docker::Output> {
    hosts::exec(host, cmd).await
}

/// The lab IP of `host`, as the engine reports it.
pub async fn host_ip(host: &str) -> Result<Ipv4Addr> {
    hosts::container_info(host)
        .await?
        .and_then(|i| i.ip)
        .with_context(|| format!("lab host {host} is not on the lab network (is the lab up?)"))
}

/// The balancers' virtual IP (.250 of the lab network).
pub async fn vip() -> Result<Ipv4Addr> {
    Ok(network::lab_subnet()
        .await?
        .context("no lab network (run `runner lab up`)")?
        .vip())
}

/// The hosts whose interfaces currently carry the VIP (checked with
/// `ip -4 addr` on every running host).
pub async fn vip_holders() -> Result<Vec<String>> {
    let vip = vip().await?;
    let mut out = Vec::new();
    for h in hosts::existing_hosts().await? {
        if status::holds_vip(&h, vip).await {
            out.push(h);
        }
    }
    Ok(out)
}
