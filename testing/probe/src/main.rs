//! The probe app's binary: `worker`, `gateway`, `run`, `stack` like any Refract app.

fn main() -> std::process::ExitCode {
    refract_probe::app().main()
}
