//! Issue 13: shell completions and a man page, generated from the command line definition by
//! the binary itself (`supctl completions <shell>`, `supctl man [--out DIR]`).

use crate::support;

use std::process::Command;

use support::e2e::*;

fn stdout_of(args: &[&str]) -> String {
    let out = supctl(args).output().unwrap();
    assert!(
        out.status.success(),
        "supctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const SUBCOMMANDS: &[&str] = &[
    "validate",
    "plan",
    "apply",
    "show",
    "watch",
    "sync",
    "status",
    "catalog",
    "updates",
    "certs",
    "store",
    "completions",
    "man",
];

#[test]
fn bash_completion_names_the_subcommands() {
    let script = stdout_of(&["completions", "bash"]);
    assert!(script.contains("complete -F _supctl"), "{script}");
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "no `{sub}` in the bash completion");
    }
    // Nested subcommands and options are completed too.
    assert!(script.contains("categories"), "catalog categories");
    assert!(script.contains("--detailed-exitcode"));
    // Hidden test and benchmark drivers are not offered, at any level.
    assert!(!script.contains("bench-write"), "hidden commands leak");
    assert!(!script.contains("verify-content"), "hidden commands leak");
    // Subcommands keep --version, as `propagate_version` gives them.
    let apply = script
        .lines()
        .find(|l| l.contains("opts=") && l.contains("--auto-approve"))
        .expect("apply's options");
    assert!(apply.contains("--version"), "{apply}");

    // The script is valid bash.
    if Command::new("bash").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("supctl.bash");
        std::fs::write(&f, &script).unwrap();
        let ok = Command::new("bash").arg("-n").arg(&f).status().unwrap();
        assert!(ok.success(), "bash -n rejects the completion script");
    }
}

#[test]
fn other_shells_and_unknown_ones() {
    for (shell, needle) in [
        ("zsh", "#compdef supctl"),
        ("fish", "complete -c supctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[supctl]"),
    ] {
        let s = stdout_of(&["completions", shell]);
        assert!(s.contains(needle), "{shell}: {s}");
    }
    let out = supctl(&["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

#[test]
fn the_man_page_is_roff_with_name_and_synopsis() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH supctl 1"),
        "{page}"
    );
    assert!(page.contains(".TH supctl 1"), "{page}");
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH SUBCOMMANDS",
    ] {
        assert!(page.contains(section), "no {section}: {page}");
    }
    assert!(
        page.contains("supctl\\-plan(1)"),
        "subcommands refer to their pages"
    );
    assert!(
        !page.contains("supctl\\-debug"),
        "hidden commands are not listed"
    );
    roff_is_clean(&page);
}

#[test]
fn man_out_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let said = stdout_of(&["man", "--out", out.to_str().unwrap()]);
    for page in [
        "supctl.1",
        "supctl-plan.1",
        "supctl-catalog.1",
        "supctl-catalog-categories.1",
        "supctl-completions.1",
    ] {
        let p = out.join(page);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.contains(".SH NAME") && text.contains(".SH SYNOPSIS"),
            "{page}"
        );
        assert!(said.contains(page), "{said}");
    }
    assert!(
        !out.join("supctl-debug.1").exists(),
        "hidden commands get no page"
    );
    roff_is_clean(&std::fs::read_to_string(out.join("supctl-plan.1")).unwrap());
}

/// `groff -man -ww -z` (all warnings, no output) when groff is installed: the page parses
/// as man-macro roff without a warning.
fn roff_is_clean(page: &str) {
    if Command::new("groff").arg("--version").output().is_err() {
        eprintln!("skipped the groff check: groff is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("page.1");
    std::fs::write(&f, page).unwrap();
    let out = Command::new("groff")
        .args(["-man", "-ww", "-z"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "groff warns:\n{warnings}");
}
