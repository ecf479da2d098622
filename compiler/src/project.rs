//! The generated Vite project on disk: writing it, `npm install` when its dependencies changed, and
//! `vite build`.
//!
//! `npm install` says what it is doing: it logs when it starts, every [`PROGRESS_EVERY`] how long
//! it has run and how many registry requests were answered, and each failed request at once (a
//! proxy, a TLS-intercepting proxy or a mirror that does not answer shows in seconds, not after
//! npm's own retries); it is stopped after its timeout ([`Project::npm_timeout`]) with a message
//! that says how to go on.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::CompileError;

/// Written into `node_modules/` after a successful `npm install`: the `package.json` it installed.
const INSTALL_STAMP: &str = "node_modules/.refract-installed-package.json";

/// How many times `npm install` is tried before its failure is reported. A registry that answers
/// one metadata request badly makes npm report a made-up peer conflict (`ERESOLVE … Found:
/// react@undefined`, npm/cli#9979); a second try a moment later goes through.
const INSTALL_ATTEMPTS: u32 = 3;

/// The pause before the second try; doubled before each next one.
const INSTALL_RETRY_PAUSE: Duration = Duration::from_secs(2);

/// How long one `npm install` may run unless [`Project::npm_timeout`] says otherwise.
const DEFAULT_NPM_TIMEOUT: Duration = Duration::from_secs(600);

/// How often a running `npm install` logs that it is still at it.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// How many failed registry requests one `npm install` logs as they happen (all are kept for its
/// error message).
const FAILED_REQUESTS_LOGGED: usize = 5;

/// How to reach a registry, for the message of a timed-out or failed install.
const REGISTRY_HELP: &str = "behind a proxy set npm_config_proxy / npm_config_https_proxy, \
behind a TLS-intercepting proxy npm_config_cafile (its CA certificate), for a private mirror \
npm_config_registry (docs/deploy.md, \"Building behind a proxy or a mirror\")";

/// A generated project in `dir` (the app's build folder, e.g. `examples/counter/.web`).
#[derive(Debug, Clone)]
pub struct Project {
    dir: PathBuf,
    npm_timeout: Duration,
}

/// How a watched command ended.
enum Finished {
    /// It exited: its status and output.
    Exited(Output),
    /// It was stopped when its time was up; what it had printed.
    TimedOut(String),
}

