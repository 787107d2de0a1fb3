//! Rough throughput check of `StreamingVerifier` against `sha1sum` (not a test).
//!
//! ```sh
//! # a 256 MiB PE32 image (one large .text section), signed with the test key
//! cargo run --release -p supctl-authenticode --example stream_bench -- make /tmp/big.exe 256
//! osslsigncode sign -certs tests/fixtures/pki/signer.pem -key tests/fixtures/pki/signer.key \
//!     -h sha256 -in /tmp/big.exe -out /tmp/big-signed.exe
//! cargo run --release -p supctl-authenticode --example stream_bench -- run /tmp/big-signed.exe
//! time sha1sum /tmp/big-signed.exe
//! ```
//!
//! `run` reads the file in 64 KiB chunks (one sequential pass, as content staging does) and
//! prints MiB/s and CPU seconds with the hash thread, without it, inline with only the SHA-256
//! image digest, and for the in-memory path it replaces (read the whole file, SHA-1 and
//! SHA-256 it, then `verify_file`).

use std::io::Read;
use std::time::Instant;

use supctl_authenticode::{DigestAlgorithm, StreamOptions, StreamingVerifier, verify_file};

const CHUNK: usize = 64 << 10;

fn make(path: &str, mib: usize) -> std::io::Result<()> {
    let size = mib << 20;
    let mut d = vec![0u8; 0x400 + size];
    d[..2].copy_from_slice(b"MZ");
    d[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    let mut put = |at: usize, v: &[u8]| d[at..at + v.len()].copy_from_slice(v);
    put(0x40, b"PE\0\0");
    put(0x44, &0x14Cu16.to_le_bytes()); // i386
    put(0x46, &1u16.to_le_bytes()); // one section
    put(0x54, &0xE0u16.to_le_bytes()); // SizeOfOptionalHeader
    put(0x56, &0x0102u16.to_le_bytes());
    let opt = 0x58;
    put(opt, &0x10Bu16.to_le_bytes());
    put(opt + 16, &0x1000u32.to_le_bytes()); // entry point
    put(opt + 28, &0x40_0000u32.to_le_bytes()); // image base
    put(opt + 32, &0x1000u32.to_le_bytes()); // section alignment
    put(opt + 36, &0x200u32.to_le_bytes()); // file alignment
    put(opt + 40, &6u16.to_le_bytes());
    put(opt + 48, &6u16.to_le_bytes());
    put(opt + 56, &(0x1000 + size as u32).to_le_bytes()); // SizeOfImage
    put(opt + 60, &0x400u32.to_le_bytes()); // SizeOfHeaders
    put(opt + 68, &3u16.to_le_bytes()); // console
    put(opt + 92, &16u32.to_le_bytes());
    let sect = opt + 0xE0;
    put(sect, b".text\0\0\0");
    put(sect + 8, &(size as u32).to_le_bytes());
    put(sect + 12, &0x1000u32.to_le_bytes());
    put(sect + 16, &(size as u32).to_le_bytes());
    put(sect + 20, &0x400u32.to_le_bytes());
    put(sect + 36, &0x6000_0020u32.to_le_bytes());
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in d[0x400..].chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
    }
    d[0x400..0x403].copy_from_slice(&[0x31, 0xC0, 0xC3]);
    std::fs::write(path, d)
}

/// CPU seconds this process (all threads) has used, from /proc (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the parenthesised command name come field 3 (state) onwards: utime and stime
    // (fields 14 and 15, in clock ticks of 1/100 s) are the 12th and 13th.
    let rest = stat.rsplit(") ").next().unwrap_or("");
    let f: Vec<&str> = rest.split(' ').collect();
    let tick = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

struct Run {
    mib_s: f64,
    cpu_s: f64,
    status: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} MiB/s, {:.2} CPU s ({})",
            self.mib_s, self.cpu_s, self.status
        )
    }
}

fn stream(path: &str, options: StreamOptions) -> std::io::Result<Run> {
    let cpu = cpu_seconds();
    let start = Instant::now();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    let mut v = StreamingVerifier::with_options(options);
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        v.update(&buf[..n]);
    }
    let out = v.finish(chrono::Utc::now());
    let secs = start.elapsed().as_secs_f64();
    let mib = out.bytes as f64 / (1 << 20) as f64;
    Ok(Run {
        mib_s: mib / secs,
        cpu_s: cpu_seconds() - cpu,
        status: format!("{:?}", out.report.status),
    })
}

fn in_memory(path: &str) -> std::io::Result<Run> {
    let cpu = cpu_seconds();
    let start = Instant::now();
    let data = std::fs::read(path)?;
    let sha1 = DigestAlgorithm::Sha1.hash(&data);
    let sha256 = DigestAlgorithm::Sha256.hash(&data);
    let report = verify_file(&data, chrono::Utc::now());
    std::hint::black_box((sha1, sha256));
    let mib = data.len() as f64 / (1 << 20) as f64;
    Ok(Run {
        mib_s: mib / start.elapsed().as_secs_f64(),
        cpu_s: cpu_seconds() - cpu,
        status: format!("{:?}", report.status),
    })
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["make", path, mib] => make(path, mib.parse().unwrap_or(256)),
        ["run", path] => {
            for round in 1..=3 {
                let threaded = stream(path, StreamOptions::default())?;
                let inline = stream(
                    path,
                    StreamOptions {
                        hash_thread: false,
                        ..StreamOptions::default()
                    },
                )?;
                let sha256_only = stream(
                    path,
                    StreamOptions {
                        image_digests: vec![DigestAlgorithm::Sha256],
                        hash_thread: false,
                    },
                )?;
                let memory = in_memory(path)?;
                println!(
                    "round {round}:\n  stream, hash thread     {threaded}\n  stream, inline          {inline}\n  stream, inline, SHA-256 image digest only {sha256_only}\n  in-memory (before)      {memory}"
                );
            }
            Ok(())
        }
        _ => {
            eprintln!("usage: stream_bench make PATH MIB | stream_bench run PATH");
            Ok(())
        }
    }
}
