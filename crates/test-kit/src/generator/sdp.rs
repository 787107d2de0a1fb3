//! Writes `SystemsManagementCatalog` XML and standalone `V2\<id>.sdp` documents.
//!
//! One package's bytes depend only on (seed, package): [`write_package`] draws the
//! applicability rules from a PRNG stream keyed by the package index, so the catalog XML
//! streams package by package and each V2 file is the same package regenerated.

use std::io::{self, Write};

use base64::Engine as _;

use super::model::{Arch, Catalog, Installer, Item, Kind, Package};
use super::rng::Rng;
use super::xml::{NS, X};

const SALT_RULES: u64 = 4;
const BOM: &[u8] = b"\xEF\xBB\xBF";
const DECL: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\r\n";

/// Every namespace on one element, as HP's root (and every V2 file) does.
fn write_ns_decls<W: Write + ?Sized>(w: &mut W) -> io::Result<()> {
    w.write_all(b" xmlns=\"http://www.w3.org/2001/XMLSchema\"")?;
    for (p, u) in NS {
        write!(w, " xmlns:{p}=\"{u}\"")?;
    }
    Ok(())
}

pub fn write_catalog_head<W: Write + ?Sized>(w: &mut W) -> io::Result<()> {
    w.write_all(BOM)?;
    w.write_all(DECL)?;
    w.write_all(b"<smc:SystemsManagementCatalog")?;
    write_ns_decls(w)?;
    w.write_all(b">\r\n")
}

pub fn write_catalog_tail<W: Write + ?Sized>(w: &mut W) -> io::Result<()> {
    w.write_all(b"</smc:SystemsManagementCatalog>\r\n")
}

/// A `V2\<id>.sdp`: the same package as a document of its own (HP style: BOM, declaration,
/// root `sdp:SoftwareDistributionPackage` declaring every namespace, `SchemaVersion` 1.2).
pub fn write_standalone<W: Write + ?Sized>(
    w: &mut W,
    cat: &Catalog,
    p: &Package,
    seed: u64,
) -> io::Result<()> {
    w.write_all(BOM)?;
    w.write_all(DECL)?;
    write_package(w, cat, p, seed, true)
}

/// One package. In the catalog (`standalone == false`) the element is
/// `smc:SoftwareDistributionPackage` at depth 1 relying on the root's declarations.
pub fn write_package<W: Write + ?Sized>(
    w: &mut W,
    cat: &Catalog,
    p: &Package,
    seed: u64,
    standalone: bool,
) -> io::Result<()> {
    let mut r = Rng::derive(seed, SALT_RULES, p.index as u64);
    let (tag, depth, schema) = if standalone {
        ("sdp:SoftwareDistributionPackage", 0, "1.2")
    } else {
        ("smc:SoftwareDistributionPackage", 1, p.schema_version)
    };
    for _ in 0..depth {
        w.write_all(b"  ")?;
    }
    write!(w, "<{tag} SchemaVersion=\"{schema}\"")?;
    if standalone {
        write_ns_decls(w)?;
    }
    w.write_all(b">\r\n")?;
    let mut x = X::new(w, depth + 1, p.redeclare);

    let mut props = vec![
        ("PackageID", p.id.as_str()),
        ("CreationDate", p.created.as_str()),
        ("VendorName", p.vendor.as_deref().unwrap_or(&cat.vendor)),
    ];
    if p.redeclare {
        props.extend([
            ("PublicationState", "Published"),
            ("UpdateType", p.update_type),
        ]);
    } else if p.update_type != "Software" {
        props.push(("UpdateType", p.update_type));
    }
    x.open_ns("sdp:Properties", &props)?;
    x.text(
        "sdp:MoreInfoUrl",
        &format!("https://support.contoso.example/kb/{}", p.kb),
    )?;
    x.text("sdp:SupportUrl", "https://support.contoso.example")?;
    x.text("sdp:ProductName", &p.product)?;
    x.close("sdp:Properties")?;

    for _ in 0..if p.duplicate_localized { 2 } else { 1 } {
        x.open_ns("sdp:LocalizedProperties", &[])?;
        x.text("sdp:Language", "en")?;
        x.text("sdp:Title", &p.title)?;
        x.text("sdp:Description", &p.description)?;
        x.close("sdp:LocalizedProperties")?;
    }

    let mut usd = vec![("UpdateClassification", p.classification)];
    if let Some(s) = p.severity {
        usd.insert(0, ("MsrcSeverity", s));
    }
    x.open_ns("sdp:UpdateSpecificData", &usd)?;
    if p.kind == Kind::Driver {
        x.text("sdp:SecurityBulletinID", &p.kb)?;
    }
    for cve in &p.cves {
        x.text("sdp:CveID", cve)?;
    }
    x.text("sdp:KBArticleID", &p.kb)?;
    x.close("sdp:UpdateSpecificData")?;

    x.open_ns("sdp:IsInstallable", &[])?;
    x.open_ns("lar:And", &[])?;
    wmi(
        &mut x,
        "Root\\cimv2",
        "select * from Win32_ComputerSystem where (Manufacturer='Contoso' and not (Model like '%Server%')) or (Manufacturer='Contoso Ltd.') ",
    )?;
    os_matrix(&mut x, &mut r, Arch::Any)?;
    x.close("lar:And")?;
    x.close("sdp:IsInstallable")?;

    if !p.superseded.is_empty() {
        x.open_ns("sdp:SupersededPackages", &[])?;
        for &old in &p.superseded {
            x.text("sdp:PackageID", &cat.packages[old as usize].id)?;
        }
        x.close("sdp:SupersededPackages")?;
    } else if p.empty_superseded_element {
        x.leaf_ns("sdp:SupersededPackages", &[])?;
    }

    for item in &p.items {
        installable_item(&mut x, &mut r, p, item)?;
    }
    for _ in 0..depth {
        w.write_all(b"  ")?;
    }
    write!(w, "</{tag}>\r\n")
}

