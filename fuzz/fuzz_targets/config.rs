//! The config reader: TOML syntax, every section and key, spans turned into line and column,
//! schedules, durations, suggestions, and the cross-checks of `validate`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supctl::config;

fuzz_target!(|data: &[u8]| {
    supctl_fuzz::guard();
    let path = supctl_fuzz::scratch("supctl.toml");
    std::fs::write(&path, data).expect("scratch config");
    if let Err(diags) = config::load(&path) {
        // Rendering walks the spans back into the text: a bad offset would panic here.
        let _ = diags.to_string();
    }
});
