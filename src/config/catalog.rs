//! Reading one `[catalog.<key>]` table.

use std::path::PathBuf;

use toml::Spanned;
use toml::de::DeValue;

use super::model::*;
use super::reader::{Cx, Table};
use super::sections::{check_url, schedule, thumbprint, timezone};
use super::source::Loc;

pub(super) const CATALOG_KEYS: &[&str] = &[
    "kind",
    "name",
    "publisher",
    "url",
    "path",
    "description",
    "support_url",
    "support_contact",
    "subscribed",
    "suspend",
    "schedule",
    "timezone",
    "signers",
    "allow_expired_signer",
    "categories",
    "stage",
    "prune",
    "expire_deselected",
    "content_source",
    "hygiene",
];

/// A catalog as written, before `[defaults]` fill in what it left out.
pub(super) struct CatalogDraft {
    pub catalog: Catalog,
    pub schedule_set: bool,
    pub timezone_set: bool,
    pub stage_set: bool,
    pub allow_expired_set: bool,
    /// Where each `stage` entry was written, for the "must be selected" check.
    pub stage_locs: Vec<Loc>,
}

/// Category list entries: `all`/`none` keywords or paths/GUIDs.
enum ListOrWord {
    Word(String),
    List(Vec<(CategoryRef, Loc)>),
}

