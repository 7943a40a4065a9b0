//! The runner's engine: reads inventories and playbooks, templates step
//! parameters, and runs steps across hosts by asking plugins to plan and
//! then executing (or previewing) their actions, journaling everything.

pub mod certificates;
pub mod execute;
pub mod facts;
pub mod fixture_record;
pub mod inventory;
pub mod journal;
pub mod local_files;
pub mod observer;
pub mod pattern;
pub mod planned_state;
pub mod planner;
pub mod playbook;
pub mod plugin_test;
pub mod pool;
pub mod replay;
pub mod report;
pub mod run;
pub mod saved_plan;
pub mod secrets;
pub mod stand_in;
pub mod state_files;
pub mod template;
pub mod yaml;

pub use inventory::Inventory;
pub use playbook::Playbook;
pub use replay::replay;
pub use report::{Phase, PlannedAction, Recap, RecapOutcome, Reporter, Status};
pub use run::{Mode, RunError, RunOptions, RunResult, Runner, step_targets, tags_match};
pub use yaml::InputError;
