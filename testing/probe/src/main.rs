//! The probe app's binary: `worker`, `gateway`, `run`, `stack` like any Refract app.

/// mimalloc, as in `refract-gateway`: the load tests run this binary in every role.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    refract_probe::app().main()
}
