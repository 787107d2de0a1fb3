//! What clients need to trust the WSUS signing certificate, as files an admin hands to a
//! GPO, a ConfigMgr package or a script: the certificate (DER `.cer` and PEM), a `.reg` file
//! that sets the Windows Update policy, a PowerShell script that sets the policy and imports
//! the certificate, and a README that names the GPO path and the ConfigMgr client setting
//! that do the same.
//!
//! Without trust, clients fail third-party installs with 0x800b0109 / 0x8024b303: WUA accepts
//! content signed by a non-Microsoft certificate only when the policy "Allow signed updates
//! from an intranet Microsoft update service location" (`AcceptTrustedPublisherCerts` = 1)
//! is set and the certificate is in Trusted Publishers, and in Trusted Root too when it is
//! self-signed.
//!
//! Pure: it returns the files' names and bytes; the CLI writes them.

use base64::Engine as _;

use crate::trust::CertificateInfo;

/// The registry key of the Windows Update policies.
pub const POLICY_KEY: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate";
/// The policy value that lets WUA accept content signed by trusted publishers.
pub const POLICY_VALUE: &str = "AcceptTrustedPublisherCerts";

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustFile {
    pub name: String,
    /// `cer`, `pem`, `reg`, `ps1` or `readme`.
    pub kind: &'static str,
    pub bytes: Vec<u8>,
}

/// A certificate is its own issuer when self-signed: then clients need it in Trusted Root.
pub fn is_self_signed(c: &CertificateInfo) -> bool {
    c.subject == c.issuer
}

/// The local machine stores the certificate goes into.
pub fn stores(c: &CertificateInfo) -> Vec<&'static str> {
    if is_self_signed(c) {
        vec!["TrustedPublisher", "Root"]
    } else {
        vec!["TrustedPublisher"]
    }
}

/// Every file of the bundle for `c`.
pub fn bundle(c: &CertificateInfo) -> Vec<TrustFile> {
    let t = c.thumbprint();
    let cer = format!("wsus-signing-{t}.cer");
    vec![
        TrustFile {
            name: cer.clone(),
            kind: "cer",
            bytes: c.der.clone(),
        },
        TrustFile {
            name: format!("wsus-signing-{t}.pem"),
            kind: "pem",
            bytes: pem(&c.der).into_bytes(),
        },
        TrustFile {
            name: "accept-trusted-publisher-certs.reg".into(),
            kind: "reg",
            bytes: reg(),
        },
        TrustFile {
            name: "Install-WsusSigningTrust.ps1".into(),
            kind: "ps1",
            bytes: ps1(c, &cer).into_bytes(),
        },
        TrustFile {
            name: "README.txt".into(),
            kind: "readme",
            bytes: readme(c, &cer).into_bytes(),
        },
    ]
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// A registry file as regedit writes it: UTF-16LE with a byte-order mark, CRLF lines.
fn reg() -> Vec<u8> {
    let text = format!(
        "Windows Registry Editor Version 5.00\r\n\r\n[{POLICY_KEY}]\r\n\"{POLICY_VALUE}\"=dword:00000001\r\n"
    );
    let mut out = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

/// Idempotent: sets only what differs and prints what it changed.
fn ps1(c: &CertificateInfo, cer: &str) -> String {
    let t = c.thumbprint();
    let stores = stores(c)
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"#Requires -RunAsAdministrator
# Written by `supctl trust export`: makes this machine trust the WSUS signing certificate
# {t} ({subject}) for third-party updates.
# Safe to run again: it changes only what is not already so, and prints what it changed.
$ErrorActionPreference = 'Stop'

$thumbprint = '{t}'
$certificate = Join-Path $PSScriptRoot '{cer}'
$policy = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate'
$changed = @()

if (-not (Test-Path -Path $policy)) {{
    New-Item -Path $policy -Force | Out-Null
}}
$current = (Get-ItemProperty -Path $policy -Name '{POLICY_VALUE}' -ErrorAction SilentlyContinue).{POLICY_VALUE}
if ($current -ne 1) {{
    New-ItemProperty -Path $policy -Name '{POLICY_VALUE}' -PropertyType DWord -Value 1 -Force | Out-Null
    $changed += 'set {POLICY_VALUE} = 1'
}}

foreach ($store in @({stores})) {{
    if (-not (Test-Path -Path "Cert:\LocalMachine\$store\$thumbprint")) {{
        Import-Certificate -FilePath $certificate -CertStoreLocation "Cert:\LocalMachine\$store" | Out-Null
        $changed += "imported $thumbprint into LocalMachine\$store"
    }}
}}

if ($changed.Count -eq 0) {{
    Write-Output 'nothing to change: this machine already trusts the WSUS signing certificate'
}} else {{
    $changed | ForEach-Object {{ Write-Output $_ }}
}}
"#,
        subject = c.subject.replace(['\r', '\n'], " "),
    )
}

fn readme(c: &CertificateInfo, cer: &str) -> String {
    let t = c.thumbprint();
    let root = if is_self_signed(c) {
        "\n   It is self-signed, so it must be in Trusted Root Certification Authorities too."
    } else {
        ""
    };
    format!(
        "Client trust for the WSUS signing certificate {t}
Subject:  {subject}
Valid:    {nb} to {na}

Clients install third-party updates only when both hold:
1. The policy \"Allow signed updates from an intranet Microsoft update service location\"
   is enabled ({POLICY_KEY}, DWORD {POLICY_VALUE} = 1).
2. The certificate ({cer}) is in the machine's Trusted Publishers store.{root}

Ways to get there (one is enough):
- Configuration Manager: client setting Software Updates > \"Enable third-party software
  updates\" = Yes sets the policy and installs the signing certificate.
- Group Policy: Computer Configuration > Policies > Administrative Templates > Windows
  Components > Windows Update > \"Allow signed updates from an intranet Microsoft update
  service location\" = Enabled; and Computer Configuration > Policies > Windows Settings >
  Security Settings > Public Key Policies > Trusted Publishers (and Trusted Root
  Certification Authorities when self-signed): import {cer}.
- By hand or a script: accept-trusted-publisher-certs.reg sets the policy;
  Install-WsusSigningTrust.ps1 (as administrator) sets the policy and imports the
  certificate, changing only what is not already so. The script has not been run on
  Windows by supctl's tests (they check its text); try it on one machine first.
",
        subject = c.subject,
        nb = c.not_before.format("%Y-%m-%d"),
        na = c.not_after.format("%Y-%m-%d"),
    )
}
