//! What a run loads before it touches a host and must never show: the
//! playbook's secrets ([`crate::secrets`]) and its certificates
//! ([`crate::certificates`]). Generated ones are written only by a run
//! that applies; a preview keeps them in memory. `plan` derives them from
//! the user's plan key and its run id, so the `apply` of that plan gets
//! the same values (a plan file never holds a secret).

use std::path::PathBuf;

use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use super::context::{Sensitive, host_context, merge};
use super::{Mode, RunError, RunOptions, Runner};
use crate::certificates::{self, CaSource, CertificatesSpec, Issuing, Wanted};
use crate::inventory::Inventory;
use crate::pattern;
use crate::playbook::Playbook;
use crate::secrets::Generator;
use crate::template::Templates;

/// What loading them needs.
pub(super) struct Loading<'a> {
    pub playbook: &'a Playbook,
    pub inventory: &'a Inventory,
    pub templates: &'a Templates,
    pub base_ctx: &'a Value,
    pub vars: &'a Map<String, Value>,
    pub opts: &'a RunOptions,
    pub run_id: &'a str,
}

impl Loading<'_> {
    /// Random, or (a plan, or the apply of one) derived from the plan key.
    fn generator(&self) -> Generator {
        let plan_run = match (&self.opts.saved_plan, self.opts.mode) {
            (Some(saved), _) => Some(saved.run_id.clone()),
            (None, Mode::Plan) => Some(self.run_id.to_string()),
            _ => None,
        };
        match (&self.opts.plan_key, plan_run) {
            (Some(key), Some(run_id)) => Generator::Derived {
                key: key.clone(),
                run_id,
            },
            _ => Generator::Random,
        }
    }

    /// A path from the playbook (a template), relative to the playbook.
    fn path(&self, template: &str, ctx: &Value, field: &str) -> Result<PathBuf, RunError> {
        let rendered = self
            .templates
            .render_str(template, ctx)
            .map_err(|e| self.playbook.doc.error(field, e))?;
        let path = PathBuf::from(rendered.as_str().unwrap_or_default());
        Ok(if path.is_absolute() {
            path
        } else {
            self.playbook.dir().join(path)
        })
    }

    /// The time certificates issued now start from: the run's (for a
    /// plan's apply, the plan's) start, less an hour of clock skew.
    fn not_before(&self) -> OffsetDateTime {
        let run_id = match &self.opts.saved_plan {
            Some(saved) => saved.run_id.as_str(),
            None => self.run_id,
        };
        let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]");
        let started = run_id
            .get(..15)
            .and_then(|t| time::PrimitiveDateTime::parse(t, &fmt).ok())
            .map(|t| t.assume_utc())
            .unwrap_or_else(OffsetDateTime::now_utc);
        started - Duration::hours(1)
    }
}

impl Runner {
    pub(super) fn load_sensitive(&self, l: &Loading) -> Result<Sensitive, RunError> {
        let secrets = self.load_secrets(l)?;
        let tls = match &l.playbook.certificates {
            Some(spec) => self.load_certificates(l, spec)?,
            None => Default::default(),
        };
        Ok(Sensitive { secrets, tls })
    }

    fn load_secrets(&self, l: &Loading) -> Result<Map<String, Value>, RunError> {
        let Some(spec) = &l.playbook.secrets else {
            return Ok(Map::new());
        };
        let ctx = merge(l.base_ctx, &Value::Object(l.vars.clone()));
        let spec = &spec
            .wanted(|expr| l.templates.truthy(expr, &ctx))
            .map_err(|(name, e)| {
                l.playbook
                    .doc
                    .error(&format!("/secrets/generate/{name}/when"), e)
            })?;
        let file = l.path(&spec.file, &ctx, "/secrets/file")?;
        let persist = l.opts.mode == Mode::Apply;
        let s = crate::secrets::load(spec, &file, &self.redactor, persist, &l.generator())
            .map_err(|source| RunError::Secrets {
                file: file.clone(),
                source,
            })?;
        if !s.generated.is_empty() {
            let names = s.generated.join(", ");
            self.reporter.note(&if persist {
                format!(
                    "generated secrets {names} into {} (mode 0600)",
                    file.display()
                )
            } else {
                format!(
                    "secrets {names} would be generated into {} when applying; this preview keeps them in memory",
                    file.display()
                )
            });
        }
        Ok(s.values)
    }

