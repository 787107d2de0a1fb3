//! Partner catalogs as data: the vendor catalogs pre-registered with Microsoft that ConfigMgr
//! lists in its console, plus other public vendor catalogs admins subscribe to by URL, and
//! the lookups by key, name or publisher.
//!
//! supctl ships the list built in so `kind = "partner"` works offline and reviewably. It is
//! a module of its own because both the config (which checks a partner name) and the catalog
//! code (which downloads and refreshes the list, `catalog::partners`) read it, and neither
//! may import the other.

use std::borrow::Cow;

use serde::Serialize;

/// One partner catalog. Fields borrow for the built-in list and own for parsed lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerCatalog {
    /// Short stable key used in TOML (`[catalog.dell]`) and on the command line.
    pub key: Cow<'static, str>,
    pub publisher: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub description: Cow<'static, str>,
    /// The catalog CAB (always https).
    pub url: Cow<'static, str>,
    pub support_url: Cow<'static, str>,
}

macro_rules! partner {
    ($key:expr, $publisher:expr, $name:expr, $description:expr, $url:expr, $support:expr) => {
        PartnerCatalog {
            key: Cow::Borrowed($key),
            publisher: Cow::Borrowed($publisher),
            name: Cow::Borrowed($name),
            description: Cow::Borrowed($description),
            url: Cow::Borrowed($url),
            support_url: Cow::Borrowed($support),
        }
    };
}

static BUILTIN: &[PartnerCatalog] = &[
    partner!(
        "dell",
        "Dell",
        "Dell Business Client Updates Catalog",
        "Drivers, BIOS and firmware for Dell business clients (Latitude, OptiPlex, Precision)",
        "https://downloads.dell.com/Catalog/DellSDPCatalogPC.cab",
        "https://www.dell.com/support"
    ),
    partner!(
        "dell-server",
        "Dell",
        "Dell Server Updates Catalog",
        "Drivers and firmware for Dell PowerEdge servers",
        "https://downloads.dell.com/Catalog/DellSDPCatalog.cab",
        "https://www.dell.com/support"
    ),
    partner!(
        "hp",
        "HP",
        "HP Client Updates Catalog",
        "Drivers, BIOS, firmware and software for HP business clients",
        "https://hpia.hpcloud.hp.com/downloads/sccmcatalog/HpCatalogForSms.latest.cab",
        "https://support.hp.com"
    ),
    partner!(
        "lenovo",
        "Lenovo",
        "Lenovo Updates Catalog v3",
        "Drivers, BIOS and firmware for Lenovo ThinkPad, ThinkCentre and ThinkStation, with V3 categories",
        "https://download.lenovo.com/luc/v3/LenovoUpdatesCatalogv3.cab",
        "https://support.lenovo.com"
    ),
    partner!(
        "fujitsu",
        "Fujitsu",
        "Fujitsu Updates Catalog",
        "Drivers and firmware for Fujitsu clients and servers",
        "https://support.ts.fujitsu.com/GFSMS/globalflash/FJSVUMCatalogForSCCM.cab",
        "https://support.ts.fujitsu.com"
    ),
    partner!(
        "hpe",
        "Hewlett Packard Enterprise",
        "HPE ProLiant Updates Catalog",
        "Drivers and firmware for HPE ProLiant servers",
        "https://downloads.hpe.com/pub/softlib/puc/hppuc.cab",
        "https://support.hpe.com"
    ),
    partner!(
        "adobe-acrobat",
        "Adobe",
        "Adobe Acrobat DC Catalog",
        "Adobe Acrobat DC updates",
        "https://armmf.adobe.com/arm-manifests/win/SCUP/AcrobatCatalog-DC.cab",
        "https://www.adobe.com/devnet-docs/acrobatetk/tools/DesktopDeployment/sccm.html"
    ),
    partner!(
        "adobe-reader",
        "Adobe",
        "Adobe Reader DC Catalog",
        "Adobe Acrobat Reader DC updates",
        "https://armmf.adobe.com/arm-manifests/win/SCUP/ReaderCatalog-DC.cab",
        "https://www.adobe.com/devnet-docs/acrobatetk/tools/DesktopDeployment/sccm.html"
    ),
    partner!(
        "panasonic",
        "Panasonic",
        "Panasonic Update Catalog",
        "Drivers and firmware for Panasonic Toughbook devices",
        "https://pc-dl.panasonic.co.jp/public/sccmcatalog/PanasonicUpdateCatalog.cab",
        "https://pc-dl.panasonic.co.jp"
    ),
    partner!(
        "dynabook",
        "Dynabook",
        "Dynabook Driver Pack Catalog",
        "Drivers for Dynabook (formerly Toshiba) PCs",
        "https://content.us.dynabook.com/content/support/drivers/Dynabook_DriverPack_Catalog.cab",
        "https://support.dynabook.com"
    ),
];

/// The built-in public catalog list.
pub fn builtin() -> &'static [PartnerCatalog] {
    BUILTIN
}

/// Finds a built-in catalog by key or name, ignoring case; a publisher name matches only
/// when that publisher has a single catalog ("hp" yes, "adobe" no).
pub fn find(name: &str) -> Option<&'static PartnerCatalog> {
    find_among(BUILTIN, name)
}

/// Looks a partner catalog up by key, name or (when unambiguous) publisher, ignoring case.
pub fn find_among<'a>(list: &'a [PartnerCatalog], name: &str) -> Option<&'a PartnerCatalog> {
    let n = name.trim();
    let eq = |s: &str| s.eq_ignore_ascii_case(n) || s.to_lowercase() == n.to_lowercase();
    if let Some(c) = list.iter().find(|c| eq(&c.key) || eq(&c.name)) {
        return Some(c);
    }
    let mut by_publisher = list.iter().filter(|c| eq(&c.publisher));
    match (by_publisher.next(), by_publisher.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// A partner catalog from a refreshed list when it names it, else from the built-in list.
pub fn resolve(refreshed: &[PartnerCatalog], name: &str) -> Option<PartnerCatalog> {
    find_among(refreshed, name).or_else(|| find(name)).cloned()
}
