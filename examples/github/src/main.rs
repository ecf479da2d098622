//! Runs the GitHub-profile example: `cargo run -p github`, then open http://127.0.0.1:3000.

fn main() -> std::process::ExitCode {
    github::app().main()
}
