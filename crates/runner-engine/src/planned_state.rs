//! What the earlier steps of a preview planned on one host, so a later
//! step's file observations see it: a file to be written reads as its new
//! content, a directory to be created exists, a removed path is gone.
//! Whatever the planned state cannot answer (a command probe, an HTTP
//! request) after an earlier change on the host makes the step pending.
//! Pure logic: the observer asks the host for what it does not know.

use std::collections::BTreeMap;

use runner_types::shell::{Token, words};
use runner_types::stat::STAT_PROBE;
use runner_types::{Action, ActionKind, CommandOutput};

/// A path as an earlier step of the preview leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    File {
        content: Vec<u8>,
        mode: u32,
        owner: Option<String>,
        group: Option<String>,
    },
    Dir {
        mode: u32,
        owner: Option<String>,
        group: Option<String>,
    },
    Link {
        target: String,
    },
    Absent,
}

/// What the planned state says of one path.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// An earlier step leaves it so.
    Planned(&'a Planned),
    /// Reached through a link an earlier step plans: where it leads is the
    /// host's business, known after apply.
    ThroughLink(String),
    /// Nothing planned touches it: the host's answer is exact.
    Live,
}

/// One host's planned state within a preview.
#[derive(Debug, Clone, Default)]
pub struct PlannedHost {
    paths: BTreeMap<String, Planned>,
    /// The latest earlier step that changes this host.
    changed_by: Option<String>,
    /// The first earlier step whose effect is not only files: a command,
    /// an HTTP request, or a plan pending. After it, no answer of the host
    /// is known until apply.
    opaque_after: Option<String>,
}

/// A path without its trailing slashes (`/a/b/` is `/a/b`).
fn normal(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/" } else { trimmed }
}

/// Every directory above `path`, innermost first (not `/`).
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = normal(path);
    std::iter::from_fn(move || {
        let cut = rest.rfind('/')?;
        rest = &rest[..cut];
        (!rest.is_empty()).then_some(rest)
    })
}

impl PlannedHost {
    /// Whether an earlier step changes this host, and which.
    pub fn changed_by(&self) -> Option<&str> {
        self.changed_by.as_deref()
    }

    /// The earlier step after which this host's answers are unknown.
    pub fn opaque_after(&self) -> Option<&str> {
        self.opaque_after.as_deref()
    }

    /// A step's previewed plan on this host: `step` names it for reasons;
    /// `pending` when the rest of its plan is known only after apply.
    pub fn record(&mut self, step: &str, actions: &[Action], pending: bool) {
        let changes = actions.iter().any(Action::has_side_effect);
        if changes || pending {
            self.changed_by = Some(step.to_string());
        }
        if pending {
            self.opaque_after.get_or_insert_with(|| step.to_string());
        }
        for a in actions {
            match &a.kind {
                ActionKind::WriteFile {
                    path,
                    content,
                    mode,
                    owner,
                    group,
                    ..
                } => self.set(
                    path,
                    Planned::File {
                        content: content.clone(),
                        mode: *mode,
                        owner: owner.clone(),
                        group: group.clone(),
                    },
                ),
                ActionKind::EnsureDir {
                    path,
                    mode,
                    owner,
                    group,
                } => self.set(
                    path,
                    Planned::Dir {
                        mode: *mode,
                        owner: owner.clone(),
                        group: group.clone(),
                    },
                ),
                ActionKind::Symlink { path, target, .. } => self.set(
                    path,
                    Planned::Link {
                        target: target.clone(),
                    },
                ),
                ActionKind::RemoveFile { path } | ActionKind::RemoveDir { path, .. } => {
                    self.set(path, Planned::Absent)
                }
                ActionKind::Run { .. } | ActionKind::Http { .. } => {
                    self.opaque_after.get_or_insert_with(|| step.to_string());
                }
                ActionKind::Wait(_) => {}
            }
        }
    }

    /// `path` becomes `what`; what was planned below it is replaced.
    fn set(&mut self, path: &str, what: Planned) {
        let path = normal(path).to_string();
        let below = format!("{path}/");
        self.paths.retain(|p, _| !p.starts_with(&below));
        self.paths.insert(path, what);
    }

