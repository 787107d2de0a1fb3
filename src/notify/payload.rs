//! What each provider receives: the versioned JSON body of a webhook (and its HMAC
//! signature), a Teams Adaptive Card, a Slack message, a mail. Pure functions of the event,
//! so the shapes are tested without a network.

use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::{Value, json};

use super::{Event, SCHEMA, Severity};

/// The webhook body: one JSON object, `schema` = `supctl.event/v1`. These bytes are what
/// is signed and sent; a receiver checks the signature over them as received.
pub fn webhook_body(e: &Event, host: &str) -> Vec<u8> {
    let body = json!({
        "schema": SCHEMA,
        "kind": e.kind,
        "severity": e.severity,
        "catalog": e.catalog,
        "scope": e.scope,
        "code": e.code,
        "message": e.message,
        "time": e.time_text(),
        "resolved": e.resolved,
        "reminder": e.reminder,
        "host": host,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `X-Supctl-Signature`'s value: `sha256=` and the hex HMAC-SHA256 of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this arm is unreachable.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The facts every rendering lists under the message.
fn facts(e: &Event, host: &str) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("Kind", e.kind.to_string()),
        ("Severity", e.severity.to_string()),
    ];
    if let Some(c) = &e.catalog {
        f.push(("Catalog", c.clone()));
    }
    if let Some(code) = e.code {
        f.push(("Status message", code.to_string()));
    }
    f.push(("Time", e.time_text()));
    f.push(("Host", host.to_string()));
    f
}

/// The body a Teams Workflows webhook ("Post to a channel when a webhook request is
/// received") takes: a message with one Adaptive Card 1.4 attachment.
pub fn teams_body(e: &Event, host: &str) -> Value {
    let color = match (e.resolved, e.severity) {
        (true, _) => "Good",
        (false, Severity::Error) => "Attention",
        (false, Severity::Warning) => "Warning",
        (false, Severity::Info) => "Default",
    };
    let card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": e.title(),
                "weight": "Bolder",
                "size": "Medium",
                "color": color,
                "wrap": true,
            },
            { "type": "TextBlock", "text": e.message, "wrap": true },
            {
                "type": "FactSet",
                "facts": facts(e, host)
                    .into_iter()
                    .map(|(title, value)| json!({ "title": title, "value": value }))
                    .collect::<Vec<_>>(),
            },
        ],
    });
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An incoming-webhook message: `text` (the notification's fallback) and Block Kit blocks.
pub fn slack_body(e: &Event, host: &str) -> Value {
    let context = facts(e, host)
        .into_iter()
        .map(|(k, v)| format!("*{k}:* {}", slack_escape(&v)))
        .collect::<Vec<_>>()
        .join("  ·  ");
    json!({
        "text": slack_escape(&format!("{}: {}", e.title(), e.message)),
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": e.title() } },
            { "type": "section", "text": { "type": "mrkdwn", "text": slack_escape(&e.message) } },
            { "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] },
        ],
    })
}

/// The mail: the title as subject, the message and the facts as plain text.
pub(super) fn email(
    e: &Event,
    host: &str,
    from: &lettre::message::Mailbox,
    to: &[lettre::message::Mailbox],
) -> Result<lettre::Message, lettre::error::Error> {
    let mut text = format!("{}\n\n", e.message);
    for (k, v) in facts(e, host) {
        text.push_str(&format!("{k}: {v}\n"));
    }
    text.push_str("\n-- \nsupctl watch\n");
    let mut b = lettre::Message::builder()
        .from(from.clone())
        .subject(e.title())
        .header(lettre::message::header::ContentType::TEXT_PLAIN);
    for m in to {
        b = b.to(m.clone());
    }
    b.body(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::EventKind;

    fn failed() -> Event {
        let mut e = Event::new(
            EventKind::SyncFailed,
            Severity::Error,
            "catalog contoso failed to synchronize: <HTTP 503> & more",
        );
        e.catalog = Some("contoso".into());
        e.scope = Some("catalog.contoso".into());
        e
    }

    #[test]
    fn the_webhook_body_carries_the_contract_fields() {
        let mut e = failed();
        e.code = Some(11508);
        let v: Value = serde_json::from_slice(&webhook_body(&e, "sup01")).unwrap();
        assert_eq!(v["schema"], "supctl.event/v1");
        assert_eq!(v["kind"], "sync-failed");
        assert_eq!(v["severity"], "error");
        assert_eq!(v["catalog"], "contoso");
        assert_eq!(v["code"], 11508);
        assert_eq!(v["message"], e.message);
        assert_eq!(v["resolved"], false);
        assert_eq!(v["host"], "sup01");
        let time = v["time"].as_str().unwrap();
        assert!(time.ends_with('Z'), "{time}");
        chrono::DateTime::parse_from_rfc3339(time).unwrap();
        let none = Event::new(EventKind::DaemonStarted, Severity::Info, "started");
        let v: Value = serde_json::from_slice(&webhook_body(&none, "h")).unwrap();
        assert!(v["catalog"].is_null() && v["code"].is_null());
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_the_exact_bytes() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let body = webhook_body(&failed(), "h");
        let mut other = body.clone();
        other.push(b' ');
        assert_ne!(signature(b"k", &body), signature(b"k", &other));
    }

    #[test]
    fn teams_gets_an_adaptive_card_in_a_message() {
        let v = teams_body(&failed(), "sup01");
        assert_eq!(v["type"], "message");
        let a = &v["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        let card = &a["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        assert_eq!(
            card["body"][0]["text"],
            "[supctl] error: sync-failed (contoso)"
        );
        assert_eq!(card["body"][0]["color"], "Attention");
        let facts = card["body"][2]["facts"].as_array().unwrap();
        assert!(
            facts
                .iter()
                .any(|f| f["title"] == "Catalog" && f["value"] == "contoso")
        );
    }

    #[test]
    fn slack_gets_text_and_blocks_with_markup_escaped() {
        let v = slack_body(&failed(), "sup01");
        let text = v["text"].as_str().unwrap();
        assert!(text.contains("&lt;HTTP 503&gt; &amp; more"), "{text}");
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
        assert!(
            blocks[2]["elements"][0]["text"]
                .as_str()
                .unwrap()
                .contains("*Catalog:* contoso")
        );
    }

    #[test]
    fn the_mail_has_the_title_as_subject_and_the_facts_in_its_text() {
        let from: lettre::message::Mailbox = "supctl <supctl@corp.example>".parse().unwrap();
        let to: Vec<lettre::message::Mailbox> = vec!["ops@corp.example".parse().unwrap()];
        let m = email(&failed(), "sup01", &from, &to).unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        assert!(
            raw.contains("Subject: [supctl] error: sync-failed (contoso)"),
            "{raw}"
        );
        assert!(raw.contains("To: ops@corp.example"), "{raw}");
        assert!(raw.contains("From: supctl <supctl@corp.example>"), "{raw}");
        assert!(raw.contains("Catalog: contoso"), "{raw}");
        assert!(raw.contains("Host: sup01"), "{raw}");
    }
}
