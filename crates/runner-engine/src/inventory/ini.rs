//! Ansible's INI inventory dialect, read into the YAML inventory's shape
//! (with a position for every group, host and variable, so later errors
//! name the INI line too).
//!
//! What it reads, as Ansible does: `[group]` sections of host lines
//! (`name [key=value ...]`, shell-quoted, `# comment` at the end), hosts
//! before any section in `ungrouped`, `[group:vars]` (`key=value`, the
//! rest of the line is the value), `[group:children]`, host ranges
//! (`web[01:20]`, `db-[a:c]`, `h[1:9:2]`), `host:port`, comment lines
//! starting with `#` or `;`. Values are read as Python literals (`2222`
//! is a number, `True` a boolean, `'x'` text, `[1, 2]` a list); anything
//! else is text.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Number, Value};

use crate::yaml::{Document, InputError, Location, escape};

/// More hosts than this from one range is a mistake.
const MAX_RANGE: usize = 100_000;
/// Ranges in one host name.
const MAX_RANGES: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Hosts,
    Vars,
    Children,
}

struct Parser<'a> {
    file: &'a Path,
    line: usize,
    root: Map<String, Value>,
    positions: HashMap<String, (usize, usize)>,
    /// Groups named by a `:vars` or `:children` line but not (yet)
    /// declared by a section of their own: name → (line, what).
    pending: BTreeMap<String, (usize, String)>,
}

pub fn parse(file: &Path, text: &str) -> Result<Document, InputError> {
    let mut p = Parser {
        file,
        line: 0,
        root: Map::new(),
        positions: HashMap::new(),
        pending: BTreeMap::new(),
    };
    let mut group = "ungrouped".to_string();
    let mut kind = Kind::Hosts;
    for (i, raw) in text.lines().enumerate() {
        p.line = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            (group, kind) = p.section(line)?;
            continue;
        }
        match kind {
            Kind::Hosts => p.host_line(&group, line)?,
            Kind::Vars => p.var_line(&group, line)?,
            Kind::Children => p.child_line(&group, line)?,
        }
    }
    if let Some((_, (line, message))) = p.pending.iter().min_by_key(|(_, (l, _))| *l) {
        p.line = *line;
        return Err(p.error(message.clone()));
    }
    Ok(Document::from_parts(
        file.to_path_buf(),
        Value::Object(p.root),
        p.positions,
    ))
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> InputError {
        InputError::new(
            Location {
                file: self.file.to_path_buf(),
                line: self.line,
                column: 1,
            },
            "",
            message,
        )
    }

    fn mark(&mut self, pointer: String) {
        self.positions
            .entry(format!("{pointer}#key"))
            .or_insert((self.line, 1));
        self.positions.entry(pointer).or_insert((self.line, 1));
    }

    /// The group's mapping (created empty), and its `key` mapping inside.
    fn group_part(&mut self, group: &str, key: &str) -> &mut Map<String, Value> {
        let pointer = format!("/{}", escape(group));
        self.mark(pointer.clone());
        self.mark(format!("{pointer}/{key}"));
        let g = self
            .root
            .entry(group.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let g = g.as_object_mut().expect("groups are mappings");
        g.entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("parts are mappings")
    }

    /// `[name]`, `[name:vars]` or `[name:children]`, with an optional
    /// `# comment` after it.
    fn section(&mut self, line: &str) -> Result<(String, Kind), InputError> {
        let Some(close) = line.find(']') else {
            return Err(self.error(format!("'{line}': a section header needs its closing ']'")));
        };
        let rest = line[close + 1..].trim();
        if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
            return Err(self.error(format!(
                "'{line}': nothing may follow a section header but a comment"
            )));
        }
        let inner = &line[1..close];
        let (name, kind) = match inner.split_once(':') {
            None => (inner, Kind::Hosts),
            Some((n, "vars")) => (n, Kind::Vars),
            Some((n, "children")) => (n, Kind::Children),
            Some((_, other)) => {
                return Err(self.error(format!(
                    "section [{inner}] has unknown type '{other}' (expected [group], [group:vars] or [group:children])"
                )));
            }
        };
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains(['[', ']', ':']) {
            return Err(self.error(format!("'{name}' is not a group name")));
        }
        if kind == Kind::Vars {
            if name != "all" && name != "ungrouped" && !self.root.contains_key(name) {
                self.pending.entry(name.to_string()).or_insert((
                    self.line,
                    format!(
                        "section [{name}:vars] is for a group the inventory does not define: {name}"
                    ),
                ));
            }
            self.group_part(name, "vars");
        } else {
            self.pending.remove(name);
            let key = if kind == Kind::Hosts {
                "hosts"
            } else {
                "children"
            };
            self.group_part(name, key);
        }
        Ok((name.to_string(), kind))
    }

    /// `name[range][:port] key=value ...`
    fn host_line(&mut self, group: &str, line: &str) -> Result<(), InputError> {
        let words = shell_words(line).map_err(|e| self.error(format!("{e}: {line}")))?;
        let Some((pattern, assignments)) = words.split_first() else {
            return Ok(());
        };
        let mut vars = Map::new();
        for a in assignments {
            let Some((k, v)) = a.split_once('=') else {
                return Err(self.error(format!(
                    "expected key=value host variable assignment, got: {a}"
                )));
            };
            if k.is_empty() {
                return Err(self.error(format!("'{a}': the variable has no name")));
            }
            vars.insert(k.to_string(), python_value(v));
        }
        let (pattern, port) = split_port(pattern).map_err(|e| self.error(e))?;
        if let Some(port) = port {
            vars.insert("ansible_port".into(), Value::Number(port.into()));
        }
        let names = expand_range(&pattern).map_err(|e| self.error(format!("'{pattern}': {e}")))?;
        for name in names {
            let hosts = self.group_part(group, "hosts");
            let host = hosts
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(h) = host {
                h.extend(vars.clone());
            }
            let at = format!("/{}/hosts/{}", escape(group), escape(&name));
            for k in vars.keys() {
                self.mark(format!("{at}/{}", escape(k)));
            }
            self.mark(at);
        }
        Ok(())
    }

    /// `key=value`: the value is the rest of the line.
    fn var_line(&mut self, group: &str, line: &str) -> Result<(), InputError> {
        let Some((k, v)) = line.split_once('=') else {
            return Err(self.error(format!("expected key=value, got: {line}")));
        };
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(self.error(format!("'{k}' is not a variable name")));
        }
        self.group_part(group, "vars")
            .insert(k.to_string(), python_value(v.trim()));
        self.mark(format!("/{}/vars/{}", escape(group), escape(k)));
        Ok(())
    }

    /// A child group's name.
    fn child_line(&mut self, group: &str, line: &str) -> Result<(), InputError> {
        let name = line.split_once(['#', ';']).map_or(line, |(n, _)| n).trim();
        if name.is_empty()
            || name.contains(char::is_whitespace)
            || name.contains(['[', ']', ':', '='])
        {
            return Err(self.error(format!(
                "'{line}' is not a group name (a [{group}:children] section lists groups, one a line)"
            )));
        }
        if !self.root.contains_key(name) {
            self.pending.entry(name.to_string()).or_insert((
                self.line,
                format!("section [{group}:children] includes a group the inventory does not define: {name}"),
            ));
        }
        self.group_part(group, "children")
            .insert(name.to_string(), Value::Null);
        self.mark(format!("/{}/children/{}", escape(group), escape(name)));
        Ok(())
    }
}