    /// What the earlier steps leave at `path`.
    pub fn lookup(&self, path: &str) -> Lookup<'_> {
        let path = normal(path);
        if let Some(p) = self.paths.get(path) {
            return Lookup::Planned(p);
        }
        for dir in ancestors(path) {
            match self.paths.get(dir) {
                Some(Planned::Absent) => return Lookup::Planned(&Planned::Absent),
                Some(Planned::Link { .. }) => return Lookup::ThroughLink(dir.to_string()),
                // Nothing is below a file.
                Some(Planned::File { .. }) => return Lookup::Planned(&Planned::Absent),
                // A directory created or changed: what is below it is what
                // the host has (nothing, when it is new).
                Some(Planned::Dir { .. }) | None => {}
            }
        }
        Lookup::Live
    }

    /// Whether nothing is planned at `path` or below it, nor on the way to
    /// it through a link or a removal: a read-only command that looks only
    /// at it gets the same answer from the host now as after apply.
    pub fn untouched(&self, path: &str) -> bool {
        let below = format!("{}/", normal(path).trim_end_matches('/'));
        self.lookup(path) == Lookup::Live
            && self
                .paths
                .range(below.clone()..)
                .next()
                .is_none_or(|(p, _)| !p.starts_with(&below))
    }

    /// The planned entries directly inside `dir`: (name, present).
    pub fn children(&self, dir: &str) -> Vec<(String, bool)> {
        let below = format!("{}/", normal(dir).trim_end_matches('/'));
        self.paths
            .range(below.clone()..)
            .take_while(|(p, _)| p.starts_with(&below))
            .filter_map(|(p, what)| {
                let name = &p[below.len()..];
                (!name.contains('/')).then(|| (name.to_string(), *what != Planned::Absent))
            })
            .collect()
    }
}

/// A probe about one path that the planned state can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileQuery {
    /// [`STAT_PROBE`]: `kind:mode:user:group:uid:gid`.
    Stat(String),
    /// `readlink -- PATH`.
    Readlink(String),
    /// `test -e PATH`.
    Exists(String),
    /// `ls -A -- PATH`.
    List(String),
}

impl FileQuery {
    /// The query a probe command is, if it is one of these shapes exactly.
    pub fn parse(command: &str) -> Option<FileQuery> {
        let w = plain_words(command)?;
        let stat = plain_words(STAT_PROBE)?;
        let w: Vec<&str> = w.iter().map(String::as_str).collect();
        let path = |p: &str| (p.starts_with('/')).then(|| p.to_string());
        match w.as_slice() {
            [rest @ .., p] if rest == stat.as_slice() => path(p).map(FileQuery::Stat),
            ["readlink", "--", p] => path(p).map(FileQuery::Readlink),
            ["test", "-e", p] => path(p).map(FileQuery::Exists),
            ["ls", "-A", "--", p] => path(p).map(FileQuery::List),
            _ => None,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            FileQuery::Stat(p) | FileQuery::Readlink(p) | FileQuery::Exists(p) => p,
            FileQuery::List(p) => p,
        }
    }
}

/// A command's words, when it is one simple command (no `|`, `;`,
/// redirection or other operator).
fn plain_words(command: &str) -> Option<Vec<String>> {
    words(command)
        .ok()?
        .into_iter()
        .map(|t| match t {
            Token::Word(s) => Some(s),
            Token::Op(_) => None,
        })
        .collect()
}

/// The paths a read-only command looks at, when it is one that looks at
/// nothing else: `stat` (with `-c FMT`), `test -X PATH`, `cat`,
/// `readlink`, `cmp`, `sha256sum`, `md5sum` with flags and absolute paths
/// only. `None` for anything else (then only apply can tell).
pub fn paths_read(command: &str) -> Option<Vec<String>> {
    let w = plain_words(command)?;
    let (tool, args) = w.split_first()?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let operands: Vec<&str> = match (tool.as_str(), args.as_slice()) {
        ("test", [flag, path]) if TEST_FLAGS.contains(flag) => vec![*path],
        ("stat", _) => {
            let mut rest = args.as_slice();
            if let ["-c", _fmt, tail @ ..] = rest {
                rest = tail;
            }
            rest.iter()
                .copied()
                .filter(|a| !matches!(*a, "--" | "-L"))
                .collect()
        }
        ("cat" | "readlink" | "cmp" | "sha256sum" | "md5sum", _) => args
            .iter()
            .copied()
            .filter(|a| !(a.starts_with('-') && a.len() > 1))
            .collect(),
        _ => return None,
    };
    let absolute = !operands.is_empty() && operands.iter().all(|p| p.starts_with('/'));
    absolute.then(|| operands.iter().map(|p| p.to_string()).collect())
}

const TEST_FLAGS: [&str; 9] = ["-e", "-f", "-d", "-L", "-h", "-s", "-r", "-w", "-x"];

/// Who owns what a step creates without naming an owner, and how a named
/// owner or group reads as ids: `(name, id)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owner {
    pub user: (String, u32),
    pub group: (String, u32),
}

