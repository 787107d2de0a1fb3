//! Loading one file or a directory of `*.toml` files into one desired state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::catalog::{CatalogDraft, catalog, valid_key};
use super::model::*;
use super::reader::{Cx, Table};
use super::sections;
use super::source::{Diagnostic, Diagnostics, Loc, SourceFile};

pub(super) const TOP_KEYS: &[&str] = &[
    "version",
    "empty",
    "server",
    "http",
    "sync",
    "signing",
    "web",
    "defaults",
    "limits",
    "hygiene",
    "catalog",
    "certificate",
    "publish",
    "approve",
    "window",
    "notify",
    "archive",
];

/// What one file contributes, with where each singular section was declared.
#[derive(Default)]
struct Part {
    server: Option<(Server, Loc)>,
    http: Option<(Http, Loc)>,
    sync: Option<(SyncSettings, Loc)>,
    signing: Option<(Option<Signing>, Loc)>,
    web: Option<(Web, Loc)>,
    defaults: Option<(Defaults, Loc)>,
    limits: Option<(super::Limits, Loc)>,
    hygiene: Option<(super::Hygiene, Loc)>,
    archive: Option<(Option<Archive>, Loc)>,
    catalogs: Vec<(CatalogDraft, Loc)>,
    certificates: Vec<CertificateRule>,
    publish: Vec<PublishRule>,
    approve: Vec<super::ApproveRule>,
    windows: Vec<WindowRule>,
    notify: Vec<NotifyRule>,
    /// `empty = true`: no `[server]` and no catalog, on purpose.
    empty: bool,
}

/// How to load a config.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Accept a config with no `[server]` and no catalog as if it said `empty = true`
    /// (`--allow-empty`, and `apply PLANFILE`, whose reviewed plan decides what happens).
    pub allow_empty: bool,
}

/// The config files under `path`: the file itself, or the directory's `*.toml` files by name.
pub fn config_files(path: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error(None, format!("cannot read config {}: {e}", path.display()))
            .with_hint("pass -c <file.toml|directory>, or run where supctl.toml or supctl/ exists")
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| Diagnostic::error(None, format!("cannot list {}: {e}", path.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Diagnostic::error(
            None,
            format!("{} holds no *.toml files", path.display()),
        ));
    }
    Ok(files)
}

