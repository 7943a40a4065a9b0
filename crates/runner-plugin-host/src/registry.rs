//! Finding plugins on disk, loading them once per run, and calling them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use runner_types::capability::Grant;
use runner_types::{Plan, PluginInfo, PluginName};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

use crate::bindings::{Plugin, PluginPre, runner::plugin::types as wit};
use crate::cache::{ComponentCache, Source};
use crate::call::{
    CallError, CallState, Limits, Observer, PlanOutcome, Printed, classify, new_store,
};

/// A plugin ready to be called: compiled, linked and described.
pub struct LoadedPlugin {
    pub info: PluginInfo,
    pub path: PathBuf,
    /// sha256 of the component: what a journal or plan records.
    pub sha256: String,
    pub from_cache: bool,
    pre: PluginPre<CallState>,
}

pub struct PluginHost {
    engine: Engine,
    linker: Linker<CallState>,
    cache: ComponentCache,
    dirs: Vec<PluginDir>,
    limits: Limits,
    loaded: Mutex<HashMap<PluginName, Arc<LoadedPlugin>>>,
}

/// A directory plugins are looked for in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDir {
    pub path: PathBuf,
    /// A directory the runner ships or builds its own plugins into: only
    /// the product's files there (`runner_plugin_*.wasm`, what cargo
    /// builds from `plugins/`) are plugins. In a user's directory (given,
    /// or beside the playbook) every `*.wasm` is.
    pub built_in: bool,
}

impl PluginDir {
    pub fn user(path: PathBuf) -> PluginDir {
        PluginDir {
            path,
            built_in: false,
        }
    }

    pub fn built_in(path: PathBuf) -> PluginDir {
        PluginDir {
            path,
            built_in: true,
        }
    }

    /// The plugin files here, sorted.
    fn plugin_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .filter(|p| !self.built_in || PluginName::is_product_file(p))
            .collect();
        files.sort();
        files
    }
}

/// How often the engine's epoch ticks; the CPU budget is checked per tick.
const EPOCH_TICK: Duration = Duration::from_millis(10);

