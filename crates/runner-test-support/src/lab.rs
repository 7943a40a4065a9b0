//! The lab as a test fixture: a fresh `runner lab up` in a scratch state
//! directory, helpers to play the rabbit-ha playbook on it and to look
//! inside, and `runner lab down` on drop. The lab's Docker names are
//! fixed, so tests hold [`LAB`] while they use it.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;

use crate::{root, run_command, runner, scratch, stderr, stdout};

/// The lab's Docker names are fixed: one lab at a time.
pub static LAB: Mutex<()> = Mutex::new(());

pub struct Lab {
    work: tempfile::TempDir,
}

impl Lab {
    /// The default five-host lab on RabbitMQ line `version`.
    pub fn up(version: &str) -> Option<Lab> {
        Self::up_with(&["--rabbitmq", version])
    }

    /// A fresh lab from `runner lab up ARGS` (after a `down`); `None` when
    /// no Docker engine answers.
    pub fn up_with(args: &[&str]) -> Option<Lab> {
        if std::process::Command::new("docker")
            .arg("info")
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            eprintln!("\n*** SKIPPING: no Docker engine answers (run ./dev setup) ***\n");
            return None;
        }
        let lab = Lab { work: scratch() };
        lab.lab(&["down"]);
        let out = lab.lab(&[&["up"], args].concat());
        assert!(out.status.success(), "lab up failed:\n{}", stderr(&out));
        Some(lab)
    }

    pub fn dir(&self) -> &Path {
        self.work.path()
    }

    /// `runner lab ARGS` on this lab.
    pub fn lab(&self, args: &[&str]) -> Output {
        let mut full = vec!["lab"];
        full.extend_from_slice(args);
        self.runner(&full)
    }

    /// `runner ARGS` with this lab's state directory.
    pub fn runner(&self, args: &[&str]) -> Output {
        let mut c = runner(self.dir());
        c.env("RUNNER_LAB_DIR", self.dir().join("lab"));
        run_command(c, args)
    }

    pub fn inventory(&self) -> PathBuf {
        self.dir().join("lab/inventory.yaml")
    }

    pub fn play(&self, inventory: &Path, extra: &[&str]) -> Output {
        let playbook = root().join("playbooks/rabbit-ha.yaml");
        let mut args = vec![
            "play",
            playbook.to_str().unwrap(),
            "-i",
            inventory.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.runner(&args)
    }

    pub fn secret(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir().join("lab/rabbit-ha.secrets.yaml")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no secret {name}"))
            .trim_matches('"')
            .to_string()
    }

    pub fn ssh(&self, host: &str, cmd: &str) -> String {
        let out = self.lab(&["ssh", host, "--", cmd]);
        stdout(&out)
    }

    /// Those of `balancers` that hold the VIP now (the lab's one check).
    pub fn vip_holders(&self, balancers: &[&str]) -> Vec<String> {
        let vip = self.vip().parse().expect("the VIP is an IPv4 address");
        crate::block_on(runner_lab::vip::holders(balancers, vip))
    }

    pub fn vip(&self) -> String {
        let inv = std::fs::read_to_string(self.inventory()).unwrap();
        inv.lines()
            .find_map(|l| l.trim().strip_prefix("vip: "))
            .unwrap()
            .trim_matches('\'')
            .to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.lab(&["down"]);
    }
}
