//! `runner lab`: local hosts for the playbooks and the tests (placeholder).

/// `runner lab ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// Start the lab hosts.
    Up,
}

/// Run one lab subcommand; returns the process exit code.
pub async fn run(cmd: LabCommand) -> anyhow::Result<i32> {
    match cmd {
        LabCommand::Up => anyhow::bail!("the lab is not built yet"),
    }
}
