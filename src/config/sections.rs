//! Reading the singular sections and the `[[certificate]]` / `[[publish]]` arrays.

use toml::Spanned;

use super::model::*;
use super::reader::{Cx, Table, dotted};
use crate::ids::{Thumbprint, UpdateId};
use crate::schedule::Schedule;

pub(super) const SERVER_KEYS: &[&str] = &[
    "backend",
    "path",
    "url",
    "username",
    "password_env",
    "domain",
    "max_deletions",
    "keep_plans",
];
pub(super) const HTTP_KEYS: &[&str] = &[
    "proxy",
    "no_proxy",
    "ca_certificates",
    "concurrency",
    "timeout_seconds",
    "retries",
    "max_download_mib",
];
pub(super) const SYNC_KEYS: &[&str] = &[
    "schedule",
    "timezone",
    "products",
    "classifications",
    "languages",
    "suspend",
];
pub(super) const SIGNING_KEYS: &[&str] = &[
    "mode",
    "certificate",
    "key",
    "password_env",
    "renew_before_days",
    "validity_days",
];
pub(super) const WEB_KEYS: &[&str] = &["listen", "token_env", "tls_certificate", "tls_key"];
pub(super) const DEFAULTS_KEYS: &[&str] =
    &["schedule", "timezone", "stage", "allow_expired_signer"];
pub(super) const CERTIFICATE_KEYS: &[&str] = &["thumbprint", "kind", "state", "comment"];
pub(super) const PUBLISH_KEYS: &[&str] = &[
    "catalog",
    "title",
    "ids",
    "vendor",
    "product",
    "classification",
];

