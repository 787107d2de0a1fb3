//! The `[sync]` ⇄ subscription translation, on rows shaped as a Server 2022 WSUS sends them.

use super::*;
use crate::store::wsus::soap::decode;

fn answer(op: &str, inner: &str) -> crate::store::wsus::soap::Element {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body><{op}Response xmlns="http://www.microsoft.com/SoftwareDistribution/Server/ApiRemotingWebService">{inner}</{op}Response></soap:Body></soap:Envelope>"#
    );
    decode(op, 200, "text/xml", &body).unwrap()
}

const WIN11: &str = "6407468e-edc7-4ecd-8c32-521f64cee65e";
const WIN10: &str = "a3c2375d-0c8a-42f9-bce0-28333e198407";
const CRITICAL: &str = "e6cf1350-c01b-414d-a61f-263d14d133b4";
const SECURITY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";

fn category(id: &str, kind: &str, title: &str) -> WsusCategory {
    WsusCategory {
        local_id: 1,
        id: UpdateId::parse(id).unwrap(),
        kind: kind.into(),
        title: title.into(),
        description: None,
        update_source: Some("MicrosoftUpdate".into()),
    }
}

fn remote(automatic: bool, per_day: i32, tod: i64) -> RemoteSync {
    let configuration = Configuration::from_response(&answer(
        "ExecuteSPGetConfiguration",
        "<ExecuteSPGetConfigurationResult><Configuration><configurationChangeNumber>7</configurationChangeNumber><ServerSupportsAllLanguages>false</ServerSupportsAllLanguages></Configuration></ExecuteSPGetConfigurationResult>",
    ))
    .unwrap();
    let subscription = Subscription::from_response(&answer(
        "GetSubscription",
        &format!("<GetSubscriptionResult><synchronizeAutomaticallyTimeOfDay>{tod}</synchronizeAutomaticallyTimeOfDay><LastModifiedTime>2024-05-01T08:00:00.123</LastModifiedTime><SynchronizeAutomatically>{automatic}</SynchronizeAutomatically><NumberOfSynchronizationsPerDay>{per_day}</NumberOfSynchronizationsPerDay></GetSubscriptionResult>"),
    ))
    .unwrap();
    let id = |s: &str| UpdateId::parse(s).unwrap();
    RemoteSync {
        configuration,
        subscription,
        products: [id(WIN11)].into(),
        classifications: [id(CRITICAL), id(SECURITY)].into(),
        categories: vec![
            category(WIN11, "Product", "Windows 11"),
            category(WIN10, "Product", "Windows 10"),
            category("11111111-0000-4000-8000-000000000001", "Product", "Office"),
            category(
                "11111111-0000-4000-8000-000000000002",
                "ProductFamily",
                "Office",
            ),
            category(CRITICAL, "UpdateClassification", "Critical Updates"),
            category(SECURITY, "UpdateClassification", "Security Updates"),
        ],
        languages: ["en", "de", "fr"]
            .iter()
            .map(|l| Language {
                short_name: l.to_string(),
                enabled: *l == "en",
            })
            .collect(),
    }
}

fn settings(
    schedule: Option<&str>,
    products: &[&str],
    classes: &[&str],
    langs: &[&str],
) -> SyncSettings {
    let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
    SyncSettings {
        schedule: schedule.map(str::to_string),
        products: v(products),
        classifications: v(classes),
        languages: v(langs),
    }
}

#[test]
fn schedules_wsus_can_express() {
    let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
    assert_eq!(wsus_schedule("every 1 day at 02:00").unwrap(), (1, t(2, 0)));
    assert_eq!(wsus_schedule("every 1 day").unwrap(), (1, None));
    assert_eq!(wsus_schedule("every 6 hours").unwrap(), (4, None));
    assert_eq!(wsus_schedule("every 12 hours").unwrap(), (2, None));
    for text in [
        "every 7 days",
        "every 5 hours",
        "every 2 weeks",
        "0 2 * * 1",
    ] {
        let e = wsus_schedule(text).unwrap_err();
        assert!(matches!(e, WsusError::NotSupported { .. }), "{text}: {e}");
        assert!(e.to_string().contains(text), "{e}");
    }
}

#[test]
fn the_server_in_the_configs_words() {
    let r = remote(true, 1, 7200);
    let s = r.as_settings();
    assert_eq!(s.schedule.as_deref(), Some("every 1 day at 02:00"));
    assert_eq!(s.products, vec!["Windows 11"]);
    assert_eq!(
        s.classifications,
        vec!["Critical Updates", "Security Updates"]
    );
    assert_eq!(s.languages, vec!["en"]);
    assert_eq!(
        remote(true, 4, 3600).as_settings().schedule.as_deref(),
        Some("every 6 hours at 01:00")
    );
    assert_eq!(
        remote(true, 5, 0).as_settings().schedule.as_deref(),
        Some("5 times a day from 00:00 UTC")
    );
    assert_eq!(remote(false, 1, 0).as_settings().schedule, None);
}

#[test]
fn recorded_settings_stand_while_they_describe_the_server() {
    let r = remote(true, 1, 7200);
    // Titles in any case, GUIDs, a different order: the same server state.
    let recorded = settings(
        Some("every 1 day at 02:00"),
        &[WIN11],
        &["security updates", "Critical Updates"],
        &[],
    );
    assert_eq!(r.effective(Some(&recorded)), recorded);
    // A console change (another time of day) shows as the server's own form.
    let moved = remote(true, 1, 3600);
    assert_eq!(moved.effective(Some(&recorded)), moved.as_settings());
    assert_eq!(r.effective(None), r.as_settings());
}

#[test]
fn targets_resolve_titles_and_refuse_unknown_or_ambiguous_ones() {
    let r = remote(true, 1, 7200);
    let t = r
        .target(&settings(
            Some("every 1 day at 03:30"),
            &["windows 10"],
            &["Security Updates"],
            &["de", "EN"],
        ))
        .unwrap();
    assert_eq!(
        (t.automatic, t.per_day, t.time_of_day),
        (true, Some(1), Some(12_600))
    );
    assert_eq!(t.products, [UpdateId::parse(WIN10).unwrap()].into());
    assert_eq!(
        t.languages,
        Some(["de".to_string(), "en".to_string()].into())
    );
    assert!(!r.satisfies(&t));
    let unknown = r
        .target(&settings(None, &["Windows 95"], &[], &[]))
        .unwrap_err();
    assert!(unknown.to_string().contains("Windows 95"), "{unknown}");
    let ambiguous = r
        .target(&settings(None, &["Office"], &[], &[]))
        .unwrap_err();
    assert!(
        ambiguous
            .to_string()
            .contains("11111111-0000-4000-8000-000000000002"),
        "{ambiguous}"
    );
    let language = r.target(&settings(None, &[], &[], &["xx"])).unwrap_err();
    assert!(
        language.to_string().contains("en, de, fr") || language.to_string().contains("de, en, fr"),
        "{language}"
    );
    let classification_as_product = r
        .target(&settings(None, &["Security Updates"], &[], &[]))
        .unwrap_err();
    assert!(matches!(
        classification_as_product,
        WsusError::Resolve {
            kind: "product",
            ..
        }
    ));
}

#[test]
fn no_schedule_only_switches_automatic_sync_off() {
    let r = remote(false, 3, 600);
    let t = r
        .target(&settings(
            None,
            &["Windows 11"],
            &["Critical Updates", "Security Updates"],
            &[],
        ))
        .unwrap();
    assert!(
        r.satisfies(&t),
        "per-day and time are not compared when sync is manual"
    );
    assert!(!remote(true, 3, 600).satisfies(&t));
}
