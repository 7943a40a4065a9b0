//! `hostile`: a plugin that misbehaves on purpose, so the tests can check
//! that the host contains it. `mode` picks the misbehaviour.

use runner_plugin_sdk::{
    Capabilities, Guest, Plan, PlanRequest, PluginInfo, actions, export_plugin, params,
    params_schema, probe,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// The hostile step's parameters; the schema is derived from them.
#[derive(Deserialize, JsonSchema)]
struct Params {
    /// The misbehaviour.
    #[schemars(extend("enum" = ["loop","memory","undeclared-probe","swallowed-probe","write-outside","wait-on-undeclared-host","panic","refuse","pending","pending-after-refusal","nul-read","nul-write","comment-cut","backslash-cut","quote-split","misleading","show-secret-param","log-flood","probe-flood","action-flood","big-read","big-probe","quoted-dotdot","http-redirect","http-dots","http-userinfo","http-crlf-method","chatty","ok"]))]
    mode: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    port: u16,
}

struct Hostile;

impl Guest for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Misbehaves on purpose (tests only).".into(),
            params_schema: params_schema::<Params>(),
            secret_params: vec!["token".into()],
            capabilities: Capabilities {
                probes: vec![
                    "true".into(),
                    "echo * --dry-run".into(),
                    "cat '/tmp/hostile-allowed/*'".into(),
                ],
                reads: vec!["/tmp/hostile-allowed/*".into()],
                writes: vec!["/tmp/hostile-allowed/*".into()],
                runs: vec!["rm -f /tmp/hostile-allowed/*".into()],
                http: vec!["http://127.0.0.1:{port}/ok/*".into()],
                peers: vec![],
                local_reads: vec![],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        let actions = match p.mode.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "undeclared-probe" => {
                probe("cat /etc/shadow")?;
                vec![]
            }
            "swallowed-probe" => {
                // Ignores the refusal: the host must fail the step anyway.
                let _ = probe("cat /etc/shadow");
                vec![]
            }
            "write-outside" => vec![actions::write_file("/etc/hostile", "pwned", 0o644)],
            "wait-on-undeclared-host" => vec![actions::wait_hosts(
                &["good".to_string()],
                "true",
                None,
                1,
                1000,
            )],
            "panic" => panic!("hostile plugin panicked on purpose"),
            "refuse" => return Err("this plugin refuses on purpose".into()),
            // Path escape: NULs between dots, which a quoting that strips
            // them would turn into `../`.
            "nul-read" => {
                runner_plugin_sdk::read_file("/tmp/hostile-allowed/.\0./.\0./etc/hostname")?;
                vec![]
            }
            "nul-write" => vec![actions::write_file(
                "/tmp/hostile-allowed/.\0./.\0./tmp/hostile-escaped",
                "pwned",
                0o644,
            )],
            // Cutting off the literal rest of `echo * --dry-run`.
            "comment-cut" => {
                probe("echo delete-everything # --dry-run")?;
                vec![]
            }
            "backslash-cut" => {
                probe("echo delete-everything\\ --dry-run")?;
                vec![]
            }
            // Quotes inside `*` adding an argument to `cat '/tmp/hostile-allowed/*'`.
            "quote-split" => {
                probe("cat '/tmp/hostile-allowed/x' '/etc/hostname'")?;
                vec![]
            }
            // A destructive command behind a harmless summary that also
            // tries to clear the terminal.
            "misleading" => vec![actions::described(
                actions::run("rm -f /tmp/hostile-allowed/precious"),
                "check status (read-only)\u{1b}[2J\u{1b}[H".to_string(),
            )],
            // Shows a parameter it declared secret: the runner masks it.
            "show-secret-param" => vec![actions::described(
                actions::run("rm -f /tmp/hostile-allowed/x"),
                format!("the token is {}", p.token),
            )],
            // Prints, as any program does, and logs at debug: all of it
            // reaches -v and the journal, masked (the token is secret),
            // a terminal escape shown escaped.
            "chatty" => {
                println!("printed on stdout, token {}", p.token);
                eprintln!("printed on stderr");
                eprintln!("coloured \x1b[31mred\x1b[0m");
                runner_plugin_sdk::log(runner_plugin_sdk::LogLevel::Debug, "a debug line");
                vec![]
            }
            // Trying to make the runner hold too much.
            "log-flood" => {
                let line = "x".repeat(1 << 20);
                for _ in 0..200 {
                    runner_plugin_sdk::log(runner_plugin_sdk::LogLevel::Info, &line);
                }
                vec![]
            }
            "probe-flood" => {
                for _ in 0..5000 {
                    let _ = probe("true");
                }
                vec![]
            }
            "action-flood" => (0..200_000)
                .map(|_| actions::wait_command("true", None, 1))
                .collect(),
            "big-read" => {
                runner_plugin_sdk::read_file("/tmp/hostile-allowed/big")?;
                vec![]
            }
            // A probe that prints far more than one answer may hold.
            "big-probe" => {
                probe("cat '/tmp/hostile-allowed/huge-probe'")?;
                vec![]
            }
            // `..` inside the quoted `*` of `cat '/tmp/hostile-allowed/*'`.
            "quoted-dotdot" => {
                probe("cat '/tmp/hostile-allowed/../../etc/shadow'")?;
                vec![]
            }
            // HTTP: a redirect to an undeclared path, dot segments,
            // userinfo, and a method smuggling a second request.
            "http-redirect" => {
                let r = runner_plugin_sdk::http_get(
                    &format!("http://127.0.0.1:{}/ok/redirect", p.port),
                    &[],
                )?;
                return Err(format!("the redirect answered {}", r.status));
            }
            "http-dots" => {
                runner_plugin_sdk::http_get(
                    &format!("http://127.0.0.1:{}/ok/%2e%2e/admin", p.port),
                    &[],
                )?;
                vec![]
            }
            "http-userinfo" => {
                runner_plugin_sdk::http_get(
                    &format!("http://127.0.0.1:{}@localhost:{}/ok/x", p.port, p.port),
                    &[],
                )?;
                vec![]
            }
            "http-crlf-method" => vec![actions::http(
                "GET /ok/x HTTP/1.1\r\nHost: x\r\n\r\nDELETE",
                &format!("http://127.0.0.1:{}/ok/x", p.port),
                vec![],
                None,
            )],
            "pending" => {
                return Ok(Plan::pending(
                    "the service it asks does not run yet",
                    vec![actions::write_file(
                        "/tmp/hostile-allowed/known",
                        "known",
                        0o644,
                    )],
                ));
            }
            "pending-after-refusal" => {
                // A refused probe dressed up as "known after apply": the
                // host must fail the step with the refusal.
                let _ = probe("cat /etc/shadow");
                return Ok(Plan::pending("nothing to see", vec![]));
            }
            _ => {
                probe("true")?;
                vec![]
            }
        };
        Ok(Plan::done(actions))
    }
}

export_plugin!(Hostile);
