//! Before a run touches a host: every step's parameters rendered and
//! checked for every host (and every item of a loop), its `when` decided,
//! the secrets derived from them registered for masking.

use std::sync::Arc;

use runner_types::Redactor;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::context::{Sensitive, apply_schema_defaults, derived_secrets, host_context, tags_match};
use super::job::{Item, Job};
use super::{RunError, RunOptions, Shared, StepJobs};
use crate::inventory::Inventory;
use crate::planner::Plugin;
use crate::playbook::{Playbook, Step, StepKind};
use crate::template::Templates;

/// A secret parameter's value: a string, or each string and number in
/// it (a certificate's `cert` and `key` alike).
fn register_secret(redactor: &Redactor, v: &Value) {
    match v {
        Value::String(s) => redactor.add(s),
        Value::Array(a) => a.iter().for_each(|x| register_secret(redactor, x)),
        Value::Object(o) => o.values().for_each(|x| register_secret(redactor, x)),
        Value::Null | Value::Bool(_) => {}
        other => redactor.add(&other.to_string()),
    }
}

/// What rendering the steps' parameters needs.
pub(super) struct Prepare<'a> {
    pub(super) playbook: &'a Playbook,
    pub(super) inventory: &'a Inventory,
    pub(super) templates: &'a Templates,
    pub(super) vars: &'a Map<String, Value>,
    pub(super) sensitive: &'a Sensitive,
    /// [`Sensitive::stand_ins`], made once for every step and host.
    pub(super) stand_ins: Sensitive,
    pub(super) base_ctx: &'a Value,
    pub(super) opts: &'a RunOptions,
    pub(super) redactor: &'a Redactor,
}

