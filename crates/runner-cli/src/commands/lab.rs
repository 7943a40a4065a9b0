//! `runner lab ...`: the lab's subcommands (up, status, ssh, down and the
//! host faults), parsed here and carried out by `runner_lab`. The flags
//! `--hosts` and `--rabbitmq` are mapped here to the lab's data: a
//! [`Topology`] and a [`Stack`].

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use runner_lab::{HostDef, Lab, Stack, Topology, UpOptions, faults, status};

/// `runner lab ...` subcommands (but `chaos`).
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Build images if needed and bring the lab hosts up (idempotent).
    Up {
        /// Host names; rabbit* go to the `rabbits` group, others to
        /// `balancers` [default: the previous lab's, else
        /// rabbit1,rabbit2,rabbit3,lb1,lb2].
        #[arg(long, value_delimiter = ',', conflicts_with = "topology")]
        hosts: Option<Vec<String>>,
        /// A named topology [default: the previous lab's, else five].
        #[arg(long, value_enum)]
        topology: Option<NamedTopology>,
        /// RabbitMQ line [default: the previous lab's, else 4.0].
        #[arg(long, value_enum)]
        rabbitmq: Option<RabbitmqLine>,
    },
    /// Show each host (state, IP, sshd, engine, service containers,
    /// keepalived, VIP), then whether the RabbitMQ HA cluster is whole.
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
    /// Watch who holds the VIP, asking every 0.2 s, and print each change:
    /// with nothing failing, every change is a false failover. Exit 1 when
    /// there was any.
    WatchVip {
        /// How long to watch (e.g. 10m).
        #[arg(long = "for", default_value = "10m", value_parser = runner_amqp_workload::duration::parse_duration)]
        duration: std::time::Duration,
    },
    /// Remove the hosts, the network and non-cache volumes.
    Down {
        /// Also remove the hosts' image cache volumes, the lab's images and
        /// the key pair.
        #[arg(long)]
        purge: bool,
    },
    #[command(flatten)]
    Fault(HostFault),
}

/// The faults `runner lab` injects into one host.
#[derive(Debug, Subcommand)]
pub enum HostFault {
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

/// RabbitMQ line the lab runs: a name for one of the lab's built-in stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RabbitmqLine {
    /// RabbitMQ 4.0.5 (Debian trixie).
    #[value(name = "4.0")]
    V4_0,
    /// RabbitMQ 3.10.8 (Debian bookworm), the line with classic mirroring.
    #[value(name = "3.10")]
    V3_10,
    /// RabbitMQ 4.3 (Debian forky, testing): the newest line Debian packages.
    #[value(name = "4.3")]
    V4_3,
}

impl RabbitmqLine {
    /// The lab stack that runs this line.
    fn stack(self) -> Result<Stack> {
        Stack::builtin(match self {
            RabbitmqLine::V4_0 => "rabbitmq-4.0",
            RabbitmqLine::V3_10 => "rabbitmq-3.10",
            RabbitmqLine::V4_3 => "rabbitmq-4.3",
        })
    }
}

/// The lab's named topologies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NamedTopology {
    /// rabbit1-3 (`rabbits`) and lb1-2 (`balancers`): balancers of their own.
    Five,
    /// The seed how-to's three machines: rabbit1-3 (`rabbits`), with
    /// HAProxy and keepalived beside the node on rabbit2 and rabbit3
    /// (`balancers`).
    Seed,
}

impl NamedTopology {
    fn topology(self) -> Topology {
        match self {
            NamedTopology::Five => Topology::default(),
            NamedTopology::Seed => Topology::seed(),
        }
    }
}

/// The topology `--hosts` names: `rabbit*` in `rabbits`, the others in
/// `balancers`; `rabbitN` at .1N and `lbN` at .2N (N in 1..=9), any other
/// name at the next free address from .31.
pub fn topology_of(names: &[String]) -> Topology {
    let number = |name: &str| -> Option<u8> {
        [("rabbit", 10u8), ("lb", 20u8)]
            .iter()
            .find_map(|(p, base)| {
                let n: u8 = name.strip_prefix(p)?.parse().ok()?;
                (1..=9).contains(&n).then_some(base + n)
            })
    };
    let hosts = names
        .iter()
        .map(|name| {
            let group = if name.starts_with("rabbit") {
                "rabbits"
            } else {
                "balancers"
            };
            HostDef {
                host_number: number(name),
                ..HostDef::new(name.clone(), &[group])
            }
        })
        .collect();
    Topology {
        groups: vec!["rabbits".into(), "balancers".into()],
        hosts,
    }
}

