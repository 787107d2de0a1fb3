//! Shared terminal output: diagnostics, colour only when the stream is a terminal.

use owo_colors::OwoColorize;

use crate::config::{Diagnostic, Severity};

/// Prints `file:line:col: error: message` and its hint to stderr.
pub(super) fn diagnostic(d: &Diagnostic) {
    let level = match d.severity {
        Severity::Error => "error".red().bold().to_string(),
        Severity::Warning => "warning".yellow().bold().to_string(),
        Severity::Info => "note".bold().to_string(),
    };
    match &d.loc {
        Some(loc) => crate::errln!("{}: {level}: {}", loc.bold(), d.message),
        None => crate::errln!("{level}: {}", d.message),
    }
    if let Some(h) = &d.hint {
        crate::errln!("  {}: {h}", "hint".cyan());
    }
}
