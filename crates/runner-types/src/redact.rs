//! Redaction of secret values from everything the runner prints or stores.

use std::sync::{Arc, RwLock};

/// The mask that replaces a secret.
pub const MASK: &str = "********";

/// Secrets shorter than this are not masked (they would mask ordinary text);
/// the secrets loader refuses them instead.
pub const MIN_SECRET_LEN: usize = 4;

/// A shared set of secret values; clones see the same set.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, secret: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let mut secrets = self.secrets.write().expect("redactor lock");
        if !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_string());
            // Longest first, so a secret containing another is masked whole.
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.read().expect("redactor lock");
        let mut out = text.to_string();
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    /// Redact every string inside a JSON value.
    pub fn redact_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.redact_json(v)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let r = Redactor::new();
        r.add("s3cret");
        r.add("s3cret-and-more");
        r.add("ab"); // too short to mask
        assert_eq!(
            r.redact("x s3cret-and-more y s3cret ab"),
            "x ******** y ******** ab"
        );
        let clone = r.clone();
        clone.add("later");
        assert_eq!(r.redact("later"), MASK);
    }
}