impl Project {
    /// The project in `dir` (created when written); `npm install` may take 10 minutes.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Project {
            dir: dir.into(),
            npm_timeout: DEFAULT_NPM_TIMEOUT,
        }
    }

    /// The project with `npm install` stopped (and the build failed) after `timeout`.
    pub fn npm_timeout(mut self, timeout: Duration) -> Self {
        self.npm_timeout = timeout;
        self
    }

    /// The project's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `vite build` puts the assets.
    pub fn dist(&self) -> PathBuf {
        self.dir.join("dist")
    }

    /// Writes `files` (relative path → content), touching only files whose content changed so that
    /// Vite's and npm's caches stay valid, and removes generated pages that no longer exist.
    ///
    /// # Errors
    /// [`CompileError::Io`] when a file cannot be written.
    pub fn write(&self, files: &BTreeMap<String, String>) -> Result<(), CompileError> {
        let pages = self.dir.join("src/pages");
        if let Ok(entries) = std::fs::read_dir(&pages) {
            for entry in entries.flatten() {
                let rel = format!("src/pages/{}", entry.file_name().to_string_lossy());
                if !files.contains_key(&rel) {
                    std::fs::remove_file(entry.path())
                        .map_err(|e| CompileError::io(entry.path(), e))?;
                }
            }
        }
        for (rel, content) in files {
            let path = self.dir.join(rel);
            if std::fs::read_to_string(&path).is_ok_and(|old| old == *content) {
                continue;
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| CompileError::io(parent, e))?;
            }
            std::fs::write(&path, content).map_err(|e| CompileError::io(&path, e))?;
        }
        Ok(())
    }

    /// Runs `npm install` unless `node_modules` already holds exactly the current `package.json`'s
    /// dependencies, showing its progress (see the module's documentation). Returns whether it
    /// ran. A failed install is tried again, up to [`INSTALL_ATTEMPTS`] times in all with a
    /// growing pause, since registry hiccups fail it too; one that timed out is not.
    ///
    /// # Errors
    /// [`CompileError::ToolMissing`] without `npm`; [`CompileError::CommandFailed`] with the last
    /// try's output when every try failed, or when it ran past its timeout (its status says so).
    pub fn install(&self) -> Result<bool, CompileError> {
        self.install_with("npm")
    }

    /// [`Project::install`] with `npm` as the program to run.
    fn install_with(&self, npm: &str) -> Result<bool, CompileError> {
        let manifest = self.dir.join("package.json");
        let wanted =
            std::fs::read_to_string(&manifest).map_err(|e| CompileError::io(&manifest, e))?;
        let stamp = self.dir.join(INSTALL_STAMP);
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
            return Ok(false);
        }
        let args = ["install", "--no-audit", "--no-fund", "--loglevel=http"];
        let command = format!("{npm} {}", args.join(" "));
        tracing::info!(
            dir = %self.dir.display(),
            timeout_secs = self.npm_timeout.as_secs(),
            "npm install: installing the frontend's packages (dependencies changed)"
        );
        let mut pause = INSTALL_RETRY_PAUSE;
        for attempt in 1.. {
            match self.watch(npm, &args)? {
                Finished::Exited(done) if done.status.success() => {
                    let said = String::from_utf8_lossy(&done.stdout);
                    tracing::info!(summary = %said.trim(), "npm install: done");
                    break;
                }
                Finished::Exited(failed) => {
                    let output = String::from_utf8_lossy(&failed.stderr).into_owned();
                    if attempt < INSTALL_ATTEMPTS {
                        tracing::warn!(attempt, %output, "npm install failed; trying again");
                        std::thread::sleep(pause);
                        pause *= 2;
                        continue;
                    }
                    return Err(CompileError::CommandFailed {
                        command,
                        status: failed.status.to_string(),
                        output: format!(
                            "{output}\nIf npm could not reach its registry: {REGISTRY_HELP}"
                        ),
                    });
                }
                Finished::TimedOut(output) => {
                    return Err(CompileError::CommandFailed {
                        command,
                        status: format!(
                            "stopped after {} s; more time: --npm-timeout-secs or \
                             REFRACT_NPM_TIMEOUT_SECS",
                            self.npm_timeout.as_secs()
                        ),
                        output: format!(
                            "{output}\nnpm is usually waiting on its registry: {REGISTRY_HELP}"
                        ),
                    });
                }
            }
        }
        std::fs::write(&stamp, wanted).map_err(|e| CompileError::io(&stamp, e))?;
        Ok(true)
    }

    /// Runs `vite build`; returns the folder of the built assets.
    ///
    /// # Errors
    /// [`CompileError::ToolMissing`] without `node`; [`CompileError::CommandFailed`] when the build
    /// fails (its output says why).
    pub fn build(&self) -> Result<PathBuf, CompileError> {
        self.run(
            "node",
            &[
                "node_modules/vite/bin/vite.js",
                "build",
                "--logLevel",
                "warn",
            ],
        )?;
        Ok(self.dist())
    }

    /// Runs npm's `program` with `args` (npm's log level `http`) in the project, for at most the
    /// npm timeout, logging its progress. Its stderr is read as it comes: answered registry
    /// requests are counted, failed ones logged, the rest (warnings, errors) kept as its output.
    fn watch(&self, program: &str, args: &[&str]) -> Result<Finished, CompileError> {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(program, e))?;
        let answered = Arc::new(AtomicUsize::new(0));
        let kept = Arc::new(Mutex::new(Vec::<String>::new()));
        let stderr = child.stderr.take().map(|stderr| {
            let (answered, kept) = (answered.clone(), kept.clone());
            std::thread::spawn(move || read_npm_log(stderr, &answered, &kept))
        });
        let stdout = child.stdout.take().map(|mut stdout| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                let _ = stdout.read_to_end(&mut out);
                out
            })
        });
        let started = Instant::now();
        let mut next_progress = PROGRESS_EVERY;
        let status = loop {
            if let Some(status) = child
                .try_wait()
                .map_err(|e| CompileError::io(&self.dir, e))?
            {
                break status;
            }
            let elapsed = started.elapsed();
            if elapsed >= self.npm_timeout {
                // npm's own children may outlive it holding the pipes: the readers are not
                // waited for, what they kept so far is the output.
                let _ = child.kill();
                let _ = child.wait();
                let kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
                tracing::warn!(
                    secs = elapsed.as_secs(),
                    "npm install: stopped, out of time"
                );
                return Ok(Finished::TimedOut(kept.join("\n")));
            }
            if elapsed >= next_progress {
                next_progress += PROGRESS_EVERY;
                tracing::info!(
                    secs = elapsed.as_secs(),
                    requests_answered = answered.load(Ordering::Relaxed),
                    "npm install: still installing…"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let stdout = stdout.and_then(|t| t.join().ok()).unwrap_or_default();
        if let Some(reader) = stderr {
            let _ = reader.join();
        }
        let kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(Finished::Exited(Output {
            status,
            stdout,
            stderr: kept.join("\n").into_bytes(),
        }))
    }

    /// The error of a command that could not start.
    fn spawn_error(&self, program: &str, e: std::io::Error) -> CompileError {
        if e.kind() == ErrorKind::NotFound {
            CompileError::ToolMissing {
                tool: program.to_owned(),
            }
        } else {
            CompileError::io(&self.dir, e)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<Output, CompileError> {
        let command = format!("{program} {}", args.join(" "));
        let output = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| self.spawn_error(program, e))?;
        if output.status.success() {
            Ok(output)
        } else {
            let mut log = String::from_utf8_lossy(&output.stdout).into_owned();
            log.push_str(&String::from_utf8_lossy(&output.stderr));
            Err(CompileError::CommandFailed {
                command,
                status: output.status.to_string(),
                output: log,
            })
        }
    }
}

/// Reads npm's log (level `http`) from `stderr`: counts the answered registry requests in
/// `answered`, logs the first failed ones, keeps every other line (and the failures) in `kept`.
fn read_npm_log(stderr: impl Read, answered: &AtomicUsize, kept: &Mutex<Vec<String>>) {
    let mut failures = 0;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if let Some(request) = line.strip_prefix("npm http fetch ") {
            if request.contains(" attempt ") && request.contains(" failed") {
                failures += 1;
                if failures <= FAILED_REQUESTS_LOGGED {
                    tracing::warn!(request, "npm install: a registry request failed");
                }
            } else {
                answered.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        } else if line.starts_with("npm http ") {
            continue;
        }
        kept.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_touches_only_changed_files_and_drops_stale_pages() {
        let dir = std::env::temp_dir().join(format!("refract-project-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let project = Project::new(&dir);
        let mut files = BTreeMap::from([
            ("src/pages/page_0.jsx".to_owned(), "a".to_owned()),
            ("src/pages/page_1.jsx".to_owned(), "b".to_owned()),
        ]);
        project.write(&files).unwrap();
        let before = std::fs::metadata(dir.join("src/pages/page_0.jsx"))
            .unwrap()
            .modified()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        files.remove("src/pages/page_1.jsx");
        project.write(&files).unwrap();
        let after = std::fs::metadata(dir.join("src/pages/page_0.jsx"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after, "an unchanged file is not rewritten");
        assert!(
            !dir.join("src/pages/page_1.jsx").exists(),
            "a page no longer generated is removed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A project folder with a `package.json` and a fake `npm` running `script` (sh).
    fn fake_npm(name: &str, script: &str) -> (PathBuf, String) {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("refract-npm-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
        std::fs::write(dir.join("package.json"), "{}").unwrap();
        let npm = dir.join("fake-npm");
        std::fs::write(&npm, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&npm, std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, npm.display().to_string())
    }

    #[test]
    fn npm_log_is_counted_failures_and_the_rest_kept() {
        let log = "npm http fetch GET 200 https://registry.npmjs.org/react 50ms (cache miss)\n\
                   npm http cache react@https://registry.npmjs.org/react/-/react.tgz 1ms\n\
                   npm http fetch GET https://registry.npmjs.org/vite attempt 1 failed with ECONNRESET\n\
                   npm warn deprecated inflight@1.0.6\n";
        let answered = AtomicUsize::new(0);
        let kept = Mutex::new(Vec::new());
        read_npm_log(log.as_bytes(), &answered, &kept);
        assert_eq!(answered.load(Ordering::Relaxed), 1);
        assert_eq!(
            *kept.lock().unwrap(),
            [
                "npm http fetch GET https://registry.npmjs.org/vite attempt 1 failed with ECONNRESET",
                "npm warn deprecated inflight@1.0.6",
            ]
        );
    }

    #[test]
    fn an_install_past_its_timeout_is_stopped_with_a_clear_message() {
        // The shell's `sleep` outlives the killed shell, holding the pipes open.
        let (dir, npm) = fake_npm(
            "slow",
            "echo 'npm warn waiting for the proxy' >&2; sleep 30",
        );
        let started = Instant::now();
        let err = Project::new(&dir)
            .npm_timeout(Duration::from_secs(1))
            .install_with(&npm)
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not retried, nor waiting for the orphan"
        );
        let CompileError::CommandFailed { status, output, .. } = &err else {
            panic!("{err}");
        };
        assert!(status.contains("stopped after 1 s"), "{status}");
        assert!(status.contains("REFRACT_NPM_TIMEOUT_SECS"), "{status}");
        assert!(
            output.contains("npm warn waiting for the proxy"),
            "{output}"
        );
        assert!(output.contains("npm_config_cafile"), "{output}");
        assert!(
            !dir.join(INSTALL_STAMP).exists(),
            "nothing recorded installed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_finished_install_is_recorded() {
        let (dir, npm) = fake_npm(
            "quick",
            "echo 'npm http fetch GET 200 https://r/x 5ms' >&2; echo 'added 1 package in 1s'",
        );
        let project = Project::new(&dir);
        assert!(project.install_with(&npm).unwrap(), "it ran");
        assert!(
            !project.install_with(&npm).unwrap(),
            "up to date: not again"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_tool_is_a_clear_error() {
        let project = Project::new(std::env::temp_dir());
        let err = project.run("refract-no-such-tool", &[]).unwrap_err();
        assert!(
            matches!(err, CompileError::ToolMissing { ref tool } if tool == "refract-no-such-tool")
        );
        assert!(err.to_string().contains("install"), "{err}");
    }
}
