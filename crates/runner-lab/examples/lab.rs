//! `cargo run -p runner-lab --example lab -- <subcommand>`: the `runner lab`
//! subcommands without the rest of the CLI (for benchmarks and debugging).

use clap::Parser;

#[derive(Parser)]
#[command(name = "lab", about = "runner lab, standalone")]
struct Args {
    #[command(subcommand)]
    cmd: runner_lab::LabCommand,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match runner_lab::run(args.cmd).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
