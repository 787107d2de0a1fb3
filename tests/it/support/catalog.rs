//! Catalogs built inside the tests (tiny packages, duplicated ids, oversized parts), packed
//! into cabinets by an independent writer, signed with osslsigncode by the quickstart signer,
//! and the real binary run against them with its peak memory measured.
//!
//! The cabinet writer here is deliberately separate from supctl's reader: one folder, each
//! MSZIP block deflated on its own (no back-references into the previous block, which every
//! MSZIP decoder accepts), members laid out back to back unless a test says otherwise.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// SHA-1 of the quickstart signer (examples/quickstart/pki/signer.pem).
pub(crate) const QS_SIGNER: &str = "6D8B3C448B990E269336BB63A47F23498C95EB7D";

pub(crate) const SMC: &str =
    "http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd";
pub(crate) const SDP: &str =
    "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd";
pub(crate) const CMD: &str = "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/CommandLineInstallation.xsd";

/// A committed catalog fixture (`tests/fixtures/catalog/NAME`).
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/catalog/");
    std::fs::read(format!("{dir}{name}")).unwrap()
}

/// When the committed fixtures are read: inside their certificates' validity.
pub(crate) fn fixture_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

/// A one-folder MSZIP cabinet of `files`, written by the `cab` crate (an independent
/// writer; unsigned).
pub(crate) fn cab_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = cab::CabinetBuilder::new();
    let f = b.add_folder(cab::CompressionType::MsZip);
    for (name, _) in files {
        f.add_file(*name);
    }
    let mut w = b.build(std::io::Cursor::new(Vec::new())).unwrap();
    for (_, data) in files {
        w.next_file().unwrap().unwrap().write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// One package of a test catalog.
#[derive(Debug, Clone)]
pub(crate) struct Pkg {
    pub id: String,
    pub title: String,
    pub created: String,
    /// Extra languages besides `en` (`xx-1`, `xx-2`, ...).
    pub languages: usize,
    /// Appended to the description, to make a package large.
    pub description: String,
}

impl Pkg {
    pub(crate) fn new(id: &str, title: &str, created: &str) -> Pkg {
        Pkg {
            id: id.into(),
            title: title.into(),
            created: created.into(),
            languages: 0,
            description: String::new(),
        }
    }

    /// The package element, as the catalog root's child.
    pub(crate) fn xml(&self) -> String {
        let mut s = String::with_capacity(600 + self.description.len() + self.languages * 120);
        s.push_str("<smc:SoftwareDistributionPackage SchemaVersion=\"1.2\">");
        s.push_str(&format!(
            "<sdp:Properties CreationDate=\"{}\" PackageID=\"{}\" VendorName=\"Contoso\" PublicationState=\"Published\"><sdp:ProductName>Tool</sdp:ProductName></sdp:Properties>",
            self.created, self.id
        ));
        s.push_str(&format!(
            "<sdp:LocalizedProperties><sdp:Language>en</sdp:Language><sdp:Title>{}</sdp:Title><sdp:Description>d{}</sdp:Description></sdp:LocalizedProperties>",
            self.title, self.description
        ));
        for i in 0..self.languages {
            s.push_str(&format!(
                "<sdp:LocalizedProperties><sdp:Language>xx-{i}</sdp:Language><sdp:Title>t</sdp:Title></sdp:LocalizedProperties>"
            ));
        }
        s.push_str("<sdp:UpdateSpecificData UpdateClassification=\"Updates\"/>");
        s.push_str("</smc:SoftwareDistributionPackage>\n");
        s
    }
}

/// `n` distinct GUIDs (lower case), deterministic.
pub(crate) fn ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{:08x}-0000-4000-8000-{:012x}", i + 1, i + 1))
        .collect()
}

/// The catalog document around `body` (package elements).
pub(crate) fn catalog_xml(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<smc:SystemsManagementCatalog xmlns:smc=\"{SMC}\" xmlns:sdp=\"{SDP}\" xmlns:cmd=\"{CMD}\">\n{body}</smc:SystemsManagementCatalog>\n"
    )
}