/// Checks a URL's scheme; catalogs must use https, proxies and WSUS may use http.
pub(super) fn check_url(cx: &mut Cx, t: &Table, key: &str, s: &Spanned<String>, https_only: bool) {
    let url = s.get_ref();
    let lower = url.to_ascii_lowercase();
    let ok_scheme = lower.starts_with("https://") || (!https_only && lower.starts_with("http://"));
    let has_host = url
        .split_once("://")
        .map(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'))
        .unwrap_or(false);
    if !ok_scheme || !has_host || url.chars().any(char::is_whitespace) {
        let want = if https_only {
            "an https:// URL"
        } else {
            "an http:// or https:// URL"
        };
        let hint = (https_only && lower.starts_with("http://"))
            .then(|| "catalogs are only downloaded over HTTPS; use the https:// address, or `path` for a local copy".to_string());
        cx.error(
            &s.span(),
            format!("`{}` must be {want}, got `{url}`", dotted(&t.name, key)),
            hint,
        );
    }
}

pub(super) fn schedule(cx: &mut Cx, t: &Table, key: &str) -> Option<Schedule> {
    let s = cx.string(t, key)?;
    match s.get_ref().parse::<Schedule>() {
        Ok(sch) => Some(sch),
        Err(e) => {
            cx.error(
                &s.span(),
                format!("`{}`: {e}", dotted(&t.name, key)),
                Some(Schedule::hint().into()),
            );
            None
        }
    }
}

pub(super) fn timezone(cx: &mut Cx, t: &Table, key: &str) -> Option<String> {
    let s = cx.string(t, key)?;
    let tz = s.get_ref().trim();
    let offset_ok = |o: &str| {
        let b = o.as_bytes();
        b.len() == 6
            && (b[0] == b'+' || b[0] == b'-')
            && b[3] == b':'
            && o[1..3].parse::<u8>().is_ok_and(|h| h <= 14)
            && o[4..6].parse::<u8>().is_ok_and(|m| m < 60)
    };
    if tz.eq_ignore_ascii_case("utc") || offset_ok(tz) {
        Some(tz.to_string())
    } else {
        cx.error(
            &s.span(),
            format!(
                "`{}` must be `UTC` or an offset like `+01:00`, got `{tz}`",
                dotted(&t.name, key)
            ),
            Some("schedules run in UTC unless an offset is given".into()),
        );
        None
    }
}

pub(super) fn thumbprint(cx: &mut Cx, s: &Spanned<String>, what: &str) -> Option<Thumbprint> {
    match Thumbprint::parse(s.get_ref()) {
        Ok(t) => Some(t),
        Err(e) => {
            cx.error(
                &s.span(),
                format!("{what}: {e}"),
                Some("copy the thumbprint from `supctl catalog inspect` or `openssl x509 -noout -fingerprint -sha1`".into()),
            );
            None
        }
    }
}

pub(super) fn server(cx: &mut Cx, t: &Table) -> Server {
    cx.check_keys(t, SERVER_KEYS);
    let mut s = Server {
        path: cx.file.dir().join(".supctl"),
        ..Server::default()
    };
    if let Some(b) = cx.choice(t, "backend", &["local", "wsus"]) {
        s.backend = if b == "wsus" {
            BackendKind::Wsus
        } else {
            BackendKind::Local
        };
    }
    if let Some(p) = cx.path(t, "path") {
        s.path = p.into_inner();
    }
    if let Some(url) = cx.string(t, "url") {
        check_url(cx, t, "url", &url, false);
        s.url = Some(url.into_inner());
    }
    s.username = cx.string(t, "username").map(Spanned::into_inner);
    if let Some(env) = env_name(cx, t, "password_env", "SUPCTL_WSUS_PASSWORD") {
        s.password_env = Some(env);
    }
    s.domain = cx.string(t, "domain").map(Spanned::into_inner);
    if let Some(n) = cx.uint(t, "max_deletions", u64::from(u32::MAX)) {
        s.max_deletions = n as u32;
    }
    if let Some(n) = cx.uint(t, "keep_plans", 100_000) {
        s.keep_plans = (n as u32).max(1);
    }
    if s.backend == BackendKind::Wsus {
        for (key, missing) in [
            ("url", s.url.is_none()),
            ("username", s.username.is_none()),
            ("password_env", s.password_env.is_none()),
        ] {
            if missing {
                cx.error(
                    &t.span,
                    format!("`backend = \"wsus\"` needs `server.{key}`"),
                    Some("e.g. url = \"https://wsus01.corp.example:8531\", username = \"svc-supctl\", password_env = \"SUPCTL_WSUS_PASSWORD\"".into()),
                );
            }
        }
    }
    s
}

pub(super) fn http(cx: &mut Cx, t: &Table) -> Http {
    cx.check_keys(t, HTTP_KEYS);
    let mut h = Http::default();
    if let Some(p) = cx.string(t, "proxy") {
        check_url(cx, t, "proxy", &p, false);
        h.proxy = Some(p.into_inner());
    }
    h.no_proxy = cx.string(t, "no_proxy").map(Spanned::into_inner);
    if let Some(list) = cx.strings(t, "ca_certificates") {
        h.ca_certificates = list
            .into_iter()
            .map(|s| cx.file.dir().join(s.into_inner()))
            .collect();
    }
    if let Some(n) = cx.uint(t, "concurrency", 64) {
        if n == 0 {
            cx.error(
                &t.get("concurrency")
                    .map(|v| v.span())
                    .unwrap_or(t.span.clone()),
                "`http.concurrency` must be at least 1",
                None,
            );
        } else {
            h.concurrency = n as u32;
        }
    }
    if let Some(n) = cx.uint(t, "timeout_seconds", 86_400) {
        h.timeout_seconds = n.max(1);
    }
    if let Some(n) = cx.uint(t, "retries", 100) {
        h.retries = n as u32;
    }
    if let Some(n) = cx.uint(t, "max_download_mib", 1 << 20) {
        h.max_download_mib = n.max(1);
    }
    h
}

pub(super) fn sync(cx: &mut Cx, t: &Table) -> SyncSettings {
    cx.check_keys(t, SYNC_KEYS);
    let list = |cx: &mut Cx, key| {
        cx.strings(t, key)
            .unwrap_or_default()
            .into_iter()
            .map(Spanned::into_inner)
            .collect()
    };
    SyncSettings {
        schedule: schedule(cx, t, "schedule"),
        timezone: timezone(cx, t, "timezone"),
        products: list(cx, "products"),
        classifications: list(cx, "classifications"),
        languages: list(cx, "languages"),
        suspend: cx.boolean(t, "suspend").unwrap_or(false),
    }
}

/// `key`'s value when it names an environment variable (letters, digits, `_`, not starting
/// with a digit): configs name secrets' variables, never the secrets.
pub(super) fn env_name(cx: &mut Cx, t: &Table, key: &str, example: &str) -> Option<String> {
    let env = cx.string(t, key)?;
    let name = env.get_ref();
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        cx.error(
            &env.span(),
            format!(
                "`{}.{key}` must name an environment variable, got `{name}`",
                t.name
            ),
            Some(format!(
                "write the variable's name (e.g. {example}), never the password"
            )),
        );
    }
    Some(env.into_inner())
}

