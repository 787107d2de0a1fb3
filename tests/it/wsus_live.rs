//! Live validation against a real WSUS, ignored by default:
//!
//! ```text
//! SUPCTL_WSUS_URL=https://wsus01.corp.example:8531 SUPCTL_WSUS_USER='CORP\svc-supctl' \
//! SUPCTL_WSUS_PASSWORD=... cargo test --test it wsus_live -- --ignored --nocapture
//! ```
//!
//! Read-only unless `SUPCTL_WSUS_ALLOW_WRITE=1`. Each test prints the record a validation
//! run should keep (README, "Validating against a real WSUS"). `SUPCTL_WSUS_CA` may name a
//! PEM file with the server's CA.

use std::time::{Duration, Instant};

use supctl::catalog::sdp::parse_catalog;

use supctl::store::db::OpenOptions;
use supctl::store::wsus::client::Client;
use supctl::store::wsus::ntlm::Credentials;
use supctl::store::wsus::publish;
use supctl::store::wsus::sync_settings::RemoteSync;
use supctl::store::wsus::transport::{Endpoint, Transport};
use supctl::store::{Store, StoreLocation};

struct Live {
    endpoint: Endpoint,
    admin: String,
}

/// The endpoint from the environment, or `None` (and a line saying so) when not configured.
fn live() -> Option<Live> {
    let Ok(url) = std::env::var("SUPCTL_WSUS_URL") else {
        println!("SUPCTL_WSUS_URL is not set: no live WSUS to validate against; skipped");
        return None;
    };
    let user = std::env::var("SUPCTL_WSUS_USER").expect("SUPCTL_WSUS_USER (DOMAIN\\user)");
    let password = std::env::var("SUPCTL_WSUS_PASSWORD").expect("SUPCTL_WSUS_PASSWORD");
    let (domain, user) = user
        .split_once('\\')
        .map(|(d, u)| (d.to_string(), u.to_string()))
        .unwrap_or((String::new(), user));
    let admin = if domain.is_empty() {
        user.clone()
    } else {
        format!("{domain}\\{user}")
    };
    Some(Live {
        endpoint: Endpoint {
            url,
            credentials: Some(Credentials {
                user,
                domain,
                password,
            }),
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(15),
            ca_certificates: std::env::var("SUPCTL_WSUS_CA")
                .ok()
                .into_iter()
                .map(Into::into)
                .collect(),
            proxy: None,
        },
        admin,
    })
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let v = f();
    println!("  {what}: {:.2} s", t.elapsed().as_secs_f64());
    v
}

#[test]
#[ignore = "needs a real WSUS (SUPCTL_WSUS_URL, SUPCTL_WSUS_USER, SUPCTL_WSUS_PASSWORD)"]
fn live_read_only() {
    let Some(l) = live() else { return };
    let client = Client::new(
        Transport::connect(l.endpoint.clone()).unwrap(),
        l.admin.clone(),
    );
    println!("record:");
    println!("  server version: {:?}", client.server_version().unwrap());
    println!("  role number: {}", client.user_role().unwrap());
    println!(
        "  subscription state: {}",
        client.subscription_state().unwrap()
    );
    let remote = timed("settings read", || RemoteSync::read(&client).unwrap());
    println!(
        "  configuration change number: {}",
        remote.configuration.change_number
    );
    println!(
        "  settings as supctl reads them: {:?}",
        remote.as_settings()
    );
    println!(
        "  raw time of day: {} (seconds UTC expected)",
        remote.subscription.time_of_day
    );
    let updates = timed("update list", || client.updates().unwrap());
    println!("  update revisions listed: {}", updates.len());
    let events = client
        .sync_events(
            chrono::Utc::now() - chrono::Duration::days(30),
            chrono::Utc::now(),
        )
        .unwrap();
    println!("  sync events in 30 days: {}", events.len());
    println!(
        "  signing certificate: {}",
        client.signing_certificate().unwrap().is_some()
    );

    let dir = tempfile::tempdir().unwrap();
    let backend = Store::wsus(
        l.endpoint,
        l.admin,
        &StoreLocation::new(dir.path()),
        OpenOptions::write(),
    )
    .unwrap();
    let snap = timed(
        "first snapshot (asks each unknown update for its SDP)",
        || backend.snapshot().unwrap(),
    );
    println!("  locally published updates: {}", snap.updates.len());
    timed("second snapshot (synced updates remembered)", || {
        backend.snapshot().unwrap()
    });
    println!("  sync runs: {:?}", backend.sync_runs(5).unwrap());
}

#[test]
#[ignore = "writes to a real WSUS; needs SUPCTL_WSUS_ALLOW_WRITE=1 as well"]
fn live_writes() {
    let Some(l) = live() else { return };
    if std::env::var("SUPCTL_WSUS_ALLOW_WRITE").as_deref() != Ok("1") {
        println!("SUPCTL_WSUS_ALLOW_WRITE is not 1: read-only run; skipped");
        return;
    }
    let client = Client::new(Transport::connect(l.endpoint).unwrap(), l.admin);
    println!("record:");
    // The subscription row sent back unchanged: the server must accept supctl's whole-row
    // write and keep every setting.
    let before = RemoteSync::read(&client).unwrap();
    let products: Vec<_> = before.products.iter().cloned().collect();
    let classes: Vec<_> = before.classifications.iter().cloned().collect();
    client
        .set_subscription(&before.subscription.row, &products, &classes)
        .unwrap();
    let after = RemoteSync::read(&client).unwrap();
    assert_eq!(before.as_settings(), after.as_settings());
    println!(
        "  LastModifiedTime: {} -> {}",
        before.subscription.last_modified, after.subscription.last_modified
    );

    // A metadata-only publish of a test package with a fresh id, then its expiry.
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    let id = format!("5c7c7c7c-0000-4000-8000-{:012x}", nanos & 0xffff_ffff_ffff);
    let sdp = include_str!("../fixtures/catalog/package.sdp")
        .replace("44444444-0000-4000-8000-000000000004", &id);
    let record = parse_catalog(&sdp).unwrap().remove(0);
    let import = publish::import(&record, 1).unwrap();
    timed("ImportUpdateForPublishing", || {
        client
            .import_for_publishing(&import.sus_xml, &import.usp_xml, &import.files)
            .unwrap()
    });
    let uid = supctl::ids::UpdateId::parse(&id).unwrap();
    let listed = client.updates().unwrap().into_iter().find(|u| u.id == uid);
    println!("  published test update {id}: {listed:?}");
    let stored = client
        .sdp(&uid, listed.as_ref().map_or(1, |u| u.revision))
        .unwrap();
    println!("  SDP stored: {}", stored.is_some());
    if let (Some(u), Some(stored)) = (listed, stored) {
        let expiry = publish::expiry(&stored, u.revision + 1).unwrap();
        client
            .import_for_publishing(&expiry.sus_xml, &expiry.usp_xml, &expiry.files)
            .unwrap();
        let expired = client.updates().unwrap().into_iter().find(|x| x.id == uid);
        println!("  after expiry: {expired:?}");
    }
}