/// A catalog of `packages`.
pub(crate) fn catalog_of(packages: &[Pkg]) -> String {
    let body: String = packages.iter().map(Pkg::xml).collect();
    catalog_xml(&body)
}

/// `V3\<id>.json` of a root category holding `members`.
pub(crate) fn category_json(id: &str, name: &str, members: &[&str]) -> Vec<u8> {
    let list: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
    format!(
        "{{\"DisplayName\": \"{name}\", \"Id\": \"{id}\", \"Members\": [{}], \"ParentId\": \"\"}}",
        list.join(", ")
    )
    .into_bytes()
}

/// A member: name as stored (`V3\x.json`) and bytes.
pub(crate) struct Member {
    pub name: String,
    pub data: Vec<u8>,
}

impl Member {
    pub(crate) fn new(name: &str, data: impl Into<Vec<u8>>) -> Member {
        Member {
            name: name.into(),
            data: data.into(),
        }
    }
}

/// A v3 catalog cabinet: the XML, one root category listing `members`, the list file.
pub(crate) fn v3_members(xml: &str, members: &[&str]) -> Vec<Member> {
    let cat = "aaaaaaaa-0000-4000-8000-00000000000c";
    vec![
        Member::new("catalog.xml", xml),
        Member::new(
            &format!("V3\\{cat}.json"),
            category_json(cat, "Contoso", members),
        ),
        Member::new(
            "V3\\update_categories.json",
            format!("[\"{cat}\"]").into_bytes(),
        ),
    ]
}

/// MSZIP-compresses one block (at most 32 KiB) as a block of its own.
fn mszip_block(chunk: &[u8], level: flate2::Compression) -> Vec<u8> {
    let mut out = b"CK".to_vec();
    let mut enc = flate2::write::DeflateEncoder::new(&mut out, level);
    enc.write_all(chunk).unwrap();
    enc.finish().unwrap();
    out
}

/// A cabinet holding `members` back to back in one MSZIP folder.
pub(crate) fn cab(members: &[Member]) -> Vec<u8> {
    cab_with(members, true)
}

/// The same, stored without compression: quick to build for large catalogs.
pub(crate) fn cab_stored(members: &[Member]) -> Vec<u8> {
    cab_with(members, false)
}

fn cab_with(members: &[Member], mszip: bool) -> Vec<u8> {
    let mut data = Vec::new();
    let mut layout = Vec::new();
    for m in members {
        layout.push((m.name.clone(), data.len() as u32, m.data.len() as u32));
        data.extend_from_slice(&m.data);
    }
    let blocks: Vec<(Vec<u8>, u16)> = data
        .chunks(32 * 1024)
        .map(|c| {
            let bytes = if mszip {
                mszip_block(c, flate2::Compression::fast())
            } else {
                c.to_vec()
            };
            (bytes, c.len() as u16)
        })
        .collect();
    cab_raw_with(&layout, &blocks, mszip)
}

/// A cabinet with an explicit directory: (name, offset in the folder, size) per member, and
/// the folder's CFDATA blocks (compressed bytes, uncompressed size). Members may overlap.
pub(crate) fn cab_raw(layout: &[(String, u32, u32)], blocks: &[(Vec<u8>, u16)]) -> Vec<u8> {
    cab_raw_with(layout, blocks, true)
}

