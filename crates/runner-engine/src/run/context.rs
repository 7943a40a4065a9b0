//! What a step's templates see on one host, and the small rules that decide
//! a step's parameters and whether it runs there.

use serde_json::{Map, Value, json};

use crate::inventory::Inventory;
use crate::template::Templates;

/// Fill in the schema's top-level `default`s, so the plugin, its
/// capability grant and the journal all see the same parameters. A
/// top-level parameter given as `null` is unset, as in Ansible (`check_weight:
/// "{{ none }}"`): dropped, so its default applies, or, when it is required,
/// the schema says it is missing.
pub fn apply_schema_defaults(params: &mut Value, schema: &Value) {
    let Some(obj) = params.as_object_mut() else {
        return;
    };
    obj.retain(|_, v| !v.is_null());
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    for (name, prop) in props {
        if let Some(default) = prop.get("default")
            && !obj.contains_key(name)
        {
            obj.insert(name.clone(), default.clone());
        }
    }
}

pub fn tags_match(step_tags: &[String], only: &[String], skip: &[String]) -> bool {
    if step_tags.iter().any(|t| skip.contains(t)) {
        return false;
    }
    only.is_empty() || step_tags.iter().any(|t| only.contains(t))
}

/// What templates see that must never be shown: `secrets`, and each
/// host's `tls` (its certificates and their keys, and the CA).
#[derive(Debug, Default, Clone)]
pub(super) struct Sensitive {
    pub secrets: Map<String, Value>,
    /// Host → its `tls` value.
    pub tls: std::collections::BTreeMap<String, Value>,
}

impl Sensitive {
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.tls.is_empty()
    }

    /// The same shape with every string replaced by a stand-in (see
    /// [`stand_in`]).
    pub fn stand_ins(&self) -> Sensitive {
        Sensitive {
            secrets: self
                .secrets
                .iter()
                .map(|(k, v)| (k.clone(), stand_in(v)))
                .collect(),
            tls: self
                .tls
                .iter()
                .map(|(h, v)| (h.clone(), stand_in(v)))
                .collect(),
        }
    }

    fn insert_into(&self, ctx: &mut Map<String, Value>, host: &str) {
        ctx.insert("secrets".into(), Value::Object(self.secrets.clone()));
        if let Some(tls) = self.tls.get(host) {
            ctx.insert("tls".into(), tls.clone());
        }
    }
}

/// The template context of one host.
pub(super) fn host_context(
    templates: &Templates,
    inv: &Inventory,
    host: &str,
    vars: &Map<String, Value>,
    sensitive: &Sensitive,
    facts: &Value,
    base: &Value,
) -> Result<Value, String> {
    let mut ctx = Map::new();
    if let Some(h) = inv.host(host) {
        ctx.extend(h.vars.clone());
    }
    ctx.extend(vars.clone());
    let hostvars: Map<String, Value> = inv
        .hosts
        .iter()
        .map(|h| {
            let mut v = h.vars.clone();
            v.insert("inventory_hostname".into(), json!(h.name));
            (h.name.clone(), Value::Object(v))
        })
        .collect();
    ctx.insert("inventory_hostname".into(), json!(host));
    ctx.insert("hostvars".into(), Value::Object(hostvars));
    ctx.insert("groups".into(), json!(inv.groups));
    ctx.insert("group_names".into(), json!(group_names(inv, host)));
    sensitive.insert_into(&mut ctx, host);
    ctx.insert("facts".into(), facts.clone());
    let mut ctx = merge(base, &Value::Object(ctx));
    // Playbook vars may be templates over the host's context (and earlier
    // vars), as in Ansible.
    for (name, value) in vars {
        if let Value::String(text) = value
            && text.contains("{{")
        {
            let rendered = templates
                .render_str(text, &ctx)
                .map_err(|e| format!("vars.{name}: {e}"))?;
            ctx[name] = rendered;
        }
    }
    Ok(ctx)
}

/// Ansible's `group_names`: the host's groups but `all`, sorted
/// (`ungrouped` for a host in no other group).
fn group_names(inv: &Inventory, host: &str) -> Vec<String> {
    let mut names: Vec<String> = inv
        .host(host)
        .map(|h| h.groups.iter().filter(|g| *g != "all").cloned().collect())
        .unwrap_or_default();
    names.sort();
    names
}

pub(super) fn merge(a: &Value, b: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    if let Some(b) = b.as_object() {
        out.extend(b.clone());
    }
    Value::Object(out)
}