fn category_list(cx: &mut Cx, t: &Table, key: &str, words: &[&str]) -> Option<ListOrWord> {
    let v = t.get(key)?;
    if let DeValue::String(s) = v.get_ref()
        && words.contains(&s.as_ref())
    {
        return Some(ListOrWord::Word(s.to_string()));
    }
    if let DeValue::String(_) = v.get_ref() {
        cx.error(
            &v.span(),
            format!(
                "`{}.{key}` must be {} or a list of categories",
                t.name,
                words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            Some(format!(
                "{key} = [\"Vendor/Category\", \"<category GUID>\"]"
            )),
        );
        return None;
    }
    let entries = cx.strings(t, key)?;
    let mut out = Vec::new();
    for s in entries {
        let text = s.get_ref().trim();
        let segments_ok = !text.is_empty()
            && text
                .trim_matches('/')
                .split('/')
                .all(|seg| !seg.trim().is_empty());
        if !segments_ok {
            cx.error(
                &s.span(),
                format!("`{}.{key}` entry `{text}` is neither a category path nor a GUID", t.name),
                Some("write a display-name path such as \"Lenovo/BIOS\" (list them with `supctl catalog categories <catalog>`) or a category GUID".into()),
            );
            continue;
        }
        out.push((CategoryRef::parse(text), cx.loc(&s.span())));
    }
    Some(ListOrWord::List(out))
}

pub(super) fn catalog(cx: &mut Cx, t: &Table, key: &str) -> Option<CatalogDraft> {
    cx.check_keys(t, CATALOG_KEYS);
    let kind = match cx.choice(t, "kind", &["partner", "custom"]).as_deref() {
        Some("partner") => CatalogKind::Partner,
        _ => CatalogKind::Custom,
    };
    let name = cx.string(t, "name");
    let publisher = cx.string(t, "publisher");
    let url = cx.string(t, "url");
    let path_written_relative = matches!(
        t.get("path").map(|v| v.get_ref()),
        Some(DeValue::String(s)) if std::path::Path::new(s.as_ref()).is_relative()
    );
    let path = cx.path(t, "path");
    if let Some(p) = &path {
        check_catalog_file(cx, t, p);
    }
    if let Some(u) = &url {
        check_url(cx, t, "url", u, true);
    }
    let suspend = cx.boolean(t, "suspend").unwrap_or(false);
    match (kind, &url, &path) {
        (_, Some(u), Some(_)) => cx.error(
            &u.span(),
            format!("[{}] sets both `url` and `path`", t.name),
            Some("keep `url` to download the catalog, or `path` for a local copy (disconnected sites), not both".into()),
        ),
        // A suspended catalog is never acquired unless named, so it may wait for its source:
        // `supctl import` writes such stubs for updates whose catalog it cannot know.
        (CatalogKind::Custom, None, None) if !suspend => cx.error(
            &t.span,
            format!("custom catalog [{}] needs `url` or `path`", t.name),
            Some("url = \"https://vendor.example/catalog.cab\", or path = \"catalogs/vendor.cab\" (a catalog with `suspend = true` may wait for its source)".into()),
        ),
        _ => {}
    }
    for (field, value) in [("name", &name), ("publisher", &publisher)] {
        if kind == CatalogKind::Custom && value.is_none() {
            cx.error(
                &t.span,
                format!("custom catalog [{}] needs `{field}`", t.name),
                Some("ConfigMgr requires a name and a publisher for custom catalogs".into()),
            );
        }
    }
    if kind == CatalogKind::Partner && name.is_none() {
        cx.error(
            &t.span,
            format!("partner catalog [{}] needs `name`", t.name),
            Some("use the name from `supctl catalog partners`".into()),
        );
    }
    if let (CatalogKind::Partner, Some(n)) = (kind, &name)
        && crate::partners::find(n.get_ref()).is_none()
    {
        let names: Vec<String> = crate::partners::builtin()
            .iter()
            .map(|p| p.name.to_string())
            .collect();
        let known: Vec<&str> = names.iter().map(String::as_str).collect();
        let hint = match super::source::suggest(n.get_ref(), &known) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "partner catalogs: {}; for another vendor use kind = \"custom\" with `url`",
                known.join(", ")
            ),
        };
        cx.warn(
            &n.span(),
            format!(
                "`{}` is not in the built-in partner catalog list; it must be in a list refreshed with `supctl catalog partners --refresh`",
                n.get_ref()
            ),
            Some(hint),
        );
    }
    let description = cx.string(t, "description");
    if let Some(d) = &description {
        let n = d.get_ref().chars().count();
        if n > 200 {
            cx.error(
                &d.span(),
                format!(
                    "`{}.description` is {n} characters; the limit is 200",
                    t.name
                ),
                Some("shorten it; ConfigMgr rejects longer descriptions".into()),
            );
        }
    }
    let support_url = cx.string(t, "support_url");
    if let Some(u) = &support_url {
        check_url(cx, t, "support_url", u, false);
    }
    let mut signers = Vec::new();
    for s in cx
        .string_array(t, "signers", "thumbprints")
        .unwrap_or_default()
    {
        if let Some(tp) = thumbprint(cx, &s, &format!("`{}.signers`", t.name)) {
            signers.push(tp);
        }
    }
    let schedule_v = schedule(cx, t, "schedule");
    let timezone_v = timezone(cx, t, "timezone");
    let categories = match category_list(cx, t, "categories", &["all"]) {
        Some(ListOrWord::List(l)) => {
            CategorySelection::Only(l.into_iter().map(|(c, _)| c).collect())
        }
        _ => CategorySelection::All,
    };
    let mut stage_locs = Vec::new();
    let stage = match category_list(cx, t, "stage", &["none", "all"]) {
        Some(ListOrWord::Word(w)) if w == "all" => Some(Staging::All),
        Some(ListOrWord::Word(_)) => Some(Staging::None),
        Some(ListOrWord::List(l)) => {
            let (refs, locs): (Vec<_>, Vec<_>) = l.into_iter().unzip();
            stage_locs = locs;
            Some(Staging::Only(refs))
        }
        None => None,
    };
    let allow_expired = cx.boolean(t, "allow_expired_signer");
    Some(CatalogDraft {
        schedule_set: schedule_v.is_some(),
        timezone_set: timezone_v.is_some(),
        stage_set: stage.is_some(),
        allow_expired_set: allow_expired.is_some(),
        stage_locs,
        catalog: Catalog {
            key: key.to_string(),
            kind,
            name: name.map(Spanned::into_inner),
            publisher: publisher.map(Spanned::into_inner),
            url: url.map(Spanned::into_inner),
            path: path.map(Spanned::into_inner),
            path_written_relative,
            description: description.map(Spanned::into_inner),
            support_url: support_url.map(Spanned::into_inner),
            support_contact: cx.string(t, "support_contact").map(Spanned::into_inner),
            subscribed: cx.boolean(t, "subscribed").unwrap_or(true),
            suspend,
            schedule: schedule_v.unwrap_or_default(),
            timezone: timezone_v,
            signers,
            allow_expired_signer: allow_expired.unwrap_or(false),
            categories,
            stage: stage.unwrap_or(Staging::None),
            prune: cx.boolean(t, "prune").unwrap_or(false),
            expire_deselected: cx.boolean(t, "expire_deselected").unwrap_or(false),
            content_source: cx.path(t, "content_source").map(Spanned::into_inner),
            hygiene: cx
                .table(t, "hygiene")
                .map(|h| super::hygiene::hygiene(cx, &h))
                .unwrap_or_default(),
            loc: Some(cx.loc(&t.span)),
        },
    })
}

/// A `path` source must name a file now: otherwise `apply` would create the catalog (and
/// approve its signer) for a file that is not there, and only the catalog's acquisition
/// would fail, as a plan diagnostic rather than a config error.
fn check_catalog_file(cx: &mut Cx, t: &Table, path: &Spanned<PathBuf>) {
    let p = path.get_ref();
    let problem = match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => format!("{} is a directory, not a catalog file", p.display()),
        Ok(_) => return,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            format!("there is no file {}", p.display())
        }
        Err(e) => format!("cannot read {}: {e}", p.display()),
    };
    let dir = cx.file.dir().display().to_string();
    cx.error(
        &path.span(),
        format!("`{}.path`: {problem}", t.name),
        Some(format!(
            "relative paths resolve against the directory of the config file ({dir}); fix the path, or put the catalog CAB there before `plan`"
        )),
    );
}

/// Catalog keys are plan addresses (`catalog.<key>`): keep them to a safe alphabet.
pub(super) fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_alphanumeric())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
