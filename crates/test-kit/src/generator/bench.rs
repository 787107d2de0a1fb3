//! The benchmark profile: N updates shaped like a real vendor catalog.
//!
//! Packages come in *series* (one driver, BIOS or tool for one model line) with several
//! versions each; a version supersedes every older version of its series, as the XSD asks
//! ("all recursively superseded packages should be explicitly listed"), so the catalog has
//! real supersedence chains. Mixes (products, classifications, date forms, namespace
//! styles, installer kinds, empty/null/bare-string category members) follow what the HP,
//! Dell and Lenovo catalogs contain (`catalog-format.md` §3, §5, §6).

use super::model::{
    Arch, Catalog, Category, DateStyle, FileFacts, Installer, Item, Kind, Package, format_date,
};
use super::rng::Rng;

const SALT_SKELETON: u64 = 1;
const SALT_CATEGORIES: u64 = 2;

const COMPONENTS: &[&str] = &[
    "Audio",
    "Video",
    "Chipset",
    "Ethernet",
    "Wireless LAN",
    "Bluetooth",
    "Card Reader",
    "Touchpad",
    "Camera",
    "Thunderbolt",
    "Storage Controller",
    "Fingerprint Reader",
];
const LINES: &[&str] = &["Book", "Desk", "Tower", "Slate", "Dock", "Station"];
const TOOLS: &[&str] = &[
    "Contoso Tool",
    "Contoso Agent",
    "Contoso Hotkey Utility",
    "Contoso Power Manager",
    "Contoso System Update",
    "Contoso Display Control",
];

/// Versions per series, on average; N / this many series.
const VERSIONS_PER_SERIES: usize = 4;
/// Longest supersedence list written (HP lists up to ~40; keep the skeleton small).
const MAX_SUPERSEDED: usize = 12;

/// Default number of child categories: about Lenovo's ratio (265 for 3,063 updates).
pub fn default_categories(updates: usize) -> usize {
    (updates / 12).clamp(2, 500)
}

pub fn build(seed: u64, updates: usize, categories: usize) -> Catalog {
    let series = updates.div_ceil(VERSIONS_PER_SERIES).max(1);
    let mut packages = Vec::with_capacity(updates);
    for index in 0..updates {
        packages.push(package(seed, index, series));
    }
    let categories = assign_categories(seed, &packages, series, categories.max(1));
    Catalog {
        vendor: "Contoso".into(),
        xml_name: "ContosoUpdatesCatalog".into(),
        packages,
        categories,
    }
}

/// `vendors × products` updates, one per (vendor, product): the benchmark catalog with its
/// packages spread over several vendors (`Package::vendor`), for the category-limit tests.
pub fn vendors(seed: u64, vendors: usize, products: usize) -> Catalog {
    let products = products.max(1);
    let updates = vendors.max(1) * products;
    let mut cat = build(seed, updates, default_categories(updates));
    for p in &mut cat.packages {
        p.vendor = Some(format!("Vendor {:03}", p.index / products));
        p.product = format!("Product {:02}", p.index % products);
    }
    cat
}

