//! Inventories in Ansible's YAML shape (`all` with nested `children`,
//! `hosts` and `vars`) or its INI dialect (`ini`); `ansible_host`,
//! `ansible_user`, `ansible_port`, `ansible_ssh_private_key_file` (and
//! `ansible_connection: local`). Variables merge from `all` down through
//! groups to the host; `group_vars/` and `host_vars/` directories are
//! layered in by [`Inventory::add_vars_dirs`].

mod escalation;
mod ini;
mod script;
mod vars_dirs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use escalation::BecomeKeywords;

use crate::yaml::{Document, InputError, escape};

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    /// Merged variables: `all` < parent groups < child groups < host.
    pub vars: Map<String, Value>,
    /// Groups the host belongs to, `all` included.
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub file: Option<PathBuf>,
    /// Hosts in the order they first appear.
    pub hosts: Vec<Host>,
    /// Group name → member hosts in inventory order.
    pub groups: BTreeMap<String, Vec<String>>,
    /// The inventory file's own variables, by group and by host, before
    /// `group_vars/` and `host_vars/` are layered in ([`vars_dirs`]).
    file_group_vars: BTreeMap<String, Map<String, Value>>,
    file_host_vars: BTreeMap<String, Map<String, Value>>,
    /// What loading it found worth a warning (vars files naming no group
    /// or host); a run reports them.
    pub warnings: Vec<String>,
}

/// How to reach a host, from its variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Local,
    Ssh {
        address: String,
        port: Option<u16>,
        user: Option<String>,
        key: Option<PathBuf>,
        known_hosts: Option<PathBuf>,
    },
}

impl Host {
    /// A variable as text, the later of Ansible's names winning when both
    /// are set (`ansible_ssh_host` over `ansible_host`, as Ansible reads
    /// them).
    fn text(&self, names: &[&str]) -> Option<String> {
        names.iter().rev().find_map(|k| match self.vars.get(*k)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    pub fn connection(&self, inventory_dir: &Path) -> Connection {
        if self.text(&["ansible_connection"]).as_deref() == Some("local") {
            return Connection::Local;
        }
        let path = |names: &[&str]| {
            self.text(names).map(|p| {
                let p = PathBuf::from(p);
                if p.is_absolute() {
                    p
                } else {
                    inventory_dir.join(p)
                }
            })
        };
        Connection::Ssh {
            address: self.text(HOST_VARS).unwrap_or_else(|| self.name.clone()),
            port: self.text(PORT_VARS).and_then(|p| p.parse().ok()),
            user: self.text(USER_VARS),
            key: path(KEY_VARS),
            known_hosts: path(&["runner_known_hosts"]).or_else(|| {
                self.ssh_options()
                    .into_iter()
                    .find_map(|(k, v)| (k == "UserKnownHostsFile").then(|| PathBuf::from(v)))
            }),
        }
    }

    /// The `-o Key=Value` options of `ansible_ssh_common_args` and
    /// `ansible_ssh_extra_args`, in order; words that are not such an
    /// option come as (word, "").
    fn ssh_options(&self) -> Vec<(String, String)> {
        let text = [SSH_ARGS_VARS[0], SSH_ARGS_VARS[1]]
            .iter()
            .filter_map(|k| self.text(&[k]))
            .collect::<Vec<_>>()
            .join(" ");
        let Ok(tokens) = runner_types::shell::words(&text) else {
            return vec![(text, String::new())];
        };
        let mut words = tokens.into_iter().map(|t| match t {
            runner_types::shell::Token::Word(w) | runner_types::shell::Token::Op(w) => w,
        });
        let mut out = Vec::new();
        while let Some(w) = words.next() {
            let option = match w.strip_prefix("-o") {
                Some("") => words.next().unwrap_or_default(),
                Some(rest) => rest.to_string(),
                None => {
                    out.push((w, String::new()));
                    continue;
                }
            };
            match option.split_once('=') {
                Some((k, v)) => out.push((k.to_string(), v.to_string())),
                None => out.push((format!("-o {option}"), String::new())),
            }
        }
        out
    }

    /// Why the runner cannot follow this host's extra ssh arguments, if it
    /// cannot: it checks host keys strictly, always, and takes the
    /// known_hosts file from `UserKnownHostsFile`; nothing else.
    fn ssh_options_not_followed(&self) -> Option<String> {
        let odd: Vec<String> = self
            .ssh_options()
            .into_iter()
            .filter(|(k, v)| {
                !(k == "UserKnownHostsFile" || (k == "StrictHostKeyChecking" && v == "yes"))
            })
            .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
            .collect();
        (!odd.is_empty()).then(|| {
            format!(
                "runner checks host keys strictly and reads only UserKnownHostsFile from it; ignored: {}",
                odd.join(" ")
            )
        })
    }

    /// Who commands run as on this host, for messages.
    fn runs_as(&self) -> String {
        let local = || {
            std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "the local user".into())
        };
        match self.connection(Path::new(".")) {
            Connection::Local => local(),
            Connection::Ssh { user: Some(u), .. } => u,
            Connection::Ssh { user: None, .. } => {
                format!("the SSH login user (ssh's default, {})", local())
            }
        }
    }
}

/// Ansible's names of one setting, the winning one last.
const HOST_VARS: &[&str] = &["ansible_host", "ansible_ssh_host"];
const PORT_VARS: &[&str] = &["ansible_port", "ansible_ssh_port"];
const USER_VARS: &[&str] = &["ansible_user", "ansible_ssh_user"];
const KEY_VARS: &[&str] = &["ansible_private_key_file", "ansible_ssh_private_key_file"];
/// Extra ssh arguments: their `-o` options the runner can follow.
const SSH_ARGS_VARS: &[&str] = &["ansible_ssh_common_args", "ansible_ssh_extra_args"];

/// `ansible_connection` values: the SSH ones, and `local`.
const CONNECTIONS: &[&str] = &["ssh", "smart", "paramiko", "local"];

/// Whether a variable holds a true value as Ansible reads booleans.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() == Some(1.0),
        Value::String(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "yes" | "on" | "1" | "true" | "y" | "t"
        ),
        _ => false,
    }
}

