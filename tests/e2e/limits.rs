//! Wide runs and the open-file limit: each SSH host holds a few of the
//! runner's descriptors while a command runs on it, so the runner raises
//! its soft limit to the hard one at start. Started with a soft limit too
//! small for the run, it still reaches every host; with the hard limit as
//! small, it cannot, and says which hosts it did not reach and why.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Output;

use rlimit::Resource;

use crate::support::*;

const HOSTS: usize = 24;
/// Below what one step on `HOSTS` hosts at once needs (about five
/// descriptors a host in flight, measured by the bench's curve), above
/// what the runner needs before it connects (about 20).
const SMALL: u64 = 32;

/// `runner play` of one no-op step on every host at once, started with
/// the open-file limits `soft` and `hard`.
fn play_with_limits(w: &Path, inv: &Path, soft: u64, hard: u64) -> Output {
    let mut cmd = runner(w);
    cmd.args(["play", "noop.yaml", "--output", "json", "--forks"])
        .arg(HOSTS.to_string())
        .arg("-i")
        .arg(inv);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs here.
    unsafe {
        cmd.pre_exec(move || Resource::NOFILE.set(soft, hard));
    }
    cmd.output().expect("runner starts")
}

#[test]
fn a_wide_run_raises_its_own_open_file_limit() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, HOSTS);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    std::fs::write(
        w.join("noop.yaml"),
        "gather_facts: false\nsteps:\n  - name: noop\n    plugin: command\n    on: all\n    with: { cmd: \"false\", unless: \"true\" }\n",
    )
    .unwrap();
    let (_, hard) = Resource::NOFILE.get().unwrap();
    assert!(
        hard > 4 * SMALL,
        "this test needs a hard limit above {}",
        4 * SMALL
    );

    let raised = play_with_limits(w, &inv, SMALL, hard);
    let r = recap(&raised);
    assert_eq!(
        raised.status.code(),
        Some(0),
        "{}{}",
        stdout(&raised),
        stderr(&raised)
    );
    assert_eq!(total(&r, "ok"), HOSTS as u64, "{r}");

    let capped = play_with_limits(w, &inv, SMALL, SMALL);
    let r = recap(&capped);
    let text = stdout(&capped);
    assert_ne!(capped.status.code(), Some(0), "{text}");
    assert!(total(&r, "unreachable") + total(&r, "failed") > 0, "{r}");
    assert!(text.contains("Too many open files"), "{text}");
}
