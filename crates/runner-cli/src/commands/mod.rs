//! One module per subcommand; `dispatch` picks it.

#[cfg(feature = "chaos")]
pub mod chaos;
pub mod inventory;
pub mod lab;
mod list;
mod plugins;
mod replay;
mod run;
mod scaffold;
#[cfg(feature = "chaos")]
pub mod workload;

use std::sync::Arc;

use runner_plugin_host::{Limits, PluginHost};

use crate::cli::{Cli, Command, LabCommand, PluginCommand};
use crate::paths;

pub async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    let plugin_host = || -> anyhow::Result<Arc<PluginHost>> {
        Ok(Arc::new(PluginHost::new(
            paths::plugin_dirs(&cli.plugin_dirs),
            paths::cache_dir(),
            Limits::default(),
        )?))
    };
    match cli.command {
        Command::Play(args) => run::play(plugin_host()?, &cli.state_dir, args).await,
        Command::Plan {
            run,
            out,
            detailed_exitcode,
        } => run::plan(plugin_host()?, &cli.state_dir, run, &out, detailed_exitcode).await,
        Command::Apply {
            plan,
            forks,
            output,
        } => run::apply(plugin_host()?, &cli.state_dir, &plan, forks, output).await,
        Command::Replay { journal } => {
            replay::replay(plugin_host()?, &cli.state_dir, &journal).await
        }
        Command::Inventory(args) => inventory::show(args),
        Command::Plugins { command } => plugins::run(plugin_host()?, command).await,
        Command::Plugin {
            command: PluginCommand::New { name, dir, lang },
        } => scaffold::new_plugin(&name, &dir, lang),
        #[cfg(feature = "chaos")]
        Command::Workload(args) => runner_amqp_workload::command::run(args.into()).await,
        Command::Lab {
            command: LabCommand::Hosts(command),
        } => lab::run(command).await,
        #[cfg(feature = "chaos")]
        Command::Lab {
            command: LabCommand::Chaos(args),
        } => runner_chaos::run(args.into()).await,
    }
}