fn cab_raw_with(layout: &[(String, u32, u32)], blocks: &[(Vec<u8>, u16)], mszip: bool) -> Vec<u8> {
    const HEADER: usize = 36;
    const FOLDER: usize = 8;
    let mut files = Vec::new();
    for (name, offset, size) in layout {
        files.extend_from_slice(&size.to_le_bytes());
        files.extend_from_slice(&offset.to_le_bytes());
        files.extend_from_slice(&0u16.to_le_bytes()); // folder 0
        files.extend_from_slice(&0x5a21u16.to_le_bytes()); // 2025-01-01
        files.extend_from_slice(&0u16.to_le_bytes());
        files.extend_from_slice(&0x20u16.to_le_bytes()); // archive
        files.extend_from_slice(name.as_bytes());
        files.push(0);
    }
    let files_at = HEADER + FOLDER;
    let data_at = files_at + files.len();
    let data_len: usize = blocks.iter().map(|(c, _)| 8 + c.len()).sum();
    let total = data_at + data_len;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"MSCF");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(files_at as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&[3, 1]); // version 1.3
    out.extend_from_slice(&1u16.to_le_bytes()); // one folder
    out.extend_from_slice(&(layout.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 6]); // flags, setID, iCabinet
    out.extend_from_slice(&(data_at as u32).to_le_bytes());
    out.extend_from_slice(&(blocks.len() as u16).to_le_bytes());
    out.extend_from_slice(&u16::from(mszip).to_le_bytes()); // MSZIP or stored
    out.extend_from_slice(&files);
    for (compressed, size) in blocks {
        out.extend_from_slice(&0u32.to_le_bytes()); // no checksum
        out.extend_from_slice(&(compressed.len() as u16).to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(compressed);
    }
    out
}

/// `n` MSZIP blocks of 32 KiB of zeros (each ~40 bytes compressed): a folder that inflates to
/// `n * 32 KiB` from a small file.
pub(crate) fn zero_blocks(n: usize) -> Vec<(Vec<u8>, u16)> {
    let block = mszip_block(&[0u8; 32 * 1024], flate2::Compression::best());
    vec![(block, 32 * 1024); n]
}