impl PluginHost {
    /// A host that looks for `*.wasm` plugins in `dirs` (first match wins)
    /// and caches compiled code in `cache_dir`.
    pub fn new(dirs: Vec<PluginDir>, cache_dir: PathBuf, limits: Limits) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.concurrency_support(false);
        let engine = Engine::new(&config)?;
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        Plugin::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?;
        let cache = ComponentCache::new(&engine, cache_dir);
        Ok(PluginHost {
            engine,
            linker,
            cache,
            dirs,
            limits,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    pub fn dirs(&self) -> Vec<&Path> {
        self.dirs.iter().map(|d| d.path.as_path()).collect()
    }

    /// Every plugin file in the search path, by the name its file gives
    /// ([`PluginName::of_file`]); the first directory to have a name wins.
    pub fn available(&self) -> Vec<(PluginName, PathBuf)> {
        let mut found: Vec<(PluginName, PathBuf)> = Vec::new();
        for path in self.dirs.iter().flat_map(PluginDir::plugin_files) {
            let name = PluginName::of_file(&path);
            if !found.iter().any(|(n, _)| *n == name) {
                found.push((name, path));
            }
        }
        found
    }

    /// Load (once per host) the plugin called `name`; `my_plugin` and
    /// `my-plugin` name the same plugin, as their files do ([`PluginName`]).
    pub async fn get(&self, name: &str) -> anyhow::Result<Arc<LoadedPlugin>> {
        let name = PluginName::new(name);
        if let Some(p) = self.loaded.lock().expect("plugin map").get(&name) {
            return Ok(p.clone());
        }
        let Some((_, path)) = self.available().into_iter().find(|(n, _)| *n == name) else {
            let known: Vec<String> = self
                .available()
                .into_iter()
                .map(|(n, _)| n.to_string())
                .collect();
            bail!(
                "unknown plugin '{name}': no plugin file of that name ({name}.wasm, or with _ for -) in {} (available: {})",
                self.dirs
                    .iter()
                    .map(|d| d.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                if known.is_empty() {
                    "none — were the plugins built?".to_string()
                } else {
                    known.join(", ")
                }
            );
        };
        let plugin = Arc::new(self.load(&path).await?);
        if PluginName::new(&plugin.info.name) != name {
            bail!(
                "{} describes itself as '{}', not '{name}'",
                path.display(),
                plugin.info.name
            );
        }
        self.loaded
            .lock()
            .expect("plugin map")
            .insert(name, plugin.clone());
        Ok(plugin)
    }

    /// Load and describe the component at `path`.
    pub async fn load(&self, path: &Path) -> anyhow::Result<LoadedPlugin> {
        let wasm = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (component, sha256, source) = self.cache.load(&self.engine, path, &wasm)?;
        let pre =
            self.linker.instantiate_pre(&component).map_err(|e| {
                match other_contract_version(&self.engine, &component) {
                    Some(theirs) => anyhow::anyhow!(
                        "{} was built against {theirs}; this runner speaks {CONTRACT}: \
                     rebuild the plugin against this runner's wit/plugin.wit",
                        path.display()
                    ),
                    None => anyhow::anyhow!(
                        "{} does not fit the {CONTRACT} contract: {e:#}",
                        path.display()
                    ),
                }
            })?;
        let pre = PluginPre::new(pre)?;
        let name = PluginName::of_file(path);
        let info = self
            .describe(&pre, name.as_str())
            .await
            .with_context(|| format!("describing {}", path.display()))?;
        Ok(LoadedPlugin {
            info,
            path: path.to_path_buf(),
            sha256,
            from_cache: source == Source::Cache,
            pre,
        })
    }

    async fn describe(&self, pre: &PluginPre<CallState>, name: &str) -> anyhow::Result<PluginInfo> {
        let printed = Printed::new();
        let mut store = new_store(
            &self.engine,
            CallState::new(self.limits, None, None, &printed),
        );
        let result = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance.call_describe(&mut store).await
        }
        .await;
        let info: wit::PluginInfo = classify(name, &store, &printed, result)?;
        check_describe(&info, self.limits.describe_bytes)?;
        let params_schema = serde_json::from_str(&info.params_schema)
            .with_context(|| format!("plugin '{}' has an invalid parameter schema", info.name))?;
        Ok(PluginInfo {
            name: info.name,
            version: info.version,
            summary: info.summary,
            params_schema,
            secret_params: info.secret_params,
            capabilities: info.capabilities.into(),
        })
    }

    /// Ask `plugin` to plan, observing through `observer` within `grant`.
    pub async fn plan(
        &self,
        plugin: &LoadedPlugin,
        grant: Grant,
        observer: Arc<dyn Observer>,
        request: PlanRequest<'_>,
    ) -> Result<PlanOutcome, CallError> {
        let name = plugin.info.name.clone();
        let printed = Printed::new();
        let mut store = new_store(
            &self.engine,
            CallState::new(self.limits, Some(grant), Some(observer.clone()), &printed),
        );
        let req = wit::PlanRequest {
            params: request.params.to_string(),
            facts: request.facts.to_string(),
            host: request.host.to_string(),
            stage: request.stage,
        };
        let result = async {
            let instance = plugin.pre.instantiate_async(&mut store).await?;
            instance.call_plan(&mut store, &req).await
        }
        .await;
        printed.forward(observer.as_ref());
        match classify(&name, &store, &printed, result)? {
            Ok(plan) if plan.actions.len() > self.limits.actions => Err(CallError::CapExceeded {
                plugin: name,
                what: format!(
                    "a plan of {} actions, over the {} one plan may hold",
                    plan.actions.len(),
                    self.limits.actions
                ),
            }),
            Ok(plan) => Ok(PlanOutcome {
                plan: Plan {
                    actions: plan.actions.into_iter().map(Into::into).collect(),
                    replan: plan.replan,
                    pending: plan.pending,
                },
            }),
            Err(message) => Err(CallError::Refused {
                plugin: name,
                message,
            }),
        }
    }
}

/// What `describe` returned must be small, and its summary one line.
fn check_describe(info: &wit::PluginInfo, cap: usize) -> anyhow::Result<()> {
    let c = &info.capabilities;
    let patterns = [
        &c.probes,
        &c.reads,
        &c.writes,
        &c.runs,
        &c.http,
        &c.peers,
        &c.local_reads,
    ];
    let size = info.name.len()
        + info.version.len()
        + info.summary.len()
        + info.params_schema.len()
        + info.secret_params.iter().map(String::len).sum::<usize>()
        + patterns
            .iter()
            .flat_map(|p| p.iter())
            .map(String::len)
            .sum::<usize>();
    if size > cap {
        bail!(
            "plugin '{}' describes itself in {} KiB, over the {} KiB allowed",
            info.name.escape_default(),
            size >> 10,
            cap >> 10
        );
    }
    if info.summary.chars().count() > 300 || info.summary.chars().any(char::is_control) {
        bail!(
            "plugin '{}' has a summary that is not one line of at most 300 characters",
            info.name.escape_default()
        );
    }
    if info.name.is_empty()
        || !info
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!(
            "plugin name '{}' is not a plain name",
            info.name.escape_default()
        );
    }
    Ok(())
}

/// The inputs of one plan call.
pub struct PlanRequest<'a> {
    pub params: &'a serde_json::Value,
    pub facts: &'a serde_json::Value,
    pub host: &'a str,
    pub stage: u32,
}

/// The contract this runner implements: the package line of
/// `wit/plugin.wit`, its one source.
pub const CONTRACT: &str = contract_of(include_str!("../../../wit/plugin.wit"));

/// `runner:plugin@X.Y.Z` from the WIT text's `package runner:plugin@X.Y.Z;`.
const fn contract_of(wit: &str) -> &str {
    let bytes = wit.as_bytes();
    let key = b"package ";
    let mut i = 0;
    while i + key.len() < bytes.len() {
        let mut j = 0;
        while j < key.len() && bytes[i + j] == key[j] {
            j += 1;
        }
        if j == key.len() && (i == 0 || bytes[i - 1] == b'\n') {
            let start = i + key.len();
            let mut end = start;
            while end < bytes.len() && bytes[end] != b';' {
                end += 1;
            }
            let (_, rest) = bytes.split_at(start);
            let (name, _) = rest.split_at(end - start);
            return match std::str::from_utf8(name) {
                Ok(s) => s,
                Err(_) => panic!("the WIT package line is not UTF-8"),
            };
        }
        i += 1;
    }
    panic!("wit/plugin.wit has no package line")
}

/// The contract version a component imports, when it is not ours.
fn other_contract_version(engine: &wasmtime::Engine, component: &Component) -> Option<String> {
    component
        .component_type()
        .imports(engine)
        .find_map(|(name, _)| {
            let package = name.strip_prefix("runner:plugin/")?;
            let version = package.split_once('@')?.1;
            let theirs = format!("runner:plugin@{version}");
            (theirs != CONTRACT).then_some(theirs)
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_version_comes_from_the_wit_file() {
        assert_eq!(super::CONTRACT, "runner:plugin@0.4.0");
    }
}
