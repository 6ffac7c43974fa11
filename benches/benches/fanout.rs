//! One stored message encoded once and fanned out to a room of N
//! connections by the chat server's own delivery path (`chat::bench`: the
//! room's order, then a shared frame into each connection's bounded queue).
//! Each iteration also takes the frame off every queue (the sockets' side),
//! so the queues never fill; throughput is deliveries.

use std::hint::black_box;

use chat::bench::BenchRoom;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::ServerFrame;
use tokio_tungstenite::tungstenite::Utf8Bytes;

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("server_frame_encode");
    for len in [100, 1000] {
        let frame = ServerFrame::ChatMessage(benches::stored_message(len));
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("chat_message", len), &frame, |b, frame| {
            b.iter(|| Utf8Bytes::from(black_box(frame).to_json()));
        });
    }
    group.finish();
}

fn fan_out(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let _entered = runtime.enter();
    let mut group = c.benchmark_group("fan_out");
    let message = benches::stored_message(100);
    for connections in [10, 100, 1000] {
        let mut room = BenchRoom::new(connections);
        group.throughput(Throughput::Elements(connections as u64));
        group.bench_function(BenchmarkId::new("room_delivery", connections), |b| {
            b.iter(|| {
                let delivered = room.deliver(black_box(message.clone()));
                assert_eq!(delivered, connections);
            });
        });
    }
    group.finish();
}

criterion_group!(fanout, encode, fan_out);
criterion_main!(fanout);
