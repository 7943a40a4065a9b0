//! `runner`: an automation runner whose playbook steps call sandboxed
//! WebAssembly plugins. This file only parses the command line and hands
//! over to `commands`.

mod cli;
mod commands;
mod logging;
mod output;
mod paths;

use clap::Parser;

/// Exit codes (documented in docs/usage.md).
pub mod exit {
    pub const OK: i32 = 0;
    /// Bad input or setup: nothing was changed.
    pub const ERROR: i32 = 1;
    /// At least one host failed.
    pub const FAILED: i32 = 2;
    /// At least one host was unreachable (and none failed).
    pub const UNREACHABLE: i32 = 3;
    /// `apply` refused a stale plan; nothing was changed.
    pub const STALE: i32 = 4;
    /// `replay` found differences.
    pub const DIFFERENT: i32 = 5;
    /// With `--detailed-exitcode`: no host failed, and something changed,
    /// would change (a preview) or is pending (known after apply).
    pub const CHANGES: i32 = 6;
}

fn main() {
    let args = cli::Cli::parse();
    if let Err(e) = logging::init(args.verbose, args.log_file.as_deref()) {
        eprintln!("{} {e:#}", console::style("error:").red().bold());
        std::process::exit(exit::ERROR);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = match runtime.block_on(commands::dispatch(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{} {e:#}", console::style("error:").red().bold());
            exit::ERROR
        }
    };
    std::process::exit(code);
}
