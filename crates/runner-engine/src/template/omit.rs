//! Ansible's `omit`: a parameter whose value renders to it
//! (`{{ x | default(omit) }}`) is left out, as if never written, so the
//! plugin's default applies. Anywhere else (inside text, in a list) it
//! would be kept as a strange string, so it is refused there.

use serde_json::Value;

/// What `omit` renders to; no one writes this by hand.
pub const PLACEHOLDER: &str = "__omit_place_holder__runner";

/// Drop the mapping entries of `value` that are `omit`; an error names
/// the pointer of any other `omit`.
pub fn remove(value: &mut Value, at: String) -> Result<(), (String, String)> {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| v.as_str() != Some(PLACEHOLDER));
            for (k, v) in map.iter_mut() {
                remove(v, format!("{at}/{}", crate::yaml::escape(k)))?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                remove(v, format!("{at}/{i}"))?;
            }
        }
        Value::String(s) if s.contains(PLACEHOLDER) => {
            return Err((
                at,
                "omit can only stand for a whole parameter of a mapping (`key: \"{{ x | default(omit) }}\"`), not inside text or a list".into(),
            ));
        }
        _ => {}
    }
    Ok(())
}
