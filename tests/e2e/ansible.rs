//! The same inventory read by Ansible and by runner: an INI file with
//! children, ranges, typed values, `group_vars/` (a file and a directory)
//! and `host_vars/`, beside it and beside a playbook. For every host, the variables and the groups that
//! `ansible-inventory --list` resolves must be runner's (`runner
//! inventory`), and every pattern must select the hosts that `ansible
//! PATTERN --list-hosts` lists; and `ansible-inventory --list`'s output,
//! saved, reads back the same. Ansible is ansible-core from PyPI, in a
//! venv under target/ (installed on first use).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::support::*;
use serde_json::Value;

const HOSTS_INI: &str = "lonely ansible_host=10.0.0.9
[web]
web[01:03] ansible_user=deploy http_port=8080
lb1 ansible_host=10.0.0.21 ansible_port=2222 flag=True ratio=0.5
[web:vars]
color=blue
count=3
enabled=False
[site:children]
web
db
[db]
db-[a:b]
[all:vars]
ansible_user=root
greeting='hello world'
";

const PATTERNS: &[&str] = &[
    "all",
    "ungrouped",
    "web",
    "site:!db",
    "web:&site",
    "db,lonely",
    "web[0]",
    "web[1:2]",
    "web[-1]",
    "web0*",
    "~web0[12]",
];

#[test]
fn runner_reads_an_ansible_inventory_as_ansible_does() {
    let work = scratch();
    let dir = work.path();
    write(dir, "hosts.ini", HOSTS_INI);
    vars_dirs(dir);
    let ansible = ansible_bin();

    let theirs = json_of(
        Command::new(ansible.join("ansible-inventory"))
            .args(["-i", "hosts.ini", "--list", "--playbook-dir", "pb"])
            .current_dir(dir),
    );
    let ours = json_of(runner(dir).args(["inventory", "-i", "hosts.ini", "--playbook-dir", "pb"]));
    let their_vars = theirs["_meta"]["hostvars"].as_object().unwrap();
    let our_hosts = ours["hosts"].as_object().unwrap();
    let names = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(names(our_hosts), names(their_vars), "the same hosts");
    let their_groups = group_closure(&theirs);
    for (host, vars) in their_vars {
        assert_eq!(&our_hosts[host]["vars"], vars, "the variables of {host}");
        let ours: BTreeSet<String> = our_hosts[host]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ours, their_groups[host], "the groups of {host}");
    }
    // Ansible's own --list output, saved, is an inventory runner reads.
    std::fs::write(dir.join("saved.json"), theirs.to_string()).unwrap();
    let saved = json_of(runner(dir).args(["inventory", "-i", "saved.json"]));
    for (host, vars) in their_vars {
        assert_eq!(&saved["hosts"][host]["vars"], vars, "saved --list: {host}");
    }
    for pattern in PATTERNS {
        let listed = Command::new(ansible.join("ansible"))
            .args(["-i", "hosts.ini", pattern, "--list-hosts"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(listed.status.success(), "{pattern}: {}", stderr(&listed));
        let theirs: Vec<String> = stdout(&listed)
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("hosts ("))
            .skip(1)
            .map(|l| l.trim().to_string())
            .collect();
        let ours = json_of(runner(dir).args(["inventory", "-i", "hosts.ini", pattern]));
        let ours: Vec<String> = ours["hosts"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            ours.iter().collect::<BTreeSet<_>>(),
            theirs.iter().collect::<BTreeSet<_>>(),
            "pattern {pattern}"
        );
    }
}

/// `group_vars/` (a file, a directory, JSON) and `host_vars/` beside the
/// inventory, and beside the playbook in `pb/`, over them.
fn vars_dirs(dir: &Path) {
    write(dir, "group_vars/all.yml", "zone: eu\n");
    write(
        dir,
        "group_vars/web/10-main.yml",
        "color: red\nlist: [1, 2]\n",
    );
    write(
        dir,
        "group_vars/web/20-more.yaml",
        "nested: {a: 1, b: [x]}\n",
    );
    write(dir, "group_vars/db.json", "{\"engine\": \"pg\"}\n");
    write(dir, "host_vars/web02.yml", "color: green\n");
    // Beside a playbook: over the inventory's own group_vars/.
    write(
        dir,
        "pb/group_vars/web.yml",
        "color: teal\nfrom_playbook: true\n",
    );
    write(dir, "pb/host_vars/lb1.yml", "flag: false\n");
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("the command runs");
    assert!(out.status.success(), "{:?}: {}", cmd, stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

/// Each host's groups in `ansible-inventory --list` output: the groups
/// that list it, and their ancestors.
fn group_closure(list: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let groups = list.as_object().unwrap();
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, g) in groups {
        for child in g["children"].as_array().into_iter().flatten() {
            parents
                .entry(child.as_str().unwrap().to_string())
                .or_default()
                .push(name.clone());
        }
    }
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, g) in groups {
        for host in g["hosts"].as_array().into_iter().flatten() {
            let mut todo = vec![name.clone()];
            while let Some(group) = todo.pop() {
                let mine = out.entry(host.as_str().unwrap().to_string()).or_default();
                if mine.insert(group.clone()) {
                    todo.extend(parents.get(&group).cloned().unwrap_or_default());
                }
            }
        }
    }
    out
}

