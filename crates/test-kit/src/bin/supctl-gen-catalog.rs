//! `supctl-gen-catalog`: writes a realistic, deterministic, optionally signed catalog CAB
//! (v3 by default, `--format v1|v2` for the older generations) and its content, for
//! benchmarks, the offline quickstart and the end-to-end tests.
//!
//! Build with `cargo build --release -p supctl-test-kit --bin supctl-gen-catalog`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use supctl_test_kit::generator::{Format, Options, Profile, Signer};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProfileArg {
    /// N updates shaped like a vendor catalog (needs --updates).
    Bench,
    /// The four Contoso updates of examples/quickstart.
    Quickstart,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    /// The catalog XML and V2\ only (no content certificates, no categories).
    V1,
    /// Adds ContentCertificates\.
    V2,
    /// Adds the V3\ category tree.
    V3,
}

/// Generate a signed v3 third-party update catalog for tests and benchmarks.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[arg(long, value_enum, default_value = "bench")]
    profile: ProfileArg,
    /// Catalog CAB generation: which folders the CAB holds.
    #[arg(long, value_enum, default_value = "v3")]
    format: FormatArg,
    /// Number of updates (bench profile).
    #[arg(long, required_if_eq("profile", "bench"))]
    updates: Option<usize>,
    /// Seed of the deterministic generator: same seed and options, same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output CAB path.
    #[arg(long)]
    out: PathBuf,
    /// Child categories under the vendor root (bench; default about updates/12).
    #[arg(long)]
    categories: Option<usize>,
    /// Also write each update's origin files into this folder.
    #[arg(long)]
    content_dir: Option<PathBuf>,
    /// Unsigned size of each origin file in bytes (rounded up to 512).
    #[arg(long, default_value_t = 4096)]
    content_size: usize,
    /// Code signing certificate (PEM) for the CAB and the content.
    #[arg(long, requires_all = ["sign_key", "sign_time"])]
    sign_cert: Option<PathBuf>,
    /// Private key of --sign-cert.
    #[arg(long, requires = "sign_cert")]
    sign_key: Option<PathBuf>,
    /// Signing time (Unix seconds) written into every signature, for byte-stable output.
    #[arg(long, requires = "sign_cert")]
    sign_time: Option<i64>,
    /// Certificate (DER or PEM) to ship as ContentCertificates\<SHA1>.cer; repeatable.
    #[arg(long)]
    content_cert: Vec<PathBuf>,
    /// Leave the first N origin files unsigned (their digest stays true): tests of 11516.
    #[arg(long, default_value_t = 0, requires = "content_dir")]
    unsigned_content: usize,
    /// Sign the content with this certificate (PEM) instead of --sign-cert: tests of a
    /// content certificate that is not approved.
    #[arg(long, requires_all = ["content_sign_key", "sign_time", "content_dir"])]
    content_sign_cert: Option<PathBuf>,
    /// Private key of --content-sign-cert.
    #[arg(long, requires = "content_sign_cert")]
    content_sign_key: Option<PathBuf>,
    /// The first N packages support uninstalling (`UninstallProperties`): tests of
    /// `uninstall` approvals.
    #[arg(long, default_value_t = 0)]
    uninstallable: usize,
    /// Leave out the `V2\<id>.sdp` copy of each package (a cabinet holds at most 65,535
    /// files: needed above about 65,000 updates).
    #[arg(long)]
    no_v2_copies: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let profile = match a.profile {
        ProfileArg::Bench => Profile::Bench {
            updates: a.updates.unwrap_or(0),
            categories: a.categories,
        },
        ProfileArg::Quickstart => Profile::Quickstart,
    };
    let signer = match (a.sign_cert, a.sign_key, a.sign_time) {
        (Some(cert), Some(key), Some(time)) => Some(Signer { cert, key, time }),
        _ => None,
    };
    let content_signer = match (a.content_sign_cert, a.content_sign_key, a.sign_time) {
        (Some(cert), Some(key), Some(time)) => Some(Signer { cert, key, time }),
        _ => None,
    };
    let opts = Options {
        profile,
        format: match a.format {
            FormatArg::V1 => Format::V1,
            FormatArg::V2 => Format::V2,
            FormatArg::V3 => Format::V3,
        },
        seed: a.seed,
        out: a.out,
        content_dir: a.content_dir,
        content_size: a.content_size,
        signer,
        content_certs: a.content_cert,
        unsigned_content: a.unsigned_content,
        content_signer,
        uninstallable: a.uninstallable,
        v2_copies: !a.no_v2_copies,
    };
    match supctl_test_kit::generator::run(&opts) {
        Ok(s) => {
            println!(
                "wrote {} ({} updates, {} categories, {} content certificates, {} content files, {} B uncompressed, {} B cab{})",
                opts.out.display(),
                s.updates.len(),
                s.categories.len(),
                s.content_certs.len(),
                s.content_files,
                s.payload_bytes,
                s.cab_bytes,
                if s.signed {
                    ", signed SHA-1 + SHA-256"
                } else {
                    ""
                }
            );
            if s.updates.len() <= 20 {
                for (id, title) in &s.updates {
                    println!("  update   {id}  {title}");
                }
                for (path, id, n) in &s.categories {
                    println!("  category {id}  {path} ({n} members)");
                }
                for t in &s.content_certs {
                    println!("  content certificate {t}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("supctl-gen-catalog: {e:#}");
            ExitCode::FAILURE
        }
    }
}