fn package(seed: u64, index: usize, series: usize) -> Package {
    let s = index % series;
    let generation = index / series;
    // Series-level facts come from a stream keyed by the series, so every version agrees.
    let mut sr = Rng::derive(seed, SALT_SKELETON, s as u64 | 1 << 40);
    let mut r = Rng::derive(seed, SALT_SKELETON, index as u64);
    let kind = match sr.below(10) {
        0..=5 => Kind::Driver,
        6..=7 => Kind::Firmware,
        _ => Kind::Software,
    };
    let line = *sr.pick(LINES);
    let model = format!("Contoso {line} {}", 100 + sr.below(900));
    let major = sr.range(1, 24);
    let version = format!("{major}.{}.{}.{}", generation, sr.below(100), r.below(9000));
    let kb = format!("cts{:06}", index + 1);

    let (title, product, classification, update_type) = match kind {
        Kind::Driver => {
            let comp = *sr.pick(COMPONENTS);
            let class = if sr.chance(30) { "Drivers" } else { "Updates" };
            let utype = if sr.chance(20) { "Driver" } else { "Software" };
            (
                format!("{comp} Driver for {model} [{version}]"),
                "Driver",
                class,
                utype,
            )
        }
        Kind::Firmware => (
            format!("{model} System BIOS [{version}]"),
            "Firmware",
            if sr.chance(50) {
                "Critical Updates"
            } else {
                "Updates"
            },
            "Software",
        ),
        Kind::Software => {
            let tool = *sr.pick(TOOLS);
            let class = *sr.pick(&["Updates", "Security Updates", "Feature Packs", "Tools"]);
            (format!("{tool} {version}"), tool, class, "Software")
        }
    };
    let severity = match classification {
        "Security Updates" | "Critical Updates" => {
            Some(*r.pick(&["Critical", "Important", "Moderate"]))
        }
        _ if r.chance(60) => Some(*r.pick(&["Important", "Moderate", "Low"])),
        _ => None,
    };
    let cves = if classification == "Security Updates" {
        (0..r.range(1, 3))
            .map(|_| format!("CVE-20{}-{}", r.range(17, 25), r.range(1000, 49999)))
            .collect()
    } else {
        Vec::new()
    };
    let description = format!(
        "[{version}] This package provides the {title} for the {line} models listed in the \
         supported systems and operating systems. It addresses stability issues, improves \
         compatibility and {}.",
        r.pick(&[
            "adds support for new peripherals",
            "fixes a power management issue",
            "resolves an installation failure on some configurations",
            "updates security mitigations"
        ])
    );

    // Older versions of the same series (index - k*series), newest first.
    let chained = sr.below(5) < 3;
    let superseded = if chained {
        (1..=generation.min(MAX_SUPERSEDED))
            .map(|k| (index - k * series) as u32)
            .collect()
    } else {
        Vec::new()
    };

    let style = match r.below(10) {
        0..=3 => DateStyle::Millis,
        4..=6 => DateStyle::Zoneless,
        7..=8 => DateStyle::Zulu,
        _ => DateStyle::Offset,
    };
    // Each generation is ~90 days after the previous one, starting 2016.
    let secs =
        (16 * 365 + generation as i64 * 90 + sr.below(60) as i64) * 86_400 + r.below(86_400) as i64;
    let created = format_date(secs, style, r.below(1000) as u32);
    let modified = format_date(secs - 86_400 * r.range(1, 20) as i64, DateStyle::Zulu, 0);

    let msi = kind == Kind::Software && sr.chance(25);
    let installer = if msi {
        Installer::Msi {
            product_code: sr.guid().to_ascii_uppercase(),
        }
    } else {
        Installer::CommandLine {
            arguments: r
                .pick(&[
                    "/s",
                    "/VERYSILENT /NORESTART",
                    "-s -e setup.exe -a -s",
                    "/quiet",
                ])
                .to_string(),
        }
    };
    // 1 to 3 origin files: per-architecture items, as Lenovo/HP ship x86 + x64 builds.
    let arches: &[Arch] = match r.below(10) {
        0..=5 => &[Arch::Any],
        6..=8 => &[Arch::X64, Arch::X86],
        _ => &[Arch::X64, Arch::X86, Arch::Any],
    };
    let ext = if msi { "msi" } else { "exe" };
    let items = arches
        .iter()
        .map(|&arch| Item {
            id: r.guid(),
            arch,
            file_name: format!("{kb}{}.{ext}", arch.suffix()),
            file: FileFacts {
                size: synthetic_size(&mut r),
                sha1: {
                    let mut d = [0u8; 20];
                    r.fill(&mut d);
                    d
                },
                modified: modified.clone(),
            },
        })
        .collect();

    Package {
        index,
        id: r.guid(),
        created,
        kind,
        title,
        description,
        version,
        vendor: None,
        product: product.to_string(),
        classification,
        severity,
        update_type,
        kb,
        cves,
        superseded,
        empty_superseded_element: !chained && sr.chance(50),
        installer,
        items,
        redeclare: sr.chance(40),
        large: kind == Kind::Driver && r.below(150) == 0,
        duplicate_localized: r.below(100) == 0,
        schema_version: if sr.chance(50) { "1.0" } else { "1.2" },
        uninstallable: false,
    }
}

