//! What the state directory accumulates is pruned (issue 19): each apply keeps the newest
//! `[server] keep_plans` saved plans, and `store gc` also removes saved plans beyond it and
//! the fetch cache of catalogs no longer configured (`--dry-run` says what would go).

use crate::support::cli::*;

fn config(ws: &Workspace, description: &str) -> std::path::PathBuf {
    let server = "[server]\nkeep_plans = 2\n";
    ws.config(
        "supctl",
        "state",
        &format!(
            "{}\n{}",
            quickstart("contoso", &format!("description = \"{description}\"")),
            approve_content()
        ),
    );
    // `config` writes [server] path; add keep_plans to that table.
    let path = ws.path().join("supctl.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replacen("[server]\n", server, 1);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn applies_keep_the_newest_plans_and_gc_prunes_plans_and_cache() {
    let ws = Workspace::new();
    for n in 1..=4 {
        let cfg = config(&ws, &format!("edition {n}"));
        let r = run(&cfg, &["apply", "--auto-approve"]);
        assert_eq!(r.code, 0, "{}", r.all());
        assert!(
            ws.saved_plans("state").len() <= 2,
            "after apply {n}: {:?}",
            ws.saved_plans("state")
        );
    }
    assert_eq!(ws.saved_plans("state").len(), 2);

    // The cache of a catalog the config no longer names, and one more plan beyond keep.
    let cache = ws.state("state").join("cache");
    std::fs::write(cache.join("gone.cab"), b"old vendor catalog").unwrap();
    std::fs::write(cache.join("gone.json"), b"{}").unwrap();
    std::fs::write(ws.state("state").join("plans/0-old.json"), b"{}").unwrap();
    let cfg = ws.path().join("supctl.toml");
    let dry = run(&cfg, &["store", "gc", "--dry-run", "--json"]);
    assert_eq!(dry.code, 0, "{}", dry.all());
    let v = dry.json();
    assert_eq!(v["plans"]["files"].as_array().unwrap().len(), 1, "{v:#}");
    let cached: Vec<String> = v["cache"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(cached, ["gone.cab", "gone.json"], "{v:#}");
    assert!(cache.join("gone.cab").exists(), "a dry run removes nothing");

    let r = run(&cfg, &["store", "gc"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("removed 1 saved plan(s) beyond keep_plans = 2")
            && r.stdout
                .contains("removed 2 cached file(s) of catalogs no longer configured"),
        "{}",
        r.stdout
    );
    assert!(!cache.join("gone.cab").exists());
    assert!(
        cache.join("contoso.cab").exists(),
        "a configured catalog's cache stays"
    );
    assert_eq!(ws.saved_plans("state").len(), 2);
}
