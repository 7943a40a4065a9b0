//! A preview's observations on a host that earlier steps change: file
//! questions answered from the planned state, and every other question
//! noted as one whose answer is known only after apply.

use std::sync::Mutex;

use runner_transport::Transport;
use runner_types::CommandOutput;
use runner_types::shell::quote;

use super::run_probe;
use crate::planned_state::{
    FileQuery, Lookup, Owner, Planned, PlannedHost, answer, named_owner, paths_read,
};

/// What earlier steps of this preview plan on the host a plan call
/// observes, and why the call's plan depends on them, once it does.
pub struct PlannedView {
    host: PlannedHost,
    depends: Mutex<Option<String>>,
    /// Who the step runs as, asked once when a planned path needs it.
    runs_as: tokio::sync::Mutex<Option<Owner>>,
}

type Probed = Result<CommandOutput, String>;

impl PlannedView {
    pub fn new(host: PlannedHost) -> Self {
        PlannedView {
            host,
            depends: Mutex::new(None),
            runs_as: tokio::sync::Mutex::new(None),
        }
    }

    /// Why the plan is known only after apply, if it is.
    pub fn depends(&self) -> Option<String> {
        self.depends.lock().expect("depends").clone()
    }

    fn note(&self, why: String) {
        self.depends.lock().expect("depends").get_or_insert(why);
    }

    /// The answer to a probe from the planned state, or `None` to ask the
    /// host (noting when its answer may change once the earlier steps
    /// apply).
    pub async fn probe(&self, t: &dyn Transport, command: &str) -> Option<Probed> {
        let changed_by = self.host.changed_by()?;
        if let Some(step) = self.host.opaque_after() {
            self.note(format!(
                "it asks `{command}` after {step}, whose effect on this host is known only after apply"
            ));
            return None;
        }
        let Some(query) = FileQuery::parse(command) else {
            // A read-only look at paths nothing planned touches: the
            // host's answer now is its answer after apply.
            let untouched = paths_read(command)
                .is_some_and(|paths| paths.iter().all(|p| self.host.untouched(p)));
            if !untouched {
                self.note(format!(
                    "it asks `{command}` after {changed_by} changed this host"
                ));
            }
            return None;
        };
        let children = self.host.children(query.path());
        match self.host.lookup(query.path()) {
            Lookup::Planned(p) => Some(self.answer(t, &query, p, &children).await),
            Lookup::ThroughLink(link) => {
                self.note(format!(
                    "it asks `{command}` through the link {link} that {changed_by} makes"
                ));
                None
            }
            Lookup::Live if matches!(query, FileQuery::List(_)) && !children.is_empty() => {
                let listing = listing(t, query.path(), &children).await;
                Some(listing.map(|names| answer_listing(&names)))
            }
            Lookup::Live => None,
        }
    }

    /// A file's content from the planned state, or `None` to read the host.
    pub fn read_file(&self, path: &str) -> Option<Result<Option<Vec<u8>>, String>> {
        let changed_by = self.host.changed_by()?;
        if let Some(step) = self.host.opaque_after() {
            self.note(format!(
                "it reads {path} after {step}, whose effect on this host is known only after apply"
            ));
            return None;
        }
        match self.host.lookup(path) {
            Lookup::Planned(Planned::File { content, .. }) => Some(Ok(Some(content.clone()))),
            Lookup::Planned(Planned::Absent) => Some(Ok(None)),
            Lookup::Planned(Planned::Dir { .. }) => Some(Err(format!(
                "{path}: is a directory (planned by {changed_by})"
            ))),
            Lookup::Planned(Planned::Link { .. }) | Lookup::ThroughLink(_) => {
                self.note(format!(
                    "it reads {path} through a link that {changed_by} makes"
                ));
                None
            }
            Lookup::Live => None,
        }
    }

    /// A GET after an earlier change on the host: its answer may differ.
    pub fn http_get(&self, url: &str) {
        if let Some(step) = self.host.changed_by() {
            self.note(format!("it asks {url} after {step} changed this host"));
        }
    }