impl Prepare<'_> {
    /// Every step's jobs, per host: none where the step skips it (tags,
    /// `when`), one per item of a loop. `None` for a step that reads a
    /// variable an earlier step registers: it is prepared when it runs
    /// ([`Prepare::step_jobs`]).
    pub(super) fn jobs(
        &self,
        targets: &[Vec<String>],
        plugins: &[Arc<Plugin>],
        shared: &Shared,
    ) -> Result<Vec<Option<StepJobs>>, RunError> {
        let mut jobs = Vec::new();
        let mut registered: Vec<&str> = Vec::new();
        for (step, hosts) in self.playbook.steps.iter().zip(targets) {
            if registered.iter().any(|name| step.mentions(name)) {
                jobs.push(None);
            } else {
                let none = Map::new();
                jobs.push(Some(self.step_jobs(
                    step,
                    hosts,
                    plugins,
                    shared,
                    |_| &none,
                )?));
            }
            registered.extend(step.register.as_deref());
        }
        Ok(jobs)
    }

    /// One step's jobs on `hosts`, with the variables earlier steps
    /// registered on each host.
    pub(super) fn step_jobs<'v>(
        &self,
        step: &Step,
        hosts: &[String],
        plugins: &[Arc<Plugin>],
        shared: &Shared,
        registered: impl Fn(&str) -> &'v Map<String, Value>,
    ) -> Result<StepJobs, RunError> {
        let plugin = &plugins[step.index];
        let validator = jsonschema::validator_for(&plugin.info.params_schema).map_err(|e| {
            self.playbook.step_error(
                step.index,
                "plugin",
                format!("plugin '{}' has a bad schema: {e}", step.plugin),
            )
        })?;
        // A handler runs where notified, whatever the tags (as in Ansible).
        let selected = step.kind == StepKind::Handler
            || tags_match(&step.tags, &self.opts.tags, &self.opts.skip_tags);
        let mut step_jobs = Vec::new();
        for h in hosts {
            let host_jobs = if selected {
                let facts = shared.facts.lock().expect("facts").get(h).cloned();
                let at = HostAt {
                    step,
                    h,
                    plugin,
                    validator: &validator,
                    facts: &facts.unwrap_or(json!({})),
                    registered: registered(h),
                };
                self.host_jobs(&at)?
            } else {
                vec![]
            };
            step_jobs.push((h.clone(), host_jobs));
        }
        Ok(step_jobs)
    }

    /// Render the step's parameters again with stand-ins for the secrets:
    /// whatever differs was derived from a secret, and is masked too.
    fn register_derived_secrets(
        &self,
        at: &HostAt<'_>,
        item: Option<(&str, &Value)>,
        params: &Value,
    ) {
        let (step, h, facts) = (at.step, at.h, at.facts);
        if self.sensitive.is_empty() {
            return;
        }
        let Ok(mut ctx) = host_context(
            self.templates,
            self.inventory,
            h,
            self.vars,
            &self.stand_ins,
            facts,
            self.base_ctx,
        ) else {
            return;
        };
        for (name, value) in at.registered {
            ctx[name.as_str()] = value.clone();
        }
        if let Some((var, value)) = item {
            ctx[var] = value.clone();
        }
        let mut derived = Vec::new();
        match self
            .templates
            .render(&Value::Object(step.params.clone()), &ctx)
        {
            Ok(other) => derived_secrets(params, &other, &mut derived),
            // The stand-ins changed what renders at all: all of it is secret.
            Err(_) => derived_secrets(params, &Value::Null, &mut derived),
        }
        for d in derived {
            self.redactor.add(&d);
        }
    }

    /// One step on one host: a job, or one per item of its loop (each
    /// with its own `when`).
    fn host_jobs(&self, at: &HostAt<'_>) -> Result<Vec<Job>, RunError> {
        let (step, h) = (at.step, at.h);
        let playbook = self.playbook;
        let mut ctx = host_context(
            self.templates,
            self.inventory,
            h,
            self.vars,
            self.sensitive,
            at.facts,
            self.base_ctx,
        )
        .map_err(|e| playbook.doc.error("/vars", format!("{e} (host {h})")))?;
        for (name, value) in at.registered {
            ctx[name.as_str()] = value.clone();
        }
        let Some(looped) = &step.looped else {
            return Ok(self.job(at, &ctx, None)?.into_iter().collect());
        };
        let items = self
            .templates
            .render(&looped.items, &ctx)
            .map_err(|(_, e)| playbook.step_error(step.index, "loop", format!("{e} (host {h})")))?;
        let Value::Array(items) = items else {
            return Err(playbook
                .step_error(
                    step.index,
                    "loop",
                    format!("loop must be a list; on host {h} it is {items}"),
                )
                .into());
        };
        let mut jobs = Vec::new();
        for (index, value) in items.into_iter().enumerate() {
            let mut item_ctx = ctx.clone();
            item_ctx[looped.var.as_str()] = value.clone();
            let item = Item {
                index,
                label: item_label(&value),
                var: looped.var.clone(),
                value,
            };
            jobs.extend(self.job(at, &item_ctx, Some(item))?);
        }
        Ok(jobs)
    }

    /// One step on one host (one item of a loop): its `when`, its
    /// rendered and checked parameters.
    fn job(
        &self,
        at: &HostAt<'_>,
        ctx: &Value,
        item: Option<Item>,
    ) -> Result<Option<Job>, RunError> {
        let HostAt {
            step,
            h,
            plugin,
            validator,
            facts,
            ..
        } = *at;
        let playbook = self.playbook;
        if let Some(cond) = &step.when {
            let yes = self
                .templates
                .truthy(cond, ctx)
                .map_err(|e| playbook.step_error(step.index, "when", e))?;
            if !yes {
                return Ok(None);
            }
        }
        let mut params = self
            .templates
            .render(&Value::Object(step.params.clone()), ctx)
            .map_err(|(at, e)| {
                playbook.step_error(step.index, &format!("with{at}"), format!("{e} (host {h})"))
            })?;
        let binding = item.as_ref().map(|i| (i.var.as_str(), &i.value));
        self.register_derived_secrets(at, binding, &params);
        apply_schema_defaults(&mut params, &plugin.info.params_schema);
        if let Some(err) = validator.iter_errors(&params).next() {
            let at = err.instance_path().to_string();
            let msg = self.redactor.redact(&format!(
                "{err} (plugin '{}' parameters; `runner plugins show {}` lists them)",
                plugin.info.name, plugin.info.name
            ));
            return Err(playbook
                .step_error(step.index, &format!("with{at}"), msg)
                .into());
        }
        for name in &plugin.info.secret_params {
            if let Some(v) = params.get(name) {
                register_secret(self.redactor, v);
            }
        }
        let escalation = self
            .inventory
            .host(h)
            .expect("targets come from the inventory")
            .escalation(&step.become_keywords)
            .map_err(|e| playbook.step_error(step.index, "become", e))?;
        let inputs = digest(&json!([plugin.sha256, params, h, escalation]));
        Ok(Some(Job {
            step: step.index,
            label: step.label(),
            host: h.to_string(),
            plugin: plugin.clone(),
            params,
            facts: facts.clone(),
            inputs,
            escalation,
            item,
            registers: step.register.is_some(),
        }))
    }
}

/// What one step-host's jobs share.
#[derive(Clone, Copy)]
struct HostAt<'a> {
    step: &'a Step,
    h: &'a str,
    plugin: &'a Arc<Plugin>,
    validator: &'a jsonschema::Validator,
    facts: &'a Value,
    /// What earlier steps registered on the host.
    registered: &'a Map<String, Value>,
}

/// How an item is named in the output: its text, or its JSON, cut short.
fn item_label(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut label: String = text.chars().take(40).collect();
    if label.len() < text.len() {
        label.push('…');
    }
    label
}

pub(super) fn digest(v: &Value) -> String {
    hex::encode(Sha256::digest(v.to_string()))
}
