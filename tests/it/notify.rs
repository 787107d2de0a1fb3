//! `[[notify]]` against local receivers, with the real `supctl watch` on the quickstart
//! scenario: a failing catalog (its CAB moved away) sends one `error` event to a signed
//! webhook, Teams and Slack; further failing passes send nothing; recovery sends
//! `sync-recovered`; a hanging and a failing receiver delay no sync; secrets never reach
//! the log; `supctl notify test` reports per receiver.

use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit as _, Mac as _};

use crate::support::TestServer;
use crate::support::receiver::{Answer, Receiver, SmtpReceiver};
use crate::support::watch::{Watch, Workspace, count};

/// Seen in the URL's path and as the HMAC key: must never reach the log.
const PATH_TOKEN: &str = "tok-9f8e7d6c5b4a-secret-path";
const HMAC_KEY: &str = "hmac-key-3c2b1a-never-logged";

/// The quickstart, on an hourly schedule (seconds under `--schedule-scale 1800`), its
/// catalog served over HTTPS by a test server that does not have it yet (404: each pass
/// fails) until [`heal`], with `rules` appended.
fn workspace(rules: &str) -> (Workspace, TestServer) {
    let ws = Workspace::quickstart();
    let server = TestServer::start(Vec::<(String, Vec<u8>)>::new());
    let text = ws
        .read_config()
        .replace(
            r#"schedule = "every 7 days""#,
            r#"schedule = "every 1 hour""#,
        )
        .replace(
            r#"path = "catalog/contoso-v3.cab""#,
            &format!(r#"url = "{}""#, server.url("/contoso-v3.cab")),
        );
    ws.save_config(&format!(
        "{text}\n[http]\nca_certificates = [\"{}\"]\nretries = 0\n{rules}",
        server.ca_pem_path().display()
    ));
    (ws, server)
}

/// The catalog server gets the CAB: the next pass succeeds.
fn heal(ws: &Workspace, server: &TestServer) {
    let cab = std::fs::read(ws.path().join("catalog/contoso-v3.cab")).unwrap();
    server.set_file("/contoso-v3.cab", cab);
}

fn failures(ev: &[serde_json::Value]) -> usize {
    // ("synchronization failed" carries a `message` field of its own, which hides it.)
    count(
        ev,
        "retrying with backoff",
        Some(("scope", "catalog.contoso")),
    )
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn a_failing_catalog_is_sent_once_to_each_receiver_and_its_recovery_once() {
    let hook = Receiver::start(Answer::Status(204));
    let teams = Receiver::start(Answer::Status(202));
    let slack = Receiver::start(Answer::Status(200));
    let (ws, server) = workspace(
        r#"
[[notify]]
name = "ops-webhook"
provider = "webhook"
url_env = "T_HOOK_URL"
secret_env = "T_HOOK_SECRET"

[[notify]]
name = "ops-teams"
provider = "teams"
url_env = "T_TEAMS_URL"
severity = "error"
events = ["sync-failed"]
catalogs = ["contoso"]

[[notify]]
name = "ops-slack"
provider = "slack"
url_env = "T_SLACK_URL"
"#,
    );
    ws.set_env("T_HOOK_URL", &hook.url(&format!("/hooks/{PATH_TOKEN}")));
    ws.set_env("T_HOOK_SECRET", HMAC_KEY);
    ws.set_env(
        "T_TEAMS_URL",
        &teams.url(&format!("/workflows/{PATH_TOKEN}?sig=x")),
    );
    ws.set_env(
        "T_SLACK_URL",
        &slack.url(&format!("/services/{PATH_TOKEN}")),
    );
    let mut w = Watch::start(&ws, &[], Some(1800));

    let got = hook.wait_for(1, Duration::from_secs(30));
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, format!("/hooks/{PATH_TOKEN}"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let signature = r.header("x-supctl-signature").expect("signed");
    assert_eq!(signature, format!("sha256={}", hmac_hex(HMAC_KEY, &r.body)));
    let body = r.json();
    assert_eq!(body["schema"], "supctl.event/v1");
    assert_eq!(body["kind"], "sync-failed");
    assert_eq!(body["severity"], "error");
    assert_eq!(body["catalog"], "contoso");
    assert!(body["code"].is_null());
    assert_eq!(body["resolved"], false);
    assert!(
        body["message"].as_str().unwrap().contains("contoso"),
        "{body:#}"
    );
    chrono::DateTime::parse_from_rfc3339(body["time"].as_str().unwrap()).unwrap();

    let card = teams.wait_for(1, Duration::from_secs(10))[0].json();
    assert_eq!(card["type"], "message");
    assert_eq!(
        card["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let content = &card["attachments"][0]["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(content["version"], "1.4");
    assert!(
        content["body"][0]["text"]
            .as_str()
            .unwrap()
            .contains("sync-failed"),
        "{card:#}"
    );
    let msg = slack.wait_for(1, Duration::from_secs(10))[0].json();
    assert!(
        msg["text"].as_str().unwrap().contains("sync-failed"),
        "{msg:#}"
    );
    assert_eq!(msg["blocks"][0]["type"], "header");

    // More failing passes (the daemon retries with backoff): nothing new is sent.
    let first = failures(&w.events());
    w.wait_for("three more failing passes", Duration::from_secs(30), |ev| {
        failures(ev) >= first + 3
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(hook.requests().len(), 1, "one event per open problem");
    assert_eq!(teams.requests().len(), 1);
    assert_eq!(slack.requests().len(), 1);

    // Recovery: the next retry succeeds and each receiver hears it once.
    heal(&ws, &server);
    let got = hook.wait_for(2, Duration::from_secs(30));
    let body = got[1].json();
    assert_eq!(body["kind"], "sync-recovered", "{body:#}");
    assert_eq!(body["severity"], "info");
    assert_eq!(body["resolved"], true);
    assert_eq!(body["catalog"], "contoso");
    assert_eq!(
        got[1].header("x-supctl-signature").unwrap(),
        format!("sha256={}", hmac_hex(HMAC_KEY, &got[1].body))
    );
    // Teams' rule (severity error, events sync-failed) still hears the recovery.
    assert_eq!(
        teams.wait_for(2, Duration::from_secs(10))[1].json()["attachments"][0]["content"]["body"]
            [0]["text"],
        "[supctl] resolved: sync-recovered (contoso)"
    );
    slack.wait_for(2, Duration::from_secs(10));
    let ev = w.wait_for("the deliveries logged", Duration::from_secs(10), |ev| {
        count(ev, "notification delivered", None) >= 6
    });
    assert!(
        ev.iter().any(|e| e["fields"]["notify"] == "ops-webhook"
            && e["fields"]["provider"] == "webhook"
            && e["fields"]["event"] == "sync-recovered"
            && e["fields"]["outcome"] == "delivered"),
        "{}",
        w.dump()
    );
    assert_eq!(w.stop(Duration::from_secs(20)), 0);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        hook.requests().len(),
        2,
        "daemon-stopped is info: below the rule"
    );

    let log = w.dump();
    assert!(!log.contains(PATH_TOKEN), "a URL reached the log:\n{log}");
    assert!(!log.contains(HMAC_KEY), "the HMAC key reached the log");
}

#[test]
fn a_hanging_and_a_failing_receiver_delay_no_sync() {
    let hung = Receiver::start(Answer::Hang);
    let failing = Receiver::start(Answer::Status(500));
    let (ws, server) = workspace(
        r#"
[[notify]]
name = "hung"
provider = "webhook"
url_env = "T_HUNG_URL"

[[notify]]
name = "broken"
provider = "slack"
url_env = "T_BROKEN_URL"
"#,
    );
    ws.set_env("T_HUNG_URL", &hung.url(&format!("/h/{PATH_TOKEN}")));
    ws.set_env("T_BROKEN_URL", &failing.url(&format!("/b/{PATH_TOKEN}")));
    let mut w = Watch::start(&ws, &["--listen", "127.0.0.1:0"], Some(1800));
    let addr = crate::support::web::address(&mut w);

    // Both receivers hear the failure; the hung one never answers.
    hung.wait_for(1, Duration::from_secs(30));
    // 1 attempt + 3 retries (backoff 1 s, 2 s, 4 s divided by the scale).
    failing.wait_for(4, Duration::from_secs(10));
    let ev = w.wait_for("the failed delivery", Duration::from_secs(10), |ev| {
        ev.iter().any(|e| {
            e["fields"]["message"] == "notification not delivered"
                && e["fields"]["notify"] == "broken"
        })
    });
    let attempts: Vec<_> = ev
        .iter()
        .filter(|e| e["fields"]["notify"] == "broken")
        .map(|e| e["fields"]["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4], "{}", w.dump());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        failing.requests().len(),
        4,
        "no retry beyond the fourth attempt"
    );
    // The outcome is counted in /metrics.
    let metrics = crate::support::web::get(&addr, "/metrics", None).body;
    assert!(
        metrics.contains(
            "supctl_notifications_total{name=\"broken\",provider=\"slack\",outcome=\"failed\"} 1"
        ),
        "{metrics}"
    );

    // While the hung receiver holds its connection (10 s per attempt), passes go on: the
    // failing catalog is retried every few hundred ms, and a `sync` after the fix
    // completes within 10 s.
    let first = failures(&w.events());
    w.wait_for("two more failing passes", Duration::from_secs(15), |ev| {
        failures(ev) >= first + 2
    });
    heal(&ws, &server);
    let started = Instant::now();
    ws.sync_ok();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "sync took {:?} while a receiver hung",
        started.elapsed()
    );
    // Stopping waits a bounded time for queued notifications, not for the hung receiver.
    let started = Instant::now();
    assert_eq!(w.stop(Duration::from_secs(20)), 0);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "stop took {:?}",
        started.elapsed()
    );
    let log = w.dump();
    assert!(!log.contains(PATH_TOKEN), "a URL reached the log:\n{log}");
}

#[test]
fn notify_test_sends_a_test_event_and_names_the_failure_without_the_url() {
    let ok = Receiver::start(Answer::Status(200));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/dead/{PATH_TOKEN}", closed.local_addr().unwrap());
    drop(closed);
    let (ws, _server) = workspace(
        r#"
[[notify]]
name = "ops"
provider = "webhook"
url_env = "T_OK_URL"
events = ["sync-failed"]
catalogs = ["contoso"]
severity = "error"

[[notify]]
name = "dead"
provider = "teams"
url_env = "T_DEAD_URL"

[[notify]]
name = "unset"
provider = "slack"
url_env = "T_NEVER_SET_URL"
"#,
    );
    ws.set_env("T_OK_URL", &ok.url("/ok"));
    ws.set_env("T_DEAD_URL", &dead_url);

    let out = ws.supctl(&["notify", "test", "ops"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "ops: sent");
    let body = ok.wait_for(1, Duration::from_secs(5))[0].json();
    assert_eq!(body["kind"], "test", "the test event passes every filter");
    assert_eq!(body["schema"], "supctl.event/v1");

    let out = ws.supctl(&["notify", "test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("ops: sent"), "{stdout}");
    let dead = stdout.lines().find(|l| l.starts_with("dead: ")).unwrap();
    assert!(dead.contains("notify `dead` (teams)"), "{dead}");
    assert!(
        !stdout.contains(PATH_TOKEN),
        "the URL was printed: {stdout}"
    );
    assert!(!stdout.contains("http://"), "the URL was printed: {stdout}");
    assert!(
        stdout.contains("unset: [[notify]] `unset`: the environment variable T_NEVER_SET_URL"),
        "{stdout}"
    );

    let out = ws.supctl(&["notify", "test", "opps"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("did you mean `ops`?"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn watch_refuses_to_start_without_a_rules_secret() {
    let (ws, _server) = workspace(
        r#"
[[notify]]
name = "ops"
provider = "webhook"
url_env = "T_HOOK_URL_UNSET"
"#,
    );
    let out = ws.supctl(&["watch"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[[notify]] `ops`: the environment variable T_HOOK_URL_UNSET named by `url_env` is not set"),
        "{stderr}"
    );
}

#[test]
fn notify_rules_are_validated_with_their_position() {
    let (ws, _server) = workspace(
        r#"
[[notify]]
name = "ops"
provider = "webhook"
url_env = "T_URL"
events = ["sync-failed", "sync-faild"]
catalogs = ["contosoo"]
remind_after = "soon"

[[notify]]
name = "ops"
provider = "webhook"
url_env = "https://hooks.example/abc"
password_env = "T_PW"

[[notify]]
name = "pager"
provider = "pagerduty"
url_env = "T_URL"
"#,
    );
    let out = ws.supctl(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for want in [
        "`notify[2].provider` cannot be `pagerduty`",
        "unknown event kind `sync-faild`",
        "did you mean `sync-failed`?",
        "`notify[0].remind_after`",
        "filters on catalog `contosoo`, which is not defined",
        "[[notify]] name `ops` is used twice",
        "`notify[1].url_env` must name an environment variable",
        "`notify[1].password_env` only applies to provider = \"email\"",
    ] {
        assert!(stderr.contains(want), "missing {want:?} in:\n{stderr}");
    }
    assert!(stderr.contains("supctl.toml:"), "positions: {stderr}");
}

#[test]
fn notify_test_sends_a_mail_through_an_smtp_relay() {
    let smtp = SmtpReceiver::start();
    let (ws, _server) = workspace(
        r#"
[[notify]]
name = "mail"
provider = "email"
url_env = "T_SMTP_URL"
from = "supctl <supctl@corp.example>"
to = ["endpoint-team@corp.example", "oncall@corp.example"]
"#,
    );
    ws.set_env("T_SMTP_URL", &format!("smtp://{}?tls=none", smtp.addr));
    let out = ws.supctl(&["notify", "test", "mail"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "mail: sent");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.contains("Subject: [supctl] info: test"), "{m}");
    assert!(m.contains("From: supctl <supctl@corp.example>"), "{m}");
    assert!(m.contains("endpoint-team@corp.example"), "{m}");
    assert!(m.contains("Kind: test"), "{m}");
}

#[test]
fn a_restart_does_not_send_an_open_problem_again() {
    let hook = Receiver::start(Answer::Status(204));
    let (ws, server) = workspace(
        r#"
[[notify]]
name = "ops"
provider = "webhook"
url_env = "T_HOOK_URL"
"#,
    );
    ws.set_env("T_HOOK_URL", &hook.url("/hook"));
    let mut w = Watch::start(&ws, &[], Some(1800));
    assert_eq!(
        hook.wait_for(1, Duration::from_secs(30))[0].json()["kind"],
        "sync-failed"
    );
    assert_eq!(w.stop(Duration::from_secs(20)), 0);
    assert!(ws.path().join(".supctl/notify-state.json").is_file());

    let mut w = Watch::start(&ws, &[], Some(1800));
    w.wait_for(
        "two failing passes after the restart",
        Duration::from_secs(30),
        |ev| failures(ev) >= 2,
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(hook.requests().len(), 1, "the open problem was sent again");
    heal(&ws, &server);
    let got = hook.wait_for(2, Duration::from_secs(30));
    assert_eq!(got[1].json()["kind"], "sync-recovered");
    assert_eq!(w.stop(Duration::from_secs(20)), 0);
}
