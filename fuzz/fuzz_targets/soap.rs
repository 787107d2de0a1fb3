//! The WSUS SOAP response reader: the envelope and fault decoding, then every typed reader
//! of a response (configuration, subscription, categories, update rows, SDP XML, the signing
//! certificate, synchronization history). The first byte picks the HTTP status class.
#![no_main]

use libfuzzer_sys::fuzz_target;
use supctl::store::wsus::soap::{self, Element};
use supctl::store::wsus::{history, records};

fuzz_target!(|data: &[u8]| {
    supctl_fuzz::guard();
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let status = [200, 401, 403, 500][usize::from(which % 4)];
    let body = String::from_utf8_lossy(rest);
    let _ = soap::excerpt(&body);
    // The operation is the one the body answers, so every reader below can be reached.
    let operation = Element::parse(&body)
        .ok()
        .and_then(|e| {
            let body_el = e.children.into_iter().find(|c| c.name == "Body")?;
            let answer = body_el.children.into_iter().next()?;
            answer.name.strip_suffix("Response").map(str::to_string)
        })
        .unwrap_or_else(|| "GetUpdateServerConfiguration".to_string());
    let Ok(resp) = soap::decode(&operation, status, "text/xml", &body) else {
        return;
    };
    let _ = soap::result(&operation, &resp);
    let _ = records::server_version(&resp);
    let _ = records::user_role(&resp);
    let _ = records::subscription_state(&resp);
    let _ = records::Configuration::from_response(&resp);
    let _ = records::Subscription::from_response(&resp);
    // The row readers take the operation they answer: give them the body's own.
    let _ = records::result_rows(&operation, &resp);
    let _ = records::subscription_categories(&resp);
    let _ = records::categories(&resp);
    let _ = records::complete_updates(&operation, &resp);
    let _ = records::sdp_xml(&resp);
    let _ = records::signing_certificate(&resp);
    if let Ok(events) = history::events(&resp) {
        let _ = history::runs(&events);
    }
});