/// Words as Python's `shlex.split(line, comments=True)`: whitespace
/// separates, quotes and backslashes quote, `#` at a word's start ends the
/// line.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '#' if word.is_none() => break,
            '\\' => {
                let next = chars.next().ok_or("a backslash ends the line")?;
                word.get_or_insert_with(String::new).push(next);
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err("unclosed quote (')".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err("unclosed quote (\")".into()),
                        },
                        Some(c) => w.push(c),
                        None => return Err("unclosed quote (\")".into()),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

/// `host:port` (a range's `[a:b]` is not a port).
fn split_port(pattern: &str) -> Result<(String, Option<u16>), String> {
    let mut depth = 0usize;
    let mut colon = None;
    for (i, c) in pattern.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                if colon.is_some() {
                    return Err(format!(
                        "'{pattern}': more than one ':' (IPv6 addresses go in ansible_host)"
                    ));
                }
                colon = Some(i);
            }
            _ => {}
        }
    }
    let Some(i) = colon else {
        return Ok((pattern.to_string(), None));
    };
    let (name, port) = (&pattern[..i], &pattern[i + 1..]);
    match port.parse::<u16>() {
        Ok(p) if !name.is_empty() => Ok((name.to_string(), Some(p))),
        _ => Err(format!(
            "'{pattern}': after ':' comes a port number (1 to 65535)"
        )),
    }
}

