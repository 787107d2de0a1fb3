//! Apply at vendor scale: a signed catalog of 3,000 updates with staged content, made by the
//! project's generator and signed with the quickstart PKI.
//!
//! - One `apply` of it does every action and the next plan is empty (issue 12, D2: an update
//!   superseded by one published in a later batch of 500 used to be refused at staging).
//! - `kill -9` at random points of that apply always leaves a store that one `apply --resume`
//!   (or a plain apply when nothing was journaled yet) completes.
//!
//! The catalog is generated once per run of this file (osslsigncode signs every content
//! file), into a temporary directory shared by the tests.

use crate::support;

use supctl_test_kit::generator;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use supctl::store::UpdateState;
use support::e2e::*;

const UPDATES: usize = 3000;
const SEED: u64 = 12;

/// The generated catalog: `(cab, content)`; `None` when osslsigncode is missing.
///
/// Signing some 4,000 content files takes minutes, so the result is kept in Cargo's
/// per-target temporary directory (made in a scratch directory, then renamed into place, so
/// an interrupted generation is never mistaken for a finished one).
fn fixture() -> Option<&'static (PathBuf, PathBuf)> {
    static FIXTURE: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            if !support::signed::osslsigncode() {
                return None;
            }
            let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let done = root.join(format!("bench-{UPDATES}-seed{SEED}"));
            let (cab, content) = (done.join("bench.cab"), done.join("content"));
            if done.is_dir() {
                return Some((cab, content));
            }
            let pki = repo("examples/quickstart/pki");
            let scratch = tempfile::tempdir_in(root).unwrap();
            let started = Instant::now();
            generator::run(&generator::Options {
                format: generator::Format::V3,
                profile: generator::Profile::Bench {
                    updates: UPDATES,
                    categories: None,
                },
                seed: SEED,
                out: scratch.path().join("bench.cab"),
                content_dir: Some(scratch.path().join("content")),
                content_size: 256,
                signer: Some(generator::Signer {
                    cert: pki.join("signer.pem"),
                    key: pki.join("signer.key"),
                    time: sign_time(&pki.join("signer.pem")),
                }),
                content_certs: vec![pki.join("signer.cer")],
                unsigned_content: 0,
                uninstallable: 0,
                v2_copies: true,
                content_signer: None,
            })
            .expect("generate the 3,000-update catalog");
            eprintln!("generated in {:?}", started.elapsed());
            // A concurrent run may have finished first; either copy is the same bytes.
            let _ = std::fs::rename(scratch.keep(), &done);
            Some((cab, content))
        })
        .as_ref()
}

/// The signer's notBefore + 60 s, as scripts/make-quickstart.sh picks it.
fn sign_time(pem: &Path) -> i64 {
    let pem = std::fs::read(pem).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    pem.parse_x509().unwrap().validity().not_before.timestamp() + 60
}

