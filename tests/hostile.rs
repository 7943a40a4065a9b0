//! End-to-end: plugins that loop, grab memory, probe or write what they did
//! not declare, wait on a host they did not declare, or panic — each fails its step with the right message
//! within its deadline, and the rest of the run goes on.

mod support;

use std::time::{Duration, Instant};

use support::*;

#[test]
fn hostile_plugins_fail_their_step_and_the_run_goes_on() {
    let work = scratch();
    let w = work.path();
    let modes = [
        ("loop", "used more than its CPU budget"),
        ("memory", "tried to grow its memory past the limit"),
        (
            "undeclared-probe",
            "tried a probe 'cat /etc/shadow', which it did not declare",
        ),
        (
            "swallowed-probe",
            "tried a probe 'cat /etc/shadow', which it did not declare",
        ),
        (
            "write-outside",
            "tried a write to '/etc/hostile', which it did not declare",
        ),
        (
            "wait-on-undeclared-host",
            "tried a wait on host 'good', which it did not declare (declared peers: none)",
        ),
        ("panic", "hostile plugin panicked on purpose"),
        ("refuse", "refused to plan: this plugin refuses on purpose"),
        ("nul-read", "it contains the control character \\u{0}"),
        ("nul-write", "it contains the control character \\u{0}"),
        ("comment-cut", "a comment (`#`) at byte"),
        (
            "backslash-cut",
            "tried a probe 'echo delete-everything\\ --dry-run', which it did not declare",
        ),
        (
            "quote-split",
            "tried a probe 'cat '/tmp/hostile-allowed/x' '/etc/hostname'', which it did not declare",
        ),
        ("log-flood", "more than 1024 KiB of log text in one call"),
        (
            "probe-flood",
            "more than 1000 probes, reads and GETs in one call",
        ),
        (
            "action-flood",
            "a plan of 200000 actions, over the 10000 one plan may hold",
        ),
        ("big-read", "larger than 16 MiB, the most a read may return"),
    ];
    std::fs::create_dir_all("/tmp/hostile-allowed").unwrap();
    std::fs::write("/tmp/hostile-allowed/big", vec![b'x'; 17 << 20]).unwrap();
    let mut inv = String::from("all:\n  hosts:\n    good: { ansible_connection: local }\n");
    let mut pb = String::from("gather_facts: false\nsteps:\n");
    for (mode, _) in &modes {
        inv.push_str(&format!("    {mode}: {{ ansible_connection: local }}\n"));
        pb.push_str(&format!(
            "  - name: hostile {mode}\n    plugin: hostile\n    on: {mode}\n    with: {{ mode: {mode} }}\n"
        ));
    }
    let out_file = w.join("after.txt");
    pb.push_str(&format!(
        "  - name: afterwards\n    plugin: file\n    on: all\n    with: {{ path: {}, content: \"still running\\n\" }}\n",
        out_file.display()
    ));
    std::fs::write(w.join("inventory.yaml"), inv).unwrap();
    std::fs::write(w.join("site.yaml"), pb).unwrap();

    let start = Instant::now();
    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "--output",
            "json",
        ],
    );
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "hostile plugins were stopped in time ({took:?})"
    );
    assert_eq!(out.status.code(), Some(2), "failed hosts give exit code 2");
    assert!(
        !stderr(&out).contains("panicked at"),
        "the runner itself did not panic"
    );
    let events = events(&out);
    for (mode, expected) in &modes {
        let ev = events
            .iter()
            .find(|e| e["event"] == "host" && e["host"] == *mode && e["status"] == "failed")
            .unwrap_or_else(|| panic!("no failure reported for {mode}"));
        let msg = ev["message"].as_str().unwrap();
        assert!(msg.contains(expected), "{mode}: {msg}");
        assert!(
            msg.contains("hostile"),
            "the message names the plugin: {msg}"
        );
    }
    assert!(!std::path::Path::new("/etc/hostile").exists());
    assert!(!std::path::Path::new("/tmp/hostile-escaped").exists());
    std::fs::remove_file("/tmp/hostile-allowed/big").unwrap();
    // The good host ran the last step; failed hosts were dropped from it.
    let r = recap(&out);
    assert_eq!(r["hosts"]["good"]["changed"], 1, "{r}");
    assert_eq!(total(&r, "failed"), modes.len() as u64);
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "still running\n"
    );
}

/// The preview shows the command itself beside the plugin's summary, and
/// escape sequences in plugin text reach the terminal escaped.
#[test]
fn the_preview_shows_what_runs_and_escapes_plugin_text() {
    let work = scratch();
    let w = work.path();
    std::fs::write(
        w.join("inventory.yaml"),
        "all:\n  hosts:\n    here: { ansible_connection: local }\n",
    )
    .unwrap();
    std::fs::write(
        w.join("site.yaml"),
        "gather_facts: false\nsteps:\n  - name: s\n    plugin: hostile\n    on: all\n    with: { mode: misleading }\n",
    )
    .unwrap();
    let out = run(
        w,
        &["play", "site.yaml", "-i", "inventory.yaml", "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("$ rm -f /tmp/hostile-allowed/precious"),
        "{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "a raw escape reached the terminal: {text:?}"
    );
    assert!(
        text.contains("check status (read-only)\\u{1b}[2J"),
        "{text}"
    );
}

/// A loopback HTTP server that answers `/ok/redirect` with a redirect to
/// `/admin`, and records every path asked.
fn http_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            log.lock().unwrap().push(line.trim().to_string());
            let reply = if path == "/ok/redirect" {
                format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/admin\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_string()
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (port, seen)
}

/// HTTP grants: no redirect followed to what was not declared, URLs
/// checked after normalisation (dot segments, userinfo), methods from a
/// known set (no CRLF smuggling).
#[test]
fn http_grants_hold() {
    let work = scratch();
    let w = work.path();
    let (port, seen) = http_server();
    let modes = [
        ("http-redirect", "the redirect answered 302"),
        ("http-dots", "it holds a dot segment"),
        ("http-userinfo", "it holds a user name or password"),
        ("http-crlf-method", "the method is not one of GET, HEAD"),
    ];
    let mut inv = String::from("all:\n  hosts:\n");
    let mut pb = String::from("gather_facts: false\nsteps:\n");
    for (mode, _) in &modes {
        inv.push_str(&format!("    {mode}: {{ ansible_connection: local }}\n"));
        pb.push_str(&format!(
            "  - name: {mode}\n    plugin: hostile\n    on: {mode}\n    with: {{ mode: {mode}, port: {port} }}\n"
        ));
    }
    std::fs::write(w.join("inventory.yaml"), inv).unwrap();
    std::fs::write(w.join("site.yaml"), pb).unwrap();
    let out = run(
        w,
        &[
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let events = events(&out);
    for (mode, expected) in &modes {
        let ev = events
            .iter()
            .find(|e| e["event"] == "host" && e["host"] == *mode)
            .unwrap();
        assert_eq!(ev["status"], "failed", "{ev}");
        assert!(
            ev["message"].as_str().unwrap().contains(expected),
            "{mode}: {ev}"
        );
    }
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().any(|l| l.starts_with("GET /ok/redirect")),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("/admin") || l.contains("DELETE")),
        "only declared paths were asked: {seen:?}"
    );
}