/// Ansible's host ranges: `[01:20]` (zero-padded as written), `[a:c]`,
/// `[1:9:2]` (a step), several in one name.
pub(crate) fn expand_range(name: &str) -> Result<Vec<String>, String> {
    if name.matches('[').count() > MAX_RANGES {
        return Err(format!("more than {MAX_RANGES} ranges in one name"));
    }
    let Some(open) = name.find('[') else {
        return Ok(vec![name.to_string()]);
    };
    let Some(close) = name[open..].find(']').map(|c| open + c) else {
        return Err("a range needs its closing ']'".into());
    };
    let (head, inner, tail) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    if !inner.contains(':') {
        return Err("a range is [begin:end] or [begin:end:step]".into());
    }
    let bounds: Vec<&str> = inner.split(':').collect();
    let (beg, end) = (
        if bounds[0].is_empty() { "0" } else { bounds[0] },
        bounds[1],
    );
    let step: usize = match bounds.get(2) {
        None => 1,
        Some(s) if bounds.len() == 3 => s
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("the range's step '{s}' is not a positive number"))?,
        Some(_) => return Err("a range is [begin:end] or [begin:end:step]".into()),
    };
    if end.is_empty() {
        return Err("a range needs its end, as in [1:10]".into());
    }
    let items: Vec<String> = if let (Ok(b), Ok(e)) = (beg.parse::<u64>(), end.parse::<u64>()) {
        let width = if beg.len() > 1 && beg.starts_with('0') {
            if beg.len() != end.len() {
                return Err(format!(
                    "zero-padded range bounds must have the same width ('{beg}', '{end}')"
                ));
            }
            beg.len()
        } else {
            0
        };
        if b > e {
            return Err(format!("the range begins after its end ({beg} > {end})"));
        }
        if (e - b) as usize / step >= MAX_RANGE {
            return Err(format!("more than {MAX_RANGE} hosts"));
        }
        (b..=e)
            .step_by(step)
            .map(|i| format!("{i:0width$}"))
            .collect()
    } else {
        let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
        let pos = |s: &str| {
            let mut cs = s.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) => letters.iter().position(|l| *l == c),
                _ => None,
            }
        };
        let (Some(b), Some(e)) = (pos(beg), pos(end)) else {
            return Err(format!(
                "'[{inner}]' is neither a number range nor a letter range"
            ));
        };
        if b > e {
            return Err(format!("the range begins after its end ({beg} > {end})"));
        }
        letters[b..=e]
            .iter()
            .step_by(step)
            .map(char::to_string)
            .collect()
    };
    let mut out = Vec::new();
    for item in items {
        for rest in expand_range(tail)? {
            out.push(format!("{head}{item}{rest}"));
            if out.len() > MAX_RANGE {
                return Err(format!("more than {MAX_RANGE} hosts"));
            }
        }
    }
    Ok(out)
}

