//! One stored message encoded once and fanned out to N subscribers, as the
//! room writer does: `ServerFrame::ChatMessage` to JSON, into a shared
//! `Utf8Bytes`, then a clone `try_send` into each subscriber's bounded queue.
//! Each iteration also takes the frame off every queue (the write tasks'
//! side), so the queues never fill; throughput is deliveries.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use protocol::ServerFrame;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// The server's per-connection queue bound.
const OUTBOX: usize = 512;

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
    let mut group = c.benchmark_group("fan_out");
    let frame = ServerFrame::ChatMessage(benches::stored_message(100));
    for subscribers in [10, 100, 1000] {
        let (senders, mut receivers): (Vec<_>, Vec<_>) =
            (0..subscribers).map(|_| mpsc::channel::<Utf8Bytes>(OUTBOX)).unzip();
        group.throughput(Throughput::Elements(subscribers as u64));
        group.bench_function(BenchmarkId::new("encode_once_try_send", subscribers), |b| {
            b.iter(|| {
                let text = Utf8Bytes::from(black_box(&frame).to_json());
                for sender in &senders {
                    // A full queue would close that subscriber; never full here.
                    let _ = sender.try_send(text.clone());
                }
                for receiver in &mut receivers {
                    black_box(receiver.try_recv().ok());
                }
            });
        });
    }
    group.finish();
}

criterion_group!(fanout, encode, fan_out);
criterion_main!(fanout);