    async fn answer(
        &self,
        t: &dyn Transport,
        query: &FileQuery,
        planned: &Planned,
        children: &[(String, bool)],
    ) -> Probed {
        let owner = match (query, planned) {
            (
                FileQuery::Stat(_),
                Planned::File { .. } | Planned::Dir { .. } | Planned::Link { .. },
            ) => self.owner(t, planned).await?,
            _ => Owner::default(),
        };
        let names = match (query, planned) {
            (FileQuery::List(p), Planned::Dir { .. }) => listing(t, p, children).await?,
            _ => vec![],
        };
        Ok(answer(query, planned, &owner, &names))
    }

    /// Who will own `planned`: its named owner and group (as the host
    /// resolves them), else the user the step runs as.
    async fn owner(&self, t: &dyn Transport, planned: &Planned) -> Result<Owner, String> {
        let mut runs_as = self.runs_as.lock().await;
        if runs_as.is_none() {
            *runs_as = Some(runs_as_user(t).await?);
        }
        let mut owner = runs_as.clone().expect("just set");
        let (user, group) = named_owner(planned);
        if let Some(u) = user {
            owner.user = resolve(t, "passwd", u).await?;
        }
        if let Some(g) = group {
            owner.group = resolve(t, "group", g).await?;
        }
        Ok(owner)
    }
}

/// The user and group a step's commands run as, by name and id.
async fn runs_as_user(t: &dyn Transport) -> Result<Owner, String> {
    let out = run_probe(t, "id -un; id -gn; id -u; id -g")
        .await
        .map_err(|e| e.to_string())?;
    let lines: Vec<&str> = out.stdout.lines().collect();
    let id = |i: usize| lines.get(i).and_then(|l| l.trim().parse::<u32>().ok());
    match (lines.first(), lines.get(1), id(2), id(3)) {
        (Some(u), Some(g), Some(uid), Some(gid)) => Ok(Owner {
            user: (u.to_string(), uid),
            group: (g.to_string(), gid),
        }),
        _ => Err(format!("`id` answered {:?}", out.stdout)),
    }
}

/// A user or group (name or id) as the host's databases have it; one not
/// there (yet) keeps its name, or its id, with the other unknown.
async fn resolve(t: &dyn Transport, db: &str, who: &str) -> Result<(String, u32), String> {
    let q = quote(who).map_err(|e| e.to_string())?;
    let out = run_probe(t, &format!("getent {db} {q}"))
        .await
        .map_err(|e| e.to_string())?;
    let fields: Vec<&str> = out.stdout.trim().split(':').collect();
    if let (Some(name), Some(Ok(id))) = (fields.first(), fields.get(2).map(|f| f.parse())) {
        return Ok((name.to_string(), id));
    }
    Ok(match who.parse() {
        Ok(id) => (who.to_string(), id),
        Err(_) => (who.to_string(), u32::MAX),
    })
}

/// A directory's entries once the earlier steps apply: the host's (when
/// it has the directory) with the planned ones added and removed.
async fn listing(
    t: &dyn Transport,
    dir: &str,
    children: &[(String, bool)],
) -> Result<Vec<String>, String> {
    let q = quote(dir).map_err(|e| e.to_string())?;
    let out = run_probe(t, &format!("ls -A -- {q}"))
        .await
        .map_err(|e| e.to_string())?;
    let mut names: Vec<String> = if out.exit_code == 0 {
        out.stdout.lines().map(str::to_string).collect()
    } else {
        vec![]
    };
    for (name, present) in children {
        names.retain(|n| n != name);
        if *present {
            names.push(name.clone());
        }
    }
    names.sort();
    Ok(names)
}

fn answer_listing(names: &[String]) -> CommandOutput {
    CommandOutput {
        exit_code: 0,
        stdout: names.iter().map(|n| format!("{n}\n")).collect(),
        stderr: String::new(),
    }
}
