//! The `file` plugin: a file (content from the step or a file beside the
//! playbook), a directory, a symlink, or nothing at a path; with mode,
//! owner and group, and missing parent directories created only when asked.

use runner_plugin_sdk::actions::described;
use runner_plugin_sdk::{
    Action, Capabilities, Guest, PathKind, PathStat, Plan, PlanRequest, PluginInfo, actions,
    export_plugin, link_target, params, params_schema, path_stat, probe_ok, read_file,
    read_local_file, sh_quote,
};
mod spec;
use spec::{Params, State};

struct FilePlugin;

impl Guest for FilePlugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "file".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "A file, directory or symlink with mode, owner and group, or nothing there."
                .into(),
            params_schema: params_schema::<Params>(),
            secret_params: vec![],
            capabilities: Capabilities {
                probes: vec![
                    "stat -c '%F:%a:%U:%G:%u:%g' -- {path}".into(),
                    "stat -c '%F:%a:%U:%G:%u:%g' -- {path:parents}".into(),
                    "readlink -- {path}".into(),
                    "ls -A -- {path}".into(),
                ],
                reads: vec!["{path}".into()],
                writes: vec!["{path}".into(), "{path:parents}".into(), "{path}/*".into()],
                runs: vec!["{validate}".into()],
                http: vec![],
                peers: vec![],
                local_reads: vec!["{src}".into()],
            },
        }
    }

    fn plan(request: PlanRequest) -> Result<Plan, String> {
        let p: Params = params(&request)?;
        p.check()?;
        let stat = path_stat(&p.path)?;
        let mut actions = match (&p.state, &stat) {
            (State::Absent, _) => vec![],
            (_, None) => parents(&p)?,
            _ => vec![],
        };
        actions.extend(match p.state {
            State::Absent => absent(&p, stat.as_ref())?,
            State::File | State::Present => file(&p, stat.as_ref())?,
            State::Directory => directory(&p, stat.as_ref())?,
            State::Link => link(&p, stat.as_ref())?,
        });
        Ok(Plan::done(actions))
    }
}

/// A directory for each missing one above the path, outermost first;
/// an error when some are missing and `parents` is not set.
fn parents(p: &Params) -> Result<Vec<Action>, String> {
    let mut missing = Vec::new();
    for dir in runner_plugin_sdk::ancestors(&p.path).into_iter().rev() {
        match path_stat(&dir)? {
            None => missing.push(dir),
            Some(s) if s.kind == PathKind::Directory => break,
            Some(_) => return Err(format!("{dir} is in the way: it is not a directory")),
        }
    }
    match (missing.last(), p.parents) {
        (None, _) => Ok(vec![]),
        (Some(top), false) => Err(format!(
            "the parent directory {top} of {} does not exist; set parents: true to create it",
            p.path
        )),
        (Some(_), true) => Ok(missing
            .iter()
            .rev()
            .map(|d| {
                described(
                    actions::ensure_dir(d, 0o755),
                    format!("create directory {d} (0755)"),
                )
            })
            .collect()),
    }
}

fn file(p: &Params, stat: Option<&PathStat>) -> Result<Vec<Action>, String> {
    let content = match (&p.content, &p.src) {
        (_, Some(src)) => read_local_file(src)?,
        (Some(c), None) => c.clone().into_bytes(),
        (None, None) => vec![],
    };
    let mode = p.mode_or(0o644)?;
    let current = match stat.map(|s| s.kind) {
        None => None,
        Some(PathKind::File) => read_file(&p.path)?,
        Some(kind) => return Err(in_the_way(&p.path, kind, "a file")),
    };
    let same_content = current.as_deref() == Some(content.as_slice());
    let changes = stat.map(|s| p.differences(s, mode)).unwrap_or_default();
    if same_content && changes.is_empty() {
        return Ok(vec![]);
    }
    let summary = match (&current, same_content) {
        (None, _) => format!("create {} ({mode:04o})", p.path),
        (Some(_), false) => format!("update {}", p.path),
        (Some(_), true) => format!("set {} of {}", changes.join(", "), p.path),
    };
    let mut write = actions::owned(
        actions::write_file(&p.path, content, mode),
        p.owner.as_deref(),
        p.group.as_deref(),
    );
    if let (Some(v), runner_plugin_sdk::ActionKind::WriteFile(w)) = (&p.validate, &mut write.kind) {
        w.validate = Some(v.clone());
    }
    Ok(vec![described(write, summary)])
}

fn directory(p: &Params, stat: Option<&PathStat>) -> Result<Vec<Action>, String> {
    let mode = p.mode_or(0o755)?;
    let summary = match stat {
        None => format!("create directory {} ({mode:04o})", p.path),
        Some(s) if s.kind != PathKind::Directory => {
            return Err(in_the_way(&p.path, s.kind, "a directory"));
        }
        Some(s) => match p.differences(s, mode) {
            changes if changes.is_empty() => return Ok(vec![]),
            changes => format!("set {} of directory {}", changes.join(", "), p.path),
        },
    };
    let dir = actions::owned(
        actions::ensure_dir(&p.path, mode),
        p.owner.as_deref(),
        p.group.as_deref(),
    );
    Ok(vec![described(dir, summary)])
}

fn link(p: &Params, stat: Option<&PathStat>) -> Result<Vec<Action>, String> {
    let target = p
        .src
        .as_deref()
        .ok_or("state link needs src: the link's target")?;
    let force = match stat.map(|s| s.kind) {
        None => false,
        Some(PathKind::Symlink) if link_target(&p.path)?.as_deref() == Some(target) => {
            return Ok(vec![]);
        }
        Some(PathKind::Symlink) => false,
        Some(kind) if p.force => kind != PathKind::Symlink,
        Some(kind) => {
            return Err(format!(
                "{} is {}; set force: true to replace it with a link",
                p.path,
                kind_name(kind)
            ));
        }
    };
    let summary = format!("link {} -> {target}", p.path);
    Ok(vec![described(
        actions::symlink(&p.path, target, force),
        summary,
    )])
}

fn absent(p: &Params, stat: Option<&PathStat>) -> Result<Vec<Action>, String> {
    match stat.map(|s| s.kind) {
        None => Ok(vec![]),
        Some(PathKind::Directory) => {
            if !p.recurse && !dir_is_empty(&p.path)? {
                return Err(format!(
                    "{} is a directory that is not empty; set recurse: true to remove it and everything in it",
                    p.path
                ));
            }
            Ok(vec![actions::remove_dir(&p.path, p.recurse)])
        }
        Some(_) => Ok(vec![actions::remove_file(&p.path)]),
    }
}

fn dir_is_empty(path: &str) -> Result<bool, String> {
    let listing = probe_ok(&format!("ls -A -- {}", sh_quote(path)))?
        .ok_or_else(|| format!("{path}: cannot list the directory"))?;
    Ok(listing.trim().is_empty())
}

fn in_the_way(path: &str, kind: PathKind, wanted: &str) -> String {
    format!(
        "{path} is {}, not {wanted}; it is not replaced (remove it first, state: absent)",
        kind_name(kind)
    )
}

fn kind_name(kind: PathKind) -> &'static str {
    match kind {
        PathKind::File => "a regular file",
        PathKind::Directory => "a directory",
        PathKind::Symlink => "a symlink",
        PathKind::Other => "a special file",
    }
}

export_plugin!(FilePlugin);
