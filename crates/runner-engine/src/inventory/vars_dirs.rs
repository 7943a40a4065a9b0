//! Ansible's `group_vars/` and `host_vars/` directories, beside the
//! inventory and beside the playbook, layered with Ansible's precedence
//! (lowest first): the inventory file's group vars; `group_vars/all`, the
//! inventory's then the playbook's; `group_vars/<group>`, parents before
//! children, the inventory's then the playbook's; the inventory file's
//! host vars; `host_vars/<host>`, the inventory's then the playbook's.
//! A vars entry is a file (`web`, `web.yml`, `web.yaml`, `web.json`) or a
//! directory of such files, read in name order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::Inventory;
use crate::yaml::{Document, InputError};

type Vars = Map<String, Value>;

/// One directory's `group_vars/` and `host_vars/`.
struct VarsDir {
    dir: PathBuf,
    groups: BTreeMap<String, Vars>,
    hosts: BTreeMap<String, Vars>,
}

impl Inventory {
    /// Read `group_vars/` and `host_vars/` in each of `dirs` (the
    /// inventory's directory, then the playbook's; a directory given twice
    /// is read once) and recompute every host's variables. Returns a
    /// warning for each file that names no group or host of the inventory.
    pub fn add_vars_dirs(&mut self, dirs: &[PathBuf]) -> Result<Vec<String>, InputError> {
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut layers = Vec::new();
        for dir in dirs {
            let key = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            layers.push(VarsDir {
                dir: dir.clone(),
                groups: read_kind(&dir.join("group_vars"))?,
                hosts: read_kind(&dir.join("host_vars"))?,
            });
        }
        let warnings = self.unmatched(&layers);
        for host in &mut self.hosts {
            let mut vars = Vars::new();
            for g in &host.groups {
                extend(&mut vars, self.file_group_vars.get(g));
            }
            for layer in &layers {
                extend(&mut vars, layer.groups.get("all"));
            }
            for layer in &layers {
                for g in host.groups.iter().filter(|g| *g != "all") {
                    extend(&mut vars, layer.groups.get(g));
                }
            }
            extend(&mut vars, self.file_host_vars.get(&host.name));
            for layer in &layers {
                extend(&mut vars, layer.hosts.get(&host.name));
            }
            host.vars = vars;
        }
        Ok(warnings)
    }

    fn unmatched(&self, layers: &[VarsDir]) -> Vec<String> {
        let mut out = Vec::new();
        for layer in layers {
            let dir = &layer.dir;
            for g in layer.groups.keys() {
                if !self.groups.contains_key(g) {
                    out.push(format!(
                        "{}: the inventory has no group '{g}'; its variables are not used",
                        dir.join("group_vars").join(g).display()
                    ));
                }
            }
            for h in layer.hosts.keys() {
                if self.host(h).is_none() {
                    out.push(format!(
                        "{}: the inventory has no host '{h}'; its variables are not used",
                        dir.join("host_vars").join(h).display()
                    ));
                }
            }
        }
        out
    }
}

fn extend(vars: &mut Vars, more: Option<&Vars>) {
    if let Some(more) = more {
        vars.extend(more.clone());
    }
}

/// `group_vars/` or `host_vars/`: name → its variables (none when the
/// directory does not exist).
fn read_kind(base: &Path) -> Result<BTreeMap<String, Vars>, InputError> {
    let mut out: BTreeMap<String, Vars> = BTreeMap::new();
    for path in entries(base) {
        let Some(name) = vars_name(&path) else {
            continue;
        };
        let vars = out.entry(name).or_default();
        if path.is_dir() {
            for file in entries(&path) {
                if vars_name(&file).is_some() && file.is_file() {
                    vars.extend(read_vars(&file)?);
                }
            }
        } else {
            vars.extend(read_vars(&path)?);
        }
    }
    Ok(out)
}

/// The entries of `dir` in name order (none when it is not a directory).
fn entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
}

/// The group or host a vars entry is for: its name without `.yml`,
/// `.yaml` or `.json`; none for hidden files, backups and other
/// extensions (as Ansible skips them).
fn vars_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name.starts_with('.') || name.ends_with('~') {
        return None;
    }
    if path.is_dir() {
        return Some(name.to_string());
    }
    match path.extension().and_then(|e| e.to_str()) {
        None => Some(name.to_string()),
        Some("yml" | "yaml" | "json") => Some(path.file_stem()?.to_str()?.to_string()),
        Some(_) => None,
    }
}

/// One vars file: a mapping of variables (an empty file is none).
fn read_vars(path: &Path) -> Result<Vars, InputError> {
    let text = crate::yaml::read(path)?;
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(Vars::new());
    }
    let doc = Document::parse(path, &text)?;
    match doc.value {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Vars::new()),
        _ => Err(doc.error("", "a vars file is a mapping of variable names to values")),
    }
}

#[cfg(test)]
mod tests;