fn read_part(file: &SourceFile, diags: &mut Vec<Diagnostic>) -> Part {
    let mut part = Part::default();
    let doc = match DeTable::parse(&file.text) {
        Ok(doc) => doc,
        Err(e) => {
            let loc = e.span().map(|s| file.loc(s.start));
            diags.push(
                Diagnostic::error(loc, format!("invalid TOML: {}", e.message().trim()))
                    .with_hint("see https://toml.io for the syntax"),
            );
            return part;
        }
    };
    let mut cx = Cx::new(file);
    let top = Table {
        name: String::new(),
        table: doc.get_ref(),
        span: doc.span(),
    };
    cx.check_keys(&top, TOP_KEYS);
    if let Some(v) = cx.uint(&top, "version", u64::MAX)
        && v != 1
    {
        let span = top.get("version").map(|v| v.span()).unwrap_or_default();
        cx.error(
            &span,
            format!("unsupported config version {v}"),
            Some("this supctl reads version = 1".into()),
        );
    }
    part.empty = cx.boolean(&top, "empty").unwrap_or(false);
    if let Some(t) = cx.table(&top, "server") {
        part.server = Some((sections::server(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(t) = cx.table(&top, "http") {
        part.http = Some((sections::http(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(t) = cx.table(&top, "sync") {
        part.sync = Some((sections::sync(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(t) = cx.table(&top, "signing") {
        part.signing = Some((sections::signing(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(t) = cx.table(&top, "web") {
        part.web = Some((sections::web(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(t) = cx.table(&top, "defaults") {
        part.defaults = Some((sections::defaults(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(t) = cx.table(&top, "archive") {
        part.archive = Some((super::windows::archive(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(t) = cx.table(&top, "limits") {
        part.limits = Some((super::limits::limits(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(t) = cx.table(&top, "hygiene") {
        part.hygiene = Some((super::hygiene::hygiene(&mut cx, &t), cx.loc(&t.span)));
    }
    if let Some(cats) = cx.table(&top, "catalog") {
        for (k, v) in cats.table.iter() {
            let key = k.get_ref().as_ref();
            if !valid_key(key) {
                cx.error(
                    &k.span(),
                    format!("catalog key `{key}` must start with a letter or digit and use only letters, digits, `-` and `_`"),
                    Some("the key is the plan address catalog.<key>".into()),
                );
                continue;
            }
            let Some(t) = cx.table(&cats, key) else {
                continue;
            };
            let _ = v;
            if let Some(draft) = catalog(&mut cx, &t, key) {
                part.catalogs.push((draft, cx.loc(&k.span())));
            }
        }
    }
    for t in cx.table_array(&top, "certificate") {
        if let Some(c) = sections::certificate(&mut cx, &t) {
            part.certificates.push(c);
        }
    }
    for (i, t) in cx.table_array(&top, "window").iter().enumerate() {
        if let Some(w) = super::windows::window(&mut cx, t, i + 1) {
            part.windows.push(w);
        }
    }
    for t in cx.table_array(&top, "approve") {
        if let Some(a) = super::approve::approve(&mut cx, &t) {
            part.approve.push(a);
        }
    }
    for t in cx.table_array(&top, "publish") {
        if let Some(p) = sections::publish(&mut cx, &t) {
            part.publish.push(p);
        }
    }
    for t in cx.table_array(&top, "notify") {
        if let Some(n) = super::notify::notify(&mut cx, &t) {
            part.notify.push(n);
        }
    }
    diags.append(&mut cx.diags);
    part
}

/// A file that is not UTF-8, located at its first bad byte (Notepad's "Unicode" is UTF-16:
/// named, at 1:1).
fn not_utf8(file: &Path, e: std::string::FromUtf8Error) -> Diagnostic {
    let valid = e.utf8_error().valid_up_to();
    let bytes = e.into_bytes();
    let utf16 = matches!(bytes.as_slice(), [0xff, 0xfe, ..] | [0xfe, 0xff, ..]);
    let prefix = if utf16 {
        String::new()
    } else {
        String::from_utf8_lossy(&bytes[..valid]).into_owned()
    };
    let source = SourceFile::new(file.to_path_buf(), prefix);
    let at = source.loc(source.text.len());
    let message = if utf16 {
        format!("{} is UTF-16 text, not UTF-8", file.display())
    } else {
        format!(
            "{} is not UTF-8 text: byte 0x{:02X} is not valid here",
            file.display(),
            bytes[valid]
        )
    };
    Diagnostic::error(Some(at), message).with_hint("save the file as UTF-8")
}

/// Keeps the first declaration of a singular section; a second one is an error naming both.
fn single<T>(
    slot: &mut Option<(T, Loc)>,
    next: Option<(T, Loc)>,
    section: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let Some((value, loc)) = next else { return };
    match slot {
        Some((_, first)) => diags.push(
            Diagnostic::error(
                Some(loc),
                format!("[{section}] is defined twice; first at {first}"),
            )
            .with_hint("keep one [".to_string() + section + "] table across all config files"),
        ),
        None => *slot = Some((value, loc)),
    }
}

/// Loads and validates the desired state at `path` (a file or a directory of files).
///
/// On success returns the config and any warnings; on failure every diagnostic found.
pub fn load(path: &Path) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
    load_with(path, LoadOptions::default())
}

/// [`load`], with options.
pub fn load_with(path: &Path, opts: LoadOptions) -> Result<(Config, Vec<Diagnostic>), Diagnostics> {
    // Absolute, so stored sources and state paths do not depend on the working directory.
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let path = absolute.as_path();
    let files = config_files(path).map_err(|d| Diagnostics(vec![d]))?;
    let mut diags = Vec::new();
    let mut merged = Part::default();
    let mut first_file: Option<SourceFile> = None;
    for f in &files {
        let text = match std::fs::read(f) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(e) => {
                    diags.push(not_utf8(f, e));
                    continue;
                }
            },
            Err(e) => {
                diags.push(Diagnostic::error(
                    None,
                    format!("cannot read {}: {e}", f.display()),
                ));
                continue;
            }
        };
        let text = text
            .strip_prefix('\u{feff}')
            .map(str::to_string)
            .unwrap_or(text);
        let source = SourceFile::new(f.clone(), text);
        let part = read_part(&source, &mut diags);
        single(&mut merged.server, part.server, "server", &mut diags);
        single(&mut merged.http, part.http, "http", &mut diags);
        single(&mut merged.sync, part.sync, "sync", &mut diags);
        single(&mut merged.signing, part.signing, "signing", &mut diags);
        single(&mut merged.web, part.web, "web", &mut diags);
        single(&mut merged.defaults, part.defaults, "defaults", &mut diags);
        single(&mut merged.limits, part.limits, "limits", &mut diags);
        single(&mut merged.hygiene, part.hygiene, "hygiene", &mut diags);
        single(&mut merged.archive, part.archive, "archive", &mut diags);
        merged.catalogs.extend(part.catalogs);
        merged.certificates.extend(part.certificates);
        merged.publish.extend(part.publish);
        merged.approve.extend(part.approve);
        merged.windows.extend(part.windows);
        merged.notify.extend(part.notify);
        merged.empty |= part.empty;
        if first_file.is_none() {
            first_file = Some(source);
        }
    }
    if merged.server.is_none()
        && merged.catalogs.is_empty()
        && !merged.empty
        && !opts.allow_empty
        && !diags
            .iter()
            .any(|d| d.severity == super::source::Severity::Error)
    {
        diags.push(empty_config(first_file.as_ref().map(|f| f.loc(0)), &files));
    }
    let root_dir = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let defaults = merged.defaults.map(|(d, _)| d).unwrap_or_default();
    let mut catalogs: BTreeMap<String, (Catalog, Loc)> = BTreeMap::new();
    for (draft, loc) in merged.catalogs {
        let key = draft.catalog.key.clone();
        if let Some((_, first)) = catalogs.get(&key) {
            diags.push(
                Diagnostic::error(Some(loc), format!("[catalog.{key}] is defined twice; first at {first}"))
                    .with_hint("a catalog key must be unique across all config files; rename one or merge them"),
            );
            continue;
        }
        let c = finish_catalog(draft, &defaults, &mut diags);
        catalogs.insert(key, (c, loc));
    }
    check_certificates(&merged.certificates, &mut diags);
    for p in &merged.publish {
        if !catalogs.contains_key(&p.catalog) {
            diags.push(unknown_catalog(
                &catalogs,
                &p.catalog,
                p.loc.clone(),
                format!(
                    "[[publish]] refers to catalog `{}`, which is not defined",
                    p.catalog
                ),
            ));
        }
    }
    for a in &merged.approve {
        if let Some(c) = a.catalog.as_ref().filter(|c| !catalogs.contains_key(*c)) {
            diags.push(unknown_catalog(
                &catalogs,
                c,
                a.loc.clone(),
                format!("[[approve]] refers to catalog `{c}`, which is not defined"),
            ));
        }
    }
    for w in &merged.windows {
        for c in w.catalogs.iter().filter(|c| !catalogs.contains_key(*c)) {
            diags.push(unknown_catalog(
                &catalogs,
                c,
                w.loc.clone(),
                format!("[[window]] names catalog `{c}`, which is not defined"),
            ));
        }
    }
    check_notify(&merged.notify, &catalogs, &mut diags);
    let mut server = merged.server.map(|(s, _)| s).unwrap_or_default();
    if server.path.is_relative() {
        server.path = root_dir.join(&server.path);
    }
    diags.sort_by_key(|d| {
        d.loc.as_ref().map(|l| {
            let file = files
                .iter()
                .position(|f| **l.file == *f)
                .unwrap_or(usize::MAX);
            (file, l.line, l.col)
        })
    });
    if diags
        .iter()
        .any(|d| d.severity == super::source::Severity::Error)
    {
        return Err(Diagnostics(diags));
    }
    let config = Config {
        version: 1,
        empty: merged.empty,
        server,
        http: merged.http.map(|(h, _)| h).unwrap_or_default(),
        sync: merged.sync.map(|(s, _)| s),
        signing: merged.signing.and_then(|(s, _)| s),
        web: merged.web.map(|(w, _)| w).unwrap_or_default(),
        defaults,
        limits: merged.limits.map(|(l, _)| l).unwrap_or_default(),
        hygiene: merged.hygiene.map(|(h, _)| h).unwrap_or_default(),
        catalogs: catalogs.into_iter().map(|(k, (c, _))| (k, c)).collect(),
        certificates: merged.certificates,
        publish: merged.publish,
        approve: merged.approve,
        windows: merged.windows,
        archive: merged.archive.and_then(|(a, _)| a),
        notify: merged.notify,
        files,
        root: path.to_path_buf(),
    };
    Ok((config, diags))
}

/// The refusal of a config that declares nothing to keep, at the first file's start.
fn empty_config(loc: Option<Loc>, files: &[PathBuf]) -> Diagnostic {
    let what = match files {
        [one] => one.display().to_string(),
        many => format!("the {} config files", many.len()),
    };
    Diagnostic::error(
        loc,
        format!(
            "{what} declares no [server] and no catalog: applying it would unsubscribe every catalog supctl manages and remove its certificate approvals"
        ),
    )
    .with_hint(
        "if the file was emptied by mistake, restore it; to empty the update server on purpose, add `empty = true` (or pass --allow-empty)",
    )
}

/// Applies `[defaults]` and checks rules that need the whole catalog.
fn finish_catalog(
    draft: CatalogDraft,
    defaults: &Defaults,
    diags: &mut Vec<Diagnostic>,
) -> Catalog {
    let mut c = draft.catalog;
    if !draft.schedule_set {
        c.schedule = defaults.schedule.clone();
    }
    if !draft.timezone_set {
        c.timezone = defaults.timezone.clone();
    }
    if !draft.stage_set {
        c.stage = defaults.stage.clone();
    }
    if !draft.allow_expired_set {
        c.allow_expired_signer = defaults.allow_expired_signer;
    }
    if let (CategorySelection::Only(selected), Staging::Only(staged)) = (&c.categories, &c.stage) {
        for (entry, loc) in staged.iter().zip(draft.stage_locs.iter()) {
            if !selected.iter().any(|s| entry.is_within(s)) {
                let list: Vec<String> = selected.iter().map(|s| format!("\"{s}\"")).collect();
                diags.push(
                    Diagnostic::error(
                        Some(loc.clone()),
                        format!(
                            "[catalog.{}] stages `{entry}`, which `categories` does not select",
                            c.key
                        ),
                    )
                    .with_hint(format!(
                        "staged categories must be selected too; categories = [{}]",
                        list.join(", ")
                    )),
                );
            }
        }
    }
    c
}

fn check_certificates(rules: &[CertificateRule], diags: &mut Vec<Diagnostic>) {
    for (i, r) in rules.iter().enumerate() {
        if let Some(first) = rules[..i]
            .iter()
            .find(|o| o.thumbprint == r.thumbprint && o.kind == r.kind)
        {
            let at = first
                .loc
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default();
            diags.push(
                Diagnostic::error(
                    r.loc.clone(),
                    format!(
                        "certificate {} is listed twice; first at {at}",
                        r.thumbprint
                    ),
                )
                .with_hint("keep one [[certificate]] entry per thumbprint and kind"),
            );
        }
    }
}

/// `[[notify]]` names are unique across files (logs, metrics and `notify test NAME` use
/// them), and a rule's `catalogs` name defined catalogs (a typo would silence it).
/// The error for a rule that names a catalog the config does not define, with the closest
/// key or the defined ones.
fn unknown_catalog(
    catalogs: &BTreeMap<String, (Catalog, Loc)>,
    key: &str,
    loc: Option<Loc>,
    message: String,
) -> Diagnostic {
    let known: Vec<&str> = catalogs.keys().map(String::as_str).collect();
    let hint = match super::source::suggest(key, &known) {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "no catalog is defined".to_string(),
        None => format!("defined catalogs: {}", known.join(", ")),
    };
    Diagnostic::error(loc, message).with_hint(hint)
}

fn check_notify(
    rules: &[NotifyRule],
    catalogs: &BTreeMap<String, (Catalog, Loc)>,
    diags: &mut Vec<Diagnostic>,
) {
    for (i, r) in rules.iter().enumerate() {
        if let Some(first) = rules[..i].iter().find(|o| o.name == r.name) {
            let at = first
                .loc
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default();
            diags.push(
                Diagnostic::error(
                    r.loc.clone(),
                    format!("[[notify]] name `{}` is used twice; first at {at}", r.name),
                )
                .with_hint("give each [[notify]] rule its own name"),
            );
        }
        for key in r.catalogs.iter().filter(|k| !catalogs.contains_key(*k)) {
            diags.push(unknown_catalog(
                catalogs,
                key,
                r.loc.clone(),
                format!(
                    "[[notify]] `{}` filters on catalog `{key}`, which is not defined",
                    r.name
                ),
            ));
        }
    }
}

/// `-c` when given; else `./supctl.toml`, else `./supctl/`.
pub fn default_path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    let file = PathBuf::from("supctl.toml");
    if file.exists() {
        file
    } else {
        PathBuf::from("supctl")
    }
}
