//! Playbooks: an ordered list of steps, each calling one plugin on a set
//! of hosts with templated parameters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use runner_transport::escalate::Method;

use crate::certificates::CertificatesSpec;
use crate::inventory::BecomeKeywords;
use crate::yaml::{Document, InputError};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybook {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    vars: Map<String, Value>,
    #[serde(default)]
    vars_files: Vec<String>,
    #[serde(default)]
    secrets: Option<SecretsSpec>,
    #[serde(default)]
    certificates: Option<CertificatesSpec>,
    #[serde(default = "yes")]
    gather_facts: bool,
    #[serde(default, rename = "become")]
    become_enabled: Option<bool>,
    #[serde(default)]
    become_user: Option<String>,
    #[serde(default)]
    become_method: Option<Method>,
    steps: Vec<RawStep>,
    /// Steps run once per host at the end, only where a step that
    /// notifies them changed that host.
    #[serde(default)]
    handlers: Vec<RawStep>,
}

fn yes() -> bool {
    true
}

/// Where secrets come from: `RUNNER_SECRET_<NAME>` in the environment, else
/// the secrets file, else generated (random, `length` characters) and saved
/// to the file with mode 0600.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSpec {
    /// Path of the secrets file (a template; relative to the playbook).
    pub file: String,
    /// Secret name → how a generated value is made.
    #[serde(default)]
    pub generate: BTreeMap<String, Generate>,
    /// Secrets that must be provided (no generation).
    #[serde(default)]
    pub required: Vec<String>,
}

/// A generated secret: `name: 24` (always, 24 characters), or `name:
/// {length: 8, when: "vrrp_version == 2"}` (only when the expression holds
/// for the playbook's variables: a secret nothing uses is not made).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Generate {
    Length(usize),
    When(GenerateWhen),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateWhen {
    pub length: usize,
    pub when: String,
}

impl Generate {
    pub fn length(&self) -> usize {
        match self {
            Generate::Length(n) => *n,
            Generate::When(w) => w.length,
        }
    }
}

impl SecretsSpec {
    /// The spec without the generated secrets whose `when` is false; an
    /// error names the secret whose condition could not be evaluated.
    pub fn wanted(
        &self,
        holds: impl Fn(&str) -> Result<bool, String>,
    ) -> Result<SecretsSpec, (String, String)> {
        let mut generate = BTreeMap::new();
        for (name, g) in &self.generate {
            let wanted = match g {
                Generate::Length(_) => true,
                Generate::When(w) => holds(&w.when).map_err(|e| (name.clone(), e))?,
            };
            if wanted {
                generate.insert(name.clone(), Generate::Length(g.length()));
            }
        }
        Ok(SecretsSpec {
            file: self.file.clone(),
            generate,
            required: self.required.clone(),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    plugin: Option<String>,
    /// `meta: flush_handlers`: the handlers due so far run here.
    #[serde(default)]
    meta: Option<String>,
    /// Required of a step; a handler runs where it is notified (`all`).
    #[serde(default)]
    on: Option<String>,
    #[serde(default)]
    notify: Option<OneOrMany>,
    /// The step once for each item: a list, or a template that renders
    /// to one.
    #[serde(default, rename = "loop")]
    loop_items: Option<Value>,
    #[serde(default)]
    loop_control: Option<LoopControl>,
    /// Ansible's older spelling: refused with the hint.
    #[serde(default)]
    with_items: Option<Value>,
    /// A variable later steps read: how this step ended on the host, and
    /// what its last probe answered.
    #[serde(default)]
    register: Option<String>,
    #[serde(default, rename = "with")]
    params: Map<String, Value>,
    #[serde(default)]
    serial: Option<usize>,
    #[serde(default)]
    when: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, rename = "become")]
    become_enabled: Option<bool>,
    #[serde(default)]
    become_user: Option<String>,
    #[serde(default)]
    become_method: Option<Method>,
}

/// How a loop names its item.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoopControl {
    /// The variable each item is bound to (`item`).
    #[serde(default)]
    loop_var: Option<String>,
}

