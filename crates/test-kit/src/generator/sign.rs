//! Authenticode signing through `osslsigncode` (2.9 is what the fixtures were made with).
//!
//! Shelling out keeps a signing implementation out of the project: supctl only ever
//! *verifies*, and an independent signer is a better test oracle than our own code.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The code signing identity and the fixed signing time that makes outputs byte-stable.
#[derive(Debug, Clone)]
pub struct Signer {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Unix seconds written as the PKCS#9 signingTime (`osslsigncode -time`).
    pub time: i64,
}

#[derive(Debug, Clone, Copy)]
pub enum Hash {
    Sha1,
    Sha256,
}

impl Hash {
    fn arg(self) -> &'static str {
        match self {
            Hash::Sha1 => "sha1",
            Hash::Sha256 => "sha256",
        }
    }
}

/// Fails with an actionable message when osslsigncode is not installed.
pub fn require_osslsigncode() -> Result<()> {
    match Command::new("osslsigncode").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => bail!(
            "signing needs `osslsigncode` (>= 2.5) on PATH, which could not be run ({e}); \
             install it (Debian: apt-get install osslsigncode) or omit --sign-cert/--sign-key"
        ),
    }
}

impl Signer {
    /// Signs `input` into `output` (removed first: osslsigncode refuses to overwrite).
    /// `nest` adds a second signature beside an existing one instead of replacing it.
    pub fn sign(
        &self,
        input: &Path,
        output: &Path,
        hash: Hash,
        nest: bool,
        description: &str,
    ) -> Result<()> {
        let _ = std::fs::remove_file(output);
        let mut cmd = Command::new("osslsigncode");
        cmd.arg("sign");
        if nest {
            cmd.arg("-nest");
        }
        cmd.arg("-certs")
            .arg(&self.cert)
            .arg("-key")
            .arg(&self.key)
            .args(["-h", hash.arg(), "-n", description, "-time"])
            .arg(self.time.to_string())
            .arg("-in")
            .arg(input)
            .arg("-out")
            .arg(output);
        let out = cmd
            .output()
            .with_context(|| format!("running osslsigncode on {}", input.display()))?;
        if !out.status.success() {
            bail!(
                "osslsigncode failed to sign {} ({}):\n{}{}",
                input.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// SHA-1 then a nested SHA-256 signature, what vendors ship for catalogs that old and
    /// new ConfigMgr versions both accept.
    pub fn sign_dual(&self, input: &Path, output: &Path, description: &str) -> Result<()> {
        let mid = output.with_extension("sha1.tmp");
        self.sign(input, &mid, Hash::Sha1, false, description)?;
        let r = self.sign(&mid, output, Hash::Sha256, true, description);
        let _ = std::fs::remove_file(&mid);
        r
    }
}
