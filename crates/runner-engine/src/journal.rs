//! The run journal: one JSONL file per run under `.runner/runs/`, each
//! line appended and fsynced before the runner goes on, every string
//! redacted. It is what `--resume` continues from and what `replay` reads.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use runner_types::{Action, OutputStream, Redactor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report::Status;
use crate::run::Mode;

/// The journal format this runner writes and reads; older journals are
/// refused with a clear message.
pub const FORMAT: u32 = 2;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Every step and host ok, changed, pending or skipped.
    Ok,
    /// A host failed or was unreachable.
    Failed,
}

/// What a plugin observed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// A read-only command on the target host.
    Probe,
    /// A file on the target host.
    Read,
    /// A GET from the runner's machine.
    Http,
    /// A file on the runner's machine, beside the playbook.
    LocalRead,
}

impl ObservationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObservationKind::Probe => "probe",
            ObservationKind::Read => "read",
            ObservationKind::Http => "http",
            ObservationKind::LocalRead => "local read",
        }
    }

    /// The grant that must allow it.
    pub fn access(self) -> runner_types::capability::Access {
        use runner_types::capability::Access;
        match self {
            ObservationKind::Probe => Access::Probe,
            ObservationKind::Read => Access::Read,
            ObservationKind::Http => Access::Http,
            ObservationKind::LocalRead => Access::LocalRead,
        }
    }
}

/// One observation a plugin made while planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub kind: ObservationKind,
    pub request: String,
    /// The answer as the plugin saw it (redacted): `{exit_code, stdout,
    /// stderr}`, file text or null, `{status, body}`, or `{error}`.
    pub answer: Value,
    /// sha256 of the unredacted answer: compared when a saved plan is applied.
    pub answer_sha: String,
    /// Answered by what earlier steps of the preview plan on the host, not
    /// by the host: checked again only once those steps have applied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub planned: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
// Entries are built and written one at a time: their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Entry {
    Run {
        /// [`FORMAT`]; absent in journals before it existed.
        #[serde(default)]
        format: u32,
        run_id: String,
        started: String,
        /// Absolute paths.
        playbook: String,
        inventory: String,
        mode: Mode,
        resume_of: Option<String>,
    },
    Plan {
        step: usize,
        host: String,
        /// The item of the step's loop, when it has one (from 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<usize>,
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
        /// The plugin could not know the rest yet: why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pending: Option<String>,
    },
    /// One line a plugin logged or printed while planning: masked, its
    /// control characters shown escaped (`\u{1b}`).
    PluginOutput {
        step: usize,
        host: String,
        stage: u32,
        #[serde(flatten)]
        stream: OutputStream,
        message: String,
    },
    ActionStart {
        step: usize,
        host: String,
        /// The item of the step's loop, when it has one (from 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<usize>,
        stage: u32,
        index: usize,
        digest: String,
        summary: String,
    },
    ActionDone {
        step: usize,
        host: String,
        /// The item of the step's loop, when it has one (from 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<usize>,
        stage: u32,
        index: usize,
        digest: String,
        ok: bool,
        detail: String,
    },
    HostDone {
        step: usize,
        host: String,
        status: Status,
        inputs: String,
        message: String,
    },
    End {
        status: RunOutcome,
    },
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    redactor: Redactor,
}

impl Journal {
    pub fn create(dir: &Path, run_id: &str, redactor: Redactor) -> anyhow::Result<Journal> {
        // 0600 in a directory made 0700: the journal holds what plugins saw.
        let path = dir.join(format!("{run_id}.jsonl"));
        let file = crate::state_files::create_new(&path)?;
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
        self.write_all(std::slice::from_ref(entry))
    }

    /// [`Journal::write_all`] where a failure cannot undo what happened:
    /// it is logged as an error, never dropped. (An action is not run
    /// when its start cannot be written: see `run::job`.)
    pub fn write_logged(&self, entries: &[Entry]) {
        if let Err(e) = self.write_all(entries) {
            tracing::error!("the journal {} was not written: {e:#}", self.path.display());
        }
    }

