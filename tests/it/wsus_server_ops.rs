//! The WSUS test double's settings writes and newer reads (subscription, configuration and
//! languages, the signing certificate), driven through the crate's own SOAP client and NTLM
//! transport: each happy path leaves no contract violation, each refusal leaves the state
//! unchanged and no successful write behind.

use crate::support::wsus as wsus_support;

use supctl::store::wsus::WsusError;
use supctl::store::wsus::records::{self, RowElement};
use supctl::store::wsus::soap::Call;
use supctl::store::wsus::transport::Transport;
use wsus_support::State;
use wsus_support::calls::*;

fn set_subscription(row: &RowElement, products: &[&str], classes: &[&str]) -> Call {
    Call::new("SetSubscription")
        .arg_element("subscription", row.0.clone())
        .arg_element("categoryIds", guids(products))
        .arg_element("updateClassificationIds", guids(classes))
        .arg("userName", "CORP\\svc-supctl")
}

#[test]
fn set_subscription_writes_schedule_products_and_classifications_together() {
    let (server, t) = start(State::default());
    let before = subscription(&t);
    let mut row = before.row.clone();
    row.set("x", "NumberOfSynchronizationsPerDay", "4").unwrap();
    row.set("x", "synchronizeAutomaticallyTimeOfDay", "3600")
        .unwrap();
    row.set("x", "SynchronizeAutomatically", "false").unwrap();
    t.call(set_subscription(&row, &[WINDOWS_11], &[SECURITY, CRITICAL]))
        .unwrap();
    let after = subscription(&t);
    assert_eq!((after.per_day, after.time_of_day), (4, 3600));
    assert!(!after.synchronize_automatically);
    assert_ne!(after.last_modified, before.last_modified);
    assert_eq!(after.row.field("LastModifiedBy"), Some("CORP\\svc-supctl"));
    let classes = t
        .call(
            Call::new("GetSubscriptionCategories")
                .arg("preferredCulture", "en")
                .arg("retrieveUpdateClassifications", true),
        )
        .unwrap();
    assert_eq!(records::subscription_categories(&classes).unwrap().len(), 2);
    // Empty product list: a whole-row write unsubscribes every product.
    t.call(set_subscription(&after.row, &[], &[CRITICAL]))
        .unwrap();
    let s = server.state();
    assert!(
        s.categories
            .iter()
            .all(|c| c.subscribed == (c.id == CRITICAL))
    );
    drop(s);
    assert_eq!(server.writes(), ["SetSubscription", "SetSubscription"]);
    clean(&server);
}

#[test]
fn set_subscription_refusals_leave_the_row_alone() {
    let (server, t) = start(State::default());
    let row = subscription(&t).row;
    let snapshot = format!("{:?}", *server.state());
    // A classification where a product belongs, an unknown GUID, 25 syncs a day.
    let e = t
        .call(set_subscription(&row, &[CRITICAL], &[]))
        .unwrap_err();
    assert_fault(&e, "System.ArgumentException");
    let e = t
        .call(set_subscription(
            &row,
            &[WINDOWS_11],
            &["00000000-1111-2222-3333-444444444444"],
        ))
        .unwrap_err();
    assert_fault(&e, "System.ArgumentException");
    let mut bad = row.clone();
    bad.set("x", "NumberOfSynchronizationsPerDay", "25")
        .unwrap();
    let e = t
        .call(set_subscription(&bad, &[WINDOWS_11], &[]))
        .unwrap_err();
    assert_fault(&e, "between 1 and 24");
    clean(&server);
    // A partial row (a field dropped) is a contract violation.
    let mut partial = row.clone();
    partial.0.children.retain(|c| c.name != "Anchor");
    t.call(set_subscription(&partial, &[WINDOWS_11], &[]))
        .unwrap_err();
    assert!(
        server.violations()[0].contains("Anchor"),
        "{:?}",
        server.violations()
    );
    assert_eq!(format!("{:?}", *server.state()), snapshot);
    assert!(server.writes().is_empty());
}

// ---- Configuration and languages ----