fn ok(stdout: String) -> CommandOutput {
    CommandOutput {
        exit_code: 0,
        stdout,
        stderr: String::new(),
    }
}

fn missing(tool: &str, path: &str) -> CommandOutput {
    CommandOutput {
        exit_code: 1,
        stdout: String::new(),
        stderr: format!("{tool}: {path}: No such file or directory (planned by an earlier step)\n"),
    }
}

/// The answer a planned path gives to `query`. `owner` is who owns it
/// (from the plan, or the user the step runs as); `listing` is the
/// directory's entries (for `ls`).
pub fn answer(
    query: &FileQuery,
    planned: &Planned,
    owner: &Owner,
    listing: &[String],
) -> CommandOutput {
    let path = query.path();
    match (query, planned) {
        (FileQuery::Stat(_), Planned::Absent) => missing("stat", path),
        (FileQuery::Readlink(_), Planned::Absent) => missing("readlink", path),
        (FileQuery::Exists(_), Planned::Absent) => CommandOutput {
            exit_code: 1,
            stdout: String::new(),
            stderr: String::new(),
        },
        (FileQuery::List(_), Planned::Absent) => missing("ls", path),
        (FileQuery::Exists(_), _) => ok(String::new()),
        (FileQuery::Readlink(_), Planned::Link { target }) => ok(format!("{target}\n")),
        (FileQuery::Readlink(_), _) => CommandOutput {
            exit_code: 1,
            stdout: String::new(),
            stderr: String::new(),
        },
        (FileQuery::List(_), Planned::Dir { .. }) => {
            ok(listing.iter().map(|n| format!("{n}\n")).collect())
        }
        (FileQuery::List(_), _) => ok(format!("{path}\n")),
        (FileQuery::Stat(_), what) => {
            let (kind, mode) = match what {
                Planned::File { content, mode, .. } if content.is_empty() => {
                    ("regular empty file", *mode)
                }
                Planned::File { mode, .. } => ("regular file", *mode),
                Planned::Dir { mode, .. } => ("directory", *mode),
                Planned::Link { .. } => ("symbolic link", 0o777),
                Planned::Absent => unreachable!("answered above"),
            };
            ok(format!(
                "{kind}:{mode:o}:{}:{}:{}:{}\n",
                owner.user.0, owner.group.0, owner.user.1, owner.group.1
            ))
        }
    }
}

