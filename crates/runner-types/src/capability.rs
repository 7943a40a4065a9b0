//! Declared capabilities and their enforcement.
//!
//! A plugin declares glob patterns for what it may probe, read, write, run
//! and fetch, and which other inventory hosts its waits may probe. Patterns may name step parameters as `{param}`; a [`Grant`]
//! is the declaration with one step's parameters filled in (as literal
//! text), and every probe and action of that step is checked against it.
//!
//! Commands (probes, runs) are matched as shell words ([`crate::shell`]),
//! not as text: a command the strict parser cannot prove harmless is
//! refused; a pattern word that is a lone unquoted `*` matches any number
//! of whole words (never an operator), a quoted `'*'` exactly one word, a
//! `*` inside a word matches within that word only (and a word a `*` took
//! part in holds no `..` segment), and a `{param}` is exactly one word, whatever it holds — so the
//! plugin must quote it, and the quoted form is the one that passes. A
//! pattern the parser cannot read (`kill -HUP $(cat /run/x.pid)`) grants
//! exactly its own text, and only when it has no `*` and no `{param}`; a
//! pattern that is one `{param}` alone (`{cmd}`) grants exactly the
//! command the playbook wrote there.
//! Paths, URLs and commands with a control character are refused.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::shell::{self, Lexeme, Unit};

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
    /// Files on the runner's machine, relative to the playbook's directory.
    #[serde(default)]
    pub local_reads: Vec<String>,
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
    /// A file on the runner's machine, under the playbook's directory.
    LocalRead,
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
            Access::LocalRead => "local read of",
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
            Access::LocalRead => "local-reads",
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
    #[error(
        "plugin '{plugin}' used local path '{}': it must be relative to the playbook's directory, with no '..' and no '.runner'",
        shell::escape_controls(path)
    )]
    BadLocalPath { plugin: String, path: String },
    #[error(
        "plugin '{plugin}' tried a {} '{}': {reason}",
        access.noun(),
        shell::escape_controls(target)
    )]
    Refused {
        plugin: String,
        access: Access,
        target: String,
        reason: String,
    },
}

/// A plugin's declared capabilities with one step's parameters filled in.
#[derive(Debug, Clone)]
pub struct Grant {
    plugin: String,
    probes: Vec<CommandPattern>,
    reads: Vec<Glob>,
    writes: Vec<Glob>,
    runs: Vec<CommandPattern>,
    http: Vec<HttpPattern>,
    peers: Vec<Glob>,
    local_reads: Vec<Glob>,
}

/// An HTTP pattern: methods (GET and HEAD unless the pattern names them,
/// `PUT,DELETE https://host/api/*`), an exact origin, and a path glob,
/// matched against the parsed and normalised URL.
#[derive(Debug, Clone)]
struct HttpPattern {
    methods: Vec<String>,
    /// `None`: the pattern's origin is not a plain URL; it grants nothing.
    origin: Option<String>,
    path: Glob,
    text: String,
}

impl HttpPattern {
    fn new(units: &[Unit]) -> HttpPattern {
        let glob = Glob::from_units(units);
        let text = glob.text();
        let (methods, url_tokens) = match text.split_once(' ') {
            Some((m, _))
                if !m.is_empty() && m.chars().all(|c| c.is_ascii_uppercase() || c == ',') =>
            {
                (
                    m.split(',').map(str::to_string).collect(),
                    glob.tokens[m.chars().count() + 1..].to_vec(),
                )
            }
            _ => (
                vec!["GET".to_string(), "HEAD".to_string()],
                glob.tokens.clone(),
            ),
        };
        // The origin ends at the first `/` after `scheme://`.
        let scheme_end = url_tokens
            .windows(3)
            .position(|w| {
                w == [
                    Token::Literal(':'),
                    Token::Literal('/'),
                    Token::Literal('/'),
                ]
            })
            .map(|i| i + 3);
        let split = scheme_end.map(|start| {
            url_tokens[start..]
                .iter()
                .position(|t| *t == Token::Literal('/'))
                .map_or(url_tokens.len(), |i| start + i)
        });
        let (origin, path) = match split {
            Some(at) => {
                let origin = Glob {
                    tokens: url_tokens[..at].to_vec(),
                };
                let literal = !origin.tokens.contains(&Token::Star);
                let origin = literal
                    .then(|| crate::http::HttpTarget::parse(&format!("{}/", origin.text())).ok())
                    .flatten()
                    .map(|t| t.origin);
                let mut path = url_tokens[at..].to_vec();
                if path.is_empty() {
                    path.push(Token::Literal('/'));
                }
                (origin, Glob { tokens: path })
            }
            None => (None, Glob { tokens: vec![] }),
        };
        HttpPattern {
            methods,
            origin,
            path,
            text,
        }
    }

