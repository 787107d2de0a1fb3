//! Peak heap while a [`MemberReader`](crate::MemberReader) reads a multi-MB member: the
//! proof that it holds one block and the decoder's state, never the member, from a slice or
//! a file; and while a filtered parse reads a big directory: it holds what it keeps.
//!
//! The counting allocator below serves the whole test binary, but it counts per thread, and
//! a test runs on one thread: tests running in parallel do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};

use crate::source_tests::TempCab;
use crate::tests::sample;
use crate::{Cabinet, Limits, extract_all};

use super::raw_cabinet;

struct Counting;

thread_local! {
    // `const` and no destructor: reading these allocates nothing, so the allocator
    // may use them.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + delta);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

/// Runs `f` and returns the most heap it held at once beyond what was live before.
fn peak_extra(f: impl FnOnce()) -> isize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which is `System`'s.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; `new_size` is the caller's to check.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Grow first: a moving realloc holds both blocks for a moment.
            count(new_size as isize);
            count(-(layout.size() as isize));
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// A one-folder MSZIP cabinet of `blocks` 32 KiB blocks cycling through eight distinct
/// ones (each compressed once, so a multi-MB cabinet is quick to make in a debug build),
/// holding `head.txt` (the first 1,000 bytes) and `Catalog.xml` (all the rest, so reading
/// it skips the head). Returns the cabinet and the folder's bytes.
fn big_mszip(blocks: usize) -> (Vec<u8>, Vec<u8>) {
    let frames: Vec<Vec<u8>> = (0..8).map(|i| sample(32 * 1024, 20 + i)).collect();
    let packed: Vec<(Vec<u8>, u16)> = frames
        .iter()
        .map(|f| {
            let mut z = flate2::write::DeflateEncoder::new(b"CK".to_vec(), Default::default());
            z.write_all(f).unwrap();
            (z.finish().unwrap(), f.len() as u16)
        })
        .collect();
    let cfdata: Vec<(Vec<u8>, u16)> = packed.iter().cycle().take(blocks).cloned().collect();
    let member: Vec<u8> = frames
        .iter()
        .cycle()
        .take(blocks)
        .flatten()
        .copied()
        .collect();
    let rest = member.len() as u32 - 1000;
    let data = raw_cabinet(
        1,
        &cfdata,
        &[("head.txt", 0, 1000), ("Catalog.xml", 1000, rest)],
    );
    (data, member)
}

/// Reads `r` to its end in 8 KiB pieces, checking each against `want`; how much it read.
fn read_checking(r: &mut impl Read, want: &[u8]) -> usize {
    let mut buf = [0u8; 8192];
    let mut read = 0usize;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            return read;
        }
        assert!(buf[..n] == want[read..read + n], "bytes at {read} differ");
        read += n;
    }
}

#[test]
fn reading_a_multi_mb_member_holds_one_block() {
    let (data, folder) = big_mszip(192); // 6 MiB
    let big = &folder[1000..];
    let cab = Cabinet::parse(&data).unwrap();
    let entry = cab.entries()[1].clone();
    let mut read = 0usize;
    let peak = peak_extra(|| {
        let mut r = cab.member_reader(&entry, &Limits::default()).unwrap();
        read = read_checking(&mut r, big);
    });
    assert_eq!(read, big.len());
    // About 200 KiB in fact: MSZIP's decoder (deflate state, window, output and priming
    // buffers) and the reader's one block, against a member of 6 MiB.
    assert!(peak < 256 << 10, "reading held {peak} bytes at once");
    // The counter sees big buffers: extracting the same member holds all of it.
    let whole = peak_extra(|| drop(extract_all(&data, &Limits::default()).unwrap()));
    assert!(
        whole > big.len() as isize,
        "extract held only {whole} bytes"
    );
}

#[test]
fn reading_a_multi_mb_member_from_a_file_holds_one_block() {
    let (data, folder) = big_mszip(192); // 6 MiB
    let big = &folder[1000..];
    let tmp = TempCab::new(&data);
    let file = tmp.open();
    let mut read = 0usize;
    let peak = peak_extra(|| {
        let cab = Cabinet::open(&file).unwrap();
        let entry = cab.entries()[1].clone();
        let mut r = cab.member_reader(&entry, &Limits::default()).unwrap();
        read = read_checking(&mut r, big);
    });
    assert_eq!(read, big.len());
    // What the slice reader holds (about 200 KiB: see above) plus the 64 KiB file window,
    // against a file of 6 MiB.
    assert!(peak < 320 << 10, "reading held {peak} bytes at once");
}

/// A directory of 20,000 entries filtered down to one holds the window and that entry, not
/// the 20,000 (about 2 MiB as `CabEntry`s).
#[test]
fn a_filtered_directory_holds_only_the_kept_entries() {
    let names: Vec<String> = (0..20_000).map(|i| format!(r"V2\{i:05}.sdp")).collect();
    let mut members: Vec<(&str, u32, u32)> = names.iter().map(|n| (n.as_str(), 0, 4)).collect();
    members.push(("Catalog.xml", 0, 4));
    let data = raw_cabinet(0, &[(b"<x/>".to_vec(), 4)], &members);
    assert!(
        data.len() > 500 << 10,
        "the directory spans several windows"
    );
    let tmp = TempCab::new(&data);
    let file = tmp.open();
    let mut kept = Vec::new();
    let filtered = peak_extra(|| {
        let cab = Cabinet::open_filtered(&file, &mut |e| e.path.is_top_level()).unwrap();
        kept = cab.entries().to_vec();
    });
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].raw_name, "Catalog.xml");
    assert!(
        filtered < 96 << 10,
        "the filtered parse held {filtered} bytes"
    );
    let from_slice = peak_extra(|| {
        let cab = Cabinet::parse_filtered(&data, &mut |e| e.path.is_top_level()).unwrap();
        assert_eq!(cab.entries(), kept);
    });
    assert!(
        from_slice < 32 << 10,
        "the filtered parse held {from_slice} bytes"
    );
    // The counter sees the entries when they are kept.
    let all = peak_extra(|| assert_eq!(Cabinet::open(&file).unwrap().entries().len(), 20_001));
    assert!(all > 20_000 * 64, "the whole parse held only {all} bytes");
}
