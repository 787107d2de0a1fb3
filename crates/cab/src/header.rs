//! CFHEADER, CFFOLDER and CFFILE parsing, every read bounds-checked (`source.rs`), from a
//! byte slice or a file alike.
//!
//! The directory of a catalog cabinet can list 60,000 members, each a [`CabEntry`] of a
//! couple of hundred bytes; a caller that needs a few of them says which as the directory
//! is read (`*_filtered`), so the rest are checked and dropped, never held.

use std::borrow::Cow;
use std::fs::File;

use super::source::{Bytes, Source};
use super::{CabError, CabPath};

const FLAG_PREV_CABINET: u16 = 0x0001;
const FLAG_NEXT_CABINET: u16 = 0x0002;
const FLAG_RESERVE_PRESENT: u16 = 0x0004;
const ATTR_NAME_IS_UTF: u16 = 0x0080;
/// The fixed fields up to and including `cbCabinet`: all that is read before it says how
/// long the cabinet is.
const UP_TO_CB_CABINET: usize = 12;

/// A folder's compression method (`typeCompress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    MsZip,
    Quantum,
    /// LZX with a window of `2^window_bits` bytes (15..=21).
    Lzx {
        window_bits: u8,
    },
}

impl Compression {
    fn from_raw(raw: u16) -> Result<Self, CabError> {
        match raw & 0x000f {
            0 => Ok(Self::None),
            1 => Ok(Self::MsZip),
            2 => Ok(Self::Quantum),
            3 => {
                let window_bits = ((raw >> 8) & 0x1f) as u8;
                if (15..=21).contains(&window_bits) {
                    Ok(Self::Lzx { window_bits })
                } else {
                    Err(CabError::Malformed(format!(
                        "LZX window of 2^{window_bits} bytes is outside 2^15..2^21"
                    )))
                }
            }
            other => Err(CabError::Malformed(format!(
                "unknown compression type {other}"
            ))),
        }
    }
}

/// One CFFOLDER: a compressed stream of CFDATA blocks holding one or more members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Offset of the first CFDATA block.
    pub data_offset: u32,
    pub block_count: u16,
    pub compression: Compression,
}

/// One CFFILE: a member, located by its folder and its offset in the folder's uncompressed
/// stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabEntry {
    pub path: CabPath,
    /// The name as stored (`V2\x.sdp`).
    pub raw_name: String,
    pub size: u32,
    pub folder: u16,
    pub folder_offset: u32,
    pub attributes: u16,
    /// MS-DOS date and time as stored.
    pub dos_date: u16,
    pub dos_time: u16,
}

/// A parsed cabinet directory, over borrowed bytes or a borrowed file.
#[derive(Debug)]
pub struct Cabinet<'a> {
    /// For a slice, only its first `cbCabinet` bytes.
    pub(super) source: Source<'a>,
    /// `cbCabinet`.
    len: usize,
    pub(super) data_reserve: usize,
    header_reserve: Cow<'a, [u8]>,
    folders: Vec<Folder>,
    entries: Vec<CabEntry>,
}

/// Which entries a parse keeps: `None` keeps all.
type Keep<'k> = Option<&'k mut dyn FnMut(&CabEntry) -> bool>;

fn decode_name(raw: &[u8], utf8_flag: bool) -> Result<String, CabError> {
    match std::str::from_utf8(raw) {
        Ok(s) => Ok(s.to_string()),
        Err(_) if utf8_flag => Err(CabError::Malformed(format!(
            "member name flagged UTF-8 is not UTF-8: {raw:02x?}"
        ))),
        // Not UTF-8 and not flagged: an OEM code page; Latin-1 keeps it readable and unique.
        Err(_) => Ok(raw.iter().map(|&b| char::from(b)).collect()),
    }
}

impl<'a> Cabinet<'a> {
    /// Parses the directory. `data` may extend past `cbCabinet` (the Authenticode signature
    /// lives there); nothing past `cbCabinet` is read.
    pub fn parse(data: &'a [u8]) -> Result<Self, CabError> {
        Self::read(Source::Slice(data), None)
    }

    /// As [`Cabinet::parse`], keeping only the entries `keep` returns true for.
    ///
    /// Every entry is still decoded and checked, kept or not: an unsafe name, a folder
    /// index out of range, a member continued from another cabinet or a name flagged UTF-8
    /// that is not fails the parse with the same error as [`Cabinet::parse`]. `keep` sees
    /// each entry that passed, once, in directory order (so it may have seen some before a
    /// later entry fails the parse).
    ///
    /// [`Cabinet::extract`] and [`Cabinet::member_reader`] on the result behave as on the
    /// whole cabinet with a [`Visitor`](crate::Visitor) that does not want the entries left
    /// out: the visitor is never asked about them, and the limits are checked against the
    /// kept members it wants, exactly the figures the whole cabinet is checked against
    /// when only those are wanted.
    pub fn parse_filtered(
        data: &'a [u8],
        keep: &mut dyn FnMut(&CabEntry) -> bool,
    ) -> Result<Self, CabError> {
        Self::read(Source::Slice(data), Some(keep))
    }

    /// Parses the directory of a cabinet file, as [`Cabinet::parse`] does a slice; the
    /// file's length plays the slice's. The file is read with positional reads (its cursor
    /// is left alone) and never held whole: the directory is read through a 64 KiB window,
    /// and [`Cabinet::extract`] and [`Cabinet::member_reader`] read one CFDATA block at a
    /// time. Errors are those of [`Cabinet::parse`] on the same bytes (a file shorter than
    /// its directory says is [`CabError::Truncated`]), plus [`CabError::Io`] when the file
    /// cannot be read.
    pub fn open(file: &'a File) -> Result<Self, CabError> {
        Self::read(Source::File(file), None)
    }

