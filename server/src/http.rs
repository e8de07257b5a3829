//! The HTTP listener (`--metrics ADDR`): metrics, health and the admin API on one socket,
//! served so that hostile clients cannot hold it.
//!
//! `axum::serve` sets no header timeout and no connection limit, so this accept loop serves
//! each connection with hyper directly: at most [`MAX_CONNECTIONS`] at once (more are closed as
//! they are accepted), [`HEADER_TIMEOUT`] to send a request's headers, [`CONNECTION_TIMEOUT`] for
//! a whole connection, and the caller's address handed to handlers as axum's `ConnectInfo`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 128;
/// Time a client has to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Time one connection may stay open, whatever it does.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves `router` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, router: axum::Router) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("http listener: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Full: the connection is closed at once rather than queued.
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%peer, "http listener full: connection closed");
            continue;
        };
        let service = TowerToHyperService::new(
            router
                .clone()
                .layer(axum::Extension(ConnectInfo::<SocketAddr>(peer))),
        );
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024);
            let conn = http.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = tokio::time::timeout(CONNECTION_TIMEOUT, conn)
                .await
                .unwrap_or(Ok(()))
            {
                tracing::debug!(%peer, "http connection ended: {e}");
            }
            drop(slot);
        });
    }
}
