//! A TCP proxy between a browser and the server, standing in for the
//! network: the test can cut it (every connection closes, new ones are
//! refused) or make it go silent (connections stay open but nothing gets
//! through any more, as when a path dies without either end noticing).
//!
//! Chromium's DevTools network emulation (`offline: true`) makes the page
//! believe it is offline but leaves an open WebSocket working, so it cannot
//! by itself take a page's socket away; this proxy does.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the network does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Network {
    /// Bytes flow both ways.
    Up,
    /// Every open connection is closed, new ones are refused.
    Cut,
    /// Open connections stay open but drop everything, for good (they are
    /// dead without knowing it); new ones are refused.
    Silent,
}

/// The proxy; stops (closing everything) when dropped.
pub(crate) struct Proxy {
    /// Where the browser connects.
    addr: SocketAddr,
    /// The switch every connection watches.
    network: Arc<watch::Sender<Network>>,
    /// The accept loop (each connection task ends when the switch is dropped).
    task: JoinHandle<()>,
}

impl Proxy {
    /// Listens on `127.0.0.1:<random port>` and forwards to `upstream`.
    pub(crate) async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let network = Arc::new(watch::Sender::new(Network::Up));
        let switch = Arc::clone(&network);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *switch.borrow() != Network::Up {
                    drop(client);
                    continue;
                }
                let mut watcher = switch.subscribe();
                watcher.mark_unchanged();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pump(client, server, watcher).await;
                    }
                });
            }
        });
        Self { addr, network, task }
    }

    /// `http://127.0.0.1:<port><path>` through the proxy.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Switches the network.
    pub(crate) fn set(&self, network: Network) {
        self.network.send_replace(network);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set(Network::Cut);
        self.task.abort();
    }
}

/// Copies bytes both ways until either side closes or the network is cut;
/// once the network goes silent, this connection swallows everything.
async fn pump(mut client: TcpStream, mut server: TcpStream, mut network: watch::Receiver<Network>) {
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    let mut dead = false;
    loop {
        tokio::select! {
            read = client.read(&mut from_client) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) if !dead => {
                    if server.write_all(&from_client[..n]).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
            },
            read = server.read(&mut from_server) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) if !dead => {
                    if client.write_all(&from_server[..n]).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
            },
            changed = network.changed() => {
                if changed.is_err() {
                    return;
                }
                match *network.borrow_and_update() {
                    Network::Cut => return,
                    Network::Silent => dead = true,
                    Network::Up => {}
                }
            }
        }
    }
}
