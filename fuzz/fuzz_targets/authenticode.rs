//! The Authenticode verifier: the DER/PKCS#7 parser on a bare blob, then the CAB, PE and MSI
//! containers it is found in (the first byte picks which reader sees the rest).
#![no_main]

use libfuzzer_sys::fuzz_target;
use supctl::trust::authenticode::{
    DigestAlgorithm, inspect_signature, verify_cab, verify_msi, verify_pe, verify_pkcs7,
};

fuzz_target!(|data: &[u8]| {
    supctl_fuzz::guard();
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let now = supctl_fuzz::now();
    match which % 4 {
        0 => {
            let _ = inspect_signature(rest);
            // A digest that never matches still walks certificates, attributes and timestamps.
            let digest = |alg: DigestAlgorithm| Ok(vec![0x5a; alg.output_len()]);
            let _ = verify_pkcs7(rest, &digest, now);
        }
        1 => {
            let _ = verify_cab(rest, now);
        }
        2 => {
            let _ = verify_pe(rest, now);
        }
        _ => {
            let _ = verify_msi(rest, now);
        }
    }
});
