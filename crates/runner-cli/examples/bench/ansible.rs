//! Ansible's figure for the same no-op on the same sshd hosts: ansible-core
//! from PyPI in a venv under target/ (`runner_test_support::ansible_bin`,
//! as tests/e2e/ansible.rs uses), tuned as a competent user would
//! (pipelining, ControlPersist, forks = hosts, no fact gathering), running
//! `command: "true"` with `changed_when: false`: one remote command reported
//! ok, like our no-op step's one probe. Ansible runs it through its Python
//! module (pipelined), which is how every Ansible task that asks a host
//! something runs.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use runner_test_support::sshd::SshHosts;

/// Ansible's runs on `n` hosts.
pub struct Measured {
    pub hosts: usize,
    /// A one-task playbook with no master open yet (whole process).
    pub cold: Vec<Duration>,
    /// A two-task playbook minus a one-task one, both on open masters: the
    /// cost of one more task.
    pub warm: Vec<Duration>,
}

pub fn measure(
    bin: &Path,
    hosts: &SshHosts,
    user: &str,
    w: &Path,
    n: usize,
    runs: usize,
) -> Measured {
    let dir = w.join("ansible");
    std::fs::create_dir_all(&dir).unwrap();
    write_inventory(&dir, hosts, user, n);
    for tasks in [1, 2] {
        std::fs::write(dir.join(format!("noop{tasks}.yml")), playbook(tasks)).unwrap();
    }
    let mut m = Measured {
        hosts: n,
        cold: vec![],
        warm: vec![],
    };
    for run in 0..runs {
        let control = dir.join(format!("cp{run}"));
        std::fs::create_dir_all(&control).unwrap();
        write_config(&dir, &control, n);
        m.cold.push(play(bin, &dir, 1));
        let one = play(bin, &dir, 1);
        let two = play(bin, &dir, 2);
        m.warm.push(two.saturating_sub(one));
        close_masters(&control);
    }
    m
}

fn playbook(tasks: usize) -> String {
    let mut text = String::from("- hosts: all\n  gather_facts: false\n  tasks:\n");
    for i in 0..tasks {
        text.push_str(&format!(
            "    - name: noop {i}\n      ansible.builtin.command: \"true\"\n      changed_when: false\n"
        ));
    }
    text
}

fn write_inventory(dir: &Path, hosts: &SshHosts, user: &str, n: usize) {
    let mut ini = String::from("[all]\n");
    for (name, port) in hosts.names.iter().zip(&hosts.ports).take(n) {
        ini.push_str(&format!(
            "{name} ansible_host=127.0.0.1 ansible_port={port}\n"
        ));
    }
    ini.push_str(&format!(
        "[all:vars]\nansible_user={user}\nansible_ssh_private_key_file={}\n\
         ansible_ssh_common_args='-o UserKnownHostsFile={}'\n\
         ansible_python_interpreter=/usr/bin/python3\n",
        hosts.key.display(),
        hosts.known_hosts.display()
    ));
    std::fs::write(dir.join("hosts.ini"), ini).unwrap();
}

fn write_config(dir: &Path, control: &Path, forks: usize) {
    std::fs::write(
        dir.join("ansible.cfg"),
        format!(
            "[defaults]\nforks = {forks}\nhost_key_checking = True\n\
             remote_tmp = /tmp/ansible-bench-remote\nlocal_tmp = {dir}/tmp\n\
             [ssh_connection]\npipelining = True\n\
             ssh_args = -o ControlMaster=auto -o ControlPersist=60s\n\
             control_path_dir = {control}\n",
            dir = dir.display(),
            control = control.display()
        ),
    )
    .unwrap();
}

/// One `ansible-playbook` run, its wall time.
fn play(bin: &Path, dir: &Path, tasks: usize) -> Duration {
    let start = Instant::now();
    let out = Command::new(bin.join("ansible-playbook"))
        .args(["-i", "hosts.ini", &format!("noop{tasks}.yml")])
        .current_dir(dir)
        .env("ANSIBLE_CONFIG", dir.join("ansible.cfg"))
        .env("ANSIBLE_HOME", dir.join("home"))
        .output()
        .expect("ansible-playbook");
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !text.contains("changed=1"),
        "ansible-playbook failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Stop the masters Ansible left (ControlPersist), so the next cold run is cold.
pub(crate) fn close_masters(control: &Path) {
    for socket in std::fs::read_dir(control).into_iter().flatten().flatten() {
        let _ = Command::new("ssh")
            .args(["-O", "exit", "-S"])
            .arg(socket.path())
            .arg("unused")
            .output();
    }
}