    /// Append entries, each redacted, together, with one fsync.
    pub fn write_all(&self, entries: &[Entry]) -> anyhow::Result<()> {
        let mut text = String::new();
        for entry in entries {
            let value = serde_json::to_value(entry)?;
            text.push_str(&serde_json::to_string(&self.redactor.redact_json(&value))?);
            text.push('\n');
        }
        let mut f = self.file.lock().expect("journal lock");
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        Ok(())
    }
}

/// Read a journal; a torn last line (the runner died mid-write) is ignored.
/// A journal of another format is refused.
pub fn read(path: &Path) -> anyhow::Result<Vec<Entry>> {
    Ok(read_lines(path)?.into_iter().map(|l| l.entry).collect())
}

/// One entry of a journal, with where it is and its text as written.
#[derive(Debug, Clone)]
pub struct Line {
    /// From 1.
    pub number: usize,
    pub text: String,
    pub entry: Entry,
}

/// [`read`], each entry with its line number and text.
pub fn read_lines(path: &Path) -> anyhow::Result<Vec<Line>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    check_format(path, text.lines().next().unwrap_or_default())?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(entry) => out.push(Line {
                number: i + 1,
                text: line.to_string(),
                entry,
            }),
            // Only the last line may be torn.
            Err(e) if i + 1 < lines.len() => {
                anyhow::bail!("{}:{}: not a journal entry: {e}", path.display(), i + 1)
            }
            Err(_) => {}
        }
    }
    Ok(out)
}

/// The first line must be a run entry of [`FORMAT`].
fn check_format(path: &Path, first: &str) -> anyhow::Result<()> {
    let v: Value = serde_json::from_str(first)
        .map_err(|_| anyhow::anyhow!("{}: not a runner journal", path.display()))?;
    if v["event"] != "run" {
        anyhow::bail!(
            "{}: not a runner journal (no run entry first)",
            path.display()
        );
    }
    let format = v["format"].as_u64().unwrap_or(1);
    if format != u64::from(FORMAT) {
        anyhow::bail!(
            "{}: journal format {format} was written by another version of runner (this one reads {FORMAT}); it cannot be resumed or replayed",
            path.display()
        );
    }
    Ok(())
}

/// What a journal says about its run, from its first and last entries.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub path: PathBuf,
    pub run_id: String,
    pub started: String,
    pub playbook: String,
    pub inventory: String,
    pub mode: Mode,
    /// `None`: the run never finished (it crashed or was killed).
    pub outcome: Option<RunOutcome>,
}

impl RunSummary {
    pub fn read(path: &Path) -> anyhow::Result<RunSummary> {
        let mut summary = None;
        let mut outcome = None;
        for e in read(path)? {
            match e {
                Entry::Run {
                    run_id,
                    started,
                    playbook,
                    inventory,
                    mode,
                    ..
                } => {
                    summary = Some((run_id, started, playbook, inventory, mode));
                }
                Entry::End { status } => outcome = Some(status),
                _ => {}
            }
        }
        let (run_id, started, playbook, inventory, mode) =
            summary.ok_or_else(|| anyhow::anyhow!("{}: no run entry", path.display()))?;
        Ok(RunSummary {
            path: path.to_path_buf(),
            run_id,
            started,
            playbook,
            inventory,
            mode,
            outcome,
        })
    }

    /// An applying run that crashed or failed: something to resume.
    pub fn resumable(&self) -> bool {
        self.mode == Mode::Apply && self.outcome != Some(RunOutcome::Ok)
    }
}

/// How a run names its playbook and inventory (in the journal, the saved
/// plan, and the templates' `playbook_dir` and `inventory_dir`): the path
/// made absolute against the working directory.
pub fn run_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// The journals recorded in `dir`, oldest first (run ids sort by time).
fn recorded_runs(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    // A run id is the second it started and a random suffix: two runs of
    // the same second are ordered by when their journals were last written.
    runs.sort_by_cached_key(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        let second = name.split('-').next().unwrap_or_default().to_string();
        let written = std::fs::metadata(p).and_then(|m| m.modified()).ok();
        (second, written, name.into_owned())
    });
    Ok(runs)
}

