//! Planning a docker compose project on a host: its files, `up -d` only when
//! something changed, a reload signal when only a reloadable file changed,
//! and a wait until every service runs. Shared by the plugins that run
//! their service with compose (docker-compose, haproxy).
//!
//! A plugin using this declares [`capabilities`] for the parameter that
//! holds the project directory (plus whatever else it does).

use crate::{Action, Capabilities, actions, ensure_file, probe, sh_quote};

/// What [`Project::plan`] needs, for the directory parameter `dir_param`
/// (e.g. `project_dir`): the compose commands scoped to that directory and
/// reading and writing inside it. [`Project::plan_absent`] also needs
/// `rm -rf {dir}`.
pub fn capabilities(dir_param: &str) -> Capabilities {
    let dir = format!("{{{dir_param}}}");
    let bases = ["docker compose", "docker-compose"]
        .map(|cmd| format!("{cmd} --project-directory {dir} -p '*' -f {dir}/compose.yaml"));
    // Probes are read-only subcommands only: planning never changes a host.
    let mut probes = vec![
        "docker compose version --short".to_string(),
        "docker-compose version --short".to_string(),
        format!("stat -c %a {dir}/*"),
    ];
    probes.extend(
        bases
            .iter()
            .map(|b| format!("{b} ps --status running --services")),
    );
    let runs = bases
        .iter()
        .flat_map(|b| {
            [
                format!("{b} up -d --remove-orphans"),
                format!("{b} up -d --remove-orphans --force-recreate"),
                format!("{b} kill -s '*' '*'"),
                format!("{b} down --remove-orphans"),
            ]
        })
        .collect();
    Capabilities {
        probes,
        reads: vec![format!("{dir}/*")],
        writes: vec![format!("{dir}/*")],
        runs,
        http: vec![],
        peers: vec![],
        local_reads: vec![],
    }
}

/// One file of the project, below its directory.
pub struct ProjectFile {
    /// Relative to the project directory, e.g. `conf/haproxy.cfg`.
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
    /// A change to this file needs only the reload signal, not a recreate.
    pub reloadable: bool,
    /// Validation command for the new content (`{}` is its path).
    pub validate: Option<String>,
}

/// How to reload a running service after a reloadable file changed.
pub struct Reload {
    pub service: String,
    pub signal: String,
}

pub struct Project {
    /// Absolute project directory.
    pub dir: String,
    /// Compose project name.
    pub name: String,
    /// Content of `compose.yaml`.
    pub compose: String,
    pub files: Vec<ProjectFile>,
    /// Services that must be running afterwards.
    pub services: Vec<String>,
    pub reload: Option<Reload>,
    pub wait_timeout_ms: u32,
}

/// `docker compose` (v2) when the host has it, else `docker-compose`.
pub fn compose_command() -> Result<&'static str, String> {
    if probe("docker compose version --short")?.exit_code == 0 {
        return Ok("docker compose");
    }
    if probe("docker-compose version --short")?.exit_code == 0 {
        return Ok("docker-compose");
    }
    Err("neither `docker compose` nor `docker-compose` works on this host".into())
}

impl Project {
    /// The compose invocation for this project, e.g.
    /// `docker compose --project-directory /srv/x -p x -f /srv/x/compose.yaml`.
    pub fn base(&self, cmd: &str) -> String {
        format!(
            "{cmd} --project-directory {dir} -p {name} -f {dir}/compose.yaml",
            dir = sh_quote(&self.dir),
            name = sh_quote(&self.name)
        )
    }

    /// Services of this project currently running.
    pub fn running_services(&self, cmd: &str) -> Result<Vec<String>, String> {
        let out = probe(&format!(
            "{} ps --status running --services",
            self.base(cmd)
        ))?;
        if out.exit_code != 0 {
            return Ok(vec![]);
        }
        Ok(out
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// The actions that bring the project to this state.
    pub fn plan(&self) -> Result<Vec<Action>, String> {
        let cmd = compose_command()?;
        let base = self.base(cmd);
        let mut out = Vec::new();
        // What changed: the compose file, a mounted file, a reloadable file.
        let (mut compose_changed, mut mounted_changed, mut reload) = (false, false, false);
        let compose_path = format!("{}/compose.yaml", self.dir);
        if let Some(a) = ensure_file(&compose_path, self.compose.as_bytes(), 0o644)? {
            out.push(a);
            compose_changed = true;
        }
        for f in &self.files {
            let path = format!("{}/{}", self.dir, f.path);
            if let Some(mut a) = ensure_file(&path, &f.content, f.mode)? {
                if let (Some(v), crate::ActionKind::WriteFile(w)) = (&f.validate, &mut a.kind) {
                    w.validate = Some(v.clone());
                }
                out.push(a);
                if f.reloadable {
                    reload = true;
                } else {
                    mounted_changed = true;
                }
            }
        }
        let running = self.running_services(cmd)?;
        let all_running = self.services.iter().all(|s| running.contains(s));
        if compose_changed || mounted_changed || !all_running {
            // A changed mounted file is invisible to compose's own change
            // detection: recreate when one changed under running services.
            let force = if mounted_changed && !running.is_empty() {
                " --force-recreate"
            } else {
                ""
            };
            out.push(actions::described(
                actions::run(&format!("{base} up -d --remove-orphans{force}")),
                format!("start project {} ({})", self.name, self.services.join(", ")),
            ));
        } else if reload && let Some(r) = &self.reload {
            out.push(actions::described(
                actions::run(&format!(
                    "{base} kill -s {} {}",
                    r.signal,
                    sh_quote(&r.service)
                )),
                format!(
                    "reload {} (SIG{}), keeping its connections",
                    r.service, r.signal
                ),
            ));
        }
        if !out.is_empty() {
            for s in &self.services {
                out.push(actions::described(
                    actions::wait_command(
                        &format!("{base} ps --status running --services"),
                        Some(s),
                        self.wait_timeout_ms,
                    ),
                    format!("wait until {s} runs"),
                ));
            }
        }
        Ok(out)
    }

    /// The actions that stop the project and remove its directory.
    pub fn plan_absent(&self) -> Result<Vec<Action>, String> {
        if crate::read_file(&format!("{}/compose.yaml", self.dir))?.is_none() {
            return Ok(vec![]);
        }
        let cmd = compose_command()?;
        Ok(vec![
            actions::described(
                actions::run(&format!("{} down --remove-orphans", self.base(cmd))),
                format!("stop project {}", self.name),
            ),
            actions::described(
                actions::run(&format!("rm -rf {}", sh_quote(&self.dir))),
                format!("remove {}", self.dir),
            ),
        ])
    }
}
