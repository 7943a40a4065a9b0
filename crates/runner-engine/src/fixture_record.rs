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

#[cfg(test)]
mod tests {
    use super::*;

    const JOURNAL: &str = r#"{"event":"run","format":2,"run_id":"r","started":"t","playbook":"/p","inventory":"/i","mode":"apply","resume_of":null}
{"event":"plugin_output","step":0,"host":"h1","stage":0,"stream":"stdout","message":"hi"}
{"event":"plan","step":0,"host":"h1","stage":0,"plugin":"my_plugin","plugin_sha":"","inputs":"","params":{},"facts":{},"observations":[],"actions":[],"digests":[],"replan":false}
{"event":"plan","step":1,"host":"h2","stage":0,"plugin":"my-plugin","plugin_sha":"","inputs":"","params":{},"facts":{},"observations":[],"actions":[],"digests":[],"replan":false}
"#;

    fn select(host: Option<&str>, step: Option<usize>) -> Selection {
        Selection {
            plugin: PluginName::new("my-plugin"),
            host: host.map(str::to_string),
            step,
        }
    }

    #[test]
    fn cuts_the_plan_lines_asked_for_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, JOURNAL).unwrap();
        let plans: Vec<&str> = JOURNAL.lines().skip(2).collect();
        assert_eq!(cut(&path, &select(None, None)).unwrap().lines().count(), 2);
        assert_eq!(
            cut(&path, &select(Some("h2"), None)).unwrap(),
            format!("{}\n", plans[1])
        );
        assert_eq!(
            cut(&path, &select(None, Some(1))).unwrap(),
            format!("{}\n", plans[0])
        );
        let err = cut(&path, &select(Some("h1"), Some(2)))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("r.jsonl: no plan lines of plugin 'my-plugin' on host 'h1' in step 2")
                && err.contains("my_plugin on h1 in step 1, my-plugin on h2 in step 2"),
            "{err}"
        );
    }
}
