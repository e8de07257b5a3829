//! Who is playing, as the operator sees it: name, address, round-trip time, when they joined,
//! and a way to kick each of them.
//!
//! A session takes a [`Seat`] when its player enters play and holds it until its end; dropping
//! the seat removes the player. The seat carries the receiving end of the kick channel, and the
//! session samples its socket's round-trip time (the kernel's smoothed RTT, `TCP_INFO`) at most
//! once a second, so listing players costs no system call per player and the game's hot path
//! only an atomic store.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tilegame_protocol::v1::DisconnectReason;
use tokio::sync::oneshot;

/// What the API shows of one player.
#[derive(Debug, Clone, Serialize)]
pub struct PlayerView {
    /// The simulation's player id.
    pub id: u32,
    /// The player's name.
    pub name: String,
    /// The connection's address.
    pub address: SocketAddr,
    /// The connection's smoothed round-trip time in milliseconds, once measured.
    pub ping_ms: Option<f64>,
    /// When the player entered play (Unix milliseconds).
    pub joined_unix_ms: u64,
    /// When the player entered play, readable.
    pub joined_at: String,
}

struct Entry {
    name: String,
    address: SocketAddr,
    joined_unix_ms: u64,
    /// Microseconds; `u32::MAX` until measured.
    rtt_micros: Arc<AtomicU32>,
    kick: Option<oneshot::Sender<(DisconnectReason, String)>>,
}

impl Entry {
    fn view(&self, id: u32) -> PlayerView {
        let rtt = self.rtt_micros.load(Ordering::Relaxed);
        PlayerView {
            id,
            name: self.name.clone(),
            address: self.address,
            ping_ms: (rtt != u32::MAX).then(|| f64::from(rtt) / 1000.0),
            joined_unix_ms: self.joined_unix_ms,
            joined_at: super::bans::unix_ms_text(self.joined_unix_ms),
        }
    }
}

/// The players in play.
#[derive(Default)]
pub struct Roster {
    players: Mutex<BTreeMap<u32, Entry>>,
}

impl Roster {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, Entry>> {
        self.players.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Player `id`, named `name`, connected from `address`, enters play; the seat leaves the
    /// roster when dropped.
    pub fn seat(self: &Arc<Self>, id: u32, name: &str, address: SocketAddr) -> Seat {
        let (kick, kicked) = oneshot::channel();
        let rtt_micros = Arc::new(AtomicU32::new(u32::MAX));
        self.lock().insert(
            id,
            Entry {
                name: name.to_owned(),
                address,
                joined_unix_ms: super::bans::now_unix_ms(),
                rtt_micros: Arc::clone(&rtt_micros),
                kick: Some(kick),
            },
        );
        Seat {
            roster: Arc::clone(self),
            id,
            rtt_micros,
            kicked: Some(kicked),
            next_sample: tokio::time::Instant::now(),
        }
    }

    /// Everyone in play, by id.
    pub fn list(&self) -> Vec<PlayerView> {
        self.lock().iter().map(|(&id, e)| e.view(id)).collect()
    }

    /// Kicks every player `pick` chooses with `reason` and `message`; returns who was kicked.
    pub fn kick(
        &self,
        pick: impl Fn(u32, &str, SocketAddr) -> bool,
        reason: DisconnectReason,
        message: &str,
    ) -> Vec<PlayerView> {
        let mut kicked = Vec::new();
        let mut players = self.lock();
        for (&id, e) in players.iter_mut() {
            if !pick(id, &e.name, e.address) {
                continue;
            }
            if let Some(tx) = e.kick.take() {
                if tx.send((reason, message.to_owned())).is_ok() {
                    kicked.push(e.view(id));
                }
            }
        }
        kicked
    }
}

/// A player's place in the roster, held by its session while it plays.
pub struct Seat {
    roster: Arc<Roster>,
    id: u32,
    rtt_micros: Arc<AtomicU32>,
    kicked: Option<oneshot::Receiver<(DisconnectReason, String)>>,
    next_sample: tokio::time::Instant,
}

impl Seat {
    /// Waits for an operator's kick; returns its reason and message. Never returns if none
    /// comes.
    pub async fn kicked(&mut self) -> (DisconnectReason, String) {
        if let Some(rx) = &mut self.kicked {
            if let Ok(message) = rx.await {
                return message;
            }
            self.kicked = None;
        }
        std::future::pending().await
    }

    /// Samples the round-trip time of the TCP socket `fd` (`None`: not a plain TCP socket, e.g.
    /// a WebSocket, whose ping is not measured) if a second has passed since the last sample.
    pub fn sample_rtt(&mut self, fd: Option<std::os::fd::RawFd>) {
        let Some(fd) = fd else {
            return;
        };
        let now = tokio::time::Instant::now();
        if now < self.next_sample {
            return;
        }
        self.next_sample = now + std::time::Duration::from_secs(1);
        if let Some(rtt) = rtt_micros(fd) {
            self.rtt_micros.store(rtt, Ordering::Relaxed);
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.roster.lock().remove(&self.id);
    }
}

/// The kernel's smoothed round-trip time of a TCP socket, in microseconds.
#[cfg(target_os = "linux")]
fn rtt_micros(fd: std::os::fd::RawFd) -> Option<u32> {
    // SAFETY: `tcp_info` is plain old data (all zeroes is valid); getsockopt writes at most
    // `len` bytes into it. The descriptor is the session's own socket, open while the session
    // holds its read half (the caller samples from within the session); a closed descriptor
    // only makes getsockopt fail.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            std::ptr::addr_of_mut!(info).cast(),
            &mut len,
        );
        (rc == 0).then_some(info.tcpi_rtt)
    }
}

/// Not measured outside Linux.
#[cfg(not(target_os = "linux"))]
fn rtt_micros(_fd: std::os::fd::RawFd) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_seat_lists_until_dropped_and_receives_its_kick() {
        let roster = Arc::new(Roster::default());
        let addr: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut seat = roster.seat(7, "alice", addr);
        let _other = roster.seat(8, "bob", addr);
        assert_eq!(roster.list().len(), 2);
        let kicked = roster.kick(|id, _, _| id == 7, DisconnectReason::Kicked, "bye");
        assert_eq!(kicked.len(), 1);
        assert_eq!(
            seat.kicked().await,
            (DisconnectReason::Kicked, "bye".into())
        );
        // A second kick finds no channel left.
        assert!(roster
            .kick(|id, _, _| id == 7, DisconnectReason::Kicked, "again")
            .is_empty());
        drop(seat);
        let left: Vec<_> = roster.list().into_iter().map(|p| p.name).collect();
        assert_eq!(left, ["bob"]);
    }

    #[tokio::test]
    async fn rtt_is_measured_on_a_real_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (_server, _) = listener.accept().await.unwrap();
        if cfg!(target_os = "linux") {
            assert!(rtt_micros(std::os::fd::AsRawFd::as_raw_fd(&client)).is_some());
        }
    }
}
