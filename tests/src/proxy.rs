//! A TCP proxy on loopback that delays traffic and counts the bytes it forwards.
//!
//! Used to inject latency (prediction tests) and to check the client's byte counters against
//! what actually crossed the wire. It runs on its own thread and runtime and stops when dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bytes forwarded in each direction.
#[derive(Debug, Default)]
pub struct ProxyCounts {
    /// Client → server bytes.
    pub upstream: AtomicU64,
    /// Server → client bytes.
    pub downstream: AtomicU64,
}

/// A running proxy.
pub struct Proxy {
    addr: SocketAddr,
    counts: Arc<ProxyCounts>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Forwards connections on a new loopback port to `target`, delaying each direction by `delay`.
    pub fn start(target: SocketAddr, delay: Duration) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let counts = Arc::new(ProxyCounts::default());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread_counts = Arc::clone(&counts);
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((client, _)) = accepted else { continue };
                            let counts = Arc::clone(&thread_counts);
                            tokio::spawn(async move {
                                if let Ok(server) = TcpStream::connect(target).await {
                                    let _ = client.set_nodelay(true);
                                    let _ = server.set_nodelay(true);
                                    let (cr, cw) = client.into_split();
                                    let (sr, sw) = server.into_split();
                                    let up = pipe(cr, sw, delay, Arc::clone(&counts), true);
                                    let down = pipe(sr, cw, delay, counts, false);
                                    let _ = tokio::join!(up, down);
                                }
                            });
                        }
                        _ = &mut stopped => break,
                    }
                }
            });
        });
        Proxy {
            addr,
            counts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Bytes forwarded (upstream, downstream).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.counts.upstream.load(Ordering::SeqCst),
            self.counts.downstream.load(Ordering::SeqCst),
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    counts: Arc<ProxyCounts>,
    upstream: bool,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let counter = if upstream {
                        &counts.upstream
                    } else {
                        &counts.downstream
                    };
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