/// Sizes like vendor content: mostly a few MB, some tens of MB, a few hundred MB.
fn synthetic_size(r: &mut Rng) -> u64 {
    match r.below(10) {
        0..=4 => r.range(200_000, 5_000_000),
        5..=8 => r.range(5_000_000, 100_000_000),
        _ => r.range(100_000_000, 900_000_000),
    }
}

/// Root = vendor with every package (as in the Lenovo repack); children = product families
/// and models. Each series lands in one child, some also in a second one. Every 17th child
/// stays empty (`Members: null`) and another every 17th gets exactly one member (a bare
/// string), the two irregular forms real V3 files contain.
fn assign_categories(
    seed: u64,
    packages: &[Package],
    series: usize,
    children: usize,
) -> Vec<Category> {
    let mut r = Rng::derive(seed, SALT_CATEGORIES, 0);
    let mut cats = vec![Category {
        id: r.guid(),
        name: "Contoso".into(),
        parent: None,
        members: (0..packages.len() as u32).collect(),
    }];
    for c in 0..children {
        let name = match c {
            0 => "Software and Utilities".to_string(),
            1 => "Firmware".to_string(),
            _ => format!(
                "{} - Contoso {} {}",
                r.pick(&["Device Drivers", "BIOS", "Docking"]),
                r.pick(LINES),
                100 + c
            ),
        };
        cats.push(Category {
            id: r.guid(),
            name,
            parent: Some(0),
            members: Vec::new(),
        });
    }
    let is_empty = |c: usize| c % 17 == 5;
    let is_single = |c: usize| c % 17 == 9;
    let regular: Vec<usize> = (0..children)
        .filter(|&c| !is_empty(c) && !is_single(c))
        .collect();
    let mut second = vec![false; packages.len()];
    for p in packages {
        let s = p.index % series;
        let mut sr = Rng::derive(seed, SALT_CATEGORIES, s as u64 + 1);
        let primary = regular[sr.below(regular.len() as u64) as usize];
        cats[primary + 1].members.push(p.index as u32);
        if regular.len() > 1 && sr.chance(30) {
            let other = regular[sr.below(regular.len() as u64) as usize];
            if other != primary {
                cats[other + 1].members.push(p.index as u32);
                second[p.index] = true;
            }
        }
    }
    for c in (0..children).filter(|&c| is_single(c)) {
        let n = packages.len();
        let start = (c * 7919) % n.max(1);
        if let Some(p) = (0..n).map(|k| (start + k) % n).find(|&p| !second[p]) {
            second[p] = true;
            cats[c + 1].members.push(p as u32);
        }
    }
    for c in &mut cats {
        c.members.sort_unstable();
    }
    cats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_point_to_older_versions_of_the_same_series() {
        let cat = build(3, 200, 20);
        let series = 200usize.div_ceil(VERSIONS_PER_SERIES);
        let chained: Vec<_> = cat
            .packages
            .iter()
            .filter(|p| !p.superseded.is_empty())
            .collect();
        assert!(!chained.is_empty());
        for p in chained {
            for &old in &p.superseded {
                assert!((old as usize) < p.index);
                assert_eq!(old as usize % series, p.index % series);
            }
        }
    }

    #[test]
    fn categories_have_null_and_single_member_forms() {
        let cat = build(3, 600, 40);
        assert_eq!(cat.categories.len(), 41);
        assert_eq!(cat.categories[0].members.len(), 600);
        assert!(cat.categories.iter().any(|c| c.members.is_empty()));
        assert!(cat.categories.iter().any(|c| c.members.len() == 1));
        for p in 0..600u32 {
            let n = cat.categories[1..]
                .iter()
                .filter(|c| c.members.contains(&p))
                .count();
            assert!((1..=2).contains(&n), "package {p} is in {n} children");
        }
    }
}
