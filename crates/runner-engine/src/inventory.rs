//! Inventories in Ansible's YAML shape (`all` with nested `children`,
//! `hosts` and `vars`) or its INI dialect (`ini`); `ansible_host`,
//! `ansible_user`, `ansible_port`, `ansible_ssh_private_key_file` (and
//! `ansible_connection: local`). Variables merge from `all` down through
//! groups to the host.

mod ini;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

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
    pub fn connection(&self, inventory_dir: &Path) -> Connection {
        let s = |k: &str| self.vars.get(k).and_then(Value::as_str).map(str::to_string);
        if s("ansible_connection").as_deref() == Some("local") {
            return Connection::Local;
        }
        let path = |k: &str| {
            s(k).map(|p| {
                let p = PathBuf::from(p);
                if p.is_absolute() {
                    p
                } else {
                    inventory_dir.join(p)
                }
            })
        };
        Connection::Ssh {
            address: s("ansible_host").unwrap_or_else(|| self.name.clone()),
            port: self
                .vars
                .get("ansible_port")
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                .and_then(|p| u16::try_from(p).ok()),
            user: s("ansible_user"),
            key: path("ansible_ssh_private_key_file"),
            known_hosts: path("runner_known_hosts"),
        }
    }
}

impl Inventory {
    /// An inventory file: INI when it is named `.ini`, YAML when `.yaml`,
    /// `.yml` or `.json`; otherwise YAML if it reads as a YAML mapping,
    /// else INI (as Ansible tries its parsers in turn).
    pub fn load(path: &Path) -> Result<Inventory, InputError> {
        let text = crate::yaml::read(path)?;
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
        Inventory::from_document(&doc)
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
}
