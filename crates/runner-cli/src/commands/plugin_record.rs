//! `runner plugin record JOURNAL --plugin NAME -o FILE`: a plugin's plan
//! lines cut from a run's journal into a fixture for `runner plugin test`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use runner_engine::fixture_record::{Selection, cut};
use runner_engine::journal;
use runner_engine::state_files::{self, Readers};
use runner_types::PluginName;

use crate::exit;

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The run's journal: a file, a run id (in `.runner/runs/`), or `last`
    /// (the newest run there).
    journal: PathBuf,
    /// The plugin whose plans to cut.
    #[arg(long)]
    plugin: String,
    /// Only this host's plans.
    #[arg(long)]
    host: Option<String>,
    /// Only this step's plans (counted from 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    step: Option<u32>,
    /// The fixture to write (`*.jsonl`, which `runner plugin test` reads).
    #[arg(short = 'o', long = "out")]
    out: PathBuf,
}

pub fn run(state_dir: &Path, args: RecordArgs) -> anyhow::Result<i32> {
    let path = journal::find(&state_dir.join("runs"), &args.journal)?;
    let selection = Selection {
        plugin: PluginName::new(&args.plugin),
        host: args.host,
        step: args.step.map(|s| s as usize),
    };
    let lines = cut(&path, &selection)?;
    state_files::write(&args.out, lines.as_bytes(), Readers::Owner)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{}: {} plan line(s) of plugin '{}' from {}",
        args.out.display(),
        lines.lines().count(),
        selection.plugin,
        path.display()
    );
    Ok(exit::OK)
}
