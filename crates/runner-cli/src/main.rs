//! `runner`: an automation runner whose playbook steps call sandboxed
//! WebAssembly plugins. This file only parses the command line and hands
//! over to `commands`.

mod cli;
mod commands;
mod limits;
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
    // Templates' now() needs the local time zone, which can only be read
    // while this is the one thread.
    runner_engine::template::capture_local_offset();
    let args = cli::Cli::parse();
    if let Err(e) = logging::init(args.verbose, args.log_file.as_deref()) {
        print_error(&e);
        std::process::exit(exit::ERROR);
    }
    limits::raise_open_files();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = match runtime.block_on(commands::dispatch(args)) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            exit::ERROR
        }
    };
    std::process::exit(code);
}

/// The error, then every cause under it, one per line (as Spin prints
/// them), so nothing of the chain is lost.
fn print_error(e: &anyhow::Error) {
    eprintln!("{} {e}", console::style("error:").red().bold());
    let causes: Vec<String> = e.chain().skip(1).map(|c| c.to_string()).collect();
    if causes.is_empty() {
        return;
    }
    eprintln!("\nCaused by:");
    for (i, cause) in causes.iter().enumerate() {
        eprintln!("  {i}: {cause}");
    }
}
