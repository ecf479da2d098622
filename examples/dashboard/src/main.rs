//! Runs the dashboard example: `cargo run -p dashboard`, then open http://127.0.0.1:3000.

fn main() -> std::process::ExitCode {
    dashboard::app().main()
}
