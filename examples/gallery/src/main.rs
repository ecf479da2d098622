//! Runs the gallery example: `cargo run -p gallery`, then open http://127.0.0.1:3000.

fn main() -> std::process::ExitCode {
    gallery::app().main()
}
