//! A replay's stand-in for masked secrets. A journal holds `********`
//! where a secret was, and a plugin given the mask may render it otherwise
//! than it rendered the secret: YAML quotes a word that starts with `*`,
//! and a plain password it does not. A replay (`runner replay`, `runner
//! plugin test`) hands the plugin a plain word instead of each mask, in
//! its parameters, facts and recorded answers, and turns the word back
//! into the mask in everything the plugin asks and plans, so the plugin
//! treats the stand-in as it treated the secret, the same word wherever the
//! secret was.

use runner_types::http::is_credential_header;
use runner_types::redact::{MASK, replace_bytes};
use runner_types::{ActionKind, Plan};
use serde_json::Value;

/// A word that quotes, escapes and splits like a plain password.
pub const STAND_IN: &str = "RunnerMaskedSecret";

/// What the plugin is given: each mask as the stand-in.
pub fn to_plugin(text: &str) -> String {
    text.replace(MASK, STAND_IN)
}

/// What the plugin said, as the journal would have it: each stand-in as
/// the mask.
pub fn from_plugin(text: &str) -> String {
    text.replace(STAND_IN, MASK)
}

/// [`to_plugin`] on bytes that are not text (a recorded binary file).
pub fn bytes_to_plugin(bytes: &[u8]) -> Vec<u8> {
    replace_bytes(bytes, MASK.as_bytes(), STAND_IN.as_bytes())
}

/// The plan as the journal would have it: each stand-in as the mask, and
/// each credential header (which a run masks whole) as the mask.
pub fn plan_from_plugin(mut plan: Plan) -> Plan {
    for action in &mut plan.actions {
        if let ActionKind::Http { headers, .. } = &mut action.kind {
            for (name, value) in headers {
                if is_credential_header(name) {
                    *value = MASK.to_string();
                }
            }
        }
    }
    let Ok(value) = serde_json::to_value(&plan) else {
        return plan;
    };
    serde_json::from_value(json_from_plugin(&value)).unwrap_or(plan)
}

/// [`to_plugin`] on every string in a JSON value (keys too).
pub fn json_to_plugin(value: &Value) -> Value {
    map_json(value, &to_plugin)
}

/// [`from_plugin`] on every string in a JSON value (keys too).
pub fn json_from_plugin(value: &Value) -> Value {
    map_json(value, &from_plugin)
}

fn map_json(value: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|v| map_json(v, f)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (f(k), map_json(v, f))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_become_the_stand_in_and_back() {
        let recorded = json!({"password": "********", "pem": "********\n********\n", "n": 3});
        let given = json_to_plugin(&recorded);
        assert_eq!(
            given,
            json!({"password": STAND_IN, "pem": format!("{STAND_IN}\n{STAND_IN}\n"), "n": 3})
        );
        assert_eq!(json_from_plugin(&given), recorded);
        // The stand-in is a plain YAML word, as a plain password is.
        let yaml = serde_yaml_ng::to_string(&json!({ "pass": STAND_IN })).unwrap();
        assert_eq!(from_plugin(&yaml), "pass: ********\n");
        let binary = [&[0xff][..], b"a********b"].concat();
        assert_eq!(
            bytes_to_plugin(&binary),
            [&[0xff][..], format!("a{STAND_IN}b").as_bytes()].concat()
        );
    }
}
