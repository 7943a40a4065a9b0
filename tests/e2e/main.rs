//! The end-to-end tests: one binary (as in ripgrep and wasmtime) that
//! drives the real `runner` against real sshd hosts, the lab, real
//! RabbitMQ, HAProxy and keepalived. The fixtures are the
//! `runner-test-support` crate.

use runner_test_support as support;

mod ansible;
mod chains;
mod chaos;
mod crash;
mod errors;
mod file_plugin;
mod greeting_js;
mod hostile;
mod limits;
mod lineinfile;
mod log_levels;
mod play;
mod plugin_refusals;
mod plugin_tools;
mod privilege;
mod rabbit_ha;
mod scaffold;
mod seed_topology;
mod tls;
mod visibility;
