//! End-to-end: plugins that loop, grab memory, probe or write what they did
//! not declare, wait on a host they did not declare, or panic — each fails its step with the right message
//! within its deadline, and the rest of the run goes on. Also what the
//! runner keeps on this machine: private whatever the umask, never written
//! through a planted symlink.

use std::time::{Duration, Instant};

use crate::support::*;

/// An inventory with one local host per hostile mode, named as the mode,
/// and a playbook with one hostile step on each (`with` gets `extra`).
fn one_host_per_mode(modes: &[(&str, &str)], extra: &str) -> (String, String) {
    let mut inv = String::from("all:\n  hosts:\n");
    let mut pb = String::from("gather_facts: false\nsteps:\n");
    for (mode, _) in modes {
        inv.push_str(&format!("    {mode}: {{ ansible_connection: local }}\n"));
        pb.push_str(&format!(
            "  - name: hostile {mode}\n    plugin: hostile\n    on: {mode}\n    with: {{ mode: {mode}{extra} }}\n"
        ));
    }
    (inv, pb)
}

/// Each mode's host failed, with its expected message naming the plugin.
fn each_failed_with(out: &std::process::Output, modes: &[(&str, &str)]) {
    let events = events(out);
    for (mode, expected) in modes {
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
}

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
        (
            "quoted-dotdot",
            "tried a probe 'cat '/tmp/hostile-allowed/../../etc/shadow'', which it did not declare",
        ),
    ];
    std::fs::create_dir_all("/tmp/hostile-allowed").unwrap();
    std::fs::write("/tmp/hostile-allowed/big", vec![b'x'; 17 << 20]).unwrap();
    let (mut inv, mut pb) = one_host_per_mode(&modes, "");
    inv.push_str("    good: { ansible_connection: local }\n");
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
    each_failed_with(&out, &modes);
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

/// A probe that prints far more than one answer may hold, on this machine
/// and over SSH: its output is read only up to the cap, the command is
/// ended, the step fails naming the cap, and the runner never holds the
/// whole answer (its peak memory stays far below the output's size).
#[test]
fn a_probe_answer_is_cut_at_its_cap_locally_and_over_ssh() {
    let work = scratch();
    let w = work.path();
    let hosts = SshHosts::start(w, 1);
    let inv = hosts.inventory(&w.join("inventory.yaml"), None);
    let mut text = std::fs::read_to_string(&inv).unwrap();
    text.push_str("        here:\n          ansible_connection: local\n");
    std::fs::write(&inv, text).unwrap();
    std::fs::write(
        w.join("site.yaml"),
        "gather_facts: false\nsteps:\n  - name: s\n    plugin: hostile\n    on: all\n    with: { mode: big-probe }\n",
    )
    .unwrap();
    // 128 MiB of zeros that take no disk (a sparse file).
    std::fs::create_dir_all("/tmp/hostile-allowed").unwrap();
    let huge = "/tmp/hostile-allowed/huge-probe";
    std::fs::File::create(huge)
        .unwrap()
        .set_len(128 << 20)
        .unwrap();
    let events_file = w.join("events.jsonl");
    let mut child = runner(w)
        .args([
            "play",
            "site.yaml",
            "-i",
            "inventory.yaml",
            "--output",
            "json",
        ])
        .stdout(std::fs::File::create(&events_file).unwrap())
        .spawn()
        .unwrap();
    let (code, max_rss_kib) = wait_with_peak_memory(&mut child);
    std::fs::remove_file(huge).unwrap();
    let out = std::process::Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(code),
        stdout: std::fs::read(&events_file).unwrap(),
        stderr: vec![],
    };
    eprintln!("{}\npeak: {} MiB", stdout(&out), max_rss_kib >> 10);
    assert!(
        max_rss_kib < 128 << 10,
        "the runner held {} MiB at its peak",
        max_rss_kib >> 10
    );
    assert_eq!(out.status.code(), Some(2));
    each_failed_with(
        &out,
        &[
            ("h1", "the command printed more than 16 MiB"),
            ("here", "the command printed more than 16 MiB"),
        ],
    );
    assert!(
        wait_until(Duration::from_secs(10), || {
            !std::process::Command::new("pgrep")
                .args(["-f", huge])
                .status()
                .unwrap()
                .success()
        }),
        "the probe's command was ended"
    );
}

/// Wait for `child`; its wait status and its peak resident memory in KiB.
fn wait_with_peak_memory(child: &mut std::process::Child) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, not waited for yet; both pointers
    // are to live locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    (status, usage.ru_maxrss)
}

/// The preview shows the command itself beside the plugin's summary, and
/// escape sequences in plugin text reach the terminal escaped.
#[test]
fn the_preview_shows_what_runs_and_escapes_plugin_text() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
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
    let (inv, pb) = one_host_per_mode(&modes, &format!(", port: {port}"));
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
    each_failed_with(&out, &modes);
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

