//! Runs the uploads example: `cargo run -p uploads`, then open http://127.0.0.1:3000.

fn main() -> std::process::ExitCode {
    uploads::app().main()
}
