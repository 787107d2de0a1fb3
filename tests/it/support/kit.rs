//! The test kit's workloads (`supctl-test-kit bench-write | bench-read | hold-lock`) in a
//! process of their own: a `kill -9` and a held lock must belong to another pid.
//!
//! Cargo builds a dependency's binaries for no test, so this test binary runs itself: [`kit`]
//! starts it on the ignored test [`entry`] with the workload's arguments in an environment
//! variable (on the command line libtest would take them for test names), and `entry` hands
//! them to `supctl_test_kit::workloads::main` and exits with its code before the harness
//! reports. libtest prints its "running 1 test" line first; [`first_line`] skips it.

use std::ffi::OsStr;
use std::io::BufRead;
use std::process::Command;

/// Carries the workload's arguments, separated by [`SEP`].
const ARGS: &str = "SUPCTL_TEST_KIT_ARGS";
const SEP: char = '\u{1f}';

/// `supctl-test-kit ARGS…` as a command to spawn or to run with `assert_cmd`.
pub(crate) fn kit<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let joined: Vec<String> = args
        .into_iter()
        .map(|a| {
            let a = a.as_ref().to_str().expect("kit arguments are UTF-8");
            assert!(!a.contains(SEP), "kit argument {a:?} holds the separator");
            a.to_owned()
        })
        .collect();
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "support::kit::entry",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .env(ARGS, joined.join(&SEP.to_string()));
    c
}

/// The first line the workload printed, past the harness's own.
pub(crate) fn first_line(out: impl std::io::Read) -> String {
    for line in std::io::BufReader::new(out).lines() {
        let line = line.unwrap();
        if !line.is_empty() && !line.starts_with("running ") {
            return line;
        }
    }
    panic!("the workload printed nothing");
}

/// Runs the workload named by [`ARGS`]; without it (a plain `--ignored` run) there is
/// nothing to do.
#[test]
#[ignore = "the entry point of the test kit's workloads: support::kit::kit() runs it"]
fn entry() {
    let Ok(args) = std::env::var(ARGS) else {
        return;
    };
    let argv = std::iter::once("supctl-test-kit").chain(args.split(SEP));
    std::process::exit(i32::from(supctl_test_kit::workloads::main(argv)));
}
