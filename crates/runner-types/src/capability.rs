//! Declared capabilities and their enforcement.
//!
//! A plugin declares glob patterns for what it may probe, read, write, run
//! and fetch. Patterns may name step parameters as `{param}`; a [`Grant`]
//! is the declaration with one step's parameters filled in, and every probe
//! and action of that step is checked against it.

use glob::{MatchOptions, Pattern};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Capabilities {
    pub probes: Vec<String>,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
    pub runs: Vec<String>,
    pub http: Vec<String>,
}

/// What `describe()` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub summary: String,
    /// JSON Schema of the step parameters.
    pub params_schema: Value,
    pub secret_params: Vec<String>,
    pub capabilities: Capabilities,
}

/// The kind of access being checked, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Probe,
    Read,
    Write,
    Run,
    Http,
}

impl Access {
    fn noun(self) -> &'static str {
        match self {
            Access::Probe => "probe",
            Access::Read => "read of",
            Access::Write => "write to",
            Access::Run => "command",
            Access::Http => "HTTP request to",
        }
    }
    fn declared_as(self) -> &'static str {
        match self {
            Access::Probe => "probes",
            Access::Read => "reads",
            Access::Write => "writes",
            Access::Run => "runs",
            Access::Http => "http",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    #[error(
        "plugin '{plugin}' tried a {} '{target}', which it did not declare (declared {}: {declared})",
        access.noun(),
        access.declared_as()
    )]
    Undeclared {
        plugin: String,
        access: Access,
        target: String,
        declared: String,
    },
    #[error("plugin '{plugin}' used path '{path}': paths must be absolute and contain no '..'")]
    BadPath { plugin: String, path: String },
}

/// A plugin's declared capabilities with one step's parameters filled in.
#[derive(Debug, Clone)]
pub struct Grant {
    plugin: String,
    probes: Vec<Pattern>,
    reads: Vec<Pattern>,
    writes: Vec<Pattern>,
    runs: Vec<Pattern>,
    http: Vec<Pattern>,
}

const MATCH: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: false,
    require_literal_leading_dot: false,
};

impl Grant {
    pub fn new(plugin: &str, caps: &Capabilities, params: &Value) -> Grant {
        let expand = |patterns: &[String]| -> Vec<Pattern> {
            patterns
                .iter()
                .flat_map(|p| expand_pattern(p, params))
                .filter_map(|p| Pattern::new(&p).ok())
                .collect()
        };
        Grant {
            plugin: plugin.to_string(),
            probes: expand(&caps.probes),
            reads: expand(&caps.reads),
            writes: expand(&caps.writes),
            runs: expand(&caps.runs),
            http: expand(&caps.http),
        }
    }

    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    pub fn check(&self, access: Access, target: &str) -> Result<(), CapabilityError> {
        if matches!(access, Access::Read | Access::Write) && !is_clean_absolute(target) {
            return Err(CapabilityError::BadPath {
                plugin: self.plugin.clone(),
                path: target.to_string(),
            });
        }
        let patterns = match access {
            Access::Probe => &self.probes,
            Access::Read => &self.reads,
            Access::Write => &self.writes,
            Access::Run => &self.runs,
            Access::Http => &self.http,
        };
        if patterns.iter().any(|p| p.matches_with(target, MATCH)) {
            return Ok(());
        }
        let declared = if patterns.is_empty() {
            "none".to_string()
        } else {
            patterns
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(CapabilityError::Undeclared {
            plugin: self.plugin.clone(),
            access,
            target: target.to_string(),
            declared,
        })
    }

    /// Check every probe and side effect of an action.
    pub fn check_action(&self, action: &crate::Action) -> Result<(), CapabilityError> {
        use crate::{ActionKind, Probe};
        match &action.kind {
            ActionKind::WriteFile { path, validate, .. } => {
                self.check(Access::Write, path)?;
                if let Some(v) = validate {
                    self.check(Access::Run, v)?;
                }
                Ok(())
            }
            ActionKind::RemoveFile { path } => self.check(Access::Write, path),
            ActionKind::Run { command, .. } => self.check(Access::Run, command),
            ActionKind::Http { url, .. } => self.check(Access::Http, url),
            ActionKind::Wait(w) => match &w.probe {
                Probe::Command(c) => self.check(Access::Probe, c),
                Probe::HttpGet(u) => self.check(Access::Http, u),
            },
        }
    }
}

fn is_clean_absolute(path: &str) -> bool {
    path.starts_with('/') && !path.split('/').any(|c| c == "..")
}

/// Fill `{param}` placeholders with parameter values (every combination when
/// a parameter is a list). A pattern naming an absent parameter expands to
/// nothing, so it grants nothing.
fn expand_pattern(pattern: &str, params: &Value) -> Vec<String> {
    let Some(start) = pattern.find('{') else {
        return vec![pattern.to_string()];
    };
    let Some(len) = pattern[start..].find('}') else {
        return vec![pattern.to_string()];
    };
    let name = &pattern[start + 1..start + len];
    let rest = &pattern[start + len + 1..];
    let values: Vec<String> = match lookup(params, name) {
        Some(Value::Array(items)) => items.iter().filter_map(scalar_text).collect(),
        Some(v) => scalar_text(v).into_iter().collect(),
        None => vec![],
    };
    let mut out = Vec::new();
    for value in values {
        let head = format!("{}{}", &pattern[..start], Pattern::escape(&value));
        for tail in expand_pattern(rest, params) {
            out.push(format!("{head}{tail}"));
        }
    }
    out
}

/// `a.b` looks up nested objects.
fn lookup<'a>(params: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(params, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caps() -> Capabilities {
        Capabilities {
            writes: vec!["{dir}/*".into()],
            runs: vec!["docker compose -f {dir}/compose.yaml *".into()],
            probes: vec!["test -e {files}".into()],
            ..Default::default()
        }
    }

    #[test]
    fn parameters_fill_patterns() {
        let g = Grant::new(
            "p",
            &caps(),
            &json!({"dir": "/srv/app", "files": ["/a", "/b"]}),
        );
        assert!(g.check(Access::Write, "/srv/app/compose.yaml").is_ok());
        assert!(g.check(Access::Write, "/etc/passwd").is_err());
        assert!(
            g.check(Access::Run, "docker compose -f /srv/app/compose.yaml up -d")
                .is_ok()
        );
        assert!(g.check(Access::Probe, "test -e /b").is_ok());
        assert!(g.check(Access::Probe, "test -e /c").is_err());
    }

    #[test]
    fn glob_characters_in_values_are_literal() {
        let g = Grant::new("p", &caps(), &json!({"dir": "/srv/*"}));
        assert!(g.check(Access::Write, "/srv/other/x").is_err());
        assert!(g.check(Access::Write, "/srv/*/x").is_ok());
    }

    #[test]
    fn absent_parameter_grants_nothing_and_dotdot_is_refused() {
        let g = Grant::new("p", &caps(), &json!({}));
        let err = g.check(Access::Write, "/srv/app/x").unwrap_err();
        assert!(err.to_string().contains("declared writes: none"), "{err}");
        let g = Grant::new("p", &caps(), &json!({"dir": "/srv"}));
        assert!(matches!(
            g.check(Access::Write, "/srv/../etc/shadow"),
            Err(CapabilityError::BadPath { .. })
        ));
    }
}
