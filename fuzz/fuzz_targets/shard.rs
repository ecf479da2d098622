//! `state`, a newline and the bytes of its stored shard: see `refract_fuzz::checks::shard`.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| refract_fuzz::shard(data));
