//! Up to four events, each a line `state.handler` and a line of JSON arguments, run by the engine:
//! see `refract_fuzz::checks::handler_args`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| refract_fuzz::handler_args(data));
