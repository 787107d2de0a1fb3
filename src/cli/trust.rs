//! `supctl trust export`: the files clients need to trust the WSUS signing certificate in
//! force (see `signing::client_trust`), written to a directory, and a record of what was
//! exported so `status` can say when clients were given another certificate.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::ids::Thumbprint;
use crate::signing::KeyDir;
use crate::signing::client_trust::{self, TrustFile};
use crate::signing::keys::ExportRecord;
use crate::store::db::OpenOptions;
use crate::store::embedded::EmbeddedServer;
use crate::store::{ActualState, CertKind, UpdateServer as _};
use crate::trust::CertificateInfo;

use super::store::{StoreArgs, emit, print_json};

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Write what clients need to trust the WSUS signing certificate: the certificate (.cer,
    /// .pem), a .reg file and a PowerShell script that set AcceptTrustedPublisherCerts and
    /// import it, and a README naming the GPO and ConfigMgr settings that do the same.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Directory to write into (created when missing).
    #[arg(long, value_name = "DIR", default_value = "wsus-signing-trust")]
    out: PathBuf,
}

#[derive(Serialize)]
struct Exported {
    dir: PathBuf,
    thumbprint: Thumbprint,
    subject: String,
    not_after: chrono::DateTime<chrono::Utc>,
    self_signed: bool,
    stores: Vec<&'static str>,
    files: Vec<FileView>,
}

#[derive(Serialize)]
struct FileView {
    path: PathBuf,
    kind: &'static str,
}

pub fn run(cmd: TrustCommand) -> anyhow::Result<u8> {
    let TrustCommand::Export(a) = cmd;
    let cfg = a.store.config()?;
    let location = a.store.location_of(cfg.as_ref());
    // A WSUS keeps its own certificate: read it from the server; else from the state.
    let actual = match &cfg {
        Some(c) if c.server.backend == crate::config::BackendKind::Wsus => {
            super::session::open_existing_backend(c)?.snapshot()?
        }
        _ => EmbeddedServer::open(&location, OpenOptions::read())?.snapshot()?,
    };
    let cert = in_force(&actual)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let files = client_trust::bundle(&cert);
    let mut views = Vec::new();
    for f in &files {
        views.push(FileView {
            path: write(&a.out, f)?,
            kind: f.kind,
        });
    }
    KeyDir::new(location.dir()).record_export(&ExportRecord {
        thumbprint: cert.thumbprint(),
        at: chrono::Utc::now(),
        dir: std::path::absolute(&a.out).unwrap_or_else(|_| a.out.clone()),
    })?;
    let out = Exported {
        dir: a.out.clone(),
        thumbprint: cert.thumbprint(),
        subject: cert.subject.clone(),
        not_after: cert.not_after,
        self_signed: client_trust::is_self_signed(&cert),
        stores: client_trust::stores(&cert),
        files: views,
    };
    if a.store.json {
        print_json(&out)?;
        return Ok(super::EXIT_OK);
    }
    let mut text = String::new();
    let _ = writeln!(
        text,
        "WSUS signing certificate {} ({}), valid until {}{}",
        out.thumbprint,
        out.subject,
        out.not_after.format("%Y-%m-%d"),
        if out.self_signed { ", self-signed" } else { "" }
    );
    for f in &out.files {
        let _ = writeln!(text, "  wrote {:<6}  {}", f.kind, f.path.display());
    }
    let _ = writeln!(
        text,
        "Clients need it in LocalMachine\\{} and AcceptTrustedPublisherCerts = 1: see README.txt.",
        out.stores.join(" and LocalMachine\\")
    );
    emit(&text)?;
    Ok(super::EXIT_OK)
}

/// The signing certificate in force, with its DER.
fn in_force(actual: &ActualState) -> anyhow::Result<CertificateInfo> {
    let Some(t) = actual.signing.as_ref().and_then(|s| s.certificate.clone()) else {
        bail!(
            "the update server has no signing certificate in force: add [signing] mode = \"managed\" (or \"manual\") to the config and apply it"
        );
    };
    actual
        .certificates
        .iter()
        .filter(|c| c.kind == CertKind::WsusSigning && c.matches(&t))
        .find_map(|c| c.facts.clone().filter(|f| !f.der.is_empty()))
        .with_context(|| format!("the signing certificate {t} is in force, but supctl does not hold its bytes: apply [signing] again, or export it from the server's console"))
}

/// Certificates and scripts are public: readable by the share that hands them out.
fn write(dir: &std::path::Path, f: &TrustFile) -> anyhow::Result<PathBuf> {
    let path = dir.join(&f.name);
    crate::signing::keys::write_atomic(&path, &f.bytes, 0o644)?;
    Ok(path)
}