fn set_configuration(row: &RowElement, on: &[&str], off: &[&str]) -> Call {
    Call::new("ExecuteSPSetConfiguration")
        .arg_element("row", row.0.clone())
        .arg_element("listTrue", strings(on))
        .arg_element("listFalse", strings(off))
        .arg_element("ussListTrue", strings(&[]))
        .arg_element("ussListFalse", strings(&[]))
        .arg_element("programKeys", el("a"))
}

fn languages(t: &Transport) -> Vec<(String, bool, bool)> {
    const OP: &str = "ExecuteSPGetAllLanguagesWithEnabledState";
    let resp = t.call(Call::new(OP)).unwrap();
    records::result_rows(OP, &resp)
        .iter()
        .map(|r| {
            let v = |i: usize| r.cells[i].value.clone().unwrap();
            (v(0), v(1) == "true", v(2) == "true")
        })
        .collect()
}

#[test]
fn configuration_write_enables_languages_and_bumps_the_change_number() {
    let (server, t) = start(State::default());
    let config = |t: &Transport| {
        records::Configuration::from_response(
            &t.call(Call::new("ExecuteSPGetConfiguration")).unwrap(),
        )
        .unwrap()
    };
    let c = config(&t);
    assert_eq!(c.row.bool_field("ServerSupportsAllLanguages"), Some(true));
    let mut row = c.row.clone();
    row.set("x", "ServerSupportsAllLanguages", "false").unwrap();
    t.call(set_configuration(&row, &["de", "fr"], &["en"]))
        .unwrap();
    let after = config(&t);
    assert_eq!(after.change_number, c.change_number + 1);
    assert_eq!(
        after.row.bool_field("ServerSupportsAllLanguages"),
        Some(false)
    );
    assert_eq!(after.content_location.as_deref(), Some("D:\\WSUS"));
    let enabled: Vec<String> = languages(&t)
        .into_iter()
        .filter(|l| l.1)
        .map(|l| l.0)
        .collect();
    assert_eq!(enabled, ["de", "fr"]);
    assert_eq!(server.writes(), ["ExecuteSPSetConfiguration"]);
    clean(&server);
}

#[test]
fn configuration_refusals() {
    let (server, t) = start(State::default());
    let row = records::Configuration::from_response(
        &t.call(Call::new("ExecuteSPGetConfiguration")).unwrap(),
    )
    .unwrap()
    .row;
    let e = t.call(set_configuration(&row, &["xx"], &[])).unwrap_err();
    assert_fault(&e, "xx is not a language");
    clean(&server);
    let mut partial = row.clone();
    partial.0.children.retain(|c| c.name != "HostOnMu");
    t.call(set_configuration(&partial, &["de"], &[]))
        .unwrap_err();
    assert!(server.violations()[0].contains("HostOnMu"));
    let s = server.state();
    assert_eq!(s.change_number, 100);
    assert!(!s.languages.iter().any(|(l, on)| l == "de" && *on));
    drop(s);
    assert!(server.writes().is_empty());
}

#[test]
fn languages_answer_three_documented_columns_and_a_spare() {
    let (server, t) = start(State::default());
    let l = languages(&t);
    assert_eq!(l[0], ("en".to_string(), true, true));
    assert!(l.iter().skip(1).all(|l| !l.1 && !l.2));
    clean(&server);
}

// ---- Signing certificate ----

#[test]
fn self_signing_certificate_installs_real_der_and_rotates() {
    let (server, t) = start(State::default());
    let get = |t: &Transport| {
        records::signing_certificate(&t.call(Call::new("ExecuteGetSigningCertificate")).unwrap())
            .unwrap()
    };
    t.call(Call::new("ExecuteSetSelfSigningCertificate"))
        .unwrap();
    let first = get(&t).unwrap();
    assert_eq!(first, include_bytes!("../fixtures/pki/signer.cer"));
    assert_eq!(first[0], 0x30, "DER SEQUENCE");
    t.call(Call::new("ExecuteSetSelfSigningCertificate"))
        .unwrap();
    assert_ne!(
        get(&t).unwrap(),
        first,
        "a rotation replaces the certificate"
    );
    clean(&server);

    server.state().role = 1;
    let e = t
        .call(Call::new("ExecuteSetSelfSigningCertificate"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            WsusError::Fault {
                access_denied: true,
                ..
            }
        ),
        "{e:?}"
    );
}

// ---- Publishing ----
