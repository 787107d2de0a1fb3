//! `supctl completions <shell>` and `supctl man [--out DIR]`: shell completions and manual
//! pages generated from the command line definition itself, so they cannot drift from it.
//! Packagers run them at build time; admins can run them on the machine.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, EXIT_OK};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, powershell or elvish
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write supctl.1 and one page per subcommand (supctl-plan.1, …) into this directory,
    /// instead of printing supctl.1
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Prints the completion script for `shell` (e.g. `supctl completions bash > /etc/bash_completion.d/supctl`).
pub(super) fn completions(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = visible_only(&Cli::command());
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "supctl", &mut stdout);
    stdout.flush()?;
    Ok(EXIT_OK)
}

/// `cmd` without its hidden subcommands, at every level. clap_complete offers hidden
/// subcommands (test and benchmark drivers) like any other (clap-rs/clap#1335), and `Command`
/// cannot drop a subcommand, so the tree is re-assembled from each command's own name,
/// about text, arguments and argument groups: nothing of the command line is restated here.
fn visible_only(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string())
        .args(cmd.get_arguments().cloned())
        .groups(cmd.get_groups().cloned());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    if cmd.is_propagate_version_set() {
        out = out.propagate_version(true);
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out = out.subcommand(visible_only(sub));
    }
    out
}

/// Prints `supctl.1`, or writes every page into `--out`.
pub(super) fn man(args: ManArgs) -> anyhow::Result<u8> {
    // As clap_mangen's own `generate_to`: no `help` pseudo-command, and built so that
    // subcommands carry their `supctl-…` display names.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let Some(dir) = args.out else {
        let mut stdout = std::io::stdout().lock();
        clap_mangen::Man::new(cmd).render(&mut stdout)?;
        stdout.flush()?;
        return Ok(EXIT_OK);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    write_pages(cmd, &dir, &mut written)?;
    for p in &written {
        println!("{}", p.display());
    }
    Ok(EXIT_OK)
}

/// One page per visible command, depth first; each written to a temporary file and renamed
/// into place, so a page is never seen half written.
fn write_pages(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), dir, written)?;
    }
    let man = clap_mangen::Man::new(cmd);
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    tmp.write_all(&page)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    Ok(())
}
