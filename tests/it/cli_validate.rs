//! `supctl validate` and `supctl schema` on the real binary: every validation rule with a
//! failing and a passing case.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn supctl() -> Command {
    Command::cargo_bin("supctl").unwrap()
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

const SIGNER: &str = "087C2825882A917093E485EC0D400C52C4FF7C7A";

fn catalog(extra: &str) -> String {
    format!(
        "[catalog.acme]\nname = \"Acme\"\npublisher = \"Acme\"\nurl = \"https://acme.example/c.cab\"\n{extra}\n"
    )
}

/// Validates `text` as a single file; returns the assertion for further checks.
fn validate(text: &str) -> assert_cmd::assert::Assert {
    let d = Dir::new();
    let f = d.write("supctl.toml", text);
    let a = supctl().arg("validate").arg("-c").arg(&f).assert();
    drop(d);
    a
}

fn ok(text: &str) {
    validate(text).success().stdout(contains("Valid:"));
}

fn fails(text: &str, needle: &str) {
    validate(text).code(1).stderr(contains(needle));
}

#[test]
fn examples_are_valid() {
    for ex in [
        "examples/quickstart",
        "examples/gitops",
        "examples/promotion/lab",
        "examples/promotion/prod",
    ] {
        supctl()
            .args(["validate", "-c", ex])
            .assert()
            .success()
            .stdout(contains("Valid:"));
    }
}

#[test]
fn unknown_key_names_file_line_column_and_suggests() {
    let d = Dir::new();
    let f = d.write(
        "supctl.toml",
        "[catalog.acme]\nname = \"Acme\"\npublisher = \"Acme\"\nurl = \"https://acme.example/c.cab\"\n  schedul = \"every 7 days\"\n",
    );
    supctl()
        .args(["validate", "-c"])
        .arg(&f)
        .assert()
        .code(1)
        .stderr(contains(format!("{}:5:3:", f.display())))
        .stderr(contains("unknown key `schedul`"))
        .stderr(contains("did you mean `schedule`?"));
}

#[test]
fn every_independent_error_is_reported() {
    let text = format!(
        "{}[[publish]]\ncatalog = \"nope\"\ntitle = \"x\"\n",
        catalog(&format!(
            "signers = [\"12\"]\ndescription = \"{}\"",
            "d".repeat(201)
        ))
    );
    let out = validate(&text).code(1).get_output().stderr.clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("not a certificate thumbprint"), "{err}");
    assert!(err.contains("limit is 200"), "{err}");
    assert!(
        err.contains("catalog `nope`, which is not defined"),
        "{err}"
    );
    assert!(err.contains("3 errors"), "{err}");
}

#[test]
fn duplicate_catalog_across_files_names_both() {
    let d = Dir::new();
    let a = d.write("a.toml", &catalog(""));
    let b = d.write("b.toml", &format!("# dell again\n{}", catalog("")));
    supctl()
        .args(["validate", "-c"])
        .arg(d.path())
        .assert()
        .code(1)
        .stderr(contains(a.display().to_string()))
        .stderr(contains(b.display().to_string()))
        .stderr(contains("[catalog.acme] is defined twice"));
}

