//! Rendering a run: for people (`human`) or for programs (`json`).

mod human;
mod json;
mod live;

pub use json::timestamp;
pub use live::suspended;

use std::sync::Arc;

use runner_engine::Reporter;
use runner_types::Redactor;

use crate::cli::OutputFormat;

pub fn reporter(format: OutputFormat, redactor: Redactor) -> Arc<dyn Reporter> {
    match format {
        OutputFormat::Human => Arc::new(human::Human::new(redactor)),
        OutputFormat::Json => Arc::new(json::Json::new(redactor)),
    }
}
