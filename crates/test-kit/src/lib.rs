//! supctl's test kit: what the tests and the benchmarks need and the product must not carry.
//!
//! - [`generator`]: deterministic, optionally signed catalog CABs (v1, v2, v3) and their
//!   content, for the benchmarks, the offline quickstart and the end-to-end tests
//!   (`supctl-gen-catalog`).
//! - [`bench`](mod@bench): a synthetic store workload written through the real `Store` write path.
//! - [`workloads`]: the commands of `supctl-test-kit` (`bench-write`, `bench-read`,
//!   `hold-lock`) that the crash and lock tests run as separate processes, so that a kill or
//!   a held lock belongs to another pid, as it does in the field.
//!
//! It depends on supctl and never the other way round: supctl's own binary and dependency
//! tree know nothing of it (it is a dev-dependency of the tests only).

pub mod bench;
pub mod generator;
pub mod workloads;
