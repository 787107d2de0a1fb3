//! Assembles the catalog CAB: one MSZIP folder, files in the order real v3 cabs use (main
//! XML first so readers can stop early, then `ContentCertificates\`, `V3\`, `V2\`).
//!
//! Everything is streamed into the `cab` crate's writer; the largest thing held in memory
//! is one compression block plus the skeleton.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use cab::{CabinetBuilder, CompressionType};

use super::Format;
use super::model::Catalog;
use super::{sdp, v3};

/// One CAB folder holds at most 65,535 CFDATA blocks of 32 KiB; the `cab` crate counts
/// them in a u16 without checking, so refuse before it would wrap.
const MAX_FOLDER_BYTES: u64 = 65_535 * 32_768 - 32_768;

/// Files are stamped with a fixed time so the CAB is a pure function of its inputs.
fn fixed_datetime() -> time::PrimitiveDateTime {
    let date = time::Date::from_calendar_date(2025, time::Month::January, 1).expect("valid date");
    time::PrimitiveDateTime::new(date, time::Time::MIDNIGHT)
}

/// A content certificate to ship: `ContentCertificates\<name>` with DER bytes.
pub struct CertFile {
    pub name: String,
    pub der: Vec<u8>,
}

/// Counts bytes written and fails once a CAB folder would overflow.
struct Budget<W> {
    inner: W,
    total: u64,
}

impl<W: Write> Write for Budget<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.total += buf.len() as u64;
        if self.total > MAX_FOLDER_BYTES {
            return Err(io::Error::other(
                "uncompressed catalog exceeds the 2 GiB a single CAB folder can hold; use fewer updates",
            ));
        }
        self.inner.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the whole catalog XML (`SystemsManagementCatalog`) to `w`.
pub fn write_catalog_xml<W: Write + ?Sized>(w: &mut W, cat: &Catalog, seed: u64) -> io::Result<()> {
    sdp::write_catalog_head(w)?;
    for p in &cat.packages {
        sdp::write_package(w, cat, p, seed, false)?;
    }
    sdp::write_catalog_tail(w)
}

/// Writes the unsigned CAB to `path`; returns the uncompressed payload size. Only a v3
/// catalog gets the `V3\` folder (even when it has no categories): its presence is what
/// makes a catalog v3.
pub fn write_cab(
    path: &Path,
    cat: &Catalog,
    seed: u64,
    certs: &[CertFile],
    format: Format,
    v2_copies: bool,
) -> Result<u64> {
    let v3 = format == Format::V3;
    let mut builder = CabinetBuilder::new();
    let folder = builder.add_folder(CompressionType::MsZip);
    let mut names = vec![format!("{}.xml", cat.xml_name)];
    names.extend(
        certs
            .iter()
            .map(|c| format!("ContentCertificates\\{}", c.name)),
    );
    if v3 {
        names.extend(cat.categories.iter().map(|c| format!("V3\\{}.json", c.id)));
        names.push("V3\\update_categories.json".into());
    }
    if v2_copies {
        names.extend(cat.packages.iter().map(|p| format!("V2\\{}.sdp", p.id)));
    }
    names.push("V2\\update_manifest.json".into());
    if names.len() > 0xFFFF {
        bail!(
            "a CAB holds at most 65,535 files; {} updates need {}",
            cat.packages.len(),
            names.len()
        );
    }
    for n in &names {
        folder.add_file(n.as_str()).set_datetime(fixed_datetime());
    }

    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut cw = builder.build(BufWriter::with_capacity(1 << 20, file))?;
    let mut budget = 0u64;
    let mut next = |cw: &mut cab::CabinetWriter<BufWriter<File>>,
                    f: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>|
     -> Result<()> {
        let fw = cw.next_file()?.context("cab writer ran out of files")?;
        let mut w = Budget {
            inner: BufWriter::with_capacity(1 << 16, fw),
            total: budget,
        };
        f(&mut w)?;
        w.flush()?;
        budget = w.total;
        Ok(())
    };

    next(&mut cw, &mut |w| write_catalog_xml(w, cat, seed))?;
    for c in certs {
        next(&mut cw, &mut |w| w.write_all(&c.der))?;
    }
    if v3 {
        for c in &cat.categories {
            next(&mut cw, &mut |w| w.write_all(&v3::category_json(cat, c)))?;
        }
        next(&mut cw, &mut |w| w.write_all(&v3::categories_list(cat)))?;
    }
    if v2_copies {
        for p in &cat.packages {
            next(&mut cw, &mut |w| sdp::write_standalone(w, cat, p, seed))?;
        }
    }
    next(&mut cw, &mut |w| v3::write_manifest(w, cat))?;
    let mut out = cw.finish()?;
    out.flush()?;
    out.get_mut().sync_all()?;
    Ok(budget)
}