/// The journal a command names: a file, `last` (the newest run recorded
/// in `dir`), or a run id (`dir/ID.jsonl`).
pub fn find(dir: &Path, name: &Path) -> anyhow::Result<PathBuf> {
    if name.exists() {
        return Ok(name.to_path_buf());
    }
    if name == Path::new("last") {
        return recorded_runs(dir)
            .ok()
            .and_then(|runs| runs.last().cloned())
            .ok_or_else(|| anyhow::anyhow!("last: no runs recorded in {}", dir.display()));
    }
    let path = dir.join(format!("{}.jsonl", name.display()));
    if !path.exists() {
        anyhow::bail!(
            "{}: no such journal, and no run of that id in {}",
            name.display(),
            dir.display()
        );
    }
    Ok(path)
}

/// The run `--resume last` continues: the newest applying run of this
/// playbook and inventory that was interrupted or failed.
pub fn last_resumable(dir: &Path, playbook: &Path, inventory: &Path) -> anyhow::Result<RunSummary> {
    let (playbook, inventory) = (run_path(playbook), run_path(inventory));
    let runs = recorded_runs(dir).map_err(|e| {
        anyhow::anyhow!(
            "nothing to resume: no runs recorded in {}: {e}",
            dir.display()
        )
    })?;
    runs.iter()
        .rev()
        .filter_map(|p| RunSummary::read(p).ok())
        .find(|r| r.resumable() && r.playbook == playbook && r.inventory == inventory)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "nothing to resume: no interrupted or failed run of {playbook} with {inventory} is recorded in {}",
                dir.display()
            )
        })
}

/// The mode a journal's run had.
pub fn mode_of(path: &Path) -> Option<Mode> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use runner_types::LogLevel;

    #[test]
    fn last_is_the_run_written_last_even_within_one_second() {
        let dir = tempfile::tempdir().unwrap();
        for id in ["20260101T000000-ffff", "20260101T000000-0000"] {
            std::fs::write(dir.path().join(format!("{id}.jsonl")), "{}\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::write(dir.path().join("20251231T235959-9999.jsonl"), "{}\n").unwrap();
        let last = find(dir.path(), Path::new("last")).unwrap();
        assert!(last.ends_with("20260101T000000-0000.jsonl"), "{last:?}");
    }

    #[test]
    fn plugin_output_is_written_masked_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let redactor = Redactor::new();
        redactor.add("hunter22");
        let journal = Journal::create(dir.path(), "r1", redactor).unwrap();
        let output = |stream, message: &str| Entry::PluginOutput {
            step: 1,
            host: "h1".into(),
            stage: 0,
            stream,
            message: message.into(),
        };
        journal
            .write_all(&[
                Entry::Run {
                    format: FORMAT,
                    run_id: "r1".into(),
                    started: "now".into(),
                    playbook: "/p".into(),
                    inventory: "/i".into(),
                    mode: Mode::Apply,
                    resume_of: None,
                },
                output(OutputStream::Stdout, "token hunter22"),
                output(
                    OutputStream::Log {
                        level: LogLevel::Warn,
                    },
                    "careful",
                ),
            ])
            .unwrap();
        let text = std::fs::read_to_string(journal.path()).unwrap();
        assert!(!text.contains("hunter22"), "{text}");
        assert!(
            text.contains(r#""event":"plugin_output","step":1,"host":"h1","stage":0,"stream":"log","level":"warn","message":"careful""#),
            "{text}"
        );
        let entries = read(journal.path()).unwrap();
        assert!(matches!(
            &entries[1],
            Entry::PluginOutput { stream: OutputStream::Stdout, message, .. } if message == "token ********"
        ));
        assert!(matches!(
            &entries[2],
            Entry::PluginOutput {
                stream: OutputStream::Log {
                    level: LogLevel::Warn
                },
                ..
            }
        ));
    }
}