fn wmi<W: Write + ?Sized>(x: &mut X<W>, ns: &str, q: &str) -> io::Result<()> {
    x.leaf_ns("bar:WmiQuery", &[("Namespace", ns), ("WqlQuery", q)])
}

/// `lar:Or` of (processor, Windows version) pairs, HP's way of listing supported systems.
fn os_matrix<W: Write + ?Sized>(x: &mut X<W>, r: &mut Rng, arch: Arch) -> io::Result<()> {
    const BUILDS: &[&str] = &[
        "17763", "19041", "19044", "19045", "22000", "22621", "22631", "26100",
    ];
    let archs: &[&str] = match arch {
        Arch::X86 => &["0"],
        Arch::X64 => &["9"],
        Arch::Any => &["0", "9"],
    };
    let first = r.below(4) as usize;
    let count = r.range(1, 3) as usize;
    x.open_ns("lar:Or", &[])?;
    for a in archs {
        for b in BUILDS.iter().skip(first).take(count) {
            x.open("lar:And", &[])?;
            x.leaf_ns("bar:Processor", &[("Architecture", a)])?;
            x.leaf_ns(
                "bar:WindowsVersion",
                &[
                    ("Comparison", "GreaterThanOrEqualTo"),
                    ("MajorVersion", "10"),
                    ("MinorVersion", "0"),
                    ("BuildNumber", b),
                ],
            )?;
            x.close("lar:And")?;
        }
    }
    x.close("lar:Or")
}

/// Plug-and-play ids with `&` (escaped to `&amp;`), as vendors write WQL for devices.
fn pnp_query(r: &mut Rng, n: u64) -> String {
    let clauses: Vec<String> = (0..n)
        .map(|_| {
            format!(
                "DeviceID LIKE '%PCI\\\\VEN_{:04X}&DEV_{:04X}%'",
                r.pick(&[0x8086u64, 0x10EC, 0x1002, 0x10DE, 0x14E4, 0x168C]),
                r.below(0x10000)
            )
        })
        .collect();
    format!(
        "select * from Win32_PnpEntity where {}",
        clauses.join(" or ")
    )
}