/// The compiled-plugin cache: a swapped entry is not loaded (the plugin is
/// compiled again from its own file), and a cache others can write is
/// refused with a message that says how to fix it.
#[test]
fn the_component_cache_is_private_and_verified() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    let target = w.join("out.txt");
    std::fs::write(
        w.join("site.yaml"),
        format!(
            "gather_facts: false\nsteps:\n  - name: s\n    plugin: file\n    on: all\n    with: {{ path: {}, content: \"from file\\n\" }}\n  - name: h\n    plugin: hostile\n    on: all\n    with: {{ mode: ok }}\n",
            target.display()
        ),
    )
    .unwrap();
    assert_eq!(
        run(w, &["play", "site.yaml", "-i", "inventory.yaml"])
            .status
            .code(),
        Some(0)
    );
    let cache = w.join("cache/components");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the cache is made private");
    // Put the hostile plugin's machine code in the file plugin's place.
    let entries: Vec<std::path::PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let sha_of = |name: &str| {
        let wasm = std::fs::read(test_plugin_dir().join(format!("{name}.wasm")))
            .or_else(|_| std::fs::read(plugin_dir().join(format!("runner_plugin_{name}.wasm"))))
            .unwrap();
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(wasm))
    };
    let file_entry = entries
        .iter()
        .find(|p| p.to_string_lossy().contains(&sha_of("file")))
        .unwrap();
    let hostile_entry = entries
        .iter()
        .find(|p| p.to_string_lossy().contains(&sha_of("hostile")))
        .unwrap();
    std::fs::copy(hostile_entry, file_entry).unwrap();
    std::fs::remove_file(&target).unwrap();
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
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "from file\n",
        "the real file plugin ran"
    );

    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(w, &["play", "site.yaml", "-i", "inventory.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("only you can use (it is a directory, mode 777"),
        "{}",
        stderr(&out)
    );
}

/// The completion-marker directory is never used through a symlink placed
/// there in advance.
#[test]
fn the_marker_directory_is_not_followed_through_a_symlink() {
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    std::fs::write(
        w.join("site.yaml"),
        "gather_facts: false\nsteps:\n  - name: c\n    plugin: command\n    on: all\n    with: { cmd: \"true\" }\n",
    )
    .unwrap();
    let tmp = w.join("tmp");
    let elsewhere = w.join("elsewhere");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    let uid = String::from_utf8(
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::os::unix::fs::symlink(
        &elsewhere,
        tmp.join(format!("runner-actions-{}", uid.trim())),
    )
    .unwrap();
    let out = runner(w)
        .env("TMPDIR", &tmp)
        .args(["play", "site.yaml", "-i", "inventory.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("is a symlink or not owned by"),
        "{}",
        stdout(&out)
    );
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
}

/// Journals, the log file, saved plans, recorded fixtures and the secrets
/// file hold what plugins saw: each is made 0600, and the directories made
/// for them 0700, even under umask 000.
#[test]
fn the_runners_own_files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let work = scratch();
    let w = work.path();
    local_inventory(w);
    let out_file = w.join("out.txt");
    std::fs::write(
        w.join("site.yaml"),
        format!(
            "gather_facts: false\nsecrets:\n  file: \"{{{{ inventory_dir }}}}/secret/s.yaml\"\n  generate:\n    token: 24\nsteps:\n  - name: f\n    plugin: file\n    on: all\n    with: {{ path: {}, content: \"x\\n\" }}\n",
            out_file.display()
        ),
    )
    .unwrap();
    let open = |args: &[&str]| {
        let mut c = runner(w);
        // SAFETY: umask is async-signal-safe and touches only the child.
        unsafe {
            c.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
        run_command(c, args)
    };
    let played = open(&[
        "--log-file",
        "run.log",
        "-vv",
        "play",
        "site.yaml",
        "-i",
        "inventory.yaml",
    ]);
    assert_eq!(played.status.code(), Some(0), "{}", stderr(&played));
    let planned = open(&["plan", "site.yaml", "-i", "inventory.yaml", "-o", "p.json"]);
    assert_eq!(planned.status.code(), Some(0), "{}", stderr(&planned));
    std::fs::create_dir(w.join("fixtures")).unwrap();
    let recorded = open(&[
        "plugin",
        "record",
        "last",
        "--plugin",
        "file",
        "-o",
        "fixtures/f.jsonl",
    ]);
    assert_eq!(recorded.status.code(), Some(0), "{}", stderr(&recorded));
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let journals: Vec<_> = std::fs::read_dir(w.join(".runner/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert!(!journals.is_empty());
    for file in journals.iter().chain(&[
        w.join("run.log"),
        w.join("p.json"),
        w.join("fixtures/f.jsonl"),
        w.join("secret/s.yaml"),
    ]) {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    for dir in ["secret", ".runner/runs"] {
        assert_eq!(mode(&w.join(dir)), 0o700, "{dir}");
    }
}