    /// The certificates, each host's `tls` value.
    fn load_certificates(
        &self,
        l: &Loading,
        spec: &CertificatesSpec,
    ) -> Result<std::collections::BTreeMap<String, Value>, RunError> {
        let ctx = merge(l.base_ctx, &Value::Object(l.vars.clone()));
        let file = l.path(&spec.file, &ctx, "/certificates/file")?;
        let ca = ca_source(l, spec, &ctx)?;
        let wanted = wanted(l, spec)?;
        let persist = l.opts.mode == Mode::Apply;
        let how = Issuing {
            file: &file,
            persist,
            seed: runner_tls::Seed(l.generator().seed("certificates")),
            not_before: l.not_before(),
            now: OffsetDateTime::now_utc(),
            valid_days: spec.valid_days,
            renew_days: spec.renew_days,
        };
        let certs = certificates::load(&ca, &wanted, &how, &self.redactor).map_err(|source| {
            RunError::Certificates {
                file: file.clone(),
                source,
            }
        })?;
        if !certs.issued.is_empty() {
            let list: Vec<String> = certs
                .issued
                .iter()
                .map(|(label, why)| format!("{label} ({why})"))
                .collect();
            let list = list.join(", ");
            self.reporter.note(&if persist {
                format!("issued certificates {list} into {} (mode 0600)", file.display())
            } else {
                format!(
                    "certificates {list} would be issued into {} when applying; this preview keeps them in memory",
                    file.display()
                )
            });
        }
        Ok(certs.per_host)
    }
}

/// The CA the spec names: generated, or the user's own files.
fn ca_source(l: &Loading, spec: &CertificatesSpec, ctx: &Value) -> Result<CaSource, RunError> {
    let ca = &spec.ca;
    match (&ca.cert_file, &ca.key_file, &ca.common_name) {
        (Some(cert), Some(key), None) => Ok(CaSource::Own {
            cert: l.path(cert, ctx, "/certificates/ca/cert_file")?,
            key: l.path(key, ctx, "/certificates/ca/key_file")?,
        }),
        (None, None, name) => Ok(CaSource::Generate {
            common_name: name
                .clone()
                .unwrap_or_else(|| format!("{} CA", l.playbook.name)),
        }),
        _ => Err(l
            .playbook
            .doc
            .error(
                "/certificates/ca",
                "either common_name (a generated CA) or both cert_file and key_file (your own CA)",
            )
            .into()),
    }
}

/// Every certificate the spec asks for, rendered for its host.
fn wanted(l: &Loading, spec: &CertificatesSpec) -> Result<Vec<Wanted>, RunError> {
    let mut out = Vec::new();
    for (issue, what) in &spec.issue {
        let at = format!("/certificates/issue/{issue}");
        let err = |field: &str, e: String| l.playbook.doc.error(&format!("{at}{field}"), e);
        let hosts = pattern::select(l.inventory, &what.hosts).map_err(|e| err("/for", e))?;
        for host in hosts {
            let ctx = host_context(
                l.templates,
                l.inventory,
                &host,
                l.vars,
                &Sensitive::default(),
                &json!({}),
                l.base_ctx,
            )
            .map_err(|e| err("", format!("{e} (host {host})")))?;
            let names = render_list(l, &what.names, &ctx)
                .map_err(|(i, e)| err(&format!("/names/{i}"), format!("{e} (host {host})")))?;
            let mut ips = Vec::new();
            for (i, text) in render_list(l, &what.ips, &ctx)
                .map_err(|(i, e)| err(&format!("/ips/{i}"), format!("{e} (host {host})")))?
                .into_iter()
                .enumerate()
            {
                ips.push(text.parse().map_err(|_| {
                    err(
                        &format!("/ips/{i}"),
                        format!("'{text}' is not an IP address (host {host})"),
                    )
                })?);
            }
            if names.is_empty() && ips.is_empty() {
                return Err(err("", "a certificate needs names or ips".into()).into());
            }
            out.push(Wanted {
                issue: issue.clone(),
                host,
                names,
                ips,
            });
        }
    }
    Ok(out)
}

/// Each template rendered: a string, or a list of strings (flattened).
fn render_list(
    l: &Loading,
    templates: &[String],
    ctx: &Value,
) -> Result<Vec<String>, (usize, String)> {
    let mut out = Vec::new();
    for (i, t) in templates.iter().enumerate() {
        match l.templates.render_str(t, ctx).map_err(|e| (i, e))? {
            Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                        other => return Err((i, format!("{other} is not a name or address"))),
                    }
                }
            }
            other => return Err((i, format!("{other} is not a name or address"))),
        }
    }
    Ok(out)
}
