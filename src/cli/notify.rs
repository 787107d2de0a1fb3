//! `supctl notify test [NAME]`: sends a `test` event to one `[[notify]]` rule or all, now
//! and once, and says per receiver whether it was accepted. Reads the same variables the
//! daemon reads, so a rule that works here works in `watch`.

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::{EXIT_ERROR, EXIT_OK, session};

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test event to the rule NAME, or to every [[notify]] rule; prints `sent` or
    /// the error per receiver (exit 1 if any failed).
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub config: session::ConfigArg,
    /// The rule's `name`; all rules when absent.
    pub name: Option<String>,
}

pub(super) fn run(cmd: NotifyCommand) -> anyhow::Result<u8> {
    let NotifyCommand::Test(a) = cmd;
    let (cfg, path) = session::load_config(a.config.path())?;
    let names: Vec<&str> = cfg.notify.iter().map(|r| r.name.as_str()).collect();
    let rules: Vec<_> = match &a.name {
        None if names.is_empty() => {
            return Err(anyhow!("{} has no [[notify]] rule to test", path.display()));
        }
        None => cfg.notify.iter().collect(),
        Some(n) => match cfg.notify.iter().find(|r| &r.name == n) {
            Some(r) => vec![r],
            None => {
                let hint = match crate::config::suggest(n, &names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if names.is_empty() => "the config has no [[notify]] rule".into(),
                    None => format!("rules: {}", names.join(", ")),
                };
                return Err(anyhow!("no [[notify]] rule is named `{n}`; {hint}"));
            }
        },
    };
    let rt = session::runtime()?;
    let results = rt.block_on(crate::notify::send_test(&cfg, &rules));
    let mut failed = false;
    for (name, result) in results {
        match result {
            Ok(()) => crate::outln!("{name}: sent"),
            Err(e) => {
                failed = true;
                crate::outln!("{name}: {e}");
            }
        }
    }
    Ok(if failed { EXIT_ERROR } else { EXIT_OK })
}
