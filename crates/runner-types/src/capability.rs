//! Declared capabilities and their enforcement.
//!
//! A plugin declares glob patterns for what it may probe, read, write, run
//! and fetch, and which other inventory hosts its waits may probe. Patterns may name step parameters as `{param}`; a [`Grant`]
//! is the declaration with one step's parameters filled in (as literal
//! text), and every probe and action of that step is checked against it.
//!
//! In command patterns (probes, runs) `*` never matches a shell control
//! character (`; & | < > $ \` ( )` or a newline), so `docker ps *` cannot
//! be stretched into `docker ps; rm -rf /`. Such characters must be
//! literal in the pattern or come from a parameter value.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Capabilities {
    pub probes: Vec<String>,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
    pub runs: Vec<String>,
    pub http: Vec<String>,
    /// Inventory hosts a `wait` may probe besides the target.
    #[serde(default)]
    pub peers: Vec<String>,
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
    /// A wait's probe on another inventory host.
    Peer,
}

impl Access {
    fn noun(self) -> &'static str {
        match self {
            Access::Probe => "probe",
            Access::Read => "read of",
            Access::Write => "write to",
            Access::Run => "command",
            Access::Http => "HTTP request to",
            Access::Peer => "wait on host",
        }
    }
    fn declared_as(self) -> &'static str {
        match self {
            Access::Probe => "probes",
            Access::Read => "reads",
            Access::Write => "writes",
            Access::Run => "runs",
            Access::Http => "http",
            Access::Peer => "peers",
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
    probes: Vec<Glob>,
    reads: Vec<Glob>,
    writes: Vec<Glob>,
    runs: Vec<Glob>,
    http: Vec<Glob>,
    peers: Vec<Glob>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    Star,
}

/// A pattern with its parameters filled in; parameter text is literal.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Glob {
    tokens: Vec<Token>,
}

const SHELL_CONTROL: &[char] = &[';', '&', '|', '<', '>', '$', '`', '(', ')', '\n'];

impl Glob {
    fn text(&self) -> String {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Literal(c) => *c,
                Token::Star => '*',
            })
            .collect()
    }

    /// Whether `target` matches; `star_ok` says which characters `*` takes.
    fn matches(&self, target: &str, star_ok: &dyn Fn(char) -> bool) -> bool {
        let t: Vec<char> = target.chars().collect();
        // Classic wildcard matching with one backtrack point.
        let (mut ti, mut pi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            match self.tokens.get(pi) {
                Some(Token::Literal(c)) if *c == t[ti] => {
                    ti += 1;
                    pi += 1;
                }
                Some(Token::Star) => {
                    star = Some((pi, ti));
                    pi += 1;
                }
                _ => match star {
                    Some((sp, st)) if star_ok(t[st]) => {
                        star = Some((sp, st + 1));
                        pi = sp + 1;
                        ti = st + 1;
                    }
                    _ => return false,
                },
            }
        }
        self.tokens[pi..].iter().all(|tok| *tok == Token::Star)
    }
}

impl Grant {
    pub fn new(plugin: &str, caps: &Capabilities, params: &Value) -> Grant {
        let expand = |patterns: &[String]| -> Vec<Glob> {
            patterns
                .iter()
                .flat_map(|p| expand_pattern(p, params))
                .map(|tokens| Glob { tokens })
                .collect()
        };
        Grant {
            plugin: plugin.to_string(),
            probes: expand(&caps.probes),
            reads: expand(&caps.reads),
            writes: expand(&caps.writes),
            runs: expand(&caps.runs),
            http: expand(&caps.http),
            peers: expand(&caps.peers),
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
            Access::Peer => &self.peers,
        };
        let command = matches!(access, Access::Probe | Access::Run);
        let star_ok = |c: char| !command || !SHELL_CONTROL.contains(&c);
        if patterns.iter().any(|p| p.matches(target, &star_ok)) {
            return Ok(());
        }
        let declared = if patterns.is_empty() {
            "none".to_string()
        } else {
            patterns
                .iter()
                .map(Glob::text)
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
                Probe::HostsCommand { hosts, command, .. } => {
                    hosts.iter().try_for_each(|h| self.check(Access::Peer, h))?;
                    self.check(Access::Probe, command)
                }
            },
        }
    }
}

fn is_clean_absolute(path: &str) -> bool {
    path.starts_with('/') && !path.split('/').any(|c| c == "..")
}

