//! The status page in a real browser: headless Chromium (Debian's `chromium`, which
//! `.ci/run` installs) renders `/` of the listener scenario; the test checks the DOM it built
//! (catalogs, counts, a warning, a status message, the failure in words) and saves
//! screenshots at desktop and phone widths under the test's output directory.
//!
//! Without Chromium the test says so and skips, except under `CI=true`, where a missing
//! browser is a failure (CI promised to install it). `SUPCTL_UPDATE_SCREENSHOT=1` also
//! writes the desktop screenshot to `docs/images/status-page.png`, the README's picture.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::web::{FAILING, scenario};

fn chromium() -> Option<PathBuf> {
    let from_env = std::env::var_os("SUPCTL_CHROMIUM").map(PathBuf::from);
    from_env
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from))
        .find(|p| p.is_file())
}

/// Runs headless Chromium on `url` with `args` (a fresh profile, no network beyond it).
fn browse(bin: &Path, profile: &Path, url: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .arg(url);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start chromium");
    let out = child.wait_with_output().expect("chromium output");
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_status_page_renders_in_headless_chromium() {
    let Some(bin) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no Chromium: .ci/run installs Debian's `chromium`"
        );
        eprintln!(
            "SKIPPED: no Chromium (/usr/bin/chromium); install Debian's `chromium` to run the browser test"
        );
        return;
    };
    let (_ws, mut w, addr) = scenario();
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-browser");
    std::fs::create_dir_all(&out_dir).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{addr}/");

    // The DOM after Chromium parsed and laid out the page.
    let dom = browse(&bin, profile.path(), &url, &["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    let row = |key: &str| -> String {
        let start = dom
            .find(&format!("<tr data-catalog=\"{key}\""))
            .unwrap_or_else(|| panic!("no row for {key} in\n{dom}"));
        let end = dom[start..].find("</tr>").unwrap() + start;
        dom[start..end].to_string()
    };
    let contoso = row("contoso");
    assert!(contoso.contains("Contoso Sample Catalog"), "{contoso}");
    assert!(
        contoso.contains("data-state=\"deployable\">3</td>"),
        "the deployable count: {contoso}"
    );
    assert!(contoso.contains("✓ succeeded"), "{contoso}");
    let failing = row(FAILING);
    assert!(
        failing.contains("✗ failed"),
        "the failure in words: {failing}"
    );
    assert!(failing.contains("not signed"), "the first error: {failing}");
    assert!(dom.contains("data-code=\"drift\""), "the drift warning");
    assert!(
        dom.contains("<td class=\"num\">11508</td>"),
        "the status message's number"
    );
    assert!(dom.contains("<th scope=\"col\">"), "tables have headers");
    assert!(dom.contains("name=\"viewport\""), "phone-readable");

    // Screenshots at a desktop and a phone width.
    for (name, size) in [
        ("status.png", "1280,1100"),
        ("status-phone.png", "390,1600"),
    ] {
        let shot = out_dir.join(name);
        let _ = std::fs::remove_file(&shot);
        browse(
            &bin,
            profile.path(),
            &url,
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={size}"),
            ],
        );
        let png = std::fs::read(&shot).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{name}: {} bytes",
            png.len()
        );
        eprintln!("screenshot: {}", shot.display());
    }
    if std::env::var_os("SUPCTL_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/images");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(out_dir.join("status.png"), docs.join("status-page.png")).unwrap();
    }
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}