    fn matches(&self, method: &str, target: &crate::http::HttpTarget) -> bool {
        self.methods.iter().any(|m| m == method)
            && self.origin.as_deref() == Some(target.origin.as_str())
            && self.path.matches(&target.path)
    }
}

/// A command pattern with one step's parameters filled in.
#[derive(Debug, Clone)]
enum CommandPattern {
    /// Matched word by word.
    Words {
        words: Vec<PatternWord>,
        text: String,
    },
    /// Not parseable, with no `*` and no `{param}`: only this exact text.
    Exact(String),
    /// Not parseable, with wildcards or parameters: grants nothing.
    Never(String),
}

#[derive(Debug, Clone)]
enum PatternWord {
    /// A lone `*`: any number of whole words, never an operator.
    Any,
    /// One word; `*` inside matches any text within it.
    Word(Glob),
    Op(String),
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

impl Glob {
    fn from_units(units: &[Unit]) -> Glob {
        let mut tokens = Vec::new();
        for u in units {
            match u {
                Unit::Ch(c) => tokens.push(Token::Literal(*c)),
                Unit::Star => tokens.push(Token::Star),
                Unit::Param(v) => tokens.extend(v.chars().map(Token::Literal)),
            }
        }
        Glob { tokens }
    }

    fn text(&self) -> String {
        self.tokens
            .iter()
            .map(|t| match t {
                Token::Literal(c) => *c,
                Token::Star => '*',
            })
            .collect()
    }

    /// Whether `target` matches; `*` takes any text.
    fn matches(&self, target: &str) -> bool {
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
                    Some((sp, st)) => {
                        star = Some((sp, st + 1));
                        pi = sp + 1;
                        ti = st + 1;
                    }
                    None => return false,
                },
            }
        }
        self.tokens[pi..].iter().all(|tok| *tok == Token::Star)
    }
}

impl Glob {
    /// Whether one command word matches. A word a `*` took part in holds
    /// no `..` segment, so `cat '/app/*'` never reaches above `/app`.
    fn matches_word(&self, word: &str) -> bool {
        self.matches(word) && !(self.tokens.contains(&Token::Star) && has_dotdot_segment(word))
    }
}

/// Whether `word` holds `..` as a whole path segment: between any two of
/// the word's ends, `/`, and the separators options put before or between
/// paths (`=`, `:`, `,`), as in `--file=../x` or `-v /app/..:/x`.
fn has_dotdot_segment(word: &str) -> bool {
    word.split(['/', '=', ':', ','])
        .any(|segment| segment == "..")
}

