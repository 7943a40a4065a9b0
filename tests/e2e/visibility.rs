//! End-to-end: what a run shows while it goes — JSON events stamped with
//! `ts` and timed with `duration_ms`, and on a terminal (a pseudo-terminal
//! made by util-linux `script`) a live line per running host with its
//! elapsed time, which a pipe never gets.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::*;

const PLAYBOOK: &str = r#"
name: visible
gather_facts: false
steps:
  - name: write
    plugin: file
    on: web
    with:
      path: "{{ root }}/visible"
      content: "seen\n"
  - name: slow
    plugin: command
    on: web
    with:
      cmd: "sleep 3"
"#;

/// Two sshd hosts and the playbook; the inventory's path.
fn setup(w: &Path) -> (SshHosts, String) {
    let hosts = SshHosts::start(w, 2);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    std::fs::write(w.join("site.yaml"), PLAYBOOK).unwrap();
    (hosts, inv.to_str().unwrap().to_string())
}

/// Whether a JSON event ends something, and so must carry `duration_ms`.
fn ends_something(e: &serde_json::Value) -> bool {
    match e["event"].as_str() {
        Some("action" | "step_done" | "recap") => true,
        Some("host") => !e["step"].is_null(),
        _ => false,
    }
}

#[test]
fn json_events_carry_timestamps_and_durations() {
    let work = scratch();
    let w = work.path();
    let (_hosts, inv) = setup(w);
    let out = run(w, &["play", "site.yaml", "-i", &inv, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let mut last = OffsetDateTime::UNIX_EPOCH;
    for e in &events {
        let ts = e["ts"].as_str().unwrap_or_else(|| panic!("no ts: {e}"));
        let at = OffsetDateTime::parse(ts, &Rfc3339).unwrap_or_else(|_| panic!("{ts}"));
        assert!(
            ts.ends_with('Z') && ts.len() == 24,
            "UTC, milliseconds: {ts}"
        );
        assert!(at >= last, "ts goes back: {e}");
        last = at;
        assert_eq!(e["duration_ms"].is_u64(), ends_something(e), "{e}");
    }
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(count("step_done"), 2, "{text}");
    assert_eq!(count("host"), 4, "{text}");
    assert!(count("action") >= 4, "{text}");
    let slow = |e: &&serde_json::Value| e["step"] == 2 && e["event"] != "step";
    for e in events.iter().filter(slow) {
        let ms = e["duration_ms"].as_u64().unwrap();
        assert!((3000..60_000).contains(&ms), "the sleep 3 step: {e}");
    }
    let recap = events.last().unwrap();
    assert!(recap["duration_ms"].as_u64().unwrap() >= 3000, "{recap}");
}

/// `runner args` under a pseudo-terminal, colours allowed.
fn on_a_terminal(w: &Path, args: &[&str]) -> Output {
    let base = runner(w);
    let mut c = Command::new("script");
    let line = format!("{} {}", runner_bin().display(), args.join(" "));
    c.args(["-qfec", &line, "/dev/null"]).current_dir(w);
    for (k, v) in base.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    c.env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "120")
        .stdin(Stdio::null());
    let out = c.output().expect("script (util-linux) runs");
    eprintln!("$ script -qfec '{line}' (a terminal)\n{:?}", stdout(&out));
    out
}

/// The text a terminal would show, less its escape sequences.
fn without_escapes(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            while chars.next().is_some_and(|c| !('@'..='~').contains(&c)) {}
        } else {
            chars.next();
        }
    }
    out
}

/// The greatest elapsed time the live line of `host` showed, in seconds.
fn longest_live(screen: &str, host: &str) -> f64 {
    let marker = format!("running   {host}  ");
    screen
        .match_indices(&marker)
        .filter_map(|(i, _)| {
            let rest = &screen[i + marker.len()..];
            rest.split('s').next()?.parse::<f64>().ok()
        })
        .fold(0.0, f64::max)
}

/// The elapsed times of `host`'s `changed` result lines, each a line of
/// its own with nothing of a live line in it.
fn results(screen: &str, host: &str) -> Vec<f64> {
    let start = format!("  changed     {host}  ");
    screen
        .split(['\n', '\r'])
        .filter_map(|l| l.strip_prefix(&start)?.strip_suffix('s')?.parse().ok())
        .collect()
}

#[test]
fn a_long_step_shows_its_hosts_live_on_a_terminal_only() {
    let work = scratch();
    let w = work.path();
    let (_hosts, inv) = setup(w);
    let args = ["play", "site.yaml", "-i", &inv];
    let tty = on_a_terminal(w, &args);
    let raw = stdout(&tty);
    assert_eq!(tty.status.code(), Some(0), "{raw}{}", stderr(&tty));
    let screen = without_escapes(&raw);
    for h in ["h1", "h2"] {
        let secs = longest_live(&screen, h);
        assert!(secs >= 1.0, "no live line for {h} counting up:\n{screen}");
        assert!(
            results(&screen, h).iter().any(|s| *s >= 3.0),
            "no clean result line for {h}:\n{screen:?}"
        );
    }
    assert!(screen.contains("RECAP"), "{screen}");

    let mut piped = runner(w);
    let piped = piped.args(args).env_remove("NO_COLOR").output().unwrap();
    let text = stdout(&piped);
    assert_eq!(piped.status.code(), Some(0), "{text}");
    assert!(
        !text.contains(['\u{1b}', '\r']),
        "escapes in a pipe:\n{text:?}"
    );
    assert!(!text.contains("running"), "progress in a pipe:\n{text}");
    for h in ["h1", "h2"] {
        assert!(results(&text, h).iter().any(|s| *s >= 3.0), "{text}");
    }
}
