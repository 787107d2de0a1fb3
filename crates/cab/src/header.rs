//! CFHEADER, CFFOLDER and CFFILE parsing over a byte slice, every read bounds-checked.

use std::ops::Range;

use super::{CabError, CabPath};

const FLAG_PREV_CABINET: u16 = 0x0001;
const FLAG_NEXT_CABINET: u16 = 0x0002;
const FLAG_RESERVE_PRESENT: u16 = 0x0004;
const ATTR_NAME_IS_UTF: u16 = 0x0080;
/// Longest name or cabinet string the format allows (CB_MAX_FILENAME, CB_MAX_CABINET_NAME).
const MAX_STRING: usize = 256;

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

/// A parsed cabinet directory over borrowed bytes.
#[derive(Debug)]
pub struct Cabinet<'a> {
    pub(super) data: &'a [u8],
    pub(super) data_reserve: usize,
    header_reserve: Range<usize>,
    folders: Vec<Folder>,
    entries: Vec<CabEntry>,
}

/// Bounds-checked little-endian reads.
pub(super) struct Bytes<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Bytes<'a> {
    pub(super) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], CabError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| CabError::Truncated(format!("{what} at offset {}", self.pos)))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub(super) fn u8(&mut self, what: &str) -> Result<u8, CabError> {
        Ok(self.take(1, what)?[0])
    }
    pub(super) fn u16(&mut self, what: &str) -> Result<u16, CabError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub(super) fn u32(&mut self, what: &str) -> Result<u32, CabError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn cstr(&mut self, what: &str) -> Result<&'a [u8], CabError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .take(MAX_STRING + 1)
            .position(|&b| b == 0)
            .ok_or_else(|| {
                CabError::Malformed(format!("{what} at offset {} is unterminated", self.pos))
            })?;
        let s = &rest[..len];
        self.pos += len + 1;
        Ok(s)
    }
}

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
        if data.len() < 4 || &data[..4] != b"MSCF" {
            return Err(CabError::NotCabinet);
        }
        let mut r = Bytes { data, pos: 4 };
        r.u32("reserved1")?;
        let cb_cabinet = r.u32("cbCabinet")? as usize;
        if cb_cabinet > data.len() {
            return Err(CabError::Truncated(format!(
                "cbCabinet says {cb_cabinet} bytes, {} present",
                data.len()
            )));
        }
        let data = &data[..cb_cabinet];
        let mut r = Bytes { data, pos: r.pos };
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
        let (mut header_reserve, mut folder_reserve, mut data_reserve) = (0..0, 0, 0);
        if flags & FLAG_RESERVE_PRESENT != 0 {
            let cb_header = r.u16("cbCFHeader")? as usize;
            folder_reserve = r.u8("cbCFFolder")? as usize;
            data_reserve = r.u8("cbCFData")? as usize;
            let start = r.pos;
            r.take(cb_header, "abReserve")?;
            header_reserve = start..r.pos;
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
            if data_offset as usize > data.len() {
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
        let mut r = Bytes {
            data,
            pos: coff_files,
        };
        let mut entries = Vec::with_capacity(usize::from(file_count));
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
            entries.push(CabEntry {
                path,
                raw_name,
                size,
                folder,
                folder_offset,
                attributes,
                dos_date,
                dos_time,
            });
        }
        Ok(Self {
            data,
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
    pub fn header_reserve(&self) -> &'a [u8] {
        &self.data[self.header_reserve.clone()]
    }

    /// Bytes covered by `cbCabinet`, i.e. without an appended signature.
    pub fn cabinet_len(&self) -> usize {
        self.data.len()
    }
}