/// Runs one lab subcommand; returns the process exit code.
pub async fn run(cmd: LabCommand) -> Result<i32> {
    runner_lab::docker::ensure_engine().await?;
    match cmd {
        LabCommand::Up {
            hosts,
            topology,
            rabbitmq,
        } => {
            let report = runner_lab::up(UpOptions {
                topology: topology
                    .map(NamedTopology::topology)
                    .or_else(|| hosts.as_deref().map(topology_of)),
                stack: rabbitmq.map(RabbitmqLine::stack).transpose()?,
                state_dir: runner_lab::state_dir(),
            })
            .await?;
            print!("{}", report.render());
            Ok(0)
        }
        LabCommand::Status => {
            let lab = Lab::open_default().ok();
            let (st, cluster) = tokio::join!(
                status::gather(lab.as_ref().map(Lab::topology)),
                cluster_line()
            );
            let st = st?;
            if st.hosts.is_empty() && st.vip.is_none() {
                println!("no lab is up (run `runner lab up`)");
                return Ok(1);
            }
            print!("{}", status::render(&st));
            println!("{cluster}");
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
        LabCommand::WatchVip { duration } => watch_vip(duration).await,
        LabCommand::Down { purge } => {
            let report = runner_lab::down(&runner_lab::state_dir(), purge).await?;
            print!("{}", report.render());
            Ok(0)
        }
        LabCommand::Fault(fault) => host_fault(fault).await,
    }
}

/// Whether the RabbitMQ HA cluster on the lab is whole, as chaos checks
/// it between scenarios (every node running and clustered, the workload
/// queues' replicas voters and caught up, every backend UP, keepalived on
/// every balancer, one VIP holder: the best healthy balancer), or why
/// there is none.
#[cfg(feature = "chaos")]
async fn cluster_line() -> String {
    let state_dir = runner_lab::state_dir();
    let verdict = runner_chaos::health::verdict(&state_dir).await;
    let mut out = verdict.line();
    if let (runner_chaos::health::Verdict::Whole { .. }, Ok(c)) =
        (&verdict, runner_chaos::cluster::Cluster::open(&state_dir))
    {
        for page in c.pages() {
            out.push_str(&format!(
                "\n{:<20} {}  (user {}, password: {})",
                page.what, page.url, page.user, page.password_secret
            ));
        }
        if let (Some(port), Some(ca)) = (c.deployment.amqps_port, &c.ca_file) {
            out.push_str(&format!(
                "\n{:<20} amqps://{}:{port}/  (user {}; trust the CA in {})",
                "AMQPS",
                c.vip,
                c.deployment.admin_user,
                ca.display()
            ));
        }
        out.push_str(&format!("\npasswords in {}", c.secrets_file.display()));
    }
    out
}

/// Without the `chaos` feature there is no cluster check.
#[cfg(not(feature = "chaos"))]
async fn cluster_line() -> String {
    "cluster: not checked (runner built without the `chaos` feature)".into()
}

/// The faults on one host (kill, stop, start, pause, unpause, partition,
/// heal): each says what it did.
async fn host_fault(fault: HostFault) -> Result<i32> {
    let said = match fault {
        HostFault::Kill { host } => faults::kill(&host).await.map(|_| format!("killed {host}")),
        HostFault::Stop { host } => faults::stop(&host).await.map(|_| format!("stopped {host}")),
        HostFault::Start { host } => faults::start(&host)
            .await
            .map(|_| format!("started {host}")),
        HostFault::Pause { host } => faults::pause(&host).await.map(|_| format!("paused {host}")),
        HostFault::Unpause { host } => faults::unpause(&host)
            .await
            .map(|_| format!("unpaused {host}")),
        HostFault::Partition { host } => faults::partition(&host)
            .await
            .map(|_| format!("partitioned {host} (heal with `runner lab heal {host}`)")),
        HostFault::Heal { host } => faults::heal(host.as_deref()).await.map(|healed| {
            if healed.is_empty() {
                "nothing was partitioned".to_string()
            } else {
                format!("healed {}", healed.join(", "))
            }
        }),
    }?;
    println!("{said}");
    Ok(0)
}

/// `runner lab watch-vip`: the holder at the start, each change after.
async fn watch_vip(duration: std::time::Duration) -> Result<i32> {
    let changes = runner_lab::watch_vip(duration).await?;
    let name = |h: &[String]| match h {
        [] => "nobody".to_string(),
        hs => hs.join(" and "),
    };
    for c in &changes {
        println!("{:>8.1} s  {}", c.at.as_secs_f64(), name(&c.holders));
    }
    let moves = changes.len().saturating_sub(1);
    println!("VIP changes in {:.0} s: {moves}", duration.as_secs_f64());
    Ok(if moves == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_flag_is_the_default_topology() {
        let names: Vec<String> = Topology::default().names();
        assert_eq!(topology_of(&names), Topology::default());
        let t = topology_of(&["rabbit4".into(), "app".into(), "lb10".into()]);
        assert_eq!(t.host_numbers().unwrap(), [14, 31, 32]);
        assert_eq!(t.groups_of("app"), ["balancers"]);
    }
}
