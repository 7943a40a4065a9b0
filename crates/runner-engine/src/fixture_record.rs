//! `runner plugin record`: a plugin's `plan` lines cut from a run's
//! journal, as they were written (already masked), into a fixture that
//! `runner plugin test` reads.

use std::path::Path;

use runner_types::PluginName;

use crate::journal::{self, Entry};

/// Which plan lines to cut: a plugin's, on one host or all, in one step or
/// all.
#[derive(Debug, Clone)]
pub struct Selection {
    pub plugin: PluginName,
    pub host: Option<String>,
    /// Counted from 1, as the run's report counts steps.
    pub step: Option<usize>,
}

impl Selection {
    fn picks(&self, entry: &Entry) -> bool {
        let Entry::Plan {
            step, host, plugin, ..
        } = entry
        else {
            return false;
        };
        PluginName::new(plugin) == self.plugin
            && self.host.as_ref().is_none_or(|h| h == host)
            && self.step.is_none_or(|s| s == step + 1)
    }

    /// What was asked, for messages: `plugin 'file' on host 'h1' in step 2`.
    fn describe(&self) -> String {
        let mut s = format!("plugin '{}'", self.plugin);
        if let Some(host) = &self.host {
            s.push_str(&format!(" on host '{host}'"));
        }
        if let Some(step) = self.step {
            s.push_str(&format!(" in step {step}"));
        }
        s
    }
}

/// The plan lines of `journal` that `selection` picks, one a line, as the
/// journal has them; refused when there are none, naming what it holds.
pub fn cut(journal: &Path, selection: &Selection) -> anyhow::Result<String> {
    let lines = journal::read_lines(journal)?;
    let mut out = String::new();
    for line in lines.iter().filter(|l| selection.picks(&l.entry)) {
        out.push_str(&line.text);
        out.push('\n');
    }
    if out.is_empty() {
        anyhow::bail!(
            "{}: no plan lines of {} (its plan lines are of: {})",
            journal.display(),
            selection.describe(),
            recorded(&lines)
        );
    }
    Ok(out)
}

/// Every `plugin on host in step N` a journal has plan lines of.
fn recorded(lines: &[journal::Line]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for line in lines {
        if let Entry::Plan {
            step, host, plugin, ..
        } = &line.entry
        {
            let s = format!("{plugin} on {host} in step {}", step + 1);
            if !seen.contains(&s) {
                seen.push(s);
            }
        }
    }
    if seen.is_empty() {
        "none".into()
    } else {
        seen.join(", ")
    }
}