pub(super) fn signing(cx: &mut Cx, t: &Table) -> Option<Signing> {
    cx.check_keys(t, SIGNING_KEYS);
    let mode = match cx.choice(t, "mode", &["managed", "manual"]) {
        Some(m) if m == "manual" => SigningMode::Manual,
        Some(_) => SigningMode::Managed,
        None => {
            if t.get("mode").is_none() {
                cx.error(&t.span, "[signing] needs `mode`", Some("mode = \"managed\" (self-signed, renewed before expiry) or \"manual\" with `certificate`".into()));
            }
            return None;
        }
    };
    let certificate = cx.path(t, "certificate");
    let key = cx.path(t, "key");
    let password_env = env_name(cx, t, "password_env", "SUPCTL_SIGNING_PFX_PASSWORD");
    let pfx = certificate
        .as_ref()
        .is_some_and(|c| crate::signing::load::is_pfx(c.get_ref()));
    match mode {
        SigningMode::Manual => match (&certificate, &key) {
            (None, _) => cx.error(
                &t.span,
                "`mode = \"manual\"` needs `signing.certificate`",
                Some("certificate = \"certs/wsus-signing.pfx\" with password_env = \"SUPCTL_SIGNING_PFX_PASSWORD\", or a PEM certificate with key = \"certs/wsus-signing.key\"".into()),
            ),
            (Some(_), Some(k)) if pfx => cx.error(
                &k.span(),
                "`signing.key` does not apply to a PFX, which carries its own key",
                None,
            ),
            (Some(c), None) if !pfx => cx.error(
                &c.span(),
                "a PEM or DER `signing.certificate` needs `signing.key` (its PKCS#8 private key)",
                Some("key = \"certs/wsus-signing.key\"".into()),
            ),
            _ => {}
        },
        SigningMode::Managed => {
            for (name, present) in [
                ("certificate", certificate.as_ref().map(|c| c.span())),
                ("key", key.as_ref().map(|k| k.span())),
            ] {
                if let Some(span) = present {
                    cx.error(
                        &span,
                        format!("`signing.{name}` only applies to `mode = \"manual\"`"),
                        None,
                    );
                }
            }
            if password_env.is_some() {
                cx.error(
                    &t.span,
                    "`signing.password_env` only applies to `mode = \"manual\"` with a PFX",
                    None,
                );
            }
        }
    }
    let renew_before_days = cx
        .uint(t, "renew_before_days", 3650)
        .map(|n| n as u32)
        .unwrap_or(30);
    let validity_days = cx
        .uint(t, "validity_days", 36500)
        .map(|n| n as u32)
        .unwrap_or(DEFAULT_VALIDITY_DAYS);
    if mode == SigningMode::Managed && renew_before_days >= validity_days {
        cx.error(
            &t.span,
            format!("`signing.renew_before_days` ({renew_before_days}) must be less than `signing.validity_days` ({validity_days}), or every plan would renew"),
            Some(format!("renew_before_days = {}", validity_days / 10)),
        );
    }
    Some(Signing {
        mode,
        certificate: certificate.map(Spanned::into_inner),
        key: key.map(Spanned::into_inner),
        password_env,
        renew_before_days,
        validity_days,
    })
}

pub(super) fn web(cx: &mut Cx, t: &Table) -> Web {
    cx.check_keys(t, WEB_KEYS);
    let token_env = env_name(cx, t, "token_env", "SUPCTL_WEB_TOKEN");
    let listen =
        cx.string(t, "listen")
            .and_then(|s| match s.get_ref().parse::<std::net::SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    cx.error(
                        &s.span(),
                        format!(
                            "`web.listen` must be an address with a port, got `{}`",
                            s.get_ref()
                        ),
                        Some("listen = \"127.0.0.1:8467\"".into()),
                    );
                    None
                }
            });
    if let Some(a) = listen.filter(|a| !a.ip().is_loopback())
        && token_env.is_none()
    {
        cx.error(
            &t.span,
            format!("listening on {a} (not loopback) needs `web.token_env`: anyone who can reach it could read the status"),
            Some("token_env = \"SUPCTL_WEB_TOKEN\"".into()),
        );
    }
    let tls_certificate = cx.path(t, "tls_certificate");
    let tls_key = cx.path(t, "tls_key");
    match (&tls_certificate, &tls_key) {
        (Some(c), None) => cx.error(
            &c.span(),
            "`web.tls_certificate` needs `web.tls_key`, the certificate's private key",
            Some("tls_key = \"/etc/supctl/web.key\"".into()),
        ),
        (None, Some(k)) => cx.error(
            &k.span(),
            "`web.tls_key` needs `web.tls_certificate`, the certificate chain it belongs to",
            Some("tls_certificate = \"/etc/supctl/web.pem\"".into()),
        ),
        _ => {}
    }
    Web {
        listen,
        token_env,
        tls_certificate: tls_certificate.map(Spanned::into_inner),
        tls_key: tls_key.map(Spanned::into_inner),
    }
}

