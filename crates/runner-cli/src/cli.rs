//! The command line: every subcommand and flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "runner",
    version,
    about = "Playbooks whose steps are sandboxed WebAssembly plugins: exact previews, journaled runs."
)]
pub struct Cli {
    /// Extra directories to find plugins in (before the built-in ones).
    #[arg(
        long = "plugins",
        global = true,
        env = "RUNNER_PLUGIN_PATH",
        value_delimiter = ':'
    )]
    pub plugin_dirs: Vec<PathBuf>,
    /// Where journals and other run state are kept.
    #[arg(
        long,
        global = true,
        env = "RUNNER_STATE_DIR",
        default_value = ".runner"
    )]
    pub state_dir: PathBuf,
    /// More log on stderr: -v each action run and its result, and plugin
    /// log lines; -vv also every observation; -vvv everything. `RUST_LOG`
    /// (e.g. `runner_engine=debug`) overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Write the log to this file instead of stderr.
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a playbook (or preview it with --dry-run).
    Play(PlayArgs),
    /// Preview a playbook and save the plan to apply later.
    Plan {
        #[command(flatten)]
        run: RunArgs,
        /// Where to write the plan.
        #[arg(short = 'o', long = "out")]
        out: PathBuf,
        /// Exit 0 when nothing would change, 6 when something would change
        /// or is pending (docs/usage.md lists every code).
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Apply a saved plan exactly, or refuse it if the hosts changed since.
    Apply {
        plan: PathBuf,
        #[arg(long, default_value_t = 10)]
        forks: usize,
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        output: OutputFormat,
    },
    /// Re-plan a recorded run offline against its recorded observations.
    Replay { journal: PathBuf },
    /// Show an inventory as runner resolves it, as JSON: each host's groups
    /// and variables, group_vars/ and host_vars/ included (what
    /// `ansible-inventory --list` shows).
    Inventory(crate::commands::inventory::InventoryArgs),
    /// List or show plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Scaffold a new plugin.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// An AMQP workload against any cluster: throughput, confirm latency,
    /// and whether every confirmed message came back (`runner probe`, its old name, still works).
    #[cfg(feature = "chaos")]
    #[command(alias = "probe")]
    Workload(crate::commands::workload::WorkloadArgs),
    /// Local lab hosts (containers with sshd and Docker), and fault
    /// injection on the cluster built on them.
    Lab {
        #[command(subcommand)]
        command: LabCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    #[command(flatten)]
    Hosts(crate::commands::lab::LabCommand),
    /// Inject faults under an AMQP load through the virtual IP and report
    /// lost messages and outages per fault.
    #[cfg(feature = "chaos")]
    Chaos(crate::commands::chaos::ChaosArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The playbook.
    pub playbook: PathBuf,
    /// The inventory (default: the lab's, .runner/lab/inventory.yaml, when
    /// `runner lab up` made it).
    #[arg(short, long)]
    pub inventory: Option<PathBuf>,
    /// Extra variables, `name=value` (value parsed as YAML), or `@file.yaml`.
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Only steps with one of these tags.
    #[arg(short = 't', long, value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Skip steps with any of these tags.
    #[arg(long, value_delimiter = ',')]
    pub skip_tags: Vec<String>,
    /// Only these hosts (a host pattern).
    #[arg(short = 'l', long)]
    pub limit: Option<String>,
    /// How many hosts at a time.
    #[arg(short = 'f', long, default_value_t = 10)]
    pub forks: usize,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct PlayArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Show every action, with diffs, and change nothing (Ansible's
    /// `--check`/`-C` are the same).
    #[arg(long, visible_alias = "check", short = 'C')]
    pub dry_run: bool,
    /// Show diffs of written files while applying too.
    #[arg(long)]
    pub diff: bool,
    /// Continue a crashed or failed run: `last` (the newest applying run
    /// of this playbook and inventory, if it did not finish ok) or a run id.
    #[arg(long)]
    pub resume: Option<String>,
    /// Exit 0 when nothing changed (or would change), 6 when something
    /// changed, would change or is pending (docs/usage.md lists every code).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Start at the step of this name; the steps before it are not run.
    #[arg(long, value_name = "NAME", conflicts_with = "resume")]
    pub start_at_task: Option<String>,
    #[command(flatten)]
    pub list: ListArgs,
}

/// Print and exit, connecting to no host (Ansible's flags).
#[derive(Debug, Args, Default)]
pub struct ListArgs {
    /// Print each step's hosts (after --limit) and exit.
    #[arg(long)]
    pub list_hosts: bool,
    /// Print the steps that would run (after --tags, --skip-tags and
    /// --start-at-task) and exit.
    #[arg(long)]
    pub list_tasks: bool,
    /// Print each step's tags, and all of them, and exit.
    #[arg(long)]
    pub list_tags: bool,
    /// Check the playbook (and, when there is one, that its host patterns
    /// resolve in the inventory and its plugins exist) and exit.
    #[arg(long)]
    pub syntax_check: bool,
}

impl ListArgs {
    pub fn any(&self) -> bool {
        self.list_hosts || self.list_tasks || self.list_tags || self.syntax_check
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every plugin found, with its version and summary.
    List,
    /// A plugin's parameters and capabilities.
    Show { name: String },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin that builds as is, with the WIT contract (and, in
    /// Rust, the SDK) of this runner beside it.
    New {
        name: String,
        /// Parent directory (default: current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The plugin's language: rust (cargo, wasm32-wasip2) or python
        /// (componentize-py).
        #[arg(long, value_enum, default_value_t = Lang::Rust)]
        lang: Lang,
    },
    /// Plan a plugin against the fixtures in DIR, with no hosts: hand-written
    /// `*.yaml` (parameters, facts, answers, the plan expected) or journal
    /// excerpts `*.jsonl`. Differences are shown as diffs (exit 5).
    Test { dir: PathBuf },
    /// Cut a plugin's plan lines from a run's journal into a fixture for
    /// `runner plugin test` (the journal is masked: no secret is written).
    Record(crate::commands::plugin_record::RecordArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Lang {
    Rust,
    Python,
}
