//! Criterion benchmarks of the per-event hot paths: the delta computation, a shard's
//! deserialisation and serialisation (small state and ~1 MB state), the parsing of an event frame,
//! and the rendezvous routing hash. Run with `cargo bench -p loadtests`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use refract_core::{StateDescriptor, diff};
use serde_json::{Map, Value, json};

/// The stored shard of the probe app's `probe_state` with `log_len` logged numbers.
fn probe_shard(log_len: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({"count": 41, "log": (0..log_len).collect::<Vec<_>>()})).unwrap()
}

/// The stored shard of `big_state` with `rows` rows of 64 characters (16,384 ≈ 1 MB).
fn big_shard(rows: usize) -> Vec<u8> {
    let rows: Vec<String> = (0..rows).map(|i| format!("{i:064}")).collect();
    serde_json::to_vec(&json!({"rows": rows, "ticks": 7})).unwrap()
}

fn descriptor(name: &str) -> StateDescriptor {
    *refract_probe::app()
        .states()
        .get(name)
        .expect("the probe app has this state")
}

fn vars_of(desc: &StateDescriptor, shard: &[u8]) -> Map<String, Value> {
    (desc.decode)(shard).unwrap().vars().unwrap()
}

fn delta(c: &mut Criterion) {
    let probe = descriptor("probe_state");
    let big = descriptor("big_state");
    let before = vars_of(&probe, &probe_shard(100));
    let mut after = before.clone();
    after.insert("count".into(), json!(42));
    c.bench_function("diff/probe_state one var changed", |b| {
        b.iter_batched(
            || after.clone(),
            |after| diff(black_box(&before), after),
            BatchSize::SmallInput,
        )
    });
    let before = vars_of(&big, &big_shard(16_384));
    let mut after = before.clone();
    after.insert("ticks".into(), json!(8));
    c.bench_function("diff/big_state 1 MB, one field changed", |b| {
        b.iter_batched(
            || after.clone(),
            |after| diff(black_box(&before), after),
            BatchSize::LargeInput,
        )
    });
}

fn shard(c: &mut Criterion) {
    let probe = descriptor("probe_state");
    let big = descriptor("big_state");
    let small = probe_shard(100);
    let large = big_shard(16_384);
    for (name, desc, shard) in [
        ("probe_state", probe, &small),
        ("big_state 1 MB", big, &large),
    ] {
        c.bench_function(&format!("shard/decode {name}"), |b| {
            b.iter(|| (desc.decode)(black_box(shard)).unwrap())
        });
        let state = (desc.decode)(shard).unwrap();
        c.bench_function(&format!("shard/encode {name}"), |b| {
            b.iter(|| black_box(&state).encode().unwrap())
        });
        c.bench_function(&format!("shard/vars {name}"), |b| {
            b.iter(|| black_box(&state).vars().unwrap())
        });
    }
}

fn frame(c: &mut Criterion) {
    let event = r#"{"type":"event","seq":1234,"handler":"probe_state.add","args":{"n":1}}"#;
    let hello = r#"{"type":"hello","token":"q3Vb0xk1oQ8m5Y0pJb9e1A.ZQ2m8u2cVxk4b8a0Jt3wXg"}"#;
    c.bench_function("frame/parse event", |b| {
        b.iter(|| refract_proto::ClientFrame::parse(black_box(event)).unwrap())
    });
    c.bench_function("frame/parse hello", |b| {
        b.iter(|| refract_proto::ClientFrame::parse(black_box(hello)).unwrap())
    });
    let delta = r#"{"type":"delta","version":13,"seq":8,"delta":{"probe_state":{"count":4}}}"#;
    c.bench_function("frame/delta_header", |b| {
        b.iter(|| refract_proto::frame::delta_header(black_box(delta)).unwrap())
    });
}

fn routing(c: &mut Criterion) {
    let token = "q3Vb0xk1oQ8m5Y0pJb9e1A.ZQ2m8u2cVxk4b8a0Jt3wXg";
    c.bench_function("routing/rendezvous_weight", |b| {
        b.iter(|| refract_gateway::pool::rendezvous_weight(black_box(token), "10.0.0.7:50051"))
    });
    for n in [2usize, 16] {
        let workers: Vec<String> = (0..n).map(|i| format!("10.0.0.{i}:50051")).collect();
        c.bench_function(&format!("routing/pick of {n} workers"), |b| {
            b.iter(|| {
                workers
                    .iter()
                    .max_by_key(|w| refract_gateway::pool::rendezvous_weight(black_box(token), w))
            })
        });
    }
}

criterion_group!(benches, delta, shard, frame, routing);
criterion_main!(benches);