impl CommandPattern {
    fn new(raw: &str, units: &[Unit]) -> CommandPattern {
        let text = Glob::from_units(units).text();
        // A pattern that is one parameter and nothing else is a whole
        // command the playbook wrote (`{cmd}`, `{validate}`): exactly it.
        if let [Unit::Param(command)] = units {
            return CommandPattern::Exact(command.clone());
        }
        match shell::lex(units) {
            Ok(lexemes) => CommandPattern::Words {
                words: lexemes
                    .into_iter()
                    .map(|l| match l {
                        Lexeme::Op(o) => PatternWord::Op(o),
                        Lexeme::AnyWords => PatternWord::Any,
                        Lexeme::Word(u) => PatternWord::Word(Glob::from_units(&u)),
                    })
                    .collect(),
                text,
            },
            Err(_) if !raw.contains('*') && !has_placeholder(raw) => CommandPattern::Exact(text),
            Err(_) => CommandPattern::Never(text),
        }
    }

    fn text(&self) -> &str {
        match self {
            CommandPattern::Words { text, .. }
            | CommandPattern::Exact(text)
            | CommandPattern::Never(text) => text,
        }
    }

    fn matches(&self, command: &str, parsed: Option<&[shell::Token]>) -> bool {
        match (self, parsed) {
            (CommandPattern::Exact(text), _) => text == command,
            (CommandPattern::Words { words, .. }, Some(tokens)) => match_words(words, tokens),
            _ => false,
        }
    }
}

/// Whether `tokens` are exactly what `pattern` allows.
fn match_words(pattern: &[PatternWord], tokens: &[shell::Token]) -> bool {
    use shell::Token as T;
    let Some((first, rest)) = pattern.split_first() else {
        return tokens.is_empty();
    };
    match first {
        PatternWord::Any => (0..=tokens.len())
            .take_while(|&k| k == 0 || matches!(tokens[k - 1], T::Word(_)))
            .any(|k| match_words(rest, &tokens[k..])),
        PatternWord::Word(glob) => match tokens.split_first() {
            Some((T::Word(w), more)) => glob.matches_word(w) && match_words(rest, more),
            _ => false,
        },
        PatternWord::Op(op) => match tokens.split_first() {
            Some((T::Op(o), more)) => o == op && match_words(rest, more),
            _ => false,
        },
    }
}

/// Whether a pattern names a parameter (`{name}`; `{}` is literal).
fn has_placeholder(pattern: &str) -> bool {
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        match rest[start..].find('}') {
            Some(1) => rest = &rest[start + 2..],
            Some(_) => return true,
            None => return false,
        }
    }
    false
}

impl Grant {
    pub fn new(plugin: &str, caps: &Capabilities, params: &Value) -> Grant {
        let globs = |patterns: &[String]| -> Vec<Glob> {
            patterns
                .iter()
                .flat_map(|p| expand_pattern(p, params))
                .map(|units| Glob::from_units(&units))
                .collect()
        };
        let commands = |patterns: &[String]| -> Vec<CommandPattern> {
            patterns
                .iter()
                .flat_map(|p| {
                    expand_pattern(p, params)
                        .into_iter()
                        .map(move |units| CommandPattern::new(p, &units))
                })
                .collect()
        };
        Grant {
            plugin: plugin.to_string(),
            probes: commands(&caps.probes),
            reads: globs(&caps.reads),
            writes: globs(&caps.writes),
            runs: commands(&caps.runs),
            http: caps
                .http
                .iter()
                .flat_map(|p| expand_pattern(p, params))
                .map(|units| HttpPattern::new(&units))
                .collect(),
            peers: globs(&caps.peers),
            local_reads: globs(&caps.local_reads),
        }
    }

    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    pub fn check(&self, access: Access, target: &str) -> Result<(), CapabilityError> {
        let refused = |reason: String| CapabilityError::Refused {
            plugin: self.plugin.clone(),
            access,
            target: target.to_string(),
            reason,
        };
        if let Some(c) = shell::find_control(target) {
            return Err(refused(format!(
                "it contains the control character {}",
                c.escape_default()
            )));
        }
        if matches!(access, Access::Read | Access::Write) && !is_clean_absolute(target) {
            return Err(CapabilityError::BadPath {
                plugin: self.plugin.clone(),
                path: target.to_string(),
            });
        }
        if access == Access::LocalRead && !is_clean_local(target) {
            return Err(CapabilityError::BadLocalPath {
                plugin: self.plugin.clone(),
                path: target.to_string(),
            });
        }
        let (allowed, declared) = match access {
            Access::Probe | Access::Run => {
                let patterns = if access == Access::Probe {
                    &self.probes
                } else {
                    &self.runs
                };
                let parsed = shell::words(target);
                if patterns
                    .iter()
                    .any(|p| p.matches(target, parsed.as_deref().ok()))
                {
                    return Ok(());
                }
                if let Err(e) = parsed {
                    return Err(refused(format!("{e}, so it is refused")));
                }
                (false, list(patterns.iter().map(CommandPattern::text)))
            }
            Access::Http => return self.check_http("GET", target),
            _ => {
                let patterns = match access {
                    Access::Read => &self.reads,
                    Access::Write => &self.writes,
                    Access::LocalRead => &self.local_reads,
                    _ => &self.peers,
                };
                let allowed = patterns.iter().any(|p| p.matches(target));
                let texts: Vec<String> = patterns.iter().map(Glob::text).collect();
                (allowed, list(texts.iter().map(String::as_str)))
            }
        };
        if allowed {
            return Ok(());
        }
        Err(CapabilityError::Undeclared {
            plugin: self.plugin.clone(),
            access,
            target: target.to_string(),
            declared,
        })
    }

