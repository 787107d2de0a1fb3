//! A `[[notify]]` rule made ready to send: its secrets read from the environment, its URL
//! parsed, its SMTP transport built. Secrets live here only, and nothing here prints them:
//! `Debug` leaves them out and transport errors are rendered without the URL.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};

use super::{Event, NotifyError, NotifyProvider, chain, payload};
use crate::config::NotifyRule;

/// A rule and what it needs to deliver.
pub struct Receiver {
    pub rule: NotifyRule,
    target: Target,
}

enum Target {
    Http {
        url: reqwest::Url,
        secret: Option<Vec<u8>>,
    },
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
        to: Vec<Mailbox>,
    },
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.rule.name)
            .field("provider", &self.rule.provider)
            .finish_non_exhaustive()
    }
}

/// How long one SMTP conversation may take (HTTP has the client's timeout).
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads `rule`'s secrets through `env` (the process environment in the daemon) and
/// prepares its transport. A missing variable names the rule and the variable.
pub fn resolve(
    rule: &NotifyRule,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Receiver, NotifyError> {
    let read = |key: &'static str, var: &str| {
        env(var)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| NotifyError::MissingEnv {
                rule: rule.name.clone(),
                key,
                var: var.to_string(),
            })
    };
    let bad = |reason: String| NotifyError::BadUrl {
        rule: rule.name.clone(),
        var: rule.url_env.clone(),
        reason,
    };
    let raw = read("url_env", &rule.url_env)?;
    // url's parse errors describe the problem, never echo the input.
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| bad(e.to_string()))?;
    let target = match rule.provider {
        NotifyProvider::Webhook | NotifyProvider::Teams | NotifyProvider::Slack => {
            if !matches!(url.scheme(), "https" | "http") {
                return Err(bad(format!(
                    "a {} receiver needs an https:// (or http://) URL, not {}://",
                    rule.provider,
                    url.scheme()
                )));
            }
            let secret = match &rule.secret_env {
                Some(var) => Some(read("secret_env", var)?.into_bytes()),
                None => None,
            };
            Target::Http { url, secret }
        }
        NotifyProvider::Email => {
            let password = match &rule.password_env {
                Some(var) => Some(read("password_env", var)?),
                None => None,
            };
            smtp(rule, &url, password).map_err(bad)?
        }
    };
    Ok(Receiver {
        rule: rule.clone(),
        target,
    })
}

/// `smtp://[user@]host[:587]`: STARTTLS, required. `smtps://[user@]host[:465]`: TLS from
/// the first byte. `smtp://host:25?tls=none`: a relay on a trusted network, without TLS and
/// so without a password.
fn smtp(rule: &NotifyRule, url: &reqwest::Url, password: Option<String>) -> Result<Target, String> {
    type T = AsyncSmtpTransport<Tokio1Executor>;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the SMTP URL has no host")?;
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.to_string());
    let mut b = match (url.scheme(), tls.as_deref()) {
        ("smtps", None) => T::relay(host).map_err(|e| chain(&e))?,
        ("smtp", None | Some("required")) => T::starttls_relay(host).map_err(|e| chain(&e))?,
        ("smtp", Some("none")) => {
            if password.is_some() || url.password().is_some() {
                return Err("a password is never sent without TLS: drop `?tls=none`".into());
            }
            T::builder_dangerous(host).port(25)
        }
        (scheme, _) => {
            return Err(format!(
                "an email receiver needs smtp:// (STARTTLS) or smtps://, not {scheme}://"
            ));
        }
    };
    if let Some(port) = url.port() {
        b = b.port(port);
    }
    let user = url.username();
    let password = password.or_else(|| url.password().map(str::to_string));
    if let Some(pw) = password {
        if user.is_empty() {
            return Err("an SMTP password needs a user name in the URL (smtp://user@host)".into());
        }
        let user = percent_decode(user);
        b = b.credentials(Credentials::new(user, pw));
    }
    let from = rule
        .from
        .as_deref()
        .unwrap_or_default()
        .parse::<Mailbox>()
        .map_err(|e| format!("`from`: {e}"))?;
    let to = rule
        .to
        .iter()
        .map(|t| t.parse::<Mailbox>().map_err(|e| format!("`to`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Target::Smtp {
        transport: b.timeout(Some(SMTP_TIMEOUT)).build(),
        from,
        to,
    })
}

