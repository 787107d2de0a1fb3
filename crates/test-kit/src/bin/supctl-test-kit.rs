//! `supctl-test-kit`: the store workloads of supctl's crash, lock and store tests and of the
//! benchmarks (`bench-write`, `bench-read`, `hold-lock`). See `supctl_test_kit::workloads`.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(supctl_test_kit::workloads::main(std::env::args_os()))
}