    /// An HTTP request: its method from the known set and named by the
    /// pattern, its URL parsed and normalised, then matched.
    pub fn check_http(&self, method: &str, url: &str) -> Result<(), CapabilityError> {
        let refused = |reason: String| CapabilityError::Refused {
            plugin: self.plugin.clone(),
            access: Access::Http,
            target: format!("{method} {url}"),
            reason,
        };
        if !crate::http::METHODS.contains(&method) {
            return Err(refused(format!(
                "the method is not one of {}",
                crate::http::METHODS.join(", ")
            )));
        }
        let target = crate::http::HttpTarget::parse(url).map_err(refused)?;
        if self.http.iter().any(|p| p.matches(method, &target)) {
            return Ok(());
        }
        Err(CapabilityError::Undeclared {
            plugin: self.plugin.clone(),
            access: Access::Http,
            target: format!("{method} {url}"),
            declared: list(self.http.iter().map(|p| p.text.as_str())),
        })
    }

    /// Check every probe and side effect of an action.
    pub fn check_action(&self, action: &crate::Action) -> Result<(), CapabilityError> {
        use crate::{ActionKind, Probe};
        match &action.kind {
            ActionKind::WriteFile {
                path,
                validate,
                mode,
                owner,
                group,
                ..
            } => {
                self.check_written(path, *mode, owner, group)?;
                if let Some(v) = validate {
                    self.check(Access::Run, v)?;
                }
                Ok(())
            }
            ActionKind::EnsureDir {
                path,
                mode,
                owner,
                group,
            } => self.check_written(path, *mode, owner, group),
            ActionKind::Symlink { path, target, .. } => {
                self.check(Access::Write, path)?;
                self.check_link_target(path, target)
            }
            ActionKind::RemoveDir { path, recurse } => {
                self.check(Access::Write, path)?;
                if *recurse {
                    // Everything under it is removed too: all of it granted.
                    self.check(Access::Write, &format!("{path}/*"))?;
                }
                Ok(())
            }
            ActionKind::RemoveFile { path } => self.check(Access::Write, path),
            ActionKind::Run { command, .. } => self.check(Access::Run, command),
            ActionKind::Http { method, url, .. } => self.check_http(method, url),
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

impl Grant {
    /// A file or directory given a mode and maybe an owner and a group.
    fn check_written(
        &self,
        path: &str,
        mode: u32,
        owner: &Option<String>,
        group: &Option<String>,
    ) -> Result<(), CapabilityError> {
        self.check(Access::Write, path)?;
        let refused = |reason: String| CapabilityError::Refused {
            plugin: self.plugin.clone(),
            access: Access::Write,
            target: path.to_string(),
            reason,
        };
        if mode & !0o777 != 0 {
            return Err(refused(format!(
                "mode {mode:04o} sets setuid, setgid or sticky bits, which no plugin is granted"
            )));
        }
        for name in [owner, group].into_iter().flatten() {
            crate::owner::check(name).map_err(|e| refused(e.to_string()))?;
        }
        Ok(())
    }

    /// A link's target is text stored in the link, not a write; it must
    /// still be plain: not empty, no control character.
    fn check_link_target(&self, path: &str, target: &str) -> Result<(), CapabilityError> {
        let reason = if target.is_empty() {
            "its link target is empty".to_string()
        } else if let Some(c) = shell::find_control(target) {
            format!(
                "its link target contains the control character {}",
                c.escape_default()
            )
        } else {
            return Ok(());
        };
        Err(CapabilityError::Refused {
            plugin: self.plugin.clone(),
            access: Access::Write,
            target: path.to_string(),
            reason,
        })
    }
}

/// A path on the runner's machine a plugin may name: relative, plain
/// components, none of them `..` or the runner's own `.runner`.
pub fn is_clean_local(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != ".." && c != "." && c != ".runner")
}

fn is_clean_absolute(path: &str) -> bool {
    path.starts_with('/') && !path.split('/').any(|c| c == "..")
}

/// Declared patterns, for messages.
fn list<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = texts.collect();
    if all.is_empty() {
        "none".to_string()
    } else {
        all.join(", ")
    }
}

/// Fill `{param}` placeholders with parameter values (every combination when
/// a parameter is a list). A pattern naming an absent parameter expands to
/// nothing, so it grants nothing. A value is one opaque unit: literal text,
/// and in a command exactly one word.
fn expand_pattern(pattern: &str, params: &Value) -> Vec<Vec<Unit>> {
    let pattern_units = |text: &str| -> Vec<Unit> {
        text.chars()
            .map(|c| if c == '*' { Unit::Star } else { Unit::Ch(c) })
            .collect()
    };
    let Some(start) = pattern.find('{') else {
        return vec![pattern_units(pattern)];
    };
    let Some(len) = pattern[start..].find('}') else {
        return vec![pattern_units(pattern)];
    };
    let name = &pattern[start + 1..start + len];
    let rest = &pattern[start + len + 1..];
    let (name, parents) = match name.strip_suffix(":parents") {
        Some(n) => (n, true),
        None => (name, false),
    };
    if name.is_empty() {
        // `{}` is literal (a validate command's placeholder).
        let head = pattern_units(&pattern[..start + 2]);
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
        .flat_map(|v| if parents { ancestors(&v) } else { vec![v] })
        .collect();
    let mut out = Vec::new();
    for value in values {
        let mut head = pattern_units(&pattern[..start]);
        head.push(Unit::Param(value));
        for tail in expand_pattern(rest, params) {
            let mut full = head.clone();
            full.extend(tail);
            out.push(full);
        }
    }
    out
}

/// The directories above an absolute path, outermost first, without `/`:
/// `/a/b/c` gives `/a`, `/a/b`. A relative path has none.
pub fn ancestors(path: &str) -> Vec<String> {
    if !path.starts_with('/') {
        return vec![];
    }
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    (1..parts.len())
        .map(|n| format!("/{}", parts[..n].join("/")))
        .collect()
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
    fn parents_patterns_grant_each_directory_above() {
        let caps = Capabilities {
            writes: vec!["{path}".into(), "{path:parents}".into()],
            ..Default::default()
        };
        let g = Grant::new("p", &caps, &json!({"path": "/srv/a/b/f"}));
        for ok in ["/srv", "/srv/a", "/srv/a/b", "/srv/a/b/f"] {
            assert!(g.check(Access::Write, ok).is_ok(), "{ok}");
        }
        for bad in ["/", "/srv/a/b/g", "/srv/x", "/srv/a/b/f/g"] {
            assert!(g.check(Access::Write, bad).is_err(), "{bad}");
        }
        assert_eq!(ancestors("/a/b/c"), vec!["/a", "/a/b"]);
        assert!(ancestors("a/b").is_empty());
    }

    #[test]
    fn new_file_actions_are_checked_like_writes() {
        use crate::{Action, ActionKind};
        let caps = Capabilities {
            writes: vec!["{path}".into()],
            ..Default::default()
        };
        let g = Grant::new("p", &caps, &json!({"path": "/srv/d"}));
        let act = |kind| Action {
            summary: "s".into(),
            kind,
        };
        let dir = |path: &str, mode, owner: Option<&str>| {
            act(ActionKind::EnsureDir {
                path: path.into(),
                mode,
                owner: owner.map(str::to_string),
                group: None,
            })
        };
        assert!(
            g.check_action(&dir("/srv/d", 0o755, Some("nobody")))
                .is_ok()
        );
        assert!(g.check_action(&dir("/srv/e", 0o755, None)).is_err());
        assert!(g.check_action(&dir("/srv/d\0/x", 0o755, None)).is_err());
        assert!(g.check_action(&dir("/srv/d", 0o4755, None)).is_err());
        assert!(
            g.check_action(&dir("/srv/d", 0o755, Some("root:root")))
                .is_err()
        );
        let link = |path: &str, target: &str| {
            act(ActionKind::Symlink {
                path: path.into(),
                target: target.into(),
                force: false,
            })
        };
        assert!(g.check_action(&link("/srv/d", "/etc/hosts")).is_ok());
        assert!(g.check_action(&link("/etc/d", "/srv/d")).is_err());
        assert!(g.check_action(&link("/srv/d", "x\ny")).is_err());
        assert!(g.check_action(&link("/srv/d", "")).is_err());
        let rmdir = |recurse| {
            act(ActionKind::RemoveDir {
                path: "/srv/d".into(),
                recurse,
            })
        };
        assert!(g.check_action(&rmdir(false)).is_ok());
        // Recursion removes what is under it: that must be granted too.
        assert!(g.check_action(&rmdir(true)).is_err());
        let g = Grant::new(
            "p",
            &Capabilities {
                writes: vec!["{path}".into(), "{path}/*".into()],
                ..Default::default()
            },
            &json!({"path": "/srv/d"}),
        );
        assert!(g.check_action(&rmdir(true)).is_ok());
    }

    #[test]
    fn local_reads_stay_relative_and_inside() {
        let caps = Capabilities {
            local_reads: vec!["{src}".into()],
            ..Default::default()
        };
        let check =
            |src: &str| Grant::new("p", &caps, &json!({"src": src})).check(Access::LocalRead, src);
        assert!(check("files/app.conf").is_ok());
        for bad in [
            "/etc/passwd",
            "../secret",
            "files/../../x",
            "files/./x",
            ".runner/state",
            "a/.runner/x",
            "files/a\0b",
            "",
            "files//x",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        let g = Grant::new("p", &caps, &json!({"src": "files/a"}));
        assert!(matches!(
            g.check(Access::LocalRead, "files/b"),
            Err(CapabilityError::Undeclared { .. })
        ));
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
    fn http_grants_match_normalised_urls_methods_and_origins() {
        let caps = Capabilities {
            http: vec![
                "{api}/api/*".into(),
                "PUT,DELETE {api}/api/policies/*".into(),
                "http://*.example/x".into(),
            ],
            ..Default::default()
        };
        let g = Grant::new("p", &caps, &json!({"api": "http://10.0.0.1:15672"}));
        assert!(
            g.check(Access::Http, "http://10.0.0.1:15672/api/overview")
                .is_ok()
        );
        assert!(
            g.check_http("PUT", "http://10.0.0.1:15672/api/policies/%2F/ha")
                .is_ok()
        );
        for (method, url) in [
            ("GET", "http://10.0.0.1:15672/api/../admin"),
            ("GET", "http://10.0.0.1:15672/api/%2e%2e/admin"),
            ("GET", "http://10.0.0.1:15672@evil/api/x"),
            ("GET", "http://10.0.0.1:15673/api/x"),
            ("GET", "http://10.0.0.1:15672/admin"),
            ("POST", "http://10.0.0.1:15672/api/x"),
            ("PUT", "http://10.0.0.1:15672/api/users/x"),
            (
                "GET\r\nDELETE /admin HTTP/1.1",
                "http://10.0.0.1:15672/api/x",
            ),
            ("GET", "http://a.example/x"),
        ] {
            assert!(g.check_http(method, url).is_err(), "{method} {url}");
        }
    }

    #[test]
    fn a_quoted_star_is_one_word_a_bare_star_any_words() {
        let caps = Capabilities {
            probes: vec!["tool -p '*' ps".into(), "tool x *".into()],
            ..Default::default()
        };
        let g = Grant::new("p", &caps, &json!({}));
        assert!(g.check(Access::Probe, "tool -p name ps").is_ok());
        assert!(g.check(Access::Probe, "tool -p name down ps").is_err());
        assert!(g.check(Access::Probe, "tool x a b c").is_ok());
        assert!(g.check(Access::Probe, "tool x").is_ok());
        assert!(g.check(Access::Probe, "tool x a; b").is_err());
    }

    #[test]
    fn a_star_in_a_word_never_matches_a_dotdot_segment() {
        let caps = Capabilities {
            probes: vec![
                "cat '{app}/*'".into(),
                "tool -p '*' ps".into(),
                "tool --file=/srv/* x".into(),
                "docker run -v /srv/*:/x:ro img".into(),
                "ls /srv/.*".into(),
            ],
            ..Default::default()
        };
        let g = Grant::new("p", &caps, &json!({"app": "/app"}));
        for ok in [
            "cat /app/conf/x.yaml",
            "cat '/app/a..b'",
            "cat /app/...",
            "tool -p name ps",
            "tool --file=/srv/a.conf x",
            "docker run -v /srv/data:/x:ro img",
            "ls /srv/.hidden",
        ] {
            assert!(g.check(Access::Probe, ok).is_ok(), "{ok}");
        }
        for bad in [
            "cat '/app/../../../etc/shadow'",
            "cat /app/../etc/shadow",
            "cat /app/x/../../etc/shadow",
            "cat /app/..",
            "cat '/app/'..'/etc/shadow'",
            "tool -p .. ps",
            "tool --file=/srv/../etc/shadow x",
            "docker run -v /srv/..:/x:ro img",
            "ls /srv/../etc",
        ] {
            assert!(g.check(Access::Probe, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn special_mode_bits_are_never_granted() {
        use crate::{Action, ActionKind};
        let g = Grant::new("p", &caps(), &json!({"dir": "/srv"}));
        let write = |mode| Action {
            summary: "w".into(),
            kind: ActionKind::WriteFile {
                path: "/srv/x".into(),
                content: vec![],
                mode,
                validate: None,
                owner: None,
                group: None,
            },
        };
        assert!(g.check_action(&write(0o755)).is_ok());
        for mode in [0o4755, 0o2755, 0o1777] {
            let err = g.check_action(&write(mode)).unwrap_err().to_string();
            assert!(err.contains("setuid, setgid or sticky"), "{err}");
        }
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
            g.check(Access::Probe, "echo a; b").is_err(),
            "a parameter is one word: its unquoted, injectable form is refused"
        );
        assert!(
            g.check(Access::Probe, "echo 'a; b'").is_ok(),
            "its quoted form passes"
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
