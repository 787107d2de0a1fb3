//! No panic on a closed pipe (issue 13): `supctl show --json | head` used to panic (exit 101)
//! when `head` stopped reading. Every command here runs with its standard output (and, for
//! some, standard error) connected to a pipe whose reading end is already closed, so every
//! write fails; the command must neither panic nor stop half-way: an apply finishes and
//! journals its actions all the same.

use crate::support::cli as cli_support;

use std::process::Stdio;

use cli_support::*;

/// Runs `supctl ARGS` with stdout (and stderr when `close_stderr`) going nowhere.
fn run_closed(ws: &Workspace, args: &[&str], close_stderr: bool) -> (i32, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut c = command(ws.path(), args);
    c.stdout(Stdio::from(writer.try_clone().unwrap()));
    if close_stderr {
        c.stderr(Stdio::from(writer));
    } else {
        drop(writer);
    }
    let out = c.output().expect("run supctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn no_command_panics_when_its_reader_goes_away() {
    let ws = Workspace::new();
    let body = format!(
        "{}\n{}",
        quickstart("contoso", "stage = [\"Contoso/Utilities\"]"),
        approve_content()
    );
    let cfg = ws.write("supctl", &body);
    let c = cfg.to_str().unwrap();
    let planfile = ws.path().join("plan.json");
    let p = planfile.to_str().unwrap();
    assert_eq!(run(&cfg, &["plan", "-o", p]).code, 0);

    let cab = quickstart_cab();
    for (args, expected) in [
        (vec!["show", "--json", p], 0),
        (vec!["show", p], 0),
        (vec!["plan", "-c", c], 0),
        (vec!["plan", "--json", "-c", c], 0),
        (vec!["validate", "-c", c], 0),
        (vec!["schema"], 0),
        (
            vec!["catalog", "inspect", "--json", cab.to_str().unwrap()],
            0,
        ),
        (vec!["catalog", "updates", cab.to_str().unwrap()], 0),
    ] {
        let (code, stderr) = run_closed(&ws, &args, false);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(code, expected, "{args:?}: {stderr}");
    }

    // An apply whose reader is gone still does all its work and journals it.
    let (code, _) = run_closed(&ws, &["apply", "--auto-approve", "-c", c], true);
    assert_eq!(code, 0);
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "the apply finished: {}", r.all());

    for args in [
        vec!["status", "-c", c],
        vec!["status", "--json", "-c", c],
        vec!["updates", "list", "-c", c],
        vec!["certs", "list", "-c", c],
        vec!["store", "show", "-c", c],
    ] {
        let (code, stderr) = run_closed(&ws, &args, true);
        assert_ne!(code, 101, "{args:?}: {stderr}");
        assert_eq!(code, 0, "{args:?}");
    }
}
