//! Standard output and error that never panic.
//!
//! `println!` panics when its write fails, and a write fails as soon as the reader of a pipe
//! goes away (`supctl show --json | head`). Rust ignores SIGPIPE, so the write returns
//! `EPIPE` instead of killing the process; restoring the signal's default would be the other
//! classic answer, but it would also kill an `apply` between two actions and the `watch`
//! daemon, and it does not exist on Windows. So CLI output goes through these writers: a
//! failed write is dropped, later output to that stream is skipped, and the command carries
//! on to its own end (an apply finishes and journals its actions) and exit code.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Which standard stream a [`Stream`] writes to.
#[derive(Debug, Clone, Copy)]
enum Which {
    Out,
    Err,
}

/// A standard stream whose write errors are swallowed (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub struct Stream(Which);

impl Stream {
    fn gone(&self) -> &'static AtomicBool {
        match self.0 {
            Which::Out => &STDOUT_GONE,
            Which::Err => &STDERR_GONE,
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.gone().load(Ordering::Relaxed) {
            let result = match self.0 {
                Which::Out => std::io::stdout().lock().write_all(buf),
                Which::Err => std::io::stderr().lock().write_all(buf),
            };
            if result.is_err() {
                self.gone().store(true, Ordering::Relaxed);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.gone().load(Ordering::Relaxed) {
            let result = match self.0 {
                Which::Out => std::io::stdout().flush(),
                Which::Err => std::io::stderr().flush(),
            };
            if result.is_err() {
                self.gone().store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Standard output, colour stripped unless it is a terminal (as `anstream::stdout`).
pub fn stdout() -> anstream::AutoStream<Box<dyn Write>> {
    anstream::AutoStream::new(
        Box::new(Stream(Which::Out)),
        anstream::AutoStream::choice(&std::io::stdout()),
    )
}

/// Standard error, colour stripped unless it is a terminal.
pub fn stderr() -> anstream::AutoStream<Box<dyn Write>> {
    anstream::AutoStream::new(
        Box::new(Stream(Which::Err)),
        anstream::AutoStream::choice(&std::io::stderr()),
    )
}

/// `println!` that never panics.
#[macro_export]
macro_rules! outln {
    () => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!($crate::cli::output::stdout());
    }};
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!($crate::cli::output::stdout(), $($arg)*);
    }};
}

/// `print!` that never panics.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let mut o = $crate::cli::output::stdout();
        let _ = ::std::write!(o, $($arg)*);
        let _ = o.flush();
    }};
}

/// `eprintln!` that never panics.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!($crate::cli::output::stderr(), $($arg)*);
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_reports_success_whatever_happens() {
        let mut s = Stream(Which::Err);
        assert_eq!(s.write(b"").unwrap(), 0);
        STDERR_GONE.store(true, Ordering::Relaxed);
        assert_eq!(s.write(b"dropped\n").unwrap(), 8);
        assert!(s.flush().is_ok());
        STDERR_GONE.store(false, Ordering::Relaxed);
    }
}
