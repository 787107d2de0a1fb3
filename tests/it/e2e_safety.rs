//! Apply safety end to end: a stale saved plan (per-object compare-and-swap), the deletion
//! budget, and `kill -9` in the middle of an apply followed by `apply --resume`.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use supctl::store::Store;
use supctl::store::db::OpenOptions;
use supctl::store::{CatalogKey, JournalRole, Outcome, StoreLocation, UpdateState};
use support::Fault;
use support::e2e::*;

const BENCH_CAB: &str = "tests/fixtures/e2e/bench/bench-24.cab";
const BENCH_CONTENT: &str = "tests/fixtures/e2e/bench/content";

fn settings(site: &Site, key: &str) -> supctl::store::CatalogRecord {
    site.snapshot().catalogs[&CatalogKey::parse(key).unwrap()]
        .settings
        .clone()
}

/// Two catalogs, `alpha` (Contoso) and `beta` (bench), with extra keys for each.
fn two_catalogs(site: &Site, alpha: &str, beta: &str) -> String {
    let a = site.server.url("/alpha.cab");
    let b = site.server.url("/beta.cab");
    site.config(
        "",
        &format!(
            "{}\n{}",
            catalog("alpha", &a, alpha),
            catalog("beta", &b, beta)
        ),
    )
}

#[test]
fn a_stale_saved_plan_refuses_only_the_changed_object() {
    let site = Site::new();
    site.serve_catalog("/alpha.cab", &quickstart_cab());
    site.serve_catalog("/beta.cab", &repo(BENCH_CAB));
    let cfg = site.write("supctl", &two_catalogs(&site, "", ""));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());

    // Review a plan that changes both catalogs' schedules, and save it.
    let daily = "schedule = \"every 1 day\"";
    site.write("supctl", &two_catalogs(&site, daily, daily));
    let planfile = site.dir.path().join("plan.json");
    let r = run(&cfg, &["plan", "-o", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("1 to change") || r.stdout.contains("2 to change"),
        "{}",
        r.stdout
    );

    // Meanwhile someone applies another change to alpha.
    let other = site.write(
        "other",
        &two_catalogs(&site, "description = \"changed elsewhere\"", ""),
    );
    let r = run(&other, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());

    let r = run(&cfg, &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 1, "a refused action fails the apply:\n{}", r.all());
    let refused: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("refused "))
        .collect();
    assert_eq!(refused.len(), 1, "{}", r.stdout);
    assert!(
        refused[0].contains("catalog.alpha")
            && refused[0].contains("changed since the plan was made"),
        "{}",
        refused[0]
    );
    assert!(
        r.stdout.contains("1 done, 0 failed, 1 refused"),
        "{}",
        r.stdout
    );
    let (alpha, beta) = (settings(&site, "alpha"), settings(&site, "beta"));
    assert_eq!(
        beta.schedule.as_deref(),
        Some("every 1 day"),
        "beta applied"
    );
    assert_eq!(
        alpha.schedule.as_deref(),
        Some("every 7 days"),
        "alpha untouched"
    );
    assert_eq!(alpha.description.as_deref(), Some("changed elsewhere"));
}

#[test]
fn the_deletion_budget_refuses_before_any_change() {
    let site = Site::new();
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    let cfg = site.write(
        "supctl",
        &site.config("max_deletions = 2", &catalog("contoso", &url, "")),
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());

    // Narrowing to Firmware expires three updates (`expire_deselected`), and renames the
    // catalog (not destructive).
    let narrowed = "categories = [\"Contoso/Firmware\"]\nexpire_deselected = true\ndescription = \"firmware only\"";
    site.write(
        "supctl",
        &site.config("max_deletions = 2", &catalog("contoso", &url, narrowed)),
    );
    let planfile = site.dir.path().join("plan.json");
    let r = run(&cfg, &["plan", "-o", planfile.to_str().unwrap()]);
    assert!(r.stdout.contains("3 to expire"), "{}", r.stdout);
    // The plan already says apply will refuse it.
    assert!(
        r.stdout.contains("Warning [deletion-budget] server.max_deletions: the plan has 3 destructive actions (3 expire) and the limit is 2"),
        "{}",
        r.stdout
    );
    for args in [
        vec!["apply", "--auto-approve"],
        vec!["apply", planfile.to_str().unwrap()],
    ] {
        let r = run(&cfg, &args);
        assert_eq!(r.code, 1, "{}", r.all());
        assert!(
            r.stderr.contains("3 destructive actions") && r.stderr.contains("the limit is 2"),
            "{}",
            r.all()
        );
        assert!(!r.stdout.contains("done"), "{}", r.stdout);
    }
    let snap = site.snapshot();
    assert!(
        snap.updates
            .values()
            .all(|u| u.state() != UpdateState::Expired),
        "nothing was expired"
    );
    assert_eq!(
        settings(&site, "contoso").description,
        None,
        "nothing was changed"
    );
}

