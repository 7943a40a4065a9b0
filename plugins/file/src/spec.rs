//! The `file` plugin's parameters and the checks that need no host.

use runner_plugin_sdk::PathStat;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The file step's parameters; the schema is derived from them.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Absolute path.
    #[schemars(regex(pattern = "^/"))]
    pub path: String,
    /// What should be there (`present` is `file`).
    #[serde(default)]
    pub state: State,
    /// The whole content of a file (default empty); not with src.
    pub content: Option<String>,
    /// State file: a file beside the playbook (relative) whose bytes are
    /// the content; state link: the link's target.
    pub src: Option<String>,
    /// Octal mode, e.g. "0640" (default 0644 for a file, 0755 for a directory).
    #[schemars(regex(pattern = "^0?[0-7]{3,4}$"))]
    pub mode: Option<String>,
    /// User name or numeric id.
    pub owner: Option<String>,
    /// Group name or numeric id.
    pub group: Option<String>,
    /// Create missing parent directories (0755).
    #[serde(default)]
    pub parents: bool,
    /// State absent: remove a directory that is not empty, with everything in it.
    #[serde(default)]
    pub recurse: bool,
    /// State link: replace a regular file or an empty directory.
    #[serde(default)]
    pub force: bool,
    /// Command that must accept the new content; `{}` is its path.
    pub validate: Option<String>,
}

#[derive(Deserialize, Serialize, JsonSchema, Default, PartialEq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum State {
    #[default]
    File,
    Present,
    Directory,
    Link,
    Absent,
}

impl Params {
    /// Combinations that mean nothing, refused before the host is asked.
    pub fn check(&self) -> Result<(), String> {
        let is_file = matches!(self.state, State::File | State::Present);
        if self.content.is_some() && self.src.is_some() {
            return Err("give either content or src, not both".into());
        }
        if !is_file && (self.content.is_some() || self.validate.is_some()) {
            return Err("content and validate are only for state file".into());
        }
        if self.state == State::Link && (self.owner.is_some() || self.group.is_some()) {
            return Err("owner and group are not set on links".into());
        }
        if matches!(self.state, State::Absent) && self.src.is_some() {
            return Err("src means nothing with state absent".into());
        }
        for name in [&self.owner, &self.group].into_iter().flatten() {
            runner_types_owner(name)?;
        }
        Ok(())
    }

    /// The mode asked for, else `default`.
    pub fn mode_or(&self, default: u32) -> Result<u32, String> {
        match &self.mode {
            Some(m) => runner_plugin_sdk::parse_mode(m),
            None => Ok(default),
        }
    }

    /// What differs between `stat` and what is asked: "mode 0640",
    /// "owner nobody", "group nogroup".
    pub fn differences(&self, stat: &PathStat, mode: u32) -> Vec<String> {
        let mut out = Vec::new();
        if stat.mode != mode {
            out.push(format!("mode {mode:04o}"));
        }
        if let Some(o) = self.owner.as_deref().filter(|o| !stat.owned_by(o)) {
            out.push(format!("owner {o}"));
        }
        if let Some(g) = self.group.as_deref().filter(|g| !stat.in_group(g)) {
            out.push(format!("group {g}"));
        }
        out
    }
}

fn runner_types_owner(name: &str) -> Result<(), String> {
    runner_plugin_sdk::check_owner(name).map_err(|e| e.to_string())
}
