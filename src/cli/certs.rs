//! `supctl certs list`: every stored certificate with its role, state, expiry and uses.

use std::fmt::Write as _;

use clap::Subcommand;

use crate::store::db::OpenOptions;
use crate::store::embedded::EmbeddedServer;
use crate::store::query::certificate_rows;

use super::store::{StoreArgs, emit, print_json};

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// List certificates (catalog signers, content signers, WSUS signing).
    List(StoreArgs),
}

pub fn run(cmd: CertsCommand) -> anyhow::Result<u8> {
    let CertsCommand::List(a) = cmd;
    let backend = EmbeddedServer::open(&a.location()?, OpenOptions::read())?;
    let rows = certificate_rows(&backend.snapshot_settings()?, chrono::Utc::now());
    if a.json {
        print_json(&rows)?;
        return Ok(super::EXIT_OK);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<40}  {:<12}  {:<8}  {:<10}  {:<30}  USED BY",
        "THUMBPRINT", "KIND", "STATE", "EXPIRES", "SUBJECT"
    );
    for r in &rows {
        let expires = match r.not_after {
            Some(t) if r.expired => format!("{} (expired)", t.format("%Y-%m-%d")),
            Some(t) => t.format("%Y-%m-%d").to_string(),
            None => "-".into(),
        };
        let used: Vec<&str> = r.used_by.iter().map(|a| a.as_str()).collect();
        let _ = writeln!(
            out,
            "{:<40}  {:<12}  {:<8}  {:<10}  {:<30}  {}",
            // Padding needs strings: these types' Display ignores width.
            r.thumbprint.to_string(),
            r.kind.to_string(),
            r.state.to_string(),
            expires,
            r.subject.as_deref().unwrap_or("-"),
            if used.is_empty() {
                "-".to_string()
            } else {
                used.join(", ")
            }
        );
    }
    let _ = writeln!(out, "{} certificate(s)", rows.len());
    emit(&out)?;
    Ok(super::EXIT_OK)
}