/// What every host sees, written by the same template in both tools.
const SEEN: &str = r#"{{ {'color': color | default('-'), 'zone': zone, 'count': count | default('-'), 'enabled': enabled | default('-'), 'nested': nested | default('-'), 'list': list | default('-'), 'engine': engine | default('-'), 'from_playbook': from_playbook | default('-'), 'flag': flag | default('-'), 'greeting': greeting, 'group_names': group_names, 'web': groups['web'], 'user': ansible_user} | to_json }}"#;
/// Filters whose exact bytes matter (configuration files are made of them).
const BYTES: &str = r#"{{ {'b': [1, 'x', true, none], 'a': {'z': 1.5, 'y': 'é'}} | to_json }}
{{ {'b': [1, 'x'], 'a': {'z': 1.5}} | to_nice_json }}
{{ 'a,b' | regex_replace('(\w),(\w)', '\2-\1') }} {{ 'hello' | b64encode }} {{ '/x/y.conf' | basename }}"#;

/// `ansible-playbook` and `runner play` run on the same inventory (every
/// host local), each writing what a host sees through one template: the
/// files must say the same, variable by variable and byte for byte.
#[test]
fn ansible_playbook_and_runner_play_see_the_same() {
    let work = scratch();
    let dir = work.path();
    write(
        dir,
        "hosts.ini",
        &format!("{HOSTS_INI}ansible_connection=local\n"),
    );
    vars_dirs(dir);
    // Both playbooks as JSON, which both read as YAML.
    let file = |tool: &str, name: &str, template: &str| {
        serde_json::json!({
            "path": format!("{{{{ out }}}}/{tool}/{{{{ inventory_hostname }}}}.{name}"),
            "content": template,
        })
    };
    let copy = |name: &str, template: &str| {
        let mut f = file("ansible", name, template);
        let path = f.as_object_mut().unwrap().remove("path").unwrap();
        f["dest"] = path;
        serde_json::json!({ "copy": f })
    };
    let theirs = serde_json::json!([{
        "hosts": "all",
        "gather_facts": false,
        "tasks": [copy("json", SEEN), copy("bytes", BYTES)],
    }]);
    let ours = serde_json::json!({
        "gather_facts": false,
        "steps": [
            {"name": "seen", "plugin": "file", "on": "all", "with": file("runner", "json", SEEN)},
            {"name": "bytes", "plugin": "file", "on": "all", "with": file("runner", "bytes", BYTES)},
        ],
    });
    write(dir, "pb/site.yml", &theirs.to_string());
    write(dir, "pb/site.yaml", &ours.to_string());
    let out = dir.join("out");
    for tool in ["ansible", "runner"] {
        std::fs::create_dir_all(out.join(tool)).unwrap();
    }
    let extra = format!("out={}", out.display());
    let bin = ansible_bin();
    let python = format!(
        "ansible_python_interpreter={}",
        bin.join("python").display()
    );
    let ansible = Command::new(bin.join("ansible-playbook"))
        .args([
            "-i",
            "hosts.ini",
            "pb/site.yml",
            "-e",
            &extra,
            "-e",
            &python,
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        ansible.status.success(),
        "{}{}",
        stdout(&ansible),
        stderr(&ansible)
    );
    let ours = run(
        dir,
        &["play", "pb/site.yaml", "-i", "hosts.ini", "-e", &extra],
    );
    assert_eq!(ours.status.code(), Some(0), "{}", stderr(&ours));
    let hosts: Vec<_> = std::fs::read_dir(out.join("ansible")).unwrap().collect();
    assert_eq!(hosts.len(), 2 * 7, "two files for each of the 7 hosts");
    for entry in hosts {
        let name = entry.unwrap().file_name();
        let theirs = std::fs::read_to_string(out.join("ansible").join(&name)).unwrap();
        let ours = std::fs::read_to_string(out.join("runner").join(&name))
            .unwrap_or_else(|e| panic!("runner wrote no {name:?}: {e}"));
        if name.to_string_lossy().ends_with(".json") {
            let (t, o): (Value, Value) = (
                serde_json::from_str(&theirs).unwrap(),
                serde_json::from_str(&ours).unwrap(),
            );
            assert_eq!(o, t, "{name:?}");
        } else {
            assert_eq!(ours, theirs, "{name:?}");
        }
    }
}
