//! `runner play --list-hosts | --list-tasks | --list-tags | --syntax-check`:
//! what a run would do, printed without connecting to any host.

use std::path::PathBuf;

use runner_engine::planner::Planner;
use runner_engine::{Inventory, Playbook, step_targets, tags_match};
use serde_json::{Value, json};

use crate::cli::{OutputFormat, PlayArgs};

/// The index of the step named `name` (`--start-at-task`).
pub fn start_at(playbook: &Playbook, name: Option<&str>) -> anyhow::Result<usize> {
    let Some(name) = name else {
        return Ok(0);
    };
    match playbook.steps.iter().find(|s| s.name == name) {
        Some(s) => Ok(s.index),
        None => {
            let names: Vec<String> = playbook
                .steps
                .iter()
                .map(|s| format!("'{}'", s.name))
                .collect();
            anyhow::bail!(
                "--start-at-task '{name}': {} has no step of this name (its steps: {})",
                playbook.path.display(),
                names.join(", ")
            )
        }
    }
}

/// Prints what the list flags ask for, in the order Ansible prints them.
pub async fn show(
    planner: &dyn Planner,
    args: &PlayArgs,
    inventory: anyhow::Result<PathBuf>,
) -> anyhow::Result<i32> {
    let run = &args.run;
    let list = &args.list;
    let playbook = Playbook::load(&run.playbook)?;
    let start = start_at(&playbook, args.start_at_task.as_deref())?;
    // Only --syntax-check goes on without an inventory.
    let inventory = match inventory {
        Ok(path) => {
            let inv = Inventory::load_for(&path, &playbook.dir())?;
            for w in &inv.warnings {
                eprintln!("warning: {w}");
            }
            Some((inv, path))
        }
        Err(e) if list.list_hosts => return Err(e),
        Err(_) => None,
    };
    // Resolving every step's pattern is also part of the syntax check.
    let targets = match &inventory {
        Some((inv, _)) => Some(step_targets(&playbook, inv, run.limit.as_deref())?),
        None => None,
    };
    let mut listing = Listing::new(&playbook, start);
    if list.syntax_check {
        listing
            .syntax(planner, inventory.as_ref().map(|(_, p)| p))
            .await?;
    }
    if list.list_hosts
        && let Some(targets) = &targets
    {
        listing.hosts(targets);
    }
    if list.list_tasks {
        listing.steps(|tags| tags_match(tags, &run.tags, &run.skip_tags));
    }
    if list.list_tags {
        listing.tags();
    }
    listing.print(run.output);
    Ok(crate::exit::OK)
}

/// The listing being built: text for people and a JSON document.
struct Listing<'a> {
    playbook: &'a Playbook,
    /// The first step that would run (`--start-at-task`).
    start: usize,
    out: String,
    doc: serde_json::Map<String, Value>,
}

impl<'a> Listing<'a> {
    fn new(playbook: &'a Playbook, start: usize) -> Self {
        let name = playbook.path.display().to_string();
        let mut doc = serde_json::Map::new();
        doc.insert("playbook".into(), json!(name));
        Listing {
            playbook,
            start,
            out: format!("playbook: {name}\n"),
            doc,
        }
    }

    /// `--syntax-check`: the playbook parsed (it did, to get here) and
    /// every plugin it names is found.
    async fn syntax(
        &mut self,
        planner: &dyn Planner,
        inventory: Option<&PathBuf>,
    ) -> anyhow::Result<()> {
        let playbook = self.playbook;
        for step in &playbook.steps {
            planner
                .plugin(&step.plugin)
                .await
                .map_err(|e| playbook.step_error(step.index, "plugin", format!("{e:#}")))?;
        }
        let against = match inventory {
            Some(path) => format!("; its host patterns resolve in {}", path.display()),
            None => "; no inventory, so its host patterns were not checked".into(),
        };
        self.out.push_str(&format!(
            "\n  syntax ok: {} step(s), every plugin found{against}\n",
            playbook.steps.len()
        ));
        self.doc.insert("syntax".into(), json!("ok"));
        Ok(())
    }

    /// `--list-hosts`: each step that would run, with its hosts.
    fn hosts(&mut self, targets: &[Vec<String>]) {
        let mut steps = Vec::new();
        for (step, hosts) in self.playbook.steps.iter().zip(targets) {
            if step.index < self.start {
                continue;
            }
            self.out.push_str(&format!(
                "\n  step {}: {} (on: {}) hosts ({}):\n",
                step.index + 1,
                step.name,
                step.on,
                hosts.len()
            ));
            for h in hosts {
                self.out.push_str(&format!("    {h}\n"));
            }
            steps.push(
                json!({"step": step.index + 1, "name": step.name, "on": step.on, "hosts": hosts}),
            );
        }
        self.doc.insert("hosts".into(), Value::Array(steps));
    }

    /// `--list-tasks`: the steps that would run, given the tag filters.
    fn steps(&mut self, selected: impl Fn(&[String]) -> bool) {
        self.out.push_str("\n  steps:\n");
        let mut steps = Vec::new();
        let runs = self
            .playbook
            .steps
            .iter()
            .filter(|s| s.index >= self.start && selected(&s.tags));
        for step in runs {
            self.out.push_str(&format!(
                "    {}. {}  plugin: {}  on: {}  TAGS: [{}]\n",
                step.index + 1,
                step.name,
                step.plugin,
                step.on,
                step.tags.join(", ")
            ));
            steps.push(json!({"step": step.index + 1, "name": step.name, "plugin": step.plugin, "on": step.on, "tags": step.tags}));
        }
        self.doc.insert("steps".into(), Value::Array(steps));
    }

    /// `--list-tags`: each step's tags, then all of them.
    fn tags(&mut self) {
        let mut all: Vec<&str> = Vec::new();
        self.out.push('\n');
        for step in self.playbook.steps.iter().filter(|s| s.index >= self.start) {
            self.out.push_str(&format!(
                "  step {}: {}  TAGS: [{}]\n",
                step.index + 1,
                step.name,
                step.tags.join(", ")
            ));
            for t in &step.tags {
                if !all.contains(&t.as_str()) {
                    all.push(t);
                }
            }
        }
        all.sort();
        self.out
            .push_str(&format!("\n  TASK TAGS: [{}]\n", all.join(", ")));
        self.doc.insert("tags".into(), json!(all));
    }

    fn print(self, format: OutputFormat) {
        match format {
            OutputFormat::Human => print!("{}", self.out),
            OutputFormat::Json => println!("{}", Value::Object(self.doc)),
        }
    }
}
