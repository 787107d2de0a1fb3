//! What every fuzz target shares: the panic rule, a fixed clock, limits sized for a fuzzer's
//! memory, and a scratch file for the readers that take a path.
//!
//! The panic rule: a panic in supctl's own code is a finding, even where a `catch_unwind`
//! would turn it into an error report (libfuzzer-sys aborts on every panic). A panic inside a
//! dependency that supctl deliberately runs under `catch_unwind` (the LZX decoder, goblin's PE
//! walk) is that guard doing its job, so it is allowed to unwind to the guard; if nothing
//! catches it, libfuzzer-sys still aborts when it reaches the harness.

use std::path::PathBuf;
use std::sync::Once;

use chrono::{DateTime, TimeZone, Utc};
use supctl::catalog::limits::CatalogLimits;

static GUARD: Once = Once::new();

/// Installs the panic rule once per process, on top of libfuzzer-sys's aborting hook.
pub fn guard() {
    GUARD.call_once(|| {
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_dependency = info
                .location()
                .is_some_and(|l| l.file().contains("/.cargo/registry/"));
            if !in_dependency {
                abort_hook(info);
            }
        }));
    });
}

/// The clock the signature and certificate checks see: fixed, so a finding reproduces.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// The catalog limits, scaled down so that an input under them stays far inside libFuzzer's
/// default 2 GiB RSS limit: an out-of-memory report then means a bound that does not hold.
pub fn limits() -> CatalogLimits {
    CatalogLimits {
        updates: 10_000,
        package_bytes: 1 << 20,
        text_bytes: 256 << 10,
        languages: 1_000,
        inflated_bytes: 64 << 20,
    }
}

/// A per-process scratch path named `name` (tmpfs when there is one), for readers that only
/// take a path: the config loader and the plan-file reader.
pub fn scratch(name: &str) -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("supctl-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir.join(name)
}

/// Splits an input into the several files some readers take at once (V3 categories), at
/// `#next#` + newline: plain ASCII, so UTF-16 seeds (whose BOMs hold 0xFF) stay intact.
pub fn files(data: &[u8]) -> Vec<&[u8]> {
    const SEP: &[u8] = b"#next#\n";
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(SEP.len()).position(|w| w == SEP) {
        out.push(&rest[..at]);
        rest = &rest[at + SEP.len()..];
    }
    out.push(rest);
    out
}
