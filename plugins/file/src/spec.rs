//! The `file` plugin's parameters and the checks that need no host.

use runner_plugin_sdk::PathStat;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub path: String,
    #[serde(default)]
    pub state: State,
    pub content: Option<String>,
    pub src: Option<String>,
    pub mode: Option<String>,
    pub owner: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub parents: bool,
    #[serde(default)]
    pub recurse: bool,
    #[serde(default)]
    pub force: bool,
    pub validate: Option<String>,
}

#[derive(Deserialize, Default, PartialEq, Debug)]
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