#[test]
fn directory_of_files_merges() {
    let d = Dir::new();
    d.write(
        "00-server.toml",
        "[server]\nbackend = \"local\"\n[defaults]\nschedule = \"every 1 day\"\n",
    );
    d.write("acme.toml", &catalog(""));
    d.write("notes.txt", "not toml, ignored");
    supctl()
        .args(["validate", "-c"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(contains("(2 files)"))
        .stdout(contains("1 catalog"));
}

#[test]
fn singular_section_twice_is_an_error() {
    let d = Dir::new();
    d.write("a.toml", "[http]\nconcurrency = 2\n");
    d.write("b.toml", "[http]\nconcurrency = 3\n");
    supctl()
        .args(["validate", "-c"])
        .arg(d.path())
        .assert()
        .code(1)
        .stderr(contains("[http] is defined twice; first at"));
}

#[test]
fn custom_catalog_needs_exactly_one_https_url_or_path() {
    ok(&catalog(""));
    let d = Dir::new();
    d.write("catalogs/a.cab", "MSCF");
    let f = d.write(
        "supctl.toml",
        "[catalog.acme]\nname = \"A\"\npublisher = \"A\"\npath = \"catalogs/a.cab\"\n",
    );
    supctl()
        .arg("validate")
        .arg("-c")
        .arg(&f)
        .assert()
        .success()
        .stdout(contains("Valid:"));
    fails(
        "[catalog.acme]\nname = \"A\"\npublisher = \"A\"\n",
        "needs `url` or `path`",
    );
    fails(&catalog("path = \"a.cab\""), "sets both `url` and `path`");
    fails(
        "[catalog.acme]\nname = \"A\"\npublisher = \"A\"\nurl = \"http://acme.example/c.cab\"\n",
        "must be an https:// URL",
    );
    fails(
        "[catalog.acme]\npublisher = \"A\"\npath = \"a.cab\"\n",
        "needs `name`",
    );
}

#[test]
fn partner_catalogs_are_looked_up_by_name() {
    ok("[catalog.dell]\nkind = \"partner\"\nname = \"Dell Business Client Updates Catalog\"\n");
    ok("[catalog.hp]\nkind = \"partner\"\nname = \"hp\"\n");
    validate(
        "[catalog.dell]\nkind = \"partner\"\nname = \"Dell Business Client Update Catalog\"\n",
    )
    .success()
    .stderr(contains("warning"))
    .stderr(contains(
        "did you mean `Dell Business Client Updates Catalog`?",
    ));
    validate("[catalog.x]\nkind = \"partner\"\nname = \"Contoso\"\n")
        .success()
        .stderr(contains("not in the built-in partner catalog list"));
}

#[test]
fn description_is_at_most_200_characters() {
    ok(&catalog(&format!("description = \"{}\"", "é".repeat(200))));
    fails(
        &catalog(&format!("description = \"{}\"", "d".repeat(201))),
        "201 characters; the limit is 200",
    );
}

#[test]
fn thumbprints_are_40_or_64_hex_digits() {
    ok(&catalog(&format!(
        "signers = [\"{}\"]",
        "08 7c:28 25882a917093e485ec0d400c52c4ff7c7a"
    )));
    ok(&catalog(&format!("signers = [\"{}\"]", "ab".repeat(32))));
    fails(
        &catalog(&format!("signers = [\"{}\"]", &SIGNER[..39])),
        "not a certificate thumbprint",
    );
    fails(
        &catalog(&format!("signers = [\"{}\"]", "Z".repeat(40))),
        "not a certificate thumbprint",
    );
    fails(
        &format!(
            "[[certificate]]\nthumbprint = \"{}\"\nkind = \"content\"\nstate = \"approved\"\n",
            "1".repeat(41)
        ),
        "not a certificate thumbprint",
    );
}

#[test]
fn schedules_parse() {
    for s in [
        "every 7 days",
        "every 6 hours",
        "every 1 day at 02:00",
        "every 2 weeks",
        "0 3 * * MON",
    ] {
        ok(&catalog(&format!("schedule = \"{s}\"")));
    }
    for s in [
        "every 0 days",
        "weekly",
        "every 1 day at 24:00",
        "0 3 * *",
        "every 5 eons",
    ] {
        fails(
            &catalog(&format!("schedule = \"{s}\"")),
            "catalog.acme.schedule",
        );
    }
    fails("[sync]\nschedule = \"nightly\"\n", "sync.schedule");
}

#[test]
fn categories_are_paths_or_guids() {
    ok(&catalog(
        "categories = [\"Acme/Drivers/Audio\", \"5aa00915-fc6f-4cc8-95fa-b1f0095c69c0\"]",
    ));
    ok(&catalog("categories = \"all\""));
    fails(
        &catalog("categories = [\"Acme//Audio\"]"),
        "neither a category path nor a GUID",
    );
    fails(
        &catalog("categories = \"some\""),
        "must be \"all\" or a list of categories",
    );
}

#[test]
fn staged_categories_must_be_selected() {
    ok(&catalog(
        "categories = [\"Acme/Drivers\"]\nstage = [\"Acme/Drivers/Audio\"]",
    ));
    ok(&catalog("categories = [\"Acme/Drivers\"]\nstage = \"all\""));
    ok(&catalog("stage = [\"Acme/BIOS\"]"));
    fails(
        &catalog("categories = [\"Acme/Drivers\"]\nstage = [\"Acme/BIOS\"]"),
        "stages `Acme/BIOS`, which `categories` does not select",
    );
}

#[test]
fn publish_rules_refer_to_catalogs_and_compile() {
    ok(&format!(
        "{}[[publish]]\ncatalog = \"acme\"\ntitle = \"(?i)bios\"\n",
        catalog("")
    ));
    fails(
        &format!(
            "{}[[publish]]\ncatalog = \"acmee\"\ntitle = \"x\"\n",
            catalog("")
        ),
        "did you mean `acme`?",
    );
    fails(
        &format!(
            "{}[[publish]]\ncatalog = \"acme\"\ntitle = \"BIOS(\"\n",
            catalog("")
        ),
        "not a valid regular expression",
    );
    fails(
        &format!("{}[[publish]]\ncatalog = \"acme\"\n", catalog("")),
        "selects nothing",
    );
}

#[test]
fn wrong_types_and_bad_toml_have_positions() {
    fails(
        &catalog("subscribed = \"yes\""),
        "must be true or false, found string",
    );
    let d = Dir::new();
    let f = d.write("supctl.toml", "[server]\nbackend = \"local\"\npath = \n");
    supctl()
        .args(["validate", "-c"])
        .arg(&f)
        .assert()
        .code(1)
        .stderr(contains(format!("{}:3:", f.display())))
        .stderr(contains("invalid TOML"));
}

#[test]
fn server_and_certificate_rules() {
    fails("[server]\nbackend = \"wsus\"\n", "needs `server.url`");
    ok(
        "[server]\nbackend = \"wsus\"\nurl = \"https://wsus01.corp.example:8531\"\nusername = \"svc\"\npassword_env = \"WSUS_PW\"\n",
    );
    fails(
        "[server]\nbackend = \"wsus\"\nurl = \"https://w:8531\"\nusername = \"svc\"\npassword_env = \"hunter2!\"\n",
        "must name an environment variable",
    );
    let cert = format!(
        "[[certificate]]\nthumbprint = \"{SIGNER}\"\nkind = \"content\"\nstate = \"approved\"\n"
    );
    // Certificate rules alone declare no [server] and no catalog: an empty config.
    fails(&cert, "declares no [server] and no catalog");
    ok(&format!("[server]\n{cert}"));
    fails(&format!("{cert}{cert}"), "is listed twice");
    fails(
        "[signing]\nmode = \"manual\"\n",
        "needs `signing.certificate`",
    );
}

#[test]
fn missing_config_says_what_to_do() {
    let d = Dir::new();
    supctl()
        .current_dir(d.path())
        .arg("validate")
        .assert()
        .code(1)
        .stderr(contains("cannot read config "))
        .stderr(contains("supctl: No such file"))
        .stderr(contains("pass -c"));
}

#[test]
fn schema_output_matches_checked_in_file() {
    let out = supctl()
        .arg("schema")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let checked_in = std::fs::read("schema/supctl.schema.json").unwrap();
    assert!(
        out == checked_in,
        "schema/supctl.schema.json is stale: run `cargo run -- schema > schema/supctl.schema.json`"
    );
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["properties"]["catalog"].is_object());
}

#[test]
fn help_lists_commands() {
    supctl()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("validate").and(contains("schema")));
}
