//! The fuzz targets' kept corpus (`fuzz/corpus/<target>/`), replayed through the very checks the
//! targets run (`fuzz/src/checks.rs`, included here), so that the stable toolchain, without
//! `cargo fuzz`, still checks every kept input: the seeds, the inputs the fuzzer found
//! interesting, and the crashes it found once fixed.

#[path = "../../fuzz/src/checks.rs"]
mod checks;

use std::path::PathBuf;

/// Runs `check` on every file of `fuzz/corpus/<target>/`, naming the file that fails.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", dir.display());
    for file in files {
        let input = std::fs::read(&file).unwrap();
        let checked = std::panic::catch_unwind(|| check(&input));
        assert!(checked.is_ok(), "{} fails its check", file.display());
    }
}

#[test]
fn frame_corpus() {
    replay("frame", checks::frame);
}

#[test]
fn handler_args_corpus() {
    replay("handler_args", checks::handler_args);
}

#[test]
fn shard_corpus() {
    replay("shard", checks::shard);
}