/// A stand-in for a secret value: each string the same length but
/// different in every character (nested values keep their shape), so
/// rendering with stand-ins shows which parts of a rendered value come
/// from a secret, whatever filter made them.
pub(super) fn stand_in(value: &Value) -> Value {
    let shift = |c: char| match c {
        'a'..='y' | 'A'..='Y' | '0'..='8' => char::from(c as u8 + 1),
        'z' => 'a',
        'Z' => 'A',
        '9' => '0',
        _ if c == '#' => '%',
        _ => '#',
    };
    match value {
        Value::Array(a) => Value::Array(a.iter().map(stand_in).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), stand_in(v))).collect())
        }
        Value::String(s) => Value::String(s.chars().map(shift).collect()),
        other => Value::String(other.to_string().chars().map(shift).collect()),
    }
}

/// The parts of `real` (rendered with the secrets) that differ from
/// `stand_in` (rendered with [`stand_ins`]): values derived from a secret
/// (`upper`, slices, `replace`, ...). A part too short to mask on its own
/// makes the whole string secret.
pub(super) fn derived_secrets(real: &Value, stand_in: &Value, out: &mut Vec<String>) {
    match (real, stand_in) {
        (Value::String(r), Value::String(s)) if r != s => {
            let mut short = false;
            for part in differing_parts(r, s) {
                if part.len() < runner_types::redact::MIN_SECRET_LEN {
                    short = true;
                } else {
                    out.push(part);
                }
            }
            if short {
                out.push(r.clone());
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter()
                .zip(b)
                .for_each(|(x, y)| derived_secrets(x, y, out));
        }
        (Value::Object(a), Value::Object(b)) => {
            for (k, x) in a {
                match b.get(k) {
                    Some(y) => derived_secrets(x, y, out),
                    None => secret_strings(x, out),
                }
            }
        }
        (a, b) if a != b => secret_strings(a, out),
        _ => {}
    }
}

/// The runs of `real` that differ from `other`: position by position when
/// they are as long (a secret, or a filter of it that keeps its length),
/// else by a character diff.
fn differing_parts(real: &str, other: &str) -> Vec<String> {
    let r: Vec<char> = real.chars().collect();
    let o: Vec<char> = other.chars().collect();
    let mut parts = Vec::new();
    if r.len() == o.len() {
        let mut run = String::new();
        for (a, b) in r.iter().zip(&o) {
            if a == b {
                if !run.is_empty() {
                    parts.push(std::mem::take(&mut run));
                }
            } else {
                run.push(*a);
            }
        }
        if !run.is_empty() {
            parts.push(run);
        }
        return parts;
    }
    let diff = similar::TextDiff::from_chars(real, other);
    for op in diff.ops() {
        let range = op.old_range();
        if !matches!(op.tag(), similar::DiffTag::Equal) && !range.is_empty() {
            parts.push(r[range].iter().collect());
        }
    }
    parts
}

/// Every string (and number) inside `v`, as secret.
fn secret_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| secret_strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| secret_strings(x, out)),
        Value::Null | Value::Bool(_) => {}
        other => out.push(other.to_string()),
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn a_null_parameter_is_unset_and_its_default_applies() {
        let schema = json!({"properties": {"weight": {"default": -2}, "cmd": {}}});
        let mut params = json!({"weight": null, "cmd": null, "name": "x"});
        apply_schema_defaults(&mut params, &schema);
        assert_eq!(params, json!({"weight": -2, "name": "x"}));
    }

    #[test]
    fn values_derived_from_a_secret_are_found() {
        let t = Templates::default();
        let secrets: Map<String, Value> = [("pw".to_string(), json!("hunter2-secret"))]
            .into_iter()
            .collect();
        let render = |tpl: &str, s: &Map<String, Value>| {
            t.render_str(tpl, &json!({ "secrets": s })).unwrap()
        };
        let stand = Sensitive {
            secrets: secrets.clone(),
            tls: Default::default(),
        }
        .stand_ins()
        .secrets;
        for (tpl, expect) in [
            ("user=admin pass={{ secrets.pw | upper }}", "HUNTER2-SECRET"),
            ("{{ secrets.pw[0:6] }}-x", "hunter"),
            ("{{ secrets.pw | replace('-', '_') }}", "hunter2_secret"),
        ] {
            let mut found = Vec::new();
            derived_secrets(&render(tpl, &secrets), &render(tpl, &stand), &mut found);
            assert!(found.iter().any(|f| f.contains(expect)), "{tpl}: {found:?}");
            assert!(
                !found.iter().any(|f| f.contains("user=admin")),
                "{tpl}: {found:?}"
            );
        }
    }
}