impl Inventory {
    /// An inventory file: INI when it is named `.ini`, YAML when `.yaml`,
    /// `.yml` or `.json`; otherwise YAML if it reads as a YAML mapping,
    /// else INI (as Ansible tries its parsers in turn).
    pub fn load(path: &Path) -> Result<Inventory, InputError> {
        let text = crate::yaml::read(path)?;
        if text.starts_with("#!") {
            return Inventory::from_document(&script_output(path)?);
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let doc = match ext.as_deref() {
            Some("ini") => ini::parse(path, &text)?,
            Some("yaml" | "yml" | "json") => Document::parse(path, &text)?,
            _ => match Document::parse(path, &text) {
                Ok(doc) if doc.value.is_object() => doc,
                _ => ini::parse(path, &text)?,
            },
        };
        if script::is_script_json(&doc.value) {
            return Inventory::from_document(&script::convert(&doc)?);
        }
        Inventory::from_document(&doc)
    }

    /// The inventory for a playbook in `playbook_dir`: the file, with the
    /// `group_vars/` and `host_vars/` beside it and beside the playbook.
    pub fn load_for(path: &Path, playbook_dir: &Path) -> Result<Inventory, InputError> {
        let mut inv = Inventory::load(path)?;
        let warnings = inv.add_vars_dirs(&[inv.dir(), playbook_dir.to_path_buf()])?;
        inv.warnings = warnings;
        Ok(inv)
    }

    /// An inventory in Ansible's INI format.
    pub fn from_ini(path: &Path, text: &str) -> Result<Inventory, InputError> {
        Inventory::from_document(&ini::parse(path, text)?)
    }

    pub fn from_document(doc: &Document) -> Result<Inventory, InputError> {
        let Some(root) = doc.value.as_object() else {
            return Err(doc.error("", "an inventory is a mapping with a top-level 'all' group"));
        };
        let mut inv = Inventory {
            file: Some(doc.file.clone()),
            ..Default::default()
        };
        // Ansible allows top-level groups beside `all`; they are children of it.
        let mut builder = Builder {
            doc,
            inv: &mut inv,
            host_vars: BTreeMap::new(),
            group_vars: BTreeMap::new(),
            parents: BTreeMap::new(),
        };
        for (name, group) in root {
            builder.group(name, group, &format!("/{}", escape(name)), None)?;
        }
        builder.finish();
        Ok(inv)
    }

    /// What the runner makes of the `ansible_*` variables of `hosts`: an
    /// error when following them would run commands otherwise than asked
    /// (an unknown `ansible_connection` or `ansible_become_method`, a
    /// legacy `ansible_sudo: true`), else a
    /// warning for each variable it does not understand, naming the hosts.
    pub fn check_ansible_vars(&self, hosts: &[String]) -> Result<Vec<String>, String> {
        let mut ignored: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        let mut warn = |var: &str, why: String, host: &str| {
            ignored
                .entry((var.to_string(), why))
                .or_default()
                .push(host.to_string());
        };
        for host in self.hosts.iter().filter(|h| hosts.contains(&h.name)) {
            let name = &host.name;
            for (k, v) in &host.vars {
                if !k.starts_with("ansible_") {
                    continue;
                }
                let understood = [HOST_VARS, PORT_VARS, USER_VARS, KEY_VARS]
                    .iter()
                    .any(|names| names.contains(&k.as_str()));
                if understood {
                    continue;
                }
                if SSH_ARGS_VARS.contains(&k.as_str()) {
                    if let Some(why) = host.ssh_options_not_followed() {
                        warn(k, why, name);
                    }
                    continue;
                }
                if k == "ansible_connection" {
                    let c = host.text(&["ansible_connection"]).unwrap_or_default();
                    if !CONNECTIONS.contains(&c.as_str()) {
                        return Err(format!(
                            "host {name}: ansible_connection '{c}' is not supported (runner connects with ssh or local)"
                        ));
                    }
                    continue;
                }
                if let Some(err) = host.legacy_become(k, v) {
                    return Err(err);
                }
                if escalation::BECOME_VARS.contains(&k.as_str()) {
                    let on = host.escalation(&BecomeKeywords::default())?.is_some();
                    if !on && k != "ansible_become" {
                        warn(
                            k,
                            format!(
                                "become is off for this host (ansible_become is not true): commands run as {} unless a step says become: true",
                                host.runs_as()
                            ),
                            name,
                        );
                    }
                    continue;
                }
                if escalation::BECOME_PASSWORDS.contains(&k.as_str()) {
                    warn(
                        k,
                        "not used: runner never sends a become password (it runs sudo -n); the login user needs sudo without one".into(),
                        name,
                    );
                    continue;
                }
                warn(
                    k,
                    "runner does not understand it, and ignores it".into(),
                    name,
                );
            }
            for names in [HOST_VARS, PORT_VARS, USER_VARS, KEY_VARS] {
                let set: Vec<(&str, &Value)> = names
                    .iter()
                    .filter_map(|n| Some((*n, host.vars.get(*n)?)))
                    .collect();
                if let [(a, va), (b, vb)] = set[..]
                    && va != vb
                {
                    warn(
                        a,
                        format!("{b} is set too, to {vb}, and wins (as in Ansible)"),
                        name,
                    );
                }
            }
        }
        Ok(ignored
            .into_iter()
            .map(|((var, why), hosts)| {
                let mut list = hosts[..hosts.len().min(10)].join(", ");
                if hosts.len() > 10 {
                    list.push_str(&format!(" and {} more", hosts.len() - 10));
                }
                format!("{var} (host {list}): {why}")
            })
            .collect())
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    pub fn dir(&self) -> PathBuf {
        self.file
            .as_ref()
            .and_then(|f| f.parent())
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// An inventory script's `--list` output; a script that is not
/// executable is an error saying so.
fn script_output(path: &Path) -> Result<Document, InputError> {
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Err(InputError::new(
            crate::yaml::Location {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
            },
            "",
            "an inventory script that is not executable: make it executable (chmod +x), or give its saved --list output",
        ));
    }
    script::run(path)
}

struct Builder<'a> {
    doc: &'a Document,
    inv: &'a mut Inventory,
    host_vars: BTreeMap<String, Map<String, Value>>,
    /// Group → its own vars.
    group_vars: BTreeMap<String, Map<String, Value>>,
    /// Group → its parent groups.
    parents: BTreeMap<String, Vec<String>>,
}

impl Builder<'_> {
    /// One group (`hosts`, `vars`, `children`), under `parent` or `all`.
    fn group(
        &mut self,
        name: &str,
        value: &Value,
        pointer: &str,
        parent: Option<&str>,
    ) -> Result<(), InputError> {
        self.inv.groups.entry(name.to_string()).or_default();
        let parents = self.parents.entry(name.to_string()).or_default();
        match parent {
            Some(p) if !parents.iter().any(|x| x == p) => parents.push(p.to_string()),
            None if name != "all" => parents.push("all".to_string()),
            _ => {}
        }
        let obj = match value {
            Value::Null => return Ok(()),
            Value::Object(o) => o,
            _ => {
                return Err(self
                    .doc
                    .error(pointer, "a group is a mapping of hosts, vars and children"));
            }
        };
        for (key, v) in obj {
            let sub = format!("{pointer}/{}", escape(key));
            match key.as_str() {
                "vars" => {
                    let vars = v
                        .as_object()
                        .ok_or_else(|| self.doc.error(&sub, "vars must be a mapping"))?;
                    self.group_vars
                        .entry(name.to_string())
                        .or_default()
                        .extend(vars.clone());
                }
                "hosts" => self.hosts(name, v, &sub)?,
                "children" => self.children(name, v, &sub)?,
                other => {
                    return Err(self.doc.error(
                        &sub,
                        format!("unknown key '{other}' in group '{name}' (expected hosts, vars or children)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// A group's `hosts`: each host joins the inventory and the group.
    fn hosts(&mut self, group: &str, v: &Value, pointer: &str) -> Result<(), InputError> {
        let hosts = match v {
            Value::Null => return Ok(()),
            Value::Object(h) => h,
            _ => {
                return Err(self
                    .doc
                    .error(pointer, "hosts must be a mapping of host names"));
            }
        };
        for (host, hv) in hosts {
            let vars = match hv {
                Value::Null => Map::new(),
                Value::Object(o) => o.clone(),
                _ => {
                    let at = format!("{pointer}/{}", escape(host));
                    return Err(self.doc.error(&at, "host variables must be a mapping"));
                }
            };
            if !self.inv.hosts.iter().any(|h| h.name == *host) {
                self.inv.hosts.push(Host {
                    name: host.clone(),
                    vars: Map::new(),
                    groups: vec![],
                });
            }
            self.host_vars.entry(host.clone()).or_default().extend(vars);
            let members = self.inv.groups.entry(group.to_string()).or_default();
            if !members.contains(host) {
                members.push(host.clone());
            }
        }
        Ok(())
    }

    /// A group's `children`: each is a group of its own, under this one.
    fn children(&mut self, group: &str, v: &Value, pointer: &str) -> Result<(), InputError> {
        let children = match v {
            Value::Null => return Ok(()),
            Value::Object(c) => c,
            _ => {
                return Err(self
                    .doc
                    .error(pointer, "children must be a mapping of groups"));
            }
        };
        for (child, cv) in children {
            let at = format!("{pointer}/{}", escape(child));
            if child == group || self.ancestors(group).contains(child) {
                return Err(self
                    .doc
                    .error(&at, format!("group '{child}' contains itself")));
            }
            self.group(child, cv, &at, Some(group))?;
        }
        Ok(())
    }

    fn ancestors(&self, group: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut todo = vec![group.to_string()];
        while let Some(g) = todo.pop() {
            for p in self.parents.get(&g).into_iter().flatten() {
                if !out.contains(p) {
                    out.push(p.clone());
                    todo.push(p.clone());
                }
            }
        }
        out
    }

    /// Depth of a group below `all`, for variable precedence.
    fn depth(&self, group: &str) -> usize {
        if group == "all" {
            return 0;
        }
        1 + self
            .parents
            .get(group)
            .into_iter()
            .flatten()
            .map(|p| self.depth(p))
            .max()
            .unwrap_or(0)
    }

    fn finish(self) {
        // Every host is in `all`; a group's members include its children's.
        let all: Vec<String> = self.inv.hosts.iter().map(|h| h.name.clone()).collect();
        let groups: Vec<String> = self.inv.groups.keys().cloned().collect();
        let mut closed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for g in &groups {
            let members: Vec<String> = if g == "all" {
                all.clone()
            } else {
                all.iter()
                    .filter(|h| {
                        self.inv.groups.iter().any(|(sub, m)| {
                            m.contains(h) && (sub == g || self.ancestors(sub).contains(g))
                        })
                    })
                    .cloned()
                    .collect()
            };
            closed.insert(g.clone(), members);
        }
        closed.insert("all".into(), all.clone());
        // Ansible's `ungrouped`: the hosts in no group but `all`.
        let grouped = |h: &String| {
            closed
                .iter()
                .any(|(g, m)| g != "all" && g != "ungrouped" && m.contains(h))
        };
        let ungrouped: Vec<String> = all.iter().filter(|h| !grouped(h)).cloned().collect();
        closed.insert("ungrouped".into(), ungrouped);
        let depths: BTreeMap<String, usize> =
            closed.keys().map(|g| (g.clone(), self.depth(g))).collect();
        for host in &mut self.inv.hosts {
            let mut mine: Vec<&String> = closed
                .iter()
                .filter(|(_, m)| m.contains(&host.name))
                .map(|(g, _)| g)
                .collect();
            mine.sort_by_key(|g| (depths[*g], g.as_str()));
            let mut vars = Map::new();
            for g in &mine {
                if let Some(gv) = self.group_vars.get(*g) {
                    vars.extend(gv.clone());
                }
            }
            if let Some(hv) = self.host_vars.get(&host.name) {
                vars.extend(hv.clone());
            }
            host.vars = vars;
            host.groups = mine.into_iter().cloned().collect();
        }
        self.inv.groups = closed;
        self.inv.file_group_vars = self.group_vars;
        self.inv.file_host_vars = self.host_vars;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INV: &str = r#"
all:
  vars:
    who: all
    port: 1
  children:
    rabbits:
      vars: { who: rabbits }
      hosts:
        r1: { ansible_host: 10.0.0.1, ansible_port: 2222 }
        r2:
      children:
        special:
          hosts:
            r3: { who: r3 }
    balancers:
      hosts:
        lb1: { ansible_connection: local }
"#;

    #[test]
    fn groups_vars_and_connections() {
        let doc = Document::parse(Path::new("inv.yaml"), INV).unwrap();
        let inv = Inventory::from_document(&doc).unwrap();
        assert_eq!(inv.groups["all"], ["r1", "r2", "r3", "lb1"]);
        assert_eq!(inv.groups["rabbits"], ["r1", "r2", "r3"]);
        assert_eq!(inv.groups["special"], ["r3"]);
        let r1 = inv.host("r1").unwrap();
        assert_eq!(r1.vars["who"], "rabbits");
        assert_eq!(r1.vars["port"], 1);
        assert_eq!(inv.host("r3").unwrap().vars["who"], "r3");
        assert_eq!(inv.host("lb1").unwrap().vars["who"], "all");
        assert_eq!(
            r1.connection(Path::new("/inv")),
            Connection::Ssh {
                address: "10.0.0.1".into(),
                port: Some(2222),
                user: None,
                key: None,
                known_hosts: None
            }
        );
        assert_eq!(
            inv.host("lb1").unwrap().connection(Path::new("/")),
            Connection::Local
        );
    }

    /// INI by its name, or by not being YAML; YAML by its name or content.
    #[test]
    fn the_format_is_told_by_name_or_content() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let ini = "[web]\nh1 ansible_port=22\n";
        for name in ["hosts.ini", "hosts", "inventory.cfg"] {
            let inv = Inventory::load(&write(name, ini)).unwrap();
            assert_eq!(inv.groups["web"], ["h1"], "{name}");
        }
        let inv = Inventory::load(&write("plain", "h1\nh2\n")).unwrap();
        assert_eq!(inv.groups["ungrouped"], ["h1", "h2"]);
        let inv = Inventory::load(&write("yamlish", "web:\n  hosts:\n    h1:\n")).unwrap();
        assert_eq!(inv.groups["web"], ["h1"]);
        let err = Inventory::load(&write("hosts.yaml", ini))
            .unwrap_err()
            .to_string();
        assert!(err.contains("hosts.yaml:"), "{err}");
        let err = Inventory::load(&write("broken", "[web]\nh1 port\n")).unwrap_err();
        assert!(err.to_string().contains("broken:2:"), "{err}");
        let err = Inventory::load(&dir.path().join("missing.ini")).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn ansible_ssh_aliases_are_honoured_and_win_as_in_ansible() {
        let doc = Document::parse(
            Path::new("i.yaml"),
            "all:\n  hosts:\n    a: {ansible_ssh_host: 10.0.0.5, ansible_ssh_port: '2200', ansible_ssh_user: deploy, ansible_private_key_file: k}\n    b: {ansible_host: 10.0.0.6, ansible_ssh_host: 10.0.0.7, ansible_user: x}\n",
        )
        .unwrap();
        let inv = Inventory::from_document(&doc).unwrap();
        assert_eq!(
            inv.host("a").unwrap().connection(Path::new("/inv")),
            Connection::Ssh {
                address: "10.0.0.5".into(),
                port: Some(2200),
                user: Some("deploy".into()),
                key: Some(PathBuf::from("/inv/k")),
                known_hosts: None
            }
        );
        let Connection::Ssh { address, .. } = inv.host("b").unwrap().connection(Path::new("/"))
        else {
            panic!()
        };
        assert_eq!(address, "10.0.0.7");
        let warnings = inv.check_ansible_vars(&["a".into(), "b".into()]).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("ansible_host (host b)")
                && warnings[0].contains("ansible_ssh_host is set too"),
            "{warnings:?}"
        );
    }

    /// Never silently: an unknown `ansible_*` variable is a warning naming
    /// it and its hosts.
    #[test]
    fn ssh_args_give_the_known_hosts_file_and_the_rest_is_named() {
        let doc = Document::parse(
            Path::new("i.yaml"),
            "all:\n  hosts:\n    a: {ansible_ssh_common_args: '-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/k'}\n    b: {ansible_ssh_common_args: '-oStrictHostKeyChecking=no -o ProxyJump=j'}\n",
        )
        .unwrap();
        let inv = Inventory::from_document(&doc).unwrap();
        let Connection::Ssh { known_hosts, .. } = inv.host("a").unwrap().connection(Path::new("/"))
        else {
            panic!("ssh")
        };
        assert_eq!(known_hosts, Some(PathBuf::from("/k")));
        let w = inv.check_ansible_vars(&["a".into(), "b".into()]).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("(host b)"), "{w:?}");
        assert!(
            w[0].contains("StrictHostKeyChecking=no ProxyJump=j"),
            "{w:?}"
        );
    }

    #[test]
    fn ansible_vars_not_understood_are_named() {
        let load = |text: &str| {
            let doc = Document::parse(Path::new("i.yaml"), text).unwrap();
            Inventory::from_document(&doc).unwrap()
        };
        let inv = load(
            "all:\n  vars: {ansible_python_interpreter: /usr/bin/python3}\n  hosts:\n    a: {ansible_user: deploy, ansible_become_user: nobody}\n    b: {runner_known_hosts: k}\n",
        );
        let all = ["a".to_string(), "b".to_string()];
        let w = inv.check_ansible_vars(&all).unwrap();
        // become_user without become: said, as it changes nothing.
        assert_eq!(
            w,
            [
                "ansible_become_user (host a): become is off for this host (ansible_become is not true): commands run as deploy unless a step says become: true",
                "ansible_python_interpreter (host a, b): runner does not understand it, and ignores it"
            ]
        );
        // Only the hosts the run targets.
        assert_eq!(inv.check_ansible_vars(&["b".into()]).unwrap().len(), 1);

        let inv = load(
            "all:\n  hosts:\n    a: {ansible_user: deploy, ansible_become: 'yes', ansible_become_password: x}\n",
        );
        let w = inv.check_ansible_vars(&["a".into()]).unwrap();
        assert!(
            w[0].starts_with(
                "ansible_become_password (host a): not used: runner never sends a become password"
            ),
            "{w:?}"
        );
        let inv = load("all:\n  hosts:\n    a: {ansible_user: deploy, ansible_sudo: 'yes'}\n");
        let err = inv.check_ansible_vars(&["a".into()]).unwrap_err();
        assert!(
            err.contains("host a: ansible_sudo is true, but runner reads only ansible_become"),
            "{err}"
        );
        let inv =
            load("all:\n  hosts:\n    a: {ansible_become: true, ansible_become_method: doas}\n");
        let err = inv.check_ansible_vars(&["a".into()]).unwrap_err();
        assert!(err.contains("'doas' is not supported"), "{err}");
        let inv = load("all:\n  hosts:\n    a: {ansible_connection: docker}\n");
        let err = inv.check_ansible_vars(&["a".into()]).unwrap_err();
        assert!(
            err.contains("ansible_connection 'docker' is not supported"),
            "{err}"
        );
    }

    #[test]
    fn bad_shapes_point_at_the_field() {
        let doc = Document::parse(Path::new("i.yaml"), "all:\n  hosts:\n    - a\n").unwrap();
        let err = Inventory::from_document(&doc).unwrap_err().to_string();
        assert!(err.starts_with("i.yaml:3:"), "{err}");
        assert!(err.contains("all.hosts"), "{err}");
        let doc = Document::parse(Path::new("i.yaml"), "all:\n  host: {}\n").unwrap();
        let err = Inventory::from_document(&doc).unwrap_err().to_string();
        assert!(err.contains("unknown key 'host'"), "{err}");
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    /// The seed how-to's three machines: the balancers are two of the
    /// RabbitMQ hosts, listed again by name only, keeping their address.
    #[test]
    fn the_seed_inventory_puts_the_balancers_on_rabbit2_and_rabbit3() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../playbooks/inventories/seed.yaml");
        let inv = Inventory::load(&path).unwrap();
        assert_eq!(inv.groups["rabbits"], ["rabbit1", "rabbit2", "rabbit3"]);
        assert_eq!(inv.groups["balancers"], ["rabbit2", "rabbit3"]);
        assert_eq!(inv.hosts.len(), 3);
        let vm3 = inv.host("rabbit3").unwrap();
        assert_eq!(vm3.vars["ansible_host"], "192.168.124.142");
        assert!(vm3.groups.contains(&"balancers".to_string()));
        assert!(
            !inv.host("rabbit1")
                .unwrap()
                .groups
                .contains(&"balancers".to_string())
        );
    }

    #[test]
    fn an_inventory_script_runs_with_list_and_its_saved_output_reads_the_same() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let listed = r#"{"_meta": {"hostvars": {"web1": {"ansible_host": "10.0.0.1"}, "solo": {"x": 1}}},
            "all": {"children": ["ungrouped", "site"]},
            "site": {"children": ["web"], "vars": {"color": "blue"}},
            "web": {"hosts": ["web1", "web2"], "vars": {"port": 80}}}"#;
        let script = dir.path().join("inv.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\n[ \"$1\" = --list ] || exit 3\ncat <<'EOF'\n{listed}\nEOF\n"),
        )
        .unwrap();
        // Not executable yet: said so, not misread.
        let err = Inventory::load(&script).unwrap_err().to_string();
        assert!(
            err.contains("inv.sh:1:1") && err.contains("not executable"),
            "{err}"
        );
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let saved = dir.path().join("saved.json");
        std::fs::write(&saved, listed).unwrap();
        for inv in [
            Inventory::load(&script).unwrap(),
            Inventory::load(&saved).unwrap(),
        ] {
            let web1 = inv.host("web1").unwrap();
            assert_eq!(web1.vars["ansible_host"], "10.0.0.1");
            assert_eq!(
                (&web1.vars["port"], &web1.vars["color"]),
                (&serde_json::json!(80), &serde_json::json!("blue"))
            );
            assert!(
                web1.groups.contains(&"site".to_string()),
                "{:?}",
                web1.groups
            );
            assert_eq!(inv.host("solo").unwrap().vars["x"], 1);
            assert_eq!(inv.groups["ungrouped"], ["solo"]);
        }
        // A script that prints no _meta: runner does not ask --host for
        // each host.
        std::fs::write(
            &script,
            "#!/bin/sh\necho '{\"web\": {\"hosts\": [\"web1\"]}}'\n",
        )
        .unwrap();
        let err = Inventory::load(&script).unwrap_err().to_string();
        assert!(err.contains("no _meta.hostvars"), "{err}");
        // A script that fails: its exit and stderr.
        std::fs::write(&script, "#!/bin/sh\necho broken >&2\nexit 2\n").unwrap();
        let err = Inventory::load(&script).unwrap_err().to_string();
        assert!(err.contains("failed") && err.contains("broken"), "{err}");
    }
}
