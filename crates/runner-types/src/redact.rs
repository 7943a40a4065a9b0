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

    /// Register a secret. It is masked without the whitespace around it,
    /// which tells nothing of it: a certificate's last newline stays, so a
    /// file that joins a certificate and its key is masked as
    /// `********\n********\n`, the shape a replay of the plugin gives. A
    /// multi-line one is registered line by line too, so output that splits
    /// or joins it stays masked; so are the forms a command or a JSON body
    /// gives it (shell-quoted, JSON-escaped), where quoting splits it around
    /// a quote or backslash.
    pub fn add(&self, secret: &str) {
        let core = secret.trim();
        for encoded in Self::encodings(core) {
            self.add_one(&encoded);
        }
        if core.contains('\n') {
            for line in core.lines() {
                self.add_one(line.trim());
            }
        }
        self.add_one(core);
    }

    /// Register the value of each header that carries a credential
    /// ([`crate::http::is_credential_header`]): the whole value, and the
    /// token after its scheme (`Basic <token>`), which encodes a password
    /// the mask of the password itself would not catch.
    pub fn add_headers(&self, headers: &[(String, String)]) {
        for (name, value) in headers {
            if !crate::http::is_credential_header(name) {
                continue;
            }
            self.add(value);
            if let Some((_scheme, token)) = value.trim().split_once(' ') {
                self.add(token);
            }
        }
    }

    /// The shell-quoted and JSON-escaped forms of `secret` that differ from
    /// it (a plain word is masked inside them already).
    fn encodings(secret: &str) -> Vec<String> {
        let quoted = crate::shell::quote(secret).unwrap_or_default();
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json
            .strip_prefix('"')
            .and_then(|j| j.strip_suffix('"'))
            .unwrap_or_default()
            .to_string();
        [quoted, json]
            .into_iter()
            .filter(|e| !e.is_empty() && !e.contains(secret))
            .collect()
    }

    fn add_one(&self, secret: &str) {
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

    /// Redact bytes that may not be text (file content), before any
    /// encoding could hide a secret from [`Redactor::redact`].
    pub fn redact_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let secrets = self.secrets.read().expect("redactor lock");
        let mut out = bytes.to_vec();
        for s in secrets.iter() {
            out = replace_bytes(&out, s.as_bytes(), MASK.as_bytes());
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

/// `bytes` with every occurrence of `from` replaced by `to`, left to right
/// (`str::replace` for bytes that may not be text).
pub fn replace_bytes(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if !from.is_empty() && bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
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

    #[test]
    fn multi_line_secrets_are_masked_line_by_line_and_in_bytes() {
        let r = Redactor::new();
        r.add("-----BEGIN KEY-----\nline-one-of-key\nline-two-of-key\n");
        let joined = "error: line-one-of-key; line-two-of-key";
        assert_eq!(r.redact(joined), "error: ********; ********");
        r.add("  padded-secret-value  ");
        assert_eq!(
            r.redact("validate said: padded-secret-value"),
            "validate said: ********"
        );
        let binary = [&[0xff, 0x00][..], b"line-one-of-key", &[0xfe]].concat();
        let masked = r.redact_bytes(&binary);
        assert!(!masked.windows(15).any(|w| w == b"line-one-of-key"));
        // The whitespace around a secret is not masked: a certificate and a
        // key joined keep their newlines.
        r.add("-----BEGIN CERT-----\nline-one-of-cert\n");
        assert_eq!(
            r.redact("-----BEGIN CERT-----\nline-one-of-cert\n-----BEGIN KEY-----\nline-one-of-key\nline-two-of-key\n"),
            "********\n********\n"
        );
    }

    #[test]
    fn credential_headers_are_masked_whole_and_by_token() {
        let r = Redactor::new();
        let (name, value) = crate::http::basic_auth("admin", "pw-1234");
        r.add_headers(&[
            (name.clone(), value.clone()),
            ("Content-Type".into(), "application/json".into()),
        ]);
        let token = value.strip_prefix("Basic ").unwrap();
        assert_eq!(
            r.redact(&format!("{name}: {value}")),
            "Authorization: ********"
        );
        assert_eq!(r.redact(&format!("token={token}")), "token=********");
        assert_eq!(r.redact("application/json"), "application/json");
    }

    #[test]
    fn shell_quoted_and_json_escaped_forms_are_masked() {
        let r = Redactor::new();
        r.add(r#"it's "quoted" \ here"#);
        let quoted = crate::shell::quote(r#"it's "quoted" \ here"#).unwrap();
        assert_eq!(
            r.redact(&format!("change_password admin {quoted}")),
            "change_password admin ********"
        );
        let json = serde_json::json!({"password": r#"it's "quoted" \ here"#}).to_string();
        assert_eq!(r.redact(&json), r#"{"password":"********"}"#);
    }
}