/// Fill `{param}` placeholders with parameter values (every combination when
/// a parameter is a list). A pattern naming an absent parameter expands to
/// nothing, so it grants nothing. Values become literal tokens.
fn expand_pattern(pattern: &str, params: &Value) -> Vec<Vec<Token>> {
    let pattern_tokens = |text: &str| -> Vec<Token> {
        text.chars()
            .map(|c| {
                if c == '*' {
                    Token::Star
                } else {
                    Token::Literal(c)
                }
            })
            .collect()
    };
    let Some(start) = pattern.find('{') else {
        return vec![pattern_tokens(pattern)];
    };
    let Some(len) = pattern[start..].find('}') else {
        return vec![pattern_tokens(pattern)];
    };
    let name = &pattern[start + 1..start + len];
    let rest = &pattern[start + len + 1..];
    if name.is_empty() {
        // `{}` is literal (a validate command's placeholder).
        let head = pattern_tokens(&pattern[..start + 2]);
        return expand_pattern(rest, params)
            .into_iter()
            .map(|tail| head.iter().cloned().chain(tail).collect())
            .collect();
    }
    let values: Vec<String> = lookup(params, name)
        .into_iter()
        .flat_map(|v| match v {
            Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
            v => scalar_text(v).into_iter().collect::<Vec<_>>(),
        })
        .collect();
    let mut out = Vec::new();
    for value in values {
        let mut head = pattern_tokens(&pattern[..start]);
        head.extend(value.chars().map(Token::Literal));
        for tail in expand_pattern(rest, params) {
            let mut full = head.clone();
            full.extend(tail);
            out.push(full);
        }
    }
    out
}

/// `a.b` looks up nested objects; through a list it takes every element.
fn lookup<'a>(params: &'a Value, dotted: &str) -> Vec<&'a Value> {
    let mut current = vec![params];
    for key in dotted.split('.') {
        current = current
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().filter_map(|i| i.get(key)).collect::<Vec<_>>(),
                other => other.get(key).into_iter().collect(),
            })
            .collect();
    }
    current.into_iter().filter(|v| !v.is_null()).collect()
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
    fn star_does_not_cross_shell_control_in_commands() {
        let caps = Capabilities {
            probes: vec!["docker ps *".into(), "echo {msg}".into()],
            writes: vec!["/srv/*".into()],
            ..Default::default()
        };
        let g = Grant::new("p", &caps, &json!({"msg": "a; b"}));
        assert!(g.check(Access::Probe, "docker ps --format json").is_ok());
        assert!(g.check(Access::Probe, "docker ps; rm -rf /").is_err());
        assert!(g.check(Access::Probe, "docker ps $(id)").is_err());
        assert!(
            g.check(Access::Probe, "echo a; b").is_ok(),
            "a parameter's text is literal"
        );
        assert!(
            g.check(Access::Write, "/srv/a;b").is_ok(),
            "paths are not commands"
        );
        let caps = Capabilities {
            runs: vec!["{files.validate}".into()],
            ..Default::default()
        };
        let g = Grant::new(
            "p",
            &caps,
            &json!({"files": [{"validate": "check {}"}, {}]}),
        );
        assert!(
            g.check(Access::Run, "check {}").is_ok(),
            "through lists of objects"
        );
        let caps = Capabilities {
            runs: vec!["haproxy -c -f {} {image}".into()],
            ..Default::default()
        };
        let g = Grant::new("p", &caps, &json!({"image": "h:3"}));
        assert!(
            g.check(Access::Run, "haproxy -c -f {} h:3").is_ok(),
            "{{}} stays literal"
        );
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

    #[test]
    fn a_wait_on_other_hosts_needs_them_declared_as_peers() {
        use crate::{Action, ActionKind, Probe, WaitUntil};
        let caps = Capabilities {
            probes: vec!["ip -o addr show to {vip}/32".into()],
            peers: vec!["{balancers}".into()],
            ..Default::default()
        };
        let params = json!({"vip": "10.0.0.9", "balancers": ["lb1", "lb2"]});
        let g = Grant::new("p", &caps, &params);
        let wait = |hosts: &[&str], command: &str| Action {
            summary: "wait".into(),
            kind: ActionKind::Wait(WaitUntil {
                probe: Probe::HostsCommand {
                    hosts: hosts.iter().map(|h| h.to_string()).collect(),
                    command: command.into(),
                    exactly: 1,
                },
                contains: None,
                timeout_ms: 1000,
                interval_ms: 100,
            }),
        };
        let ok = "ip -o addr show to 10.0.0.9/32";
        assert!(g.check_action(&wait(&["lb1", "lb2"], ok)).is_ok());
        let err = g.check_action(&wait(&["lb1", "db1"], ok)).unwrap_err();
        assert!(
            err.to_string().contains(
                "tried a wait on host 'db1', which it did not declare (declared peers: lb1, lb2)"
            ),
            "{err}"
        );
        assert!(g.check_action(&wait(&["lb1"], "cat /etc/shadow")).is_err());
    }
}