/// A step run once per item of a list.
#[derive(Debug, Clone)]
pub struct Loop {
    /// A list, or a template rendering to one, per host.
    pub items: Value,
    /// The variable each item is bound to.
    pub var: String,
}

/// `notify: reload` or `notify: [reload, restart]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn names(self) -> Vec<String> {
        match self {
            OneOrMany::One(n) => vec![n],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Whether a step runs in order, or as a handler once notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Task,
    Handler,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub index: usize,
    pub kind: StepKind,
    /// Where it is in the playbook file (`/steps/2`, `/handlers/0`).
    pub pointer: String,
    pub name: String,
    pub plugin: String,
    pub on: String,
    pub params: Map<String, Value>,
    pub serial: Option<usize>,
    pub when: Option<String>,
    pub tags: Vec<String>,
    /// The handlers (their step indices) this step notifies when it
    /// changes a host.
    pub notify: Vec<usize>,
    /// Once per item, when set.
    pub looped: Option<Loop>,
    /// The variable this step's result is registered as, per host.
    pub register: Option<String>,
    /// Who the step's commands run as: its `become*` keywords over the
    /// playbook's (the inventory's `ansible_become*` win over both).
    pub become_keywords: BecomeKeywords,
}

#[derive(Debug, Clone)]
pub struct Playbook {
    pub path: PathBuf,
    pub name: String,
    pub vars: Map<String, Value>,
    pub secrets: Option<SecretsSpec>,
    pub certificates: Option<CertificatesSpec>,
    pub gather_facts: bool,
    pub steps: Vec<Step>,
    pub doc: Document,
}