/// `%40` in a user name written in a URL (`smtp://ops%40corp.example@host`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Receiver {
    /// One delivery attempt, bounded by the client's timeout (HTTP) or [`SMTP_TIMEOUT`].
    pub(super) async fn send(
        &self,
        client: &reqwest::Client,
        e: &Event,
        host: &str,
    ) -> Result<(), NotifyError> {
        let rule = &self.rule;
        let failed = |detail: String| NotifyError::Send {
            rule: rule.name.clone(),
            provider: rule.provider,
            kind: e.kind,
            detail,
        };
        match &self.target {
            Target::Http { url, secret } => {
                let body = match rule.provider {
                    NotifyProvider::Teams => {
                        serde_json::to_vec(&payload::teams_body(e, host)).unwrap_or_default()
                    }
                    NotifyProvider::Slack => {
                        serde_json::to_vec(&payload::slack_body(e, host)).unwrap_or_default()
                    }
                    _ => payload::webhook_body(e, host),
                };
                let mut req = client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header("X-Supctl-Event", e.kind.as_str());
                if let Some(key) = secret {
                    req = req.header("X-Supctl-Signature", payload::signature(key, &body));
                }
                let resp = req.body(body).send().await.map_err(|err| {
                    if err.is_timeout() {
                        NotifyError::Timeout {
                            rule: rule.name.clone(),
                            provider: rule.provider,
                            kind: e.kind,
                            secs: super::deliver::REQUEST_TIMEOUT.as_secs(),
                        }
                    } else {
                        failed(chain(&err.without_url()))
                    }
                })?;
                let status = resp.status();
                if status.is_success() {
                    Ok(())
                } else {
                    Err(NotifyError::Status {
                        rule: rule.name.clone(),
                        provider: rule.provider,
                        kind: e.kind,
                        status: status.as_u16(),
                    })
                }
            }
            Target::Smtp {
                transport,
                from,
                to,
            } => {
                let mail = payload::email(e, host, from, to).map_err(|err| NotifyError::Mail {
                    rule: rule.name.clone(),
                    kind: e.kind,
                    detail: err.to_string(),
                })?;
                transport
                    .send(mail)
                    .await
                    .map(|_| ())
                    .map_err(|err| failed(chain(&err)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::Severity;

    fn rule(provider: NotifyProvider) -> NotifyRule {
        NotifyRule {
            name: "ops".into(),
            provider,
            url_env: "OPS_URL".into(),
            secret_env: None,
            password_env: None,
            severity: Severity::Warning,
            events: Vec::new(),
            catalogs: Vec::new(),
            remind_after: crate::config::DEFAULT_REMIND_AFTER,
            from: Some("supctl@corp.example".into()),
            to: vec!["ops@corp.example".into()],
            loc: None,
        }
    }

    #[test]
    fn a_missing_variable_names_the_rule_and_the_variable() {
        let e = resolve(&rule(NotifyProvider::Webhook), &|_| None).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("`ops`") && text.contains("OPS_URL"), "{text}");
        let mut r = rule(NotifyProvider::Webhook);
        r.secret_env = Some("OPS_SECRET".into());
        let env = |v: &str| (v == "OPS_URL").then(|| "https://hooks.example/abc".to_string());
        let text = resolve(&r, &env).unwrap_err().to_string();
        assert!(
            text.contains("OPS_SECRET") && text.contains("secret_env"),
            "{text}"
        );
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let env = |_: &str| Some("ftp://hooks.example/s3cr3t-token".to_string());
        let text = resolve(&rule(NotifyProvider::Slack), &env)
            .unwrap_err()
            .to_string();
        assert!(text.contains("https://"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
        let env = |_: &str| Some("https://hooks.example/x".to_string());
        let text = resolve(&rule(NotifyProvider::Email), &env)
            .unwrap_err()
            .to_string();
        assert!(text.contains("smtp://"), "{text}");
    }

    #[test]
    fn smtp_urls_choose_starttls_implicit_tls_or_an_explicit_plain_relay() {
        for url in [
            "smtp://ops@mail.corp.example:587",
            "smtps://ops@mail.corp.example",
            "smtp://relay.corp.example:25?tls=none",
        ] {
            let env = |_: &str| Some(url.to_string());
            resolve(&rule(NotifyProvider::Email), &env).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        let mut r = rule(NotifyProvider::Email);
        r.password_env = Some("SMTP_PW".into());
        let env = |v: &str| {
            Some(match v {
                "SMTP_PW" => "hunter2".to_string(),
                _ => "smtp://ops@relay.corp.example:25?tls=none".to_string(),
            })
        };
        let text = resolve(&r, &env).unwrap_err().to_string();
        assert!(text.contains("never sent without TLS"), "{text}");
        assert!(!text.contains("hunter2"));
        assert_eq!(percent_decode("ops%40corp.example"), "ops@corp.example");
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let env = |_: &str| Some("https://hooks.example/s3cr3t-token".to_string());
        let r = resolve(&rule(NotifyProvider::Teams), &env).unwrap();
        let text = format!("{r:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
