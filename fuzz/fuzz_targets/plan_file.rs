//! The plan-file reader (`apply PLANFILE`, `show`, `apply --resume`): JSON into the typed
//! plan, the checksum, then the renderers a reader runs on what it loaded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supctl::plan::{file, render};

fuzz_target!(|data: &[u8]| {
    supctl_fuzz::guard();
    let path = supctl_fuzz::scratch("plan.json");
    std::fs::write(&path, data).expect("scratch plan");
    let _ = file::load(&path);
    if let Ok(plan) = file::load_own(&path) {
        let _ = render::text(&plan);
        let _ = render::summary_line(&plan);
        let _ = serde_json::to_string(&plan);
    }
});
