//! Runs the blog example: `cargo run -p blog`, then open http://127.0.0.1:3000.

fn main() -> std::process::ExitCode {
    blog::app().main()
}
