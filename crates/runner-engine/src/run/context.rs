//! What a step's templates see on one host, and the small rules that decide
//! a step's parameters and whether it runs there.

use serde_json::{Map, Value, json};

use crate::inventory::Inventory;
use crate::template::Templates;

/// Fill in the schema's top-level `default`s, so the plugin, its
/// capability grant and the journal all see the same parameters.
pub(super) fn apply_schema_defaults(params: &mut Value, schema: &Value) {
    let (Some(obj), Some(props)) = (params.as_object_mut(), schema["properties"].as_object())
    else {
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

pub(super) fn tags_match(step_tags: &[String], only: &[String], skip: &[String]) -> bool {
    if step_tags.iter().any(|t| skip.contains(t)) {
        return false;
    }
    only.is_empty() || step_tags.iter().any(|t| only.contains(t))
}

/// The template context of one host.
pub(super) fn host_context(
    templates: &Templates,
    inv: &Inventory,
    host: &str,
    vars: &Map<String, Value>,
    secrets: &Map<String, Value>,
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
    ctx.insert(
        "group_names".into(),
        json!(inv.host(host).map(|h| h.groups.clone()).unwrap_or_default()),
    );
    ctx.insert("secrets".into(), Value::Object(secrets.clone()));
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

pub(super) fn merge(a: &Value, b: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    if let Some(b) = b.as_object() {
        out.extend(b.clone());
    }
    Value::Object(out)
}
