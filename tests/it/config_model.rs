//! What loading produces: normalised values, defaults and resolved paths.

use supctl::config::{self, CategorySelection, Staging};

#[test]
fn defaults_thumbprints_and_paths_are_resolved() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("vendors")).unwrap();
    std::fs::write(d.path().join("vendors/acme.cab"), b"MSCF").unwrap();
    std::fs::write(
        d.path().join("00.toml"),
        "[defaults]\nschedule = \"every 1 day at 02:00\"\nstage = \"all\"\n[server]\npath = \"state\"\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("vendors.toml"),
        "[catalog.acme]\nname = \"Acme\"\npublisher = \"Acme\"\npath = \"vendors/acme.cab\"\nsigners = [\"08:7c:28:25:88:2a:91:70:93:e4:85:ec:0d:40:0c:52:c4:ff:7c:7a\"]\n\n[catalog.other]\nname = \"O\"\npublisher = \"O\"\nurl = \"https://o.example/o.cab\"\nschedule = \"every 6 hours\"\nstage = \"none\"\ncategories = [\"O/Drivers\"]\n",
    )
    .unwrap();
    let (cfg, warnings) = config::load(d.path()).unwrap();
    assert!(warnings.is_empty());
    let acme = &cfg.catalogs["acme"];
    assert_eq!(
        acme.signers[0].as_str(),
        "087C2825882A917093E485EC0D400C52C4FF7C7A"
    );
    assert_eq!(acme.schedule.to_string(), "every 1 day at 02:00");
    assert_eq!(acme.stage, Staging::All);
    assert_eq!(acme.categories, CategorySelection::All);
    assert_eq!(
        acme.path.as_deref(),
        Some(d.path().join("vendors/acme.cab").as_path())
    );
    assert!(acme.subscribed);
    let other = &cfg.catalogs["other"];
    assert_eq!(other.schedule.to_string(), "every 6 hours");
    assert_eq!(other.stage, Staging::None);
    assert_eq!(cfg.server.path, d.path().join("state"));
    assert_eq!(cfg.files.len(), 2);
}

#[test]
fn default_schedule_is_every_7_days_and_state_dir_sits_beside_the_config() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("supctl.toml");
    std::fs::write(d.path().join("a.cab"), b"MSCF").unwrap();
    std::fs::write(
        &f,
        "[catalog.a]\nname = \"A\"\npublisher = \"A\"\npath = \"a.cab\"\n",
    )
    .unwrap();
    let (cfg, _) = config::load(&f).unwrap();
    assert_eq!(cfg.catalogs["a"].schedule.to_string(), "every 7 days");
    assert_eq!(cfg.server.path, d.path().join(".supctl"));
    assert_eq!(cfg.server.max_deletions, 50);
}
