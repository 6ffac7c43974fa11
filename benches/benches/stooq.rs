//! The bot's classification of a Stooq body with csv-core: a quote, an
//! unknown symbol, or a page that is not the CSV.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn classify(c: &mut Criterion) {
    let mut group = c.benchmark_group("stooq_classify");
    for (name, body) in benches::stooq_bodies() {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), body, |b, body| {
            b.iter(|| bot::parse::classify(black_box(body)));
        });
    }
    group.finish();
}

criterion_group!(stooq, classify);
criterion_main!(stooq);