/// Done stage actions in the journal of the running apply (None while the store is busy).
fn stages_done(state: &Path) -> Option<BTreeSet<String>> {
    let b = Store::embedded(&StoreLocation::new(state), OpenOptions::read()).ok()?;
    let j = b.last_journal().ok()??;
    Some(
        j.entries
            .iter()
            .filter(|e| e.outcome == Outcome::Done && e.role == JournalRole::Stage)
            .map(|e| e.address.to_string())
            .collect(),
    )
}

fn content_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn kill_9_mid_apply_then_resume_finishes_without_repeating_work() {
    let site = Site::new();
    let url = site.serve_catalog("/bench.cab", &repo(BENCH_CAB));
    let content = repo(BENCH_CONTENT);
    site.serve_content(&content);
    let names = content_names(&content);
    // Slow every download down so the apply is still staging when it is killed, even while
    // the other tests of the binary load both cores (120 ms was once not enough there).
    for n in &names {
        let fault = Fault::Delay(Duration::from_millis(300));
        site.server.set_fault(&format!("/{n}"), fault, 1);
    }
    let body = format!(
        "{}\n{}",
        catalog("bench", &url, "stage = \"all\""),
        approve_content()
    );
    let cfg: PathBuf = site.write(
        "supctl",
        &site
            .config("", &body)
            .replace("concurrency = 2", "concurrency = 1"),
    );

    let mut child = supctl_std(&["apply", "--auto-approve", "-c"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let before_kill = loop {
        if let Some(done) = stages_done(&site.state_dir()).filter(|d| d.len() >= 3) {
            break done;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply ended before it was killed"
        );
        assert!(Instant::now() < deadline, "no stage was journaled in 30 s");
        std::thread::sleep(Duration::from_millis(10));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let downloads_before: Vec<usize> = names.iter().map(|n| site.downloads_of(n)).collect();
    assert!(
        downloads_before.iter().sum::<usize>() < names.len(),
        "killed while staging"
    );

    // The store opens with a full integrity check and holds no corrupt or missing content.
    let gc = site.server().gc(true).unwrap();
    assert!(gc.corrupt.is_empty() && gc.missing.is_empty(), "{gc:?}");

    let r = run(&cfg, &["apply", "--resume"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("Resuming plan"), "{}", r.all());
    assert!(r.stdout.contains("by the interrupted run"), "{}", r.stdout);

    // No duplicate work: every file at most once more than before, and the files of the
    // stages journaled before the kill not at all.
    let snap = site.snapshot();
    let mut again = 0;
    for (n, before) in names.iter().zip(&downloads_before) {
        let after = site.downloads_of(n);
        assert!(
            after >= 1 && after - before <= 1,
            "{n}: {before} then {after}"
        );
        again += usize::from(*before == 1 && after == 2);
    }
    assert!(
        again <= 1,
        "only the download in flight at the kill is repeated"
    );
    for u in snap.updates.values() {
        assert_eq!(u.state(), UpdateState::Deployable, "{}", u.id);
        assert_eq!(u.revision, 1, "{} was published once", u.id);
    }
    assert_eq!(snap.updates.len(), 24);
    for a in &before_kill {
        let id = a.split('[').nth(1).unwrap().trim_end_matches(']');
        let u = &snap.updates[&supctl::ids::UpdateId::parse(id).unwrap()];
        for f in &u.files {
            let n = site.downloads_of(&f.name);
            assert_eq!(n, 1, "{} was staged before the kill", f.name);
        }
    }
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run(&cfg, &["apply", "--resume"]);
    assert_eq!(r.code, 1, "nothing left to resume: {}", r.all());
}