/// The owner and group a planned path names, if any.
pub fn named_owner(planned: &Planned) -> (Option<&str>, Option<&str>) {
    match planned {
        Planned::File { owner, group, .. } | Planned::Dir { owner, group, .. } => {
            (owner.as_deref(), group.as_deref())
        }
        Planned::Link { .. } | Planned::Absent => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runner_types::stat::{PathKind, PathStat};

    fn act(kind: ActionKind) -> Action {
        Action {
            summary: "x".into(),
            kind,
        }
    }

    fn root() -> Owner {
        Owner {
            user: ("root".into(), 0),
            group: ("root".into(), 0),
        }
    }

    #[test]
    fn later_lookups_see_what_earlier_steps_plan() {
        let mut h = PlannedHost::default();
        assert_eq!(h.lookup("/etc/app"), Lookup::Live);
        h.record(
            "step 1 'dir'",
            &[act(ActionKind::EnsureDir {
                path: "/etc/app/".into(),
                mode: 0o755,
                owner: None,
                group: None,
            })],
            false,
        );
        assert_eq!(h.changed_by(), Some("step 1 'dir'"));
        assert_eq!(h.opaque_after(), None, "a directory is known");
        assert!(matches!(
            h.lookup("/etc/app"),
            Lookup::Planned(Planned::Dir { mode: 0o755, .. })
        ));
        // Below a planned directory: the host knows (nothing, if new).
        assert_eq!(h.lookup("/etc/app/app.conf"), Lookup::Live);
        h.record(
            "step 2 'config'",
            &[act(ActionKind::WriteFile {
                path: "/etc/app/app.conf".into(),
                content: b"port = 80\n".to_vec(),
                mode: 0o640,
                validate: None,
                owner: None,
                group: None,
            })],
            false,
        );
        assert_eq!(h.children("/etc/app"), [("app.conf".to_string(), true)]);
        h.record(
            "step 3",
            &[act(ActionKind::RemoveDir {
                path: "/etc/app".into(),
                recurse: true,
            })],
            false,
        );
        assert_eq!(
            h.lookup("/etc/app/app.conf"),
            Lookup::Planned(&Planned::Absent)
        );
        assert!(h.children("/etc/app").is_empty(), "removed with its dir");
        h.record(
            "step 4",
            &[act(ActionKind::Symlink {
                path: "/srv/l".into(),
                target: "/elsewhere".into(),
                force: false,
            })],
            false,
        );
        assert_eq!(h.lookup("/srv/l/x"), Lookup::ThroughLink("/srv/l".into()));
        h.record(
            "step 5 'reload'",
            &[act(ActionKind::Run {
                command: "true".into(),
                ok_codes: vec![],
                timeout_ms: 1,
            })],
            false,
        );
        assert_eq!(h.opaque_after(), Some("step 5 'reload'"));
        assert_eq!(h.changed_by(), Some("step 5 'reload'"), "the latest");
    }

    #[test]
    fn a_pending_step_makes_the_host_opaque_and_changed() {
        let mut h = PlannedHost::default();
        h.record("step 1", &[], false);
        assert_eq!(h.changed_by(), None, "an ok step changes nothing");
        h.record("step 2 'svc'", &[], true);
        assert_eq!(h.changed_by(), Some("step 2 'svc'"));
        assert_eq!(h.opaque_after(), Some("step 2 'svc'"));
    }

    #[test]
    fn the_file_plugins_probes_are_recognised_exactly() {
        let stat = format!("{STAT_PROBE} '/etc/app'");
        assert_eq!(
            FileQuery::parse(&stat),
            Some(FileQuery::Stat("/etc/app".into()))
        );
        assert_eq!(
            FileQuery::parse("readlink -- '/a b'"),
            Some(FileQuery::Readlink("/a b".into()))
        );
        assert_eq!(
            FileQuery::parse("test -e /x"),
            Some(FileQuery::Exists("/x".into()))
        );
        assert_eq!(
            FileQuery::parse("ls -A -- /x"),
            Some(FileQuery::List("/x".into()))
        );
        for other in [
            "test -e /x && rm /x",
            "cmp -s /a /b",
            "test -e x",
            "stat /x",
            "ls -A /x",
        ] {
            assert_eq!(FileQuery::parse(other), None, "{other}");
        }
    }

    #[test]
    fn commands_that_only_read_named_paths_are_recognised() {
        assert_eq!(
            paths_read("stat -c %a '/srv/x'"),
            Some(vec!["/srv/x".to_string()])
        );
        assert_eq!(
            paths_read("cmp -s /a /b"),
            Some(vec!["/a".to_string(), "/b".to_string()])
        );
        assert_eq!(paths_read("test -f /a"), Some(vec!["/a".to_string()]));
        for other in [
            "cat a.conf",
            "cat /a | sh",
            "head -n 5 /a",
            "systemctl is-active app",
            "test -e /a -o -e /b",
            "ls /d",
            "cat",
        ] {
            assert_eq!(paths_read(other), None, "{other}");
        }
        let mut h = PlannedHost::default();
        h.record(
            "s",
            &[act(ActionKind::WriteFile {
                path: "/d/x".into(),
                content: vec![],
                mode: 0o644,
                validate: None,
                owner: None,
                group: None,
            })],
            false,
        );
        assert!(h.untouched("/e/y") && h.untouched("/dx"));
        assert!(!h.untouched("/d/x"), "planned");
        assert!(!h.untouched("/d"), "something planned below it");
    }

    #[test]
    fn planned_paths_answer_as_the_host_will() {
        let file = Planned::File {
            content: b"x".to_vec(),
            mode: 0o640,
            owner: None,
            group: None,
        };
        let out = answer(&FileQuery::Stat("/f".into()), &file, &root(), &[]);
        let s = PathStat::parse(&out.stdout).expect("a stat line");
        assert_eq!((s.kind, s.mode, s.uid), (PathKind::File, 0o640, 0));
        let dir = Planned::Dir {
            mode: 0o755,
            owner: None,
            group: None,
        };
        let out = answer(&FileQuery::Stat("/d".into()), &dir, &root(), &["a".into()]);
        assert_eq!(
            PathStat::parse(&out.stdout).unwrap().kind,
            PathKind::Directory
        );
        let out = answer(&FileQuery::List("/d".into()), &dir, &root(), &["a".into()]);
        assert_eq!(out.stdout, "a\n");
        let gone = answer(
            &FileQuery::Stat("/f".into()),
            &Planned::Absent,
            &root(),
            &[],
        );
        assert_ne!(gone.exit_code, 0);
        assert_eq!(
            answer(&FileQuery::Exists("/f".into()), &file, &root(), &[]).exit_code,
            0
        );
        let link = Planned::Link {
            target: "/t".into(),
        };
        assert_eq!(
            answer(&FileQuery::Readlink("/l".into()), &link, &root(), &[]).stdout,
            "/t\n"
        );
    }
}
