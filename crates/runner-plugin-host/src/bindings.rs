//! Host-side bindings generated from `wit/plugin.wit`, and conversions
//! between the generated types and `runner_types`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../../wit",
    imports: { default: async },
    exports: { default: async },
});

use runner::plugin::types as wit;

impl From<wit::Capabilities> for runner_types::Capabilities {
    fn from(c: wit::Capabilities) -> Self {
        runner_types::Capabilities {
            probes: c.probes,
            reads: c.reads,
            writes: c.writes,
            runs: c.runs,
            http: c.http,
            peers: c.peers,
            local_reads: c.local_reads,
        }
    }
}

impl From<wit::Probe> for runner_types::Probe {
    fn from(p: wit::Probe) -> Self {
        match p {
            wit::Probe::Command(c) => runner_types::Probe::Command(c),
            wit::Probe::HttpGet(u) => runner_types::Probe::HttpGet(u),
            wit::Probe::HostsCommand(h) => runner_types::Probe::HostsCommand {
                hosts: h.hosts,
                command: h.command,
                exactly: h.exactly,
            },
        }
    }
}

impl From<wit::Action> for runner_types::Action {
    fn from(a: wit::Action) -> Self {
        use runner_types::ActionKind as K;
        let kind = match a.kind {
            wit::ActionKind::WriteFile(w) => K::WriteFile {
                path: w.path,
                content: w.content,
                mode: w.mode,
                validate: w.validate,
                owner: w.owner,
                group: w.group,
            },
            wit::ActionKind::RemoveFile(path) => K::RemoveFile { path },
            wit::ActionKind::EnsureDir(d) => K::EnsureDir {
                path: d.path,
                mode: d.mode,
                owner: d.owner,
                group: d.group,
            },
            wit::ActionKind::Symlink(l) => K::Symlink {
                path: l.path,
                target: l.target,
                force: l.force,
            },
            wit::ActionKind::RemoveDir(d) => K::RemoveDir {
                path: d.path,
                recurse: d.recurse,
            },
            wit::ActionKind::Run(r) => K::Run {
                command: r.command,
                ok_codes: if r.ok_codes.is_empty() {
                    vec![0]
                } else {
                    r.ok_codes
                },
                timeout_ms: r.timeout_ms,
            },
            wit::ActionKind::Http(h) => K::Http {
                method: h.method,
                url: h.url,
                headers: h.headers,
                body: h.body,
            },
            wit::ActionKind::Wait(w) => K::Wait(runner_types::WaitUntil {
                probe: w.probe.into(),
                contains: w.contains,
                timeout_ms: w.timeout_ms,
                interval_ms: w.interval_ms,
            }),
        };
        runner_types::Action {
            summary: a.summary,
            kind,
        }
    }
}

impl From<runner_types::CommandOutput> for wit::CommandOutput {
    fn from(o: runner_types::CommandOutput) -> Self {
        wit::CommandOutput {
            exit_code: o.exit_code,
            stdout: o.stdout,
            stderr: o.stderr,
        }
    }
}

impl From<runner_types::HttpResponse> for wit::HttpResponse {
    fn from(r: runner_types::HttpResponse) -> Self {
        wit::HttpResponse {
            status: r.status,
            body: r.body,
        }
    }
}
