//! AMQP workload and checker that proves RabbitMQ HA (issue 5).
//!
//! A [`Workload`] runs publishers (publisher confirms) and consumers (manual
//! acks) through one address, on a quorum queue (or a plain durable classic
//! queue, mirrored by an `ha-all` policy on the 3.10 lab). Every message
//! carries its publisher id and sequence number; publishers republish what
//! was not confirmed after a reconnect (capped exponential backoff), so
//! duplicates are possible and counted, loss must not be.
//!
//! Usage:
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use runner_amqp_workload::{Workload, WorkloadConfig};
//! use std::time::Duration;
//! let cfg = WorkloadConfig::new("amqp://user:secret@10.0.0.10:5672/%2f");
//! let handle = Workload::start(cfg).await?;
//! tokio::time::sleep(Duration::from_secs(5)).await;
//! handle.mark("kill rabbit1");      // the chaos driver marks each fault...
//! tokio::time::sleep(Duration::from_secs(20)).await;
//! handle.mark("healed");            // ...and when the cluster is whole again
//! handle.stop_publishing();
//! let report = handle.drain(Duration::from_secs(60)).await;
//! println!("{}", report.render_table());
//! std::fs::write("timeline.svg", report.timeline_svg())?;
//! # Ok(()) }
//! ```
//!
//! The counts, outages and timeline come from the pure [`checker::check`]
//! over the timestamped [`events::Event`] log, so they can be unit-tested
//! with synthetic events.

mod amqp_url;
mod backoff;
pub mod checker;
pub mod command;
pub mod config;
mod connect;
mod consumer;
pub mod duration;
pub mod events;
mod message;
pub mod mode;
mod publisher;
mod reconnect;
pub mod report;
pub mod svg;
mod workload;

pub use amqp_url::mask_password;
pub use config::{QueueKind, WorkloadConfig};
pub use mode::{ClientMode, ModeReport};
pub use report::{Latency, Outage, Report, ScenarioRow, TimelinePoint, render_scenario_table};
pub use workload::{Workload, WorkloadHandle};
