//! Runs the counter example: `cargo run -p counter`, then open http://127.0.0.1:3000.

fn main() -> std::process::ExitCode {
    counter::app().main()
}
