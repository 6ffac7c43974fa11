//! `ClientFrame::decode` on the frames clients send: the first step of every
//! message the server reads. Also the decode of a delivered `ServerFrame`,
//! which every client (the load tester included) pays per delivery.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::{ClientFrame, ServerFrame};

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_frame_decode");
    for (name, frame) in benches::client_frames() {
        group.throughput(Throughput::Bytes(frame.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &frame, |b, frame| {
            b.iter(|| ClientFrame::decode(black_box(frame)));
        });
    }
    group.finish();
}

fn decode_delivery(c: &mut Criterion) {
    let mut group = c.benchmark_group("server_frame_decode");
    let json = ServerFrame::ChatMessage(benches::stored_message(100)).to_json();
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("chat_message_100", |b| {
        b.iter(|| serde_json::from_str::<ServerFrame>(black_box(&json)));
    });
    group.finish();
}

criterion_group!(frames, decode, decode_delivery);
criterion_main!(frames);
