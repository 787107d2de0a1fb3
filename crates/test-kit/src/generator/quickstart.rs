//! The quickstart profile: four hand-picked Contoso updates that tell a story in a demo
//! (a tool with a newer version superseding the old one, a two-architecture agent, a BIOS)
//! in two categories, "Contoso/Utilities" and "Contoso/Firmware". Ids still come from the
//! seed so the same machinery (and the same determinism) applies.

use super::model::{
    Arch, Catalog, Category, DateStyle, FileFacts, Installer, Item, Kind, Package, format_date,
};
use super::rng::Rng;

struct Spec {
    kind: Kind,
    title: &'static str,
    version: &'static str,
    product: &'static str,
    classification: &'static str,
    severity: Option<&'static str>,
    cves: &'static [&'static str],
    file_base: &'static str,
    arches: &'static [Arch],
    /// Days after 2024-01-01.
    day: i64,
    category: usize,
}

const SPECS: &[Spec] = &[
    Spec {
        kind: Kind::Software,
        title: "Contoso Tool 1.0",
        version: "1.0.0.12",
        product: "Contoso Tool",
        classification: "Updates",
        severity: None,
        cves: &[],
        file_base: "contoso-tool-1.0",
        arches: &[Arch::Any],
        day: 10,
        category: 1,
    },
    Spec {
        kind: Kind::Software,
        title: "Contoso Tool 1.1",
        version: "1.1.0.4",
        product: "Contoso Tool",
        classification: "Updates",
        severity: Some("Moderate"),
        cves: &[],
        file_base: "contoso-tool-1.1",
        arches: &[Arch::Any],
        day: 95,
        category: 1,
    },
    Spec {
        kind: Kind::Software,
        title: "Contoso Agent 2.3",
        version: "2.3.1.0",
        product: "Contoso Agent",
        classification: "Security Updates",
        severity: Some("Important"),
        cves: &["CVE-2024-31337"],
        file_base: "contoso-agent-2.3",
        arches: &[Arch::X64, Arch::X86],
        day: 120,
        category: 1,
    },
    Spec {
        kind: Kind::Firmware,
        title: "Contoso BIOS 1.07 for Contoso Book 14",
        version: "1.07.0.0",
        product: "Firmware",
        classification: "Critical Updates",
        severity: Some("Critical"),
        cves: &[],
        file_base: "contoso-bios-1.07",
        arches: &[Arch::Any],
        day: 150,
        category: 2,
    },
];

pub fn build(seed: u64) -> Catalog {
    let mut r = Rng::derive(seed, 3, 0);
    let mut categories = vec![
        Category {
            id: r.guid(),
            name: "Contoso".into(),
            parent: None,
            members: (0..SPECS.len() as u32).collect(),
        },
        Category {
            id: r.guid(),
            name: "Utilities".into(),
            parent: Some(0),
            members: Vec::new(),
        },
        Category {
            id: r.guid(),
            name: "Firmware".into(),
            parent: Some(0),
            members: Vec::new(),
        },
    ];
    let mut packages = Vec::new();
    for (index, s) in SPECS.iter().enumerate() {
        categories[s.category].members.push(index as u32);
        // 2024-01-01 is 8,766 days after 2000-01-01.
        let secs = (8_766 + s.day) * 86_400 + 9 * 3_600;
        let modified = format_date(secs - 2 * 86_400, DateStyle::Zulu, 0);
        let items = s
            .arches
            .iter()
            .map(|&arch| Item {
                id: r.guid(),
                arch,
                file_name: format!("{}{}.exe", s.file_base, arch.suffix()),
                // Replaced by the real file's facts when content is generated.
                file: FileFacts {
                    size: r.range(100_000, 3_000_000),
                    sha1: {
                        let mut d = [0u8; 20];
                        r.fill(&mut d);
                        d
                    },
                    modified: modified.clone(),
                },
            })
            .collect();
        packages.push(Package {
            index,
            id: r.guid(),
            created: format_date(secs, DateStyle::Zulu, 0),
            kind: s.kind,
            title: s.title.into(),
            description: format!(
                "{} (version {}). A sample update from the supctl quickstart catalog; its \
                 content is a small signed test executable that does nothing.",
                s.title, s.version
            ),
            version: s.version.into(),
            vendor: None,
            product: s.product.into(),
            classification: s.classification,
            severity: s.severity,
            update_type: "Software",
            kb: format!("CTS-{}", 1001 + index),
            cves: s.cves.iter().map(|c| c.to_string()).collect(),
            // "Contoso Tool 1.1" supersedes "Contoso Tool 1.0": the one supersedence link.
            superseded: if index == 1 { vec![0] } else { Vec::new() },
            empty_superseded_element: false,
            installer: Installer::CommandLine {
                arguments: "/quiet /norestart".into(),
            },
            items,
            redeclare: index == 2,
            large: false,
            duplicate_localized: false,
            schema_version: "1.2",
            uninstallable: false,
        });
    }
    Catalog {
        vendor: "Contoso".into(),
        xml_name: "ContosoSampleCatalog".into(),
        packages,
        categories,
    }
}
