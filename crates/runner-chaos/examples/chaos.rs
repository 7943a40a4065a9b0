//! Stand-alone `runner lab chaos` until it is wired into the `runner` CLI:
//! `cargo run -p runner-chaos --example chaos -- --scenario crash-balancer`.
//! Uses the lab in `$RUNNER_LAB_DIR` (default `.runner/lab`).

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "chaos",
    about = "Faults on the lab's RabbitMQ HA cluster under an AMQP workload"
)]
struct Cli {
    #[command(flatten)]
    chaos: runner_chaos::ChaosArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let code = runner_chaos::run(cli.chaos).await?;
    std::process::exit(code);
}
