//! Stand-alone `runner probe` for trying the workload before it is wired
//! into the `runner` CLI:
//! `cargo run -p runner-amqp-probe --example probe -- amqp://U:P@HOST:PORT --duration 10s`.

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "probe",
    about = "AMQP probe: throughput, confirm latency, loss"
)]
struct Cli {
    #[command(flatten)]
    probe: runner_amqp_probe::cli::ProbeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let code = runner_amqp_probe::cli::run(cli.probe).await?;
    std::process::exit(code);
}