fn installable_item<W: Write + ?Sized>(
    x: &mut X<W>,
    r: &mut Rng,
    p: &Package,
    item: &Item,
) -> io::Result<()> {
    x.open_ns("sdp:InstallableItem", &[("ID", item.id.as_str())])?;
    x.open("sdp:ApplicabilityRules", &[])?;

    x.open("sdp:IsInstalled", &[])?;
    match (&p.installer, p.kind) {
        (Installer::Msi { product_code }, _) => x.leaf_ns(
            "msiar:MsiProductInstalled",
            &[
                ("ProductCode", &format!("{{{product_code}}}")),
                ("VersionMin", &p.version),
            ],
        )?,
        (_, Kind::Driver) => {
            x.open("lar:And", &[])?;
            wmi(x, "Root\\cimv2", &{
                let n = r.range(2, 8);
                pnp_query(r, n)
            })?;
            x.leaf_ns(
                "bar:FileVersion",
                &[
                    ("Csidl", "37"),
                    ("Path", &format!("drivers\\{}.sys", p.kb)),
                    ("Comparison", "GreaterThanOrEqualTo"),
                    ("Version", &p.version),
                ],
            )?;
            x.close("lar:And")?;
        }
        (_, Kind::Firmware) => wmi(
            x,
            "Root\\cimv2",
            &format!(
                "select * from Win32_BIOS where SMBIOSBIOSVersion >= '{}'",
                p.version
            ),
        )?,
        (_, Kind::Software) => {
            x.open("lar:Or", &[])?;
            x.leaf_ns(
                "bar:RegSz",
                &[
                    ("Key", "HKEY_LOCAL_MACHINE"),
                    ("Subkey", &format!("SOFTWARE\\Contoso\\{}", p.product)),
                    ("Value", "Version"),
                    ("Comparison", "EqualTo"),
                    ("Data", &p.version),
                ],
            )?;
            x.leaf_ns(
                "bar:FileVersion",
                &[
                    ("Csidl", "38"),
                    ("Path", &format!("Contoso\\{}\\app.exe", p.product)),
                    ("Comparison", "GreaterThanOrEqualTo"),
                    ("Version", &p.version),
                ],
            )?;
            x.close("lar:Or")?;
        }
    }
    x.close("sdp:IsInstalled")?;

    x.open("sdp:IsInstallable", &[])?;
    x.open("lar:And", &[])?;
    wmi(
        x,
        "Root\\cimv2",
        &format!(
            "select * from Win32_ComputerSystem where Manufacturer = 'Contoso' and Model like '%{}%'",
            p.kb
        ),
    )?;
    os_matrix(x, r, item.arch)?;
    x.open("lar:Not", &[])?;
    x.leaf_ns(
        "bar:RegKeyExists",
        &[
            ("Key", "HKEY_LOCAL_MACHINE"),
            ("Subkey", "SOFTWARE\\Contoso\\NoAutoUpdate"),
        ],
    )?;
    x.close("lar:Not")?;
    if p.kind == Kind::Driver {
        let groups = if p.large { r.range(40, 150) } else { 1 };
        x.open("lar:Or", &[])?;
        for g in 0..groups {
            if p.large && g % 3 == 2 {
                x.open("lar:Not", &[])?;
                wmi(x, "Root\\cimv2", &pnp_query(r, 2))?;
                x.close("lar:Not")?;
            }
            for _ in 0..r.range(2, 5) {
                wmi(x, "Root\\cimv2", &pnp_query(r, 1))?;
            }
        }
        x.close("lar:Or")?;
    }
    x.close("lar:And")?;
    x.close("sdp:IsInstallable")?;
    x.close("sdp:ApplicabilityRules")?;

    let reboot = if p.kind == Kind::Firmware {
        "AlwaysRequiresReboot"
    } else {
        "CanRequestReboot"
    };
    x.leaf(
        "sdp:InstallProperties",
        &[
            ("CanRequestUserInput", "false"),
            ("Impact", "Normal"),
            ("RequiresNetworkConnectivity", "false"),
            ("RebootBehavior", reboot),
        ],
    )?;
    if p.uninstallable {
        x.leaf(
            "sdp:UninstallProperties",
            &[
                ("CanRequestUserInput", "false"),
                ("Impact", "Normal"),
                ("RequiresNetworkConnectivity", "false"),
                ("RebootBehavior", reboot),
            ],
        )?;
    }
    match &p.installer {
        Installer::Msi { product_code } => x.leaf_ns(
            "msi:MsiInstallerData",
            &[
                ("CommandLine", "REBOOT=ReallySuppress"),
                ("MsiFile", &item.file_name),
                ("ProductCode", &format!("{{{product_code}}}")),
            ],
        )?,
        Installer::CommandLine { arguments } => {
            x.open_ns(
                "cmd:CommandLineInstallerData",
                &[
                    ("Program", &item.file_name),
                    ("Arguments", arguments),
                    ("DefaultResult", "Failed"),
                    ("RebootByDefault", "false"),
                ],
            )?;
            x.leaf(
                "cmd:ReturnCode",
                &[("Code", "0"), ("Result", "Succeeded"), ("Reboot", "false")],
            )?;
            x.leaf(
                "cmd:ReturnCode",
                &[
                    ("Code", "3010"),
                    ("Result", "Succeeded"),
                    ("Reboot", "true"),
                ],
            )?;
            x.leaf(
                "cmd:ReturnCode",
                &[
                    ("Code", "1641"),
                    ("Result", "Succeeded"),
                    ("Reboot", "true"),
                ],
            )?;
            x.close("cmd:CommandLineInstallerData")?;
        }
    }
    let digest = base64::engine::general_purpose::STANDARD.encode(item.file.sha1);
    x.leaf(
        "sdp:OriginFile",
        &[
            ("Digest", &digest),
            ("FileName", &item.file_name),
            ("Size", &item.file.size.to_string()),
            ("Modified", &item.file.modified),
            (
                "OriginUri",
                &format!("https://content.contoso.example/{}", item.file_name),
            ),
        ],
    )?;
    if item.arch != Arch::Any {
        x.text("sdp:Language", "en")?;
    }
    x.close("sdp:InstallableItem")
}
