//! Any bytes as a client (or server) frame: see `refract_fuzz::checks::frame`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| refract_fuzz::frame(data));
