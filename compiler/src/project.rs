//! The generated Vite project on disk: writing it, `npm install` when its dependencies changed, and
//! `vite build`.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::CompileError;

/// Written into `node_modules/` after a successful `npm install`: the `package.json` it installed.
const INSTALL_STAMP: &str = "node_modules/.refract-installed-package.json";

/// How many times `npm install` is tried before its failure is reported. A registry that answers
/// one metadata request badly makes npm report a made-up peer conflict (`ERESOLVE … Found:
/// react@undefined`, npm/cli#9979); a second try a moment later goes through.
const INSTALL_ATTEMPTS: u32 = 3;

/// The pause before the second try; doubled before each next one.
const INSTALL_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// A generated project in `dir` (the app's build folder, e.g. `examples/counter/.web`).
#[derive(Debug, Clone)]
pub struct Project {
    dir: PathBuf,
}

impl Project {
    /// The project in `dir` (created when written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Project { dir: dir.into() }
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
    /// dependencies. Returns whether it ran. A failed install is tried again, up to
    /// [`INSTALL_ATTEMPTS`] times in all with a growing pause, since registry hiccups fail it too.
    ///
    /// # Errors
    /// [`CompileError::ToolMissing`] without `npm`; [`CompileError::CommandFailed`] with the last
    /// try's output when every try failed.
    pub fn install(&self) -> Result<bool, CompileError> {
        let manifest = self.dir.join("package.json");
        let wanted =
            std::fs::read_to_string(&manifest).map_err(|e| CompileError::io(&manifest, e))?;
        let stamp = self.dir.join(INSTALL_STAMP);
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
            return Ok(false);
        }
        tracing::info!(dir = %self.dir.display(), "npm install (dependencies changed)");
        let mut pause = INSTALL_RETRY_PAUSE;
        for attempt in 1.. {
            match self.run(
                "npm",
                &["install", "--no-audit", "--no-fund", "--loglevel=error"],
            ) {
                Ok(_) => break,
                Err(CompileError::CommandFailed { output, .. }) if attempt < INSTALL_ATTEMPTS => {
                    tracing::warn!(attempt, %output, "npm install failed; trying again");
                    std::thread::sleep(pause);
                    pause *= 2;
                }
                Err(e) => return Err(e),
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

    fn run(&self, program: &str, args: &[&str]) -> Result<Output, CompileError> {
        let command = format!("{program} {}", args.join(" "));
        let output = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    CompileError::ToolMissing {
                        tool: program.to_owned(),
                    }
                } else {
                    CompileError::io(&self.dir, e)
                }
            })?;
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