/// `data` as a folder's MSZIP blocks.
pub(crate) fn blocks_of(data: &[u8]) -> Vec<(Vec<u8>, u16)> {
    data.chunks(32 * 1024)
        .map(|c| (mszip_block(c, flate2::Compression::best()), c.len() as u16))
        .collect()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Signs `cab` (SHA-256 Authenticode) with the quickstart signer into `out`.
pub(crate) fn sign(cab: &[u8], out: &Path) {
    let unsigned = out.with_extension("unsigned");
    std::fs::write(&unsigned, cab).unwrap();
    let _ = std::fs::remove_file(out);
    let r = Command::new("osslsigncode")
        .arg("sign")
        .arg("-certs")
        .arg(repo("examples/quickstart/pki/signer.pem"))
        .arg("-key")
        .arg(repo("examples/quickstart/pki/signer.key"))
        .args(["-h", "sha256", "-n", "supctl test catalog", "-in"])
        .arg(&unsigned)
        .arg("-out")
        .arg(out)
        .output()
        .expect("osslsigncode runs (apt-get install osslsigncode)");
    assert!(
        r.status.success(),
        "osslsigncode failed: {}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    std::fs::remove_file(&unsigned).unwrap();
}

/// A config with the embedded store in `dir/state`, one subscribed catalog `t` read from
/// `cab` and signed by the quickstart signer, and `extra` (e.g. a `[limits]` table).
pub(crate) fn config(dir: &Path, cab: &Path, extra: &str) -> PathBuf {
    let text = format!(
        "version = 1\n\n[server]\npath = {state:?}\n\n[catalog.t]\nkind = \"custom\"\nname = \"Test catalog\"\npublisher = \"Contoso\"\npath = {cab:?}\nsigners = [\"{QS_SIGNER}\"]\n\n{extra}\n",
        state = dir.join("state").display().to_string(),
        cab = cab.display().to_string(),
    );
    let path = dir.join("supctl.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What a run of the binary printed, how it ended and its peak resident memory.
pub(crate) struct Measured {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Peak resident set size of the process, bytes (`ru_maxrss` from `wait4`).
    pub peak_rss: u64,
}

impl Measured {
    pub(crate) fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    pub(crate) fn peak_mib(&self) -> f64 {
        self.peak_rss as f64 / (1024.0 * 1024.0)
    }
}

/// Where a measuring helper finds its request (a directory); see [`measure_helper`].
const MEASURE_DIR: &str = "SUPCTL_TEST_MEASURE_DIR";

/// Runs `supctl ARGS` and measures its peak memory.
///
/// `ru_maxrss` cannot be read for a child of the test process itself: Linux records the
/// old address space's high-water mark at `execve`, and a child spawned with
/// `CLONE_VM`/`fork` starts from the test process's (large, shared with other tests)
/// address space. So the test binary runs itself as a small helper (the [`measure_helper`]
/// test below, run alone by its exact name), and the helper spawns supctl and reads its
/// exact peak with `wait4`.
pub(crate) fn supctl_measured(args: &[&std::ffi::OsStr]) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_str().expect("UTF-8 argument").to_string())
        .collect();
    std::fs::write(
        dir.path().join("args.json"),
        serde_json::to_vec(&args).unwrap(),
    )
    .unwrap();
    let helper = Command::new(std::env::current_exe().unwrap())
        .args([HELPER_TEST, "--exact", "--test-threads", "1", "--nocapture"])
        .env(MEASURE_DIR, dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run the measuring helper");
    let read = |name: &str| {
        std::fs::read_to_string(dir.path().join(name)).unwrap_or_else(|e| {
            panic!(
                "the measuring helper left no {name} ({e}); is `{HELPER_TEST}` still the helper test's path?\n{}{}",
                String::from_utf8_lossy(&helper.stdout),
                String::from_utf8_lossy(&helper.stderr)
            )
        })
    };
    let result = read("result");
    let (code, rss) = result.trim().split_once(' ').unwrap();
    Measured {
        code: code.parse().unwrap(),
        stdout: read("stdout"),
        stderr: read("stderr"),
        peak_rss: rss.parse::<u64>().unwrap() * 1024,
    }
}

/// The path of [`measure_helper`] in the test binary, which runs it alone.
const HELPER_TEST: &str = "support::catalog::measure_helper";

/// The helper's side of [`supctl_measured`]: a no-op unless the test binary was started as
/// a helper. Runs supctl with the requested arguments, its output going to files, and
/// writes `<exit code> <ru_maxrss KiB>`.
#[test]
fn measure_helper() {
    let Some(dir) = std::env::var_os(MEASURE_DIR) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let args: Vec<String> =
        serde_json::from_slice(&std::fs::read(dir.join("args.json")).unwrap()).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_supctl"))
        .args(&args)
        .env("NO_COLOR", "1")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .expect("run supctl");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain syscall on our own child; `usage` is a valid out-pointer.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    // Reaped by wait4 already; dropping a `Child` neither waits nor kills.
    drop(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    std::fs::write(dir.join("result"), format!("{code} {}", usage.ru_maxrss)).unwrap();
}

/// `supctl ARGS` with string arguments, measured.
pub(crate) fn run(args: &[&str]) -> Measured {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    supctl_measured(&args)
}

/// `supctl ARGS -c CONFIG`, measured.
pub(crate) fn run_with(config: &Path, args: &[&str]) -> Measured {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    all.push("-c".as_ref());
    all.push(config.as_os_str());
    supctl_measured(&all)
}

/// Peak memory every limit test must stay under.
pub(crate) const PEAK_BUDGET: u64 = 256 << 20;

/// Asserts the run stayed under [`PEAK_BUDGET`], and reports what it used.
pub(crate) fn assert_bounded(what: &str, m: &Measured) {
    eprintln!("{what}: peak RSS {:.1} MiB", m.peak_mib());
    assert!(
        m.peak_rss < PEAK_BUDGET,
        "{what}: peak RSS {:.1} MiB is over 256 MiB\n{}",
        m.peak_mib(),
        m.all()
    );
}
