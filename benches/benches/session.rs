//! A session lookup's CPU part: SHA-256 of the 43-character cookie token,
//! which is what the database stores and is queried by on every
//! authenticated request and WebSocket handshake.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};

fn hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("session_token");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sha256", |b| {
        b.iter(|| -> [u8; 32] {
            Sha256::digest(black_box(benches::SESSION_TOKEN).as_bytes()).into()
        });
    });
    group.finish();
}

criterion_group!(session, hash);
criterion_main!(session);