/// The run's order: each step, and a copy of every handler at each
/// `meta: flush_handlers` and at the end; a step notifies the first copy
/// of a handler after it.
fn build_steps(
    doc: &Document,
    raw_steps: Vec<RawStep>,
    handlers: Vec<RawStep>,
    play_become: &BecomeKeywords,
) -> Result<Vec<Step>, InputError> {
    let names = handler_names(doc, &handlers)?;
    let copies = |order: &mut Vec<(StepKind, String, RawStep)>| {
        for (j, h) in handlers.iter().enumerate() {
            order.push((StepKind::Handler, format!("/handlers/{j}"), h.clone()));
        }
    };
    let mut order = Vec::new();
    for (i, s) in raw_steps.into_iter().enumerate() {
        match s.meta.as_deref() {
            None => order.push((StepKind::Task, format!("/steps/{i}"), s)),
            Some("flush_handlers") if s.plugin.is_none() => copies(&mut order),
            Some(other) => {
                return Err(doc.error(
                    &format!("/steps/{i}/meta"),
                    format!(
                        "meta: {other} is not supported here: only `meta: flush_handlers`, alone (with a name at most)"
                    ),
                ));
            }
        }
    }
    copies(&mut order);
    let handler_at = |after: usize, handler: usize| {
        let pointer = format!("/handlers/{handler}");
        (after + 1..order.len())
            .find(|&q| order[q].1 == pointer)
            .expect("every handler has a copy at the end")
    };
    let mut steps = Vec::new();
    for (index, (kind, pointer, s)) in order.iter().enumerate() {
        let notify = s
            .notify
            .clone()
            .map(OneOrMany::names)
            .unwrap_or_default()
            .into_iter()
            .map(|name| match names.iter().position(|n| *n == name) {
                Some(h) => Ok(handler_at(index, h)),
                None => Err(doc.error(
                    &format!("{pointer}/notify"),
                    format!(
                        "no handler is named '{name}' (handlers: {})",
                        names.join(", ")
                    ),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let at = At {
            doc,
            index,
            kind: *kind,
            pointer,
        };
        steps.push(build_step(&at, s.clone(), notify, play_become)?);
    }
    Ok(steps)
}

/// Handlers' names, each once.
fn handler_names(doc: &Document, handlers: &[RawStep]) -> Result<Vec<String>, InputError> {
    let mut names: Vec<String> = Vec::new();
    for (i, h) in handlers.iter().enumerate() {
        let name = h.name.clone().unwrap_or_default();
        if h.meta.is_some() {
            return Err(doc.error(
                &format!("/handlers/{i}/meta"),
                "meta: belongs in steps, not handlers",
            ));
        }
        if names.contains(&name) {
            return Err(doc.error(
                &format!("/handlers/{i}/name"),
                format!("a second handler named '{name}': notify could not tell them apart"),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

/// Where a step being built is: its file, place in the run, kind and
/// place in the file.
struct At<'a> {
    doc: &'a Document,
    index: usize,
    kind: StepKind,
    pointer: &'a str,
}

impl At<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> InputError {
        let pointer = match field {
            "" => self.pointer.to_string(),
            f => format!("{}/{f}", self.pointer),
        };
        self.doc.error(&pointer, message)
    }
}

/// One step (or a copy of a handler) checked and built.
fn build_step(
    at: &At<'_>,
    s: RawStep,
    notify: Vec<usize>,
    play_become: &BecomeKeywords,
) -> Result<Step, InputError> {
    let kind = at.kind;
    let Some(name) = s.name else {
        return Err(at.error("", "missing field `name`"));
    };
    let Some(plugin) = s.plugin else {
        return Err(at.error("", "missing field `plugin`: the plugin the step calls"));
    };
    let on = match (s.on, kind) {
        (Some(on), _) => on,
        (None, StepKind::Handler) => "all".to_string(),
        (None, StepKind::Task) => {
            return Err(at.error("", "missing field `on`: the hosts the step runs on"));
        }
    };
    if s.with_items.is_some() {
        return Err(at.error(
            "with_items",
            "with_items is Ansible's older loop: write `loop:` with the same list",
        ));
    }
    let looped = match (s.loop_items, s.loop_control) {
        (Some(items), control) => Some(Loop {
            items,
            var: control
                .and_then(|c| c.loop_var)
                .unwrap_or_else(|| "item".into()),
        }),
        (None, Some(_)) => {
            return Err(at.error(
                "loop_control",
                "loop_control without loop: there is nothing to loop over",
            ));
        }
        (None, None) => None,
    };
    let register = match (s.register, kind) {
        (Some(_), _) if looped.is_some() => {
            return Err(at.error(
                "register",
                "register with loop is not supported: register a step without a loop, or loop in the step that reads it",
            ));
        }
        (Some(name), StepKind::Task) if is_identifier(&name) => Some(name),
        (Some(name), StepKind::Task) => {
            return Err(at.error(
                "register",
                format!("register: '{name}' is not a variable name (letters, digits, _)"),
            ));
        }
        (Some(_), StepKind::Handler) => {
            return Err(at.error("register", "a handler registers nothing"));
        }
        (None, _) => None,
    };
    if kind == StepKind::Handler && !notify.is_empty() {
        return Err(at.error("notify", "a handler notifies nothing"));
    }
    if s.serial == Some(0) {
        return Err(at.error("serial", "serial must be at least 1"));
    }
    Ok(Step {
        index: at.index,
        kind,
        pointer: at.pointer.to_string(),
        name,
        plugin,
        on,
        params: s.params,
        serial: s.serial,
        when: s.when,
        tags: s.tags,
        notify,
        looped,
        register,
        become_keywords: BecomeKeywords {
            enabled: s.become_enabled,
            user: s.become_user,
            method: s.become_method,
        }
        .or(play_become),
    })
}

/// A name a template can use as a variable.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Step {
    /// Whether its `when`, parameters or loop mention `name` as a word:
    /// then they are rendered once the step that registers it has run.
    pub fn mentions(&self, name: &str) -> bool {
        let texts = [
            self.when.clone().unwrap_or_default(),
            Value::Object(self.params.clone()).to_string(),
            self.looped
                .as_ref()
                .map(|l| l.items.to_string())
                .unwrap_or_default(),
        ];
        texts.iter().any(|t| {
            t.match_indices(name).any(|(i, _)| {
                let before = t[..i].chars().next_back();
                let after = t[i + name.len()..].chars().next();
                let word =
                    |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
                !word(before) && !word(after)
            })
        })
    }

    /// How people and reasons name it: `step 2 'config'`, `handler 'reload'`.
    pub fn label(&self) -> String {
        match self.kind {
            StepKind::Task => format!("step {} '{}'", self.index + 1, self.name),
            StepKind::Handler => format!("handler '{}'", self.name),
        }
    }
}

impl Playbook {
    pub fn load(path: &Path) -> Result<Playbook, InputError> {
        let doc = Document::load(path)?;
        Playbook::from_document(doc)
    }

    pub fn from_document(doc: Document) -> Result<Playbook, InputError> {
        if !doc.value.is_object() {
            return Err(doc.error("", "a playbook is a mapping with a 'steps' list"));
        }
        let raw: RawPlaybook = doc.decode("")?;
        let dir = doc.file.parent().map(Path::to_path_buf).unwrap_or_default();
        let play_become = BecomeKeywords {
            enabled: raw.become_enabled,
            user: raw.become_user.clone(),
            method: raw.become_method,
        };
        let mut vars = Map::new();
        for (i, f) in raw.vars_files.iter().enumerate() {
            let path = dir.join(f);
            let file_doc = Document::load(&path).map_err(|e| {
                if e.location.line == 0 {
                    doc.error(&format!("/vars_files/{i}"), e.to_string())
                } else {
                    e
                }
            })?;
            match file_doc.value {
                Value::Object(m) => vars.extend(m),
                Value::Null => {}
                _ => return Err(file_doc.error("", "a vars file is a mapping")),
            }
        }
        // Playbook vars win over vars files.
        vars.extend(raw.vars);
        let steps = build_steps(&doc, raw.steps, raw.handlers, &play_become)?;
        Ok(Playbook {
            name: raw.name.unwrap_or_else(|| {
                doc.file
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            }),
            path: doc.file.clone(),
            vars,
            secrets: raw.secrets,
            certificates: raw.certificates,
            gather_facts: raw.gather_facts,
            steps,
            doc,
        })
    }

    pub fn dir(&self) -> PathBuf {
        self.path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// An error about a field of step `index`.
    pub fn step_error(&self, index: usize, field: &str, message: impl Into<String>) -> InputError {
        let base = self
            .steps
            .get(index)
            .map_or_else(|| format!("/steps/{index}"), |s| s.pointer.clone());
        let pointer = if field.is_empty() {
            base
        } else {
            format!("{base}/{field}")
        };
        self.doc.error(&pointer, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_steps_and_reports_unknown_fields() {
        let doc = Document::parse(
            Path::new("pb.yaml"),
            "vars: {a: 1}\nsteps:\n  - name: one\n    plugin: file\n    on: all\n    with: {path: /x}\n    tags: [t]\n",
        )
        .unwrap();
        let pb = Playbook::from_document(doc).unwrap();
        assert_eq!(pb.steps[0].plugin, "file");
        assert_eq!(pb.steps[0].params["path"], "/x");
        assert_eq!(pb.vars["a"], 1);

        let doc = Document::parse(
            Path::new("pb.yaml"),
            "steps:\n  - name: one\n    plugin: file\n    on: all\n    whith: {}\n",
        )
        .unwrap();
        let err = Playbook::from_document(doc).unwrap_err().to_string();
        assert!(err.starts_with("pb.yaml:"), "{err}");
        assert!(err.contains("steps.0"), "{err}");
        assert!(err.contains("unknown field `whith`"), "{err}");
    }

    fn load(text: &str) -> Result<Playbook, String> {
        let doc = Document::parse(Path::new("pb.yaml"), text).unwrap();
        Playbook::from_document(doc).map_err(|e| e.to_string())
    }

    #[test]
    fn handlers_follow_the_steps_and_notify_names_them() {
        let pb = load(
            "steps:\n  - {name: a, plugin: file, on: all, notify: reload}\n  - {name: b, plugin: file, on: all, notify: [reload, restart]}\nhandlers:\n  - {name: reload, plugin: command}\n  - {name: restart, plugin: command, on: web}\n",
        )
        .unwrap();
        assert_eq!(pb.steps.len(), 4);
        assert_eq!(pb.steps[0].notify, [2]);
        assert_eq!(pb.steps[1].notify, [2, 3]);
        assert_eq!(pb.steps[2].kind, StepKind::Handler);
        assert_eq!(pb.steps[2].on, "all", "a handler runs where notified");
        assert_eq!(pb.steps[3].on, "web");
        assert_eq!(pb.steps[2].label(), "handler 'reload'");
        assert_eq!(pb.steps[1].label(), "step 2 'b'");
        let err = load("steps:\n  - {name: a, plugin: file, on: all, notify: relaod}\nhandlers:\n  - {name: reload, plugin: command}\n").unwrap_err();
        assert!(
            err.contains("steps.0.notify") && err.contains("no handler is named 'relaod'"),
            "{err}"
        );
        let err = load("steps:\n  - {name: a, plugin: file}\n").unwrap_err();
        assert!(err.contains("missing field `on`"), "{err}");
        let err = load("steps:\n  - meta: end_play\n").unwrap_err();
        assert!(
            err.contains("steps.0.meta") && err.contains("not supported"),
            "{err}"
        );
        let err = load("steps: []\nhandlers:\n  - {name: r, plugin: command}\n  - {name: r, plugin: command}\n").unwrap_err();
        assert!(
            err.contains("handlers.1.name") && err.contains("a second handler"),
            "{err}"
        );
    }

    #[test]
    fn a_flush_runs_a_copy_of_every_handler_there_and_notify_finds_the_next() {
        let pb = load(
            "steps:\n  - {name: a, plugin: file, on: all, notify: r}\n  - name: now\n    meta: flush_handlers\n  - {name: b, plugin: file, on: all, notify: r}\nhandlers:\n  - {name: r, plugin: command}\n",
        )
        .unwrap();
        let kinds: Vec<(StepKind, &str)> = pb
            .steps
            .iter()
            .map(|s| (s.kind, s.pointer.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (StepKind::Task, "/steps/0"),
                (StepKind::Handler, "/handlers/0"),
                (StepKind::Task, "/steps/2"),
                (StepKind::Handler, "/handlers/0"),
            ]
        );
        assert_eq!(pb.steps[0].notify, [1], "the flush's copy");
        assert_eq!(pb.steps[2].notify, [3], "the end's copy");
        let err = pb.step_error(2, "with", "x").to_string();
        assert!(err.contains("steps.2.with"), "{err}");
    }

    #[test]
    fn loops_bind_item_or_their_loop_var_and_with_items_gets_the_hint() {
        let pb = load("steps:\n  - {name: a, plugin: file, on: all, loop: [x, y]}\n  - {name: b, plugin: file, on: all, loop: '{{ names }}', loop_control: {loop_var: n}}\n").unwrap();
        let l = pb.steps[0].looped.as_ref().unwrap();
        assert_eq!(
            (l.var.as_str(), l.items.clone()),
            ("item", serde_json::json!(["x", "y"]))
        );
        assert_eq!(pb.steps[1].looped.as_ref().unwrap().var, "n");
        let err =
            load("steps:\n  - {name: a, plugin: file, on: all, with_items: [x]}\n").unwrap_err();
        assert!(err.contains("write `loop:`"), "{err}");
        let err =
            load("steps:\n  - {name: a, plugin: file, on: all, loop_control: {loop_var: n}}\n")
                .unwrap_err();
        assert!(err.contains("loop_control without loop"), "{err}");
        let err = load(
            "steps:\n  - {name: a, plugin: file, on: all, loop: [x], loop_control: {label: n}}\n",
        )
        .unwrap_err();
        assert!(err.contains("unknown field `label`"), "{err}");
    }

    #[test]
    fn missing_steps_is_an_error() {
        let doc = Document::parse(Path::new("pb.yaml"), "name: x\n").unwrap();
        let err = Playbook::from_document(doc).unwrap_err().to_string();
        assert!(err.contains("missing field `steps`"), "{err}");
    }
}
