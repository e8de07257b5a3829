//! The native transport: a counted tokio `TcpStream` (the TCP side of [`super::transport`]).

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::counters::{ByteCounters, CountingStream};
use super::state::{ConnectError, ConnectionState};
use super::transport::Transport;

/// A TCP connection to the server, every byte counted.
#[derive(Debug)]
pub struct Tcp {
    stream: CountingStream<TcpStream>,
}

impl Transport for Tcp {
    async fn open(address: &str, counters: ByteCounters) -> Result<Self, ConnectError> {
        let addrs: Vec<_> = tokio::net::lookup_host(address)
            .await
            .map_err(|e| {
                ConnectError::new(ConnectionState::InvalidHost, format!("{address}: {e}"))
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ConnectError::new(
                ConnectionState::InvalidHost,
                format!("{address} has no address"),
            ));
        }
        let mut last_err = None;
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let stream = match (stream, last_err) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(e.into()),
            (None, None) => {
                return Err(ConnectError::new(
                    ConnectionState::Error,
                    "no address to connect to",
                ))
            }
        };
        let _ = stream.set_nodelay(true);
        Ok(Tcp {
            stream: CountingStream::new(stream, counters),
        })
    }

    async fn read(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.stream.read_buf(buf).await
    }

    async fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        self.stream.write_all(frame).await
    }

    async fn close(&mut self) {
        let _ = self.stream.shutdown().await;
        let mut buf = Vec::with_capacity(16 * 1024);
        loop {
            buf.clear();
            match self.stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    fn counters(&self) -> &ByteCounters {
        self.stream.counters()
    }
}