    /// [`Cabinet::open`] keeping only the entries `keep` returns true for, as
    /// [`Cabinet::parse_filtered`] does.
    pub fn open_filtered(
        file: &'a File,
        keep: &mut dyn FnMut(&CabEntry) -> bool,
    ) -> Result<Self, CabError> {
        Self::read(Source::File(file), Some(keep))
    }

    fn read(source: Source<'a>, mut keep: Keep) -> Result<Self, CabError> {
        let present = source.present()?;
        let mut r = Bytes::new(source, present.min(UP_TO_CB_CABINET), 0);
        match r.take(4, "signature") {
            Ok(magic) if magic == b"MSCF" => {}
            Ok(_) | Err(CabError::Truncated(_)) => return Err(CabError::NotCabinet),
            Err(e) => return Err(e),
        }
        r.u32("reserved1")?;
        let cb_cabinet = r.u32("cbCabinet")? as usize;
        if cb_cabinet > present {
            return Err(CabError::Truncated(format!(
                "cbCabinet says {cb_cabinet} bytes, {present} present"
            )));
        }
        let source = match source {
            Source::Slice(data) => Source::Slice(&data[..cb_cabinet]),
            file => file,
        };
        r.set_len(cb_cabinet);
        r.u32("reserved2")?;
        let coff_files = r.u32("coffFiles")? as usize;
        r.u32("reserved3")?;
        let (minor, major) = (r.u8("versionMinor")?, r.u8("versionMajor")?);
        if major != 1 {
            return Err(CabError::Unsupported(format!(
                "cabinet format version {major}.{minor}"
            )));
        }
        let folder_count = r.u16("cFolders")?;
        let file_count = r.u16("cFiles")?;
        let flags = r.u16("flags")?;
        r.u16("setID")?;
        r.u16("iCabinet")?;
        let (mut header_reserve, mut folder_reserve, mut data_reserve) =
            (Cow::Borrowed(&[][..]), 0, 0);
        if flags & FLAG_RESERVE_PRESENT != 0 {
            let cb_header = r.u16("cbCFHeader")? as usize;
            folder_reserve = r.u8("cbCFFolder")? as usize;
            data_reserve = r.u8("cbCFData")? as usize;
            header_reserve = r.take_kept(cb_header, "abReserve")?;
        }
        if flags & FLAG_PREV_CABINET != 0 {
            r.cstr("szCabinetPrev")?;
            r.cstr("szDiskPrev")?;
        }
        if flags & FLAG_NEXT_CABINET != 0 {
            r.cstr("szCabinetNext")?;
            r.cstr("szDiskNext")?;
        }
        let mut folders = Vec::with_capacity(usize::from(folder_count));
        for i in 0..folder_count {
            let data_offset = r.u32("CFFOLDER.coffCabStart")?;
            let block_count = r.u16("CFFOLDER.cCFData")?;
            let compression = Compression::from_raw(r.u16("CFFOLDER.typeCompress")?)?;
            r.take(folder_reserve, "CFFOLDER.abReserve")?;
            if data_offset as usize > cb_cabinet {
                return Err(CabError::Truncated(format!(
                    "folder {i} data starts at {data_offset}, past the end"
                )));
            }
            folders.push(Folder {
                data_offset,
                block_count,
                compression,
            });
        }
        r.pos = coff_files;
        let mut entries = match keep {
            None => Vec::with_capacity(usize::from(file_count)),
            // Sized by what is kept, not by what the directory lists.
            Some(_) => Vec::new(),
        };
        for _ in 0..file_count {
            let size = r.u32("CFFILE.cbFile")?;
            let folder_offset = r.u32("CFFILE.uoffFolderStart")?;
            let folder = r.u16("CFFILE.iFolder")?;
            let dos_date = r.u16("CFFILE.date")?;
            let dos_time = r.u16("CFFILE.time")?;
            let attributes = r.u16("CFFILE.attribs")?;
            let raw = r.cstr("CFFILE.szName")?;
            let raw_name = decode_name(raw, attributes & ATTR_NAME_IS_UTF != 0)?;
            if folder >= 0xfffd {
                return Err(CabError::Unsupported(format!(
                    "`{raw_name}` continues in another cabinet (multi-cabinet sets)"
                )));
            }
            if folder >= folder_count {
                return Err(CabError::Malformed(format!(
                    "`{raw_name}` is in folder {folder}, but there are {folder_count}"
                )));
            }
            let path = CabPath::parse(&raw_name).map_err(|reason| CabError::UnsafePath {
                name: raw_name.clone(),
                reason,
            })?;
            let entry = CabEntry {
                path,
                raw_name,
                size,
                folder,
                folder_offset,
                attributes,
                dos_date,
                dos_time,
            };
            if keep.as_mut().is_none_or(|keep| keep(&entry)) {
                entries.push(entry);
            }
        }
        Ok(Self {
            source,
            len: cb_cabinet,
            data_reserve,
            header_reserve,
            folders,
            entries,
        })
    }

    pub fn entries(&self) -> &[CabEntry] {
        &self.entries
    }

    pub fn folders(&self) -> &[Folder] {
        &self.folders
    }

    /// The CFHEADER reserve area (signtool stores the signature's position and length here).
    /// Borrowed from a slice, a copy (at most 65,535 bytes) for a file.
    pub fn header_reserve(&self) -> &[u8] {
        &self.header_reserve
    }

    /// Bytes covered by `cbCabinet`, i.e. without an appended signature.
    pub fn cabinet_len(&self) -> usize {
        self.len
    }
}
