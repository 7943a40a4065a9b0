//! One module per subcommand; `dispatch` picks it.

#[cfg(feature = "chaos")]
pub mod chaos;
pub mod inventory;
pub mod lab;
mod list;
pub mod plugin_record;
mod plugin_test;
mod plugins;
mod replay;
mod run;
mod scaffold;
#[cfg(feature = "chaos")]
pub mod workload;

use std::path::Path;
use std::sync::Arc;

use runner_plugin_host::{Limits, PluginHost};

use crate::cli::{Cli, Command, LabCommand, PluginCommand};
use crate::paths;

pub async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    // The plugin host of a run of `playbook` (whose `plugins/` is searched).
    let plugin_host = |playbook: Option<&Path>| -> anyhow::Result<Arc<PluginHost>> {
        let _span = tracing::info_span!("plugin_host").entered();
        Ok(Arc::new(PluginHost::new(
            paths::plugin_dirs(&cli.plugin_dirs, playbook),
            paths::cache_dir(),
            Limits::default(),
        )?))
    };
    match cli.command {
        Command::Play(args) => {
            let host = plugin_host(Some(&args.run.playbook))?;
            run::play(host, &cli.state_dir, args).await
        }
        Command::Plan {
            run,
            out,
            detailed_exitcode,
        } => {
            let host = plugin_host(Some(&run.playbook))?;
            run::plan(host, &cli.state_dir, run, &out, detailed_exitcode).await
        }
        Command::Apply {
            plan,
            forks,
            output,
        } => {
            let host = |playbook: &Path| plugin_host(Some(playbook));
            run::apply(host, &cli.state_dir, &plan, forks, output).await
        }
        Command::Replay { journal } => {
            replay::replay(plugin_host(None)?, &cli.state_dir, &journal).await
        }
        Command::Inventory(args) => inventory::show(args),
        Command::Plugins { command } => plugins::run(plugin_host(None)?, command).await,
        Command::Plugin {
            command: PluginCommand::New { name, dir, lang },
        } => scaffold::new_plugin(&name, &dir, lang),
        Command::Plugin {
            command: PluginCommand::Test { dir },
        } => plugin_test::run(plugin_host(None)?, &dir).await,
        Command::Plugin {
            command: PluginCommand::Record(args),
        } => plugin_record::run(&cli.state_dir, args),
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
