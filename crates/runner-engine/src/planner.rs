//! The seam between the engine and what plans a step: the WebAssembly
//! plugin host in a real run, a scripted planner in the engine's unit tests
//! (so resume, staleness, pending steps and `serial` are tested with no
//! wasmtime and no hosts).

use std::sync::Arc;

use runner_plugin_host::{CallError, Observer, PlanOutcome, PlanRequest, PluginHost};
use runner_types::capability::{Grant, PluginInfo};

/// A plugin as a run knows it: what it describes, and which build it is.
#[derive(Debug, Clone)]
pub struct Plugin {
    pub info: PluginInfo,
    /// sha256 of the component: what a journal or plan records.
    pub sha256: String,
}

/// Loads plugins by name and asks them to plan.
#[async_trait::async_trait]
pub trait Planner: Send + Sync {
    /// The plugin a step names (`_` and `-` are the same).
    async fn plugin(&self, name: &str) -> anyhow::Result<Arc<Plugin>>;

    /// One plan call: every observation goes through `observer`, checked
    /// against `grant` first.
    async fn plan(
        &self,
        plugin: &Plugin,
        grant: Grant,
        observer: Arc<dyn Observer>,
        request: PlanRequest<'_>,
    ) -> Result<PlanOutcome, CallError>;
}

#[async_trait::async_trait]
impl Planner for PluginHost {
    async fn plugin(&self, name: &str) -> anyhow::Result<Arc<Plugin>> {
        let loaded = self.get(name).await?;
        Ok(Arc::new(Plugin {
            info: loaded.info.clone(),
            sha256: loaded.sha256.clone(),
        }))
    }

    async fn plan(
        &self,
        plugin: &Plugin,
        grant: Grant,
        observer: Arc<dyn Observer>,
        request: PlanRequest<'_>,
    ) -> Result<PlanOutcome, CallError> {
        let loaded = self
            .get(&plugin.info.name)
            .await
            .map_err(|e| CallError::Trap {
                plugin: plugin.info.name.clone(),
                reason: format!("{e:#}"),
            })?;
        PluginHost::plan(self, &loaded, grant, observer, request).await
    }
}
