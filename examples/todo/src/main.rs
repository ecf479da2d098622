//! Runs the todo example: `cargo run -p todo`, then open http://127.0.0.1:3000.

fn main() -> std::process::ExitCode {
    todo::app().main()
}