/// A config staging everything of the generated catalog from `content_source`.
fn config(dir: &Path, cab: &Path, content: &Path) -> PathBuf {
    let toml = format!(
        "version = 1\n\n[server]\npath = {state:?}\nmax_deletions = 0\n\n\
         [catalog.bench]\nname = \"Bench\"\npublisher = \"Contoso\"\npath = {cab:?}\n\
         signers = [\"{QS_SIGNER}\"]\nstage = \"all\"\ncontent_source = {content:?}\n\n{}",
        approve_content(),
        state = dir.join("state").display().to_string(),
        cab = cab.display().to_string(),
        content = content.display().to_string(),
    );
    let path = dir.join("supctl.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// Runs `supctl ARGS -c CFG` to its end: at this scale (and on a loaded CI machine) a plan
/// can take longer than the harness's usual one-minute bound.
fn run_long(cfg: &Path, args: &[&str]) -> Run {
    let mut c = supctl(args);
    c.arg("-c").arg(cfg).timeout(Duration::from_secs(900));
    let out = c.output().expect("run supctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The two tests each drive thousands of actions; run side by side on two cores they
/// would only slow each other down.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

fn assert_converged(cfg: &Path, state: &Path) {
    let r = run_long(cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "the next plan is empty: {}", r.all());
    let snap = store(state).snapshot_for_tests();
    assert_eq!(snap.updates.len(), UPDATES);
    for u in snap.updates.values() {
        assert_eq!(u.state(), UpdateState::Deployable, "{}", u.id);
        assert_eq!(u.revision, 1, "{} was published once", u.id);
    }
}

trait SnapshotForTests {
    fn snapshot_for_tests(&self) -> supctl::store::ActualState;
}
impl SnapshotForTests for supctl::store::Store {
    fn snapshot_for_tests(&self) -> supctl::store::ActualState {
        self.snapshot().expect("snapshot")
    }
}

#[test]
fn a_3000_update_catalog_with_content_applies_in_one_apply() {
    let _one = one_at_a_time();
    let Some((cab, content)) = fixture() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), cab, content);
    let mut c = supctl(&["apply", "--auto-approve", "-c"]);
    c.arg(&cfg).timeout(Duration::from_secs(600));
    let out = c.output().unwrap();
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{}", tail(&all));
    assert!(!all.contains("refused"), "{}", tail(&all));
    assert!(!all.contains("changed since the plan"), "{}", tail(&all));
    assert_converged(&cfg, &dir.path().join("state"));
}

/// `kill -9` at `SUPCTL_KILL_POINTS` (default 24) random points of one apply and of the
/// resumes that continue it. After every kill the store passes a full integrity check and
/// the next command continues the plan (`apply --resume`, or a plain apply when the kill came
/// before the first action was journaled); the last one finishes it and the next plan is
/// empty. Chaining the kills through one plan keeps the test's cost near one apply while
/// every kill lands in a different phase: planning, publishing batches, staging.
#[test]
fn kill_9_at_random_points_of_a_3000_update_apply_converges() {
    let _one = one_at_a_time();
    let Some((cab, content)) = fixture() else {
        return;
    };
    let points: u64 = std::env::var("SUPCTL_KILL_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = seed | 1;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), cab, content);
    let state = dir.path().join("state");
    let mut kills = 0;
    let mut log = Vec::new();
    let next = |rng: &mut u64, lo: u64, hi: u64| {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        lo + *rng % (hi - lo)
    };
    // Kills while `apply` plans (nothing journaled yet: nothing to resume).
    for _ in 0..3 {
        let delay = Duration::from_millis(next(&mut rng, 30, 1500));
        if let Ended::Exited(code, out) = run_until(&cfg, &["apply", "--auto-approve"], delay) {
            panic!(
                "seed {seed}: apply ended by itself ({code}): {}",
                tail(&out)
            );
        }
        kills += 1;
        log.push(format!("apply (planning) killed after {delay:?}"));
        store(&state);
    }
    assert!(resumable(&run_long(&cfg, &["apply", "--resume"]).all()));
    // Then kills while a saved plan is applied and resumed: publishing batches, staging.
    let planfile = dir.path().join("p.plan");
    let r = run_long(&cfg, &["plan", "-o", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", tail(&r.all()));
    // Kill points spread over the plan's actions: each round runs until the journal holds
    // its point's number of entries (whatever the machine's speed), then is killed.
    let total = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&planfile).unwrap())
        .unwrap()["actions"]
        .as_array()
        .map_or(0, Vec::len) as u64;
    let mut marks: Vec<u64> = (kills..points)
        .map(|_| next(&mut rng, 1, total.max(2)))
        .collect();
    marks.sort();
    let mut finished = false;
    for mark in marks {
        let args: &[&str] = if journal_is_empty(&state) {
            &["apply", planfile.to_str().unwrap()]
        } else {
            &["apply", "--resume"]
        };
        match run_until_journaled(&cfg, args, &state, mark) {
            Ended::Killed => {
                kills += 1;
                log.push(format!(
                    "{args:?} killed at journal entry {mark} of {total}"
                ));
            }
            Ended::Exited(0, _) => {
                log.push(format!("{args:?} finished before entry {mark}"));
                finished = true;
                break;
            }
            // Killed after its last action was journaled but before the entry that closes
            // the apply: every action is done, so there is nothing left to resume.
            Ended::Exited(1, out) if resumable(&out) => {
                log.push(format!(
                    "{args:?}: nothing left to resume before entry {mark}"
                ));
                finished = true;
                break;
            }
            Ended::Exited(code, out) => panic!(
                "seed {seed}: {args:?} exited {code}\n{}\n{}",
                log.join("\n"),
                tail(&out)
            ),
        }
        store(&state);
    }
    if !finished {
        let mut c = supctl(&["apply", "--resume", "-c"]);
        c.arg(&cfg).timeout(Duration::from_secs(900));
        let out = c.output().unwrap();
        let all = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Exit 1 "nothing to resume" when the last kill came after the last action was
        // journaled but before the apply's closing entry: every action is done.
        assert!(
            out.status.code() == Some(0) || (out.status.code() == Some(1) && resumable(&all)),
            "seed {seed}: {}\n{}",
            log.join("\n"),
            tail(&all)
        );
    }
    eprintln!("{kills} kills:\n{}", log.join("\n"));
    assert_converged(&cfg, &state);
}

enum Ended {
    Killed,
    Exited(i32, String),
}

/// Runs `supctl ARGS -c CFG` until `stop` says so (polled every few milliseconds), then
/// kills it with SIGKILL, unless it ends first (then its exit code and output).
fn run_until_stopped(cfg: &Path, args: &[&str], stop: impl Fn() -> bool) -> Ended {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = supctl_std(args)
        .arg("-c")
        .arg(cfg)
        .stdout(out.reopen().unwrap())
        .stderr(out.reopen().unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = std::fs::read_to_string(out.path()).unwrap_or_default();
            return Ended::Exited(status.code().unwrap_or(-1), text);
        }
        if stop() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    Ended::Killed
}

/// Killed after `delay`.
fn run_until(cfg: &Path, args: &[&str], delay: Duration) -> Ended {
    let started = Instant::now();
    run_until_stopped(cfg, args, || started.elapsed() >= delay)
}

/// Killed once the store's journal holds `mark` entries.
fn run_until_journaled(cfg: &Path, args: &[&str], state: &Path, mark: u64) -> Ended {
    run_until_stopped(cfg, args, || journaled(state) >= mark)
}

/// Entries in the store's latest journal (read without integrity checks, while a writer runs).
fn journaled(state: &Path) -> u64 {
    let Ok(b) = supctl::store::Store::embedded(
        &supctl::store::StoreLocation::new(state.to_path_buf()),
        supctl::store::db::OpenOptions {
            create: false,
            check: supctl::store::db::Check::None,
        },
    ) else {
        return 0;
    };
    b.last_journal()
        .ok()
        .flatten()
        .map_or(0, |j| j.entries.len() as u64)
}

/// No apply has journaled an action yet.
fn journal_is_empty(state: &Path) -> bool {
    store(state)
        .last_journal()
        .unwrap()
        .is_none_or(|j| j.entries.is_empty())
}

/// `apply --resume` found no interrupted apply to continue.
fn resumable(out: &str) -> bool {
    out.contains("no interrupted apply") || out.contains("nothing to resume")
}

/// The store opens with a full integrity check (no half-written state after a kill).
fn store(state: &Path) -> supctl::store::Store {
    supctl::store::Store::embedded(
        &supctl::store::StoreLocation::new(state.to_path_buf()),
        supctl::store::db::OpenOptions {
            create: false,
            check: supctl::store::db::Check::Full,
        },
    )
    .expect("the store passes its integrity check")
}

/// The last lines of an output, without the per-action progress lines.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.ends_with(" done")).collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
