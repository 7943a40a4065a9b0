//! `runner lab chaos`: proves the RabbitMQ HA cluster on the lab. Each
//! scenario runs an AMQP workload through the virtual IP (publisher
//! confirms, manual acks, a quorum queue — or on the 3.10 lab a classic
//! queue mirrored by the seed's `ha-all` policy; see `runner-amqp-workload`),
//! injects one fault under load, heals it, waits until the cluster is whole
//! again (all nodes running, every backend UP on both balancers, keepalived
//! on both, exactly one VIP holder), then drains and counts published,
//! confirmed, consumed, lost and duplicated messages and the client-visible
//! outage per fault.
//!
//! Modules: [`driver`] (options, the run, exit codes; the flags are the
//! CLI's), [`scenarios`] (the faults and how one scenario runs), [`faults`]
//! (injecting and healing), [`health`] (is the cluster whole, where is the
//! leader, who holds the VIP), [`replicas`] (a queue's replicas: voters,
//! caught up), [`cluster`] (hosts, VIP, credentials, from
//! the lab's inventory), [`deployment`] (what the playbook deployed: users,
//! containers, ports, secrets), [`report`] (tables, JSON, SVG), `http` (the
//! one GET).
//!
//! Network rule: everything here talks to the lab network only (the lab
//! hosts' and the VIP's addresses) and to the local Docker engine.

pub mod cluster;
pub mod deployment;
pub mod driver;
pub mod faults;
pub mod health;
mod http;
pub mod replicas;
pub mod report;
pub mod restarts;
pub mod scenarios;

pub use driver::{ChaosOptions, Settings, run};
pub use report::{ChaosReport, ScenarioResult};
pub use scenarios::Scenario;