/// A value as Python's `ast.literal_eval` reads it, else the text itself.
pub(crate) fn python_value(v: &str) -> Value {
    match v {
        "True" => return Value::Bool(true),
        "False" => return Value::Bool(false),
        "None" => return Value::Null,
        _ => {}
    }
    let digits = v.trim_start_matches(['+', '-']).replace('_', "");
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Python reads `010` as no number at all: it stays text.
        let leading_zero =
            digits.len() > 1 && digits.starts_with('0') && digits.bytes().any(|b| b != b'0');
        if !leading_zero && let Ok(i) = v.replace('_', "").parse::<i64>() {
            return Value::Number(i.into());
        }
        return Value::String(v.to_string());
    }
    if digits
        .bytes()
        .all(|b| b.is_ascii_digit() || b"._eE+-".contains(&b))
        && digits.bytes().any(|b| b.is_ascii_digit())
        && let Ok(f) = v.replace('_', "").parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Value::Number(n);
    }
    let quoted = |q: char| v.len() >= 2 && v.starts_with(q) && v.ends_with(q);
    if quoted('\'') || quoted('"') {
        return Value::String(v[1..v.len() - 1].to_string());
    }
    if (v.starts_with('[') && v.ends_with(']')) || (v.starts_with('{') && v.ends_with('}')) {
        let as_yaml = Document::parse(Path::new("value"), &format!("v: {v}"));
        if let Ok(doc) = as_yaml
            && let Some(value) = doc.value.get("v")
            && (value.is_array() || value.is_object())
        {
            return value.clone();
        }
    }
    Value::String(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use serde_json::json;

    const INI: &str = r#"
# Ansible's own example, more or less
lonely ansible_host=10.0.0.9

[web]
web[01:03] ansible_user=deploy
h1 ansible_host=10.0.0.1 ansible_port=2222 motd="hello there" # a comment
h2:2200

[db]
db-[a:c]

; another comment
[db:vars]
pool=5
name = the db
flags=['a', 'b']
padded=010

[prod:children]
web
db

[prod:vars]
env=prod
pool=1

[all:vars]
ansible_user=root
"#;

    #[test]
    fn groups_children_vars_ranges_and_inline_vars() {
        let doc = parse(Path::new("hosts.ini"), INI).unwrap();
        let inv = Inventory::from_document(&doc).unwrap();
        assert_eq!(inv.groups["web"], ["web01", "web02", "web03", "h1", "h2"]);
        assert_eq!(inv.groups["db"], ["db-a", "db-b", "db-c"]);
        assert_eq!(inv.groups["prod"].len(), 8);
        assert_eq!(inv.groups["ungrouped"], ["lonely"]);
        let h1 = inv.host("h1").unwrap();
        assert_eq!(h1.vars["ansible_port"], 2222);
        assert_eq!(h1.vars["ansible_host"], "10.0.0.1");
        assert_eq!(h1.vars["motd"], "hello there");
        assert_eq!(h1.vars["env"], "prod");
        assert_eq!(h1.vars["ansible_user"], "root", "all:vars");
        assert_eq!(inv.host("web02").unwrap().vars["ansible_user"], "deploy");
        assert_eq!(inv.host("h2").unwrap().vars["ansible_port"], 2200);
        let db = inv.host("db-b").unwrap();
        assert_eq!(db.vars["pool"], 5, "the child group wins over its parent");
        assert_eq!(db.vars["name"], "the db");
        assert_eq!(db.vars["flags"], json!(["a", "b"]));
        assert_eq!(db.vars["padded"], "010");
        assert!(db.groups.contains(&"prod".to_string()));
    }

    #[test]
    fn values_read_as_python_literals() {
        assert_eq!(python_value("2222"), json!(2222));
        assert_eq!(python_value("1.5"), json!(1.5));
        assert_eq!(python_value("True"), json!(true));
        assert_eq!(python_value("true"), json!("true"));
        assert_eq!(python_value("None"), Value::Null);
        assert_eq!(python_value("'x y'"), json!("x y"));
        assert_eq!(python_value("10.0.0.1"), json!("10.0.0.1"));
        assert_eq!(python_value("{'a': 1}"), json!({"a": 1}));
        assert_eq!(python_value("inf"), json!("inf"));
    }

    #[test]
    fn ranges() {
        assert_eq!(expand_range("w[1:3]").unwrap(), ["w1", "w2", "w3"]);
        assert_eq!(expand_range("w[08:10]x").unwrap(), ["w08x", "w09x", "w10x"]);
        assert_eq!(expand_range("w[1:5:2]").unwrap(), ["w1", "w3", "w5"]);
        assert_eq!(
            expand_range("r[1:2]-[a:b]").unwrap(),
            ["r1-a", "r1-b", "r2-a", "r2-b"]
        );
        assert!(
            expand_range("w[01:100]")
                .unwrap_err()
                .contains("same width")
        );
        assert!(expand_range("w[3:1]").unwrap_err().contains("begins after"));
        assert!(
            expand_range("w[0:9999999]")
                .unwrap_err()
                .contains("more than")
        );
    }

    #[test]
    fn bad_input_names_file_line_and_what() {
        let err = |text: &str| parse(Path::new("hosts.ini"), text).unwrap_err().to_string();
        let e = err("[web]\nh1 ansible_port\n");
        assert!(
            e.starts_with("hosts.ini:2:")
                && e.contains("expected key=value host variable assignment, got: ansible_port"),
            "{e}"
        );
        let e = err("[web]\nh1\n[web:hosts]\n");
        assert!(
            e.starts_with("hosts.ini:3:") && e.contains("unknown type 'hosts'"),
            "{e}"
        );
        let e = err("[web:vars]\nport\n");
        assert!(
            e.starts_with("hosts.ini:2:") && e.contains("expected key=value"),
            "{e}"
        );
        let e = err("[nope:vars]\na=1\n");
        assert!(
            e.starts_with("hosts.ini:1:") && e.contains("does not define: nope"),
            "{e}"
        );
        let e = err("[p:children]\nweb\n");
        assert!(
            e.starts_with("hosts.ini:2:") && e.contains("does not define: web"),
            "{e}"
        );
        let e = err("[web]\nh1 motd='unclosed\n");
        assert!(
            e.starts_with("hosts.ini:2:") && e.contains("unclosed quote"),
            "{e}"
        );
        let e = err("[web\n");
        assert!(
            e.starts_with("hosts.ini:1:") && e.contains("closing ']'"),
            "{e}"
        );
        let e = err("[web]\nh[1:x]\n");
        assert!(
            e.starts_with("hosts.ini:2:") && e.contains("neither a number range"),
            "{e}"
        );
        let e = err("[web]\nh1:http\n");
        assert!(e.contains("port number"), "{e}");
        // A group that contains itself, found after reading: still the line.
        let doc = parse(Path::new("hosts.ini"), "[a:children]\nb\n[b:children]\na\n").unwrap();
        let e = Inventory::from_document(&doc).unwrap_err().to_string();
        assert!(
            e.starts_with("hosts.ini:") && e.contains("contains itself"),
            "{e}"
        );
    }
}
