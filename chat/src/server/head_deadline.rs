//! A connection's first request head must arrive within a deadline counted
//! from accept.
//!
//! hyper's `header_read_timeout` starts with the first byte of a request, and
//! hyper-util's `auto` connection first reads the protocol preface with no
//! timer at all: a client that connects and sends nothing, or one byte, would
//! hold its connection (and its place under the caps) for ever. So the accept
//! loop wraps each stream: reads fail with `TimedOut` once the deadline
//! passes, until the service is handed the first request, which disarms it.
//! Later requests on the connection have hyper's own timer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Disarms the deadline of one connection: the first request head arrived.
#[derive(Clone)]
pub(super) struct HeadArrived(Arc<AtomicBool>);

impl HeadArrived {
    pub(super) fn arrived(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `inner`, whose reads fail once the deadline passes without a request head.
pub(super) struct HeadDeadline<S> {
    inner: S,
    /// `None` once disarmed: then reads cost nothing more than the stream's.
    deadline: Option<Pin<Box<Sleep>>>,
    arrived: Arc<AtomicBool>,
}

impl<S> HeadDeadline<S> {
    /// Wraps a stream accepted just now; the head must arrive within `limit`.
    pub(super) fn new(inner: S, limit: Duration) -> (Self, HeadArrived) {
        let arrived = Arc::new(AtomicBool::new(false));
        let deadline = Some(Box::pin(tokio::time::sleep(limit)));
        (Self { inner, deadline, arrived: Arc::clone(&arrived) }, HeadArrived(arrived))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadDeadline<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(deadline) = &mut this.deadline {
            if this.arrived.load(Ordering::Relaxed) {
                this.deadline = None;
            } else if deadline.as_mut().poll(cx).is_ready() {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "no request head in time");
                return Poll::Ready(Err(timed_out));
            }
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadDeadline<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test(start_paused = true)]
    async fn reads_fail_after_the_deadline_unless_a_head_arrived() {
        let (client, server) = tokio::io::duplex(64);
        let (mut silent, _arrived) = HeadDeadline::new(server, Duration::from_secs(10));
        let mut byte = [0u8; 1];
        let started = tokio::time::Instant::now();
        let error = silent.read(&mut byte).await.expect_err("timed out");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        drop(client);

        let (mut client, server) = tokio::io::duplex(64);
        let (mut served, arrived) = HeadDeadline::new(server, Duration::from_secs(10));
        arrived.arrived();
        tokio::time::sleep(Duration::from_secs(60)).await;
        tokio::io::AsyncWriteExt::write_all(&mut client, b"x").await.unwrap();
        assert_eq!(served.read(&mut byte).await.unwrap(), 1);
    }
}