/// `[defaults]`, keeping which keys were written so catalogs can inherit them.
pub(super) fn defaults(cx: &mut Cx, t: &Table) -> Defaults {
    cx.check_keys(t, DEFAULTS_KEYS);
    let mut d = Defaults::default();
    if let Some(s) = schedule(cx, t, "schedule") {
        d.schedule = s;
    }
    d.timezone = timezone(cx, t, "timezone");
    if let Some(s) = cx.choice(t, "stage", &["none", "all"]) {
        d.stage = if s == "all" {
            Staging::All
        } else {
            Staging::None
        };
    }
    d.allow_expired_signer = cx.boolean(t, "allow_expired_signer").unwrap_or(false);
    d
}

pub(super) fn certificate(cx: &mut Cx, t: &Table) -> Option<CertificateRule> {
    cx.check_keys(t, CERTIFICATE_KEYS);
    let tp = cx.string(t, "thumbprint");
    let thumb = tp
        .as_ref()
        .and_then(|s| thumbprint(cx, s, "`certificate.thumbprint`"));
    let kind = cx.choice(t, "kind", &["catalog", "content", "wsus-signing"]);
    let state = cx.choice(t, "state", &["approved", "blocked"]);
    for (key, missing) in [
        ("thumbprint", tp.is_none()),
        ("kind", t.get("kind").is_none()),
        ("state", t.get("state").is_none()),
    ] {
        if missing {
            cx.error(&t.span, format!("[[certificate]] needs `{key}`"), None);
        }
    }
    Some(CertificateRule {
        thumbprint: thumb?,
        kind: match kind?.as_str() {
            "catalog" => CertKind::Catalog,
            "content" => CertKind::Content,
            _ => CertKind::WsusSigning,
        },
        state: if state? == "blocked" {
            CertState::Blocked
        } else {
            CertState::Approved
        },
        comment: cx.string(t, "comment").map(Spanned::into_inner),
        loc: tp.map(|s| cx.loc(&s.span())),
    })
}

pub(super) fn publish(cx: &mut Cx, t: &Table) -> Option<PublishRule> {
    cx.check_keys(t, PUBLISH_KEYS);
    let catalog = cx.string(t, "catalog");
    if catalog.is_none() && t.get("catalog").is_none() {
        cx.error(
            &t.span,
            "[[publish]] needs `catalog`",
            Some("catalog = \"<key of a [catalog.<key>] table>\"".into()),
        );
    }
    let title = cx.string(t, "title");
    if let Some(re) = &title
        && let Err(e) = regex::Regex::new(re.get_ref())
    {
        let first = e
            .to_string()
            .lines()
            .last()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_string();
        cx.error(
            &re.span(),
            format!("`publish.title` is not a valid regular expression: {first}"),
            Some("escape literal characters such as ( ) [ ] . with a backslash".into()),
        );
    }
    let mut ids = Vec::new();
    for s in cx.strings(t, "ids").unwrap_or_default() {
        match UpdateId::parse(s.get_ref()) {
            Ok(id) => ids.push(id),
            Err(e) => cx.error(&s.span(), format!("`publish.ids`: {e}"), None),
        }
    }
    let rule = PublishRule {
        catalog: catalog.as_ref()?.get_ref().clone(),
        title: title.map(Spanned::into_inner),
        ids,
        vendor: cx.string(t, "vendor").map(Spanned::into_inner),
        product: cx.string(t, "product").map(Spanned::into_inner),
        classification: cx.string(t, "classification").map(Spanned::into_inner),
        loc: catalog.map(|c| cx.loc(&c.span())),
    };
    if rule.title.is_none()
        && rule.ids.is_empty()
        && rule.vendor.is_none()
        && rule.product.is_none()
        && rule.classification.is_none()
    {
        cx.error(
            &t.span,
            "[[publish]] selects nothing",
            Some("add `title` (a regex), `ids`, `vendor`, `product` or `classification`".into()),
        );
    }
    Some(rule)
}
