//! The run journal: one JSONL file per run under `.runner/runs/`, each
//! line appended and fsynced before the runner goes on, every string
//! redacted. It is what `--resume` continues from and what `replay` reads.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use runner_types::{Action, Redactor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One observation a plugin made while planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// `probe`, `read` or `http`.
    pub kind: String,
    pub request: String,
    /// The answer as the plugin saw it (redacted): `{exit_code, stdout,
    /// stderr}`, file text or null, `{status, body}`, or `{error}`.
    pub answer: Value,
    /// sha256 of the unredacted answer: compared when a saved plan is applied.
    pub answer_sha: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    Run {
        run_id: String,
        started: String,
        playbook: String,
        inventory: String,
        mode: String,
        resume_of: Option<String>,
    },
    Plan {
        step: usize,
        host: String,
        stage: u32,
        plugin: String,
        plugin_sha: String,
        inputs: String,
        params: Value,
        facts: Value,
        observations: Vec<Observation>,
        actions: Vec<Action>,
        digests: Vec<String>,
        replan: bool,
    },
    ActionStart {
        step: usize,
        host: String,
        stage: u32,
        index: usize,
        digest: String,
        summary: String,
    },
    ActionDone {
        step: usize,
        host: String,
        stage: u32,
        index: usize,
        digest: String,
        ok: bool,
        detail: String,
    },
    HostDone {
        step: usize,
        host: String,
        status: String,
        inputs: String,
        message: String,
    },
    End {
        status: String,
    },
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    redactor: Redactor,
}

impl Journal {
    pub fn create(dir: &Path, run_id: &str, redactor: Redactor) -> anyhow::Result<Journal> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        Ok(Journal {
            path,
            file: Mutex::new(file),
            redactor,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one entry, redacted, and fsync it.
    pub fn write(&self, entry: &Entry) -> anyhow::Result<()> {
        let value = serde_json::to_value(entry)?;
        let mut line = serde_json::to_string(&self.redactor.redact_json(&value))?;
        line.push('\n');
        let mut f = self.file.lock().expect("journal lock");
        f.write_all(line.as_bytes())?;
        f.sync_data()?;
        Ok(())
    }
}

/// Read a journal; a torn last line (the runner died mid-write) is ignored.
pub fn read(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let f = File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(&line) {
            Ok(e) => out.push(e),
            Err(e) => {
                // Only the last line may be torn.
                let rest = std::fs::read_to_string(path)?.lines().count();
                if i + 1 < rest {
                    anyhow::bail!("{}:{}: not a journal entry: {e}", path.display(), i + 1);
                }
            }
        }
    }
    Ok(out)
}

/// The newest journal in `dir` of a run that applied changes (previews,
/// plans and replays have nothing to resume).
pub fn latest(dir: &Path) -> anyhow::Result<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("no runs recorded in {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    runs.sort();
    runs.into_iter()
        .rev()
        .find(|p| mode_of(p).as_deref() == Some("apply"))
        .ok_or_else(|| anyhow::anyhow!("no applying run recorded in {}", dir.display()))
}

/// The mode (`apply`, `dry-run`, `plan`) a journal's run had.
pub fn mode_of(path: &Path) -> Option<String> {
    let f = File::open(path).ok()?;
    let first = BufReader::new(f).lines().next()?.ok()?;
    match serde_json::from_str(&first).ok()? {
        Entry::Run { mode, .. } => Some(mode),
        _ => None,
    }
}

/// A new run id: sortable by time.
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]");
    format!(
        "{}-{:04x}",
        now.format(&fmt).unwrap_or_default(),
        rand::random::<u16>()
    )
}
