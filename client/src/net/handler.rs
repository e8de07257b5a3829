//! The connection handler: the bridge between the network side and the game loop.
//!
//! Natively it runs a [`Connection`] on its own thread and runtime; in the page
//! (`handler_web.rs`) it is a browser task, as the page has one thread. Both run the same
//! loop ([`run`]), which hands what it has to an [`EventSink`]. The game loop never blocks on
//! the network: it polls [`NetEvent`]s (state changes, the joined world, server packets, ping)
//! and sends [`NetCommand`]s (inputs, disconnect) through channels. Nothing mutable is shared
//! except the byte counters, which are atomics.

#[cfg(not(target_arch = "wasm32"))]
use std::sync::mpsc as std_mpsc;
#[cfg(not(target_arch = "wasm32"))]
use std::thread::JoinHandle;
use std::time::Duration;

use futures_channel::mpsc;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use tilegame_game as game;
use tilegame_protocol::convert::input_to_wire;
use tilegame_protocol::v1::play;
use web_time::Instant;

use super::connection::{ConnectOptions, Connection, FrameObserver, Joined};
use super::counters::ByteCounters;
use super::ping::PingTracker;
use super::rt;
use super::state::{ConnectError, ConnectionState};

#[cfg(target_arch = "wasm32")]
#[path = "handler_web.rs"]
mod web;
#[cfg(target_arch = "wasm32")]
pub use web::ConnectionHandler;

/// How often the connection pings the server.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);

/// What the network side tells the game loop.
#[derive(Debug)]
pub enum NetEvent {
    /// The player-visible state changed (with detail for failures).
    State(ConnectionState, String),
    /// The join finished: the world and who we are.
    Joined(Box<Joined>),
    /// A packet from the server in play.
    Packet(play::ToClient),
    /// A round trip was measured.
    Ping(Duration),
}

/// What the game loop asks of the network side.
#[derive(Debug, Clone)]
pub enum NetCommand {
    /// Send an input (with the newest snapshot tick applied).
    Input(game::Input, u32),
    /// Send a chat line.
    Say(String),
    /// Leave.
    Disconnect,
}

/// Where the connection's task hands what it has to the game loop.
trait EventSink: Send {
    /// Hands `event` over; false once the game loop has gone.
    fn deliver(&mut self, event: NetEvent) -> bool;
}

#[cfg(not(target_arch = "wasm32"))]
impl EventSink for std_mpsc::Sender<NetEvent> {
    fn deliver(&mut self, event: NetEvent) -> bool {
        self.send(event).is_ok()
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// Owns the network thread of one connection.
pub struct ConnectionHandler {
    events: std_mpsc::Receiver<NetEvent>,
    commands: mpsc::UnboundedSender<NetCommand>,
    counters: ByteCounters,
    thread: Option<JoinHandle<()>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl ConnectionHandler {
    /// Starts connecting in the background.
    pub fn spawn(
        options: ConnectOptions,
        observer: Option<Box<dyn FrameObserver>>,
    ) -> ConnectionHandler {
        let (events_tx, events) = std_mpsc::channel();
        let (commands, commands_rx) = mpsc::unbounded();
        let counters = ByteCounters::new();
        let thread_counters = counters.clone();
        let thread = std::thread::Builder::new()
            .name("tilegame-net".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = events_tx.send(NetEvent::State(
                            ConnectionState::Error,
                            format!("cannot start the network: {e}"),
                        ));
                        return;
                    }
                };
                runtime.block_on(run(
                    options,
                    observer,
                    thread_counters,
                    events_tx,
                    commands_rx,
                ));
            });
        ConnectionHandler {
            events,
            commands,
            counters,
            thread: thread.ok(),
        }
    }

    /// Every event that arrived since the last call (never blocks).
    pub fn poll(&self) -> Vec<NetEvent> {
        self.events.try_iter().collect()
    }

    /// Waits up to `timeout` for the next event.
    pub fn wait(&self, timeout: Duration) -> Option<NetEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Queues a chat line for sending.
    pub fn say(&self, text: String) {
        let _ = self.commands.unbounded_send(NetCommand::Say(text));
    }

    /// Queues an input for sending.
    pub fn send_input(&self, input: game::Input, ack_tick: u32) {
        let _ = self
            .commands
            .unbounded_send(NetCommand::Input(input, ack_tick));
    }

    /// The socket's byte counters.
    pub fn counters(&self) -> &ByteCounters {
        &self.counters
    }

    /// Leaves politely and waits for the network thread; what it received before it stopped
    /// can still be [`poll`](Self::poll)ed.
    pub fn disconnect(&mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.commands.unbounded_send(NetCommand::Disconnect);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Drop for ConnectionHandler {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connects, then plays until the game loop leaves or the connection ends, telling `events`
/// everything on the way (the last event is the state it ended in).
async fn run(
    options: ConnectOptions,
    observer: Option<Box<dyn FrameObserver>>,
    counters: ByteCounters,
    mut events: impl EventSink,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
) {
    let mut report = |state: ConnectionState| {
        events.deliver(NetEvent::State(state, String::new()));
    };
    let (mut conn, joined) =
        match Connection::connect(&options, counters, observer, &mut report).await {
            Ok(ok) => ok,
            Err(e) => {
                events.deliver(NetEvent::State(e.state, e.detail));
                return;
            }
        };
    events.deliver(NetEvent::Joined(Box::new(joined)));
    let result = play_loop(&mut conn, &mut events, &mut commands).await;
    let (state, detail) = match result {
        Ok(detail) => (ConnectionState::Disconnected, detail),
        Err(ConnectError { state, detail }) => (state, detail),
    };
    events.deliver(NetEvent::State(state, detail));
}

/// What woke the play loop.
enum Wake {
    Packet(Result<play::ToClient, ConnectError>),
    Command(Option<NetCommand>),
    PingDue,
}

async fn play_loop(
    conn: &mut Connection,
    events: &mut impl EventSink,
    commands: &mut mpsc::UnboundedReceiver<NetCommand>,
) -> Result<String, ConnectError> {
    let mut ping = PingTracker::new();
    let mut next_ping = Instant::now();
    loop {
        let wait = next_ping.saturating_duration_since(Instant::now());
        // The futures borrow `conn`; they are dropped at the end of this statement, before
        // the wake is acted on (the packet read is cancel-safe).
        let wake = {
            let packet = std::pin::pin!(conn.recv());
            let command = commands.next();
            let ping_due = std::pin::pin!(rt::sleep(wait));
            match select(packet, select(command, ping_due)).await {
                Either::Left((p, _)) => Wake::Packet(p),
                Either::Right((Either::Left((c, _)), _)) => Wake::Command(c),
                Either::Right((Either::Right(((), _)), _)) => Wake::PingDue,
            }
        };
        match wake {
            Wake::Packet(packet) => {
                let packet = packet?;
                match &packet {
                    play::ToClient::Pong(p) => {
                        if let Some(rtt) = ping.pong(p.nonce, Instant::now()) {
                            events.deliver(NetEvent::Ping(rtt));
                        }
                    }
                    play::ToClient::Kick(k) => {
                        let error = ConnectError::kicked(k);
                        events.deliver(NetEvent::Packet(packet));
                        return Err(error);
                    }
                    _ => {}
                }
                if !events.deliver(NetEvent::Packet(packet)) {
                    conn.disconnect().await;
                    return Ok("the game closed".into());
                }
            }
            Wake::Command(Some(NetCommand::Input(input, ack_tick))) => {
                conn.send(&input_to_wire(&input, ack_tick)).await?
            }
            Wake::Command(Some(NetCommand::Say(text))) => conn.send(&play::Say { text }).await?,
            Wake::Command(Some(NetCommand::Disconnect) | None) => {
                conn.disconnect().await;
                return Ok("you left the game".into());
            }
            Wake::PingDue => {
                let now = Instant::now();
                next_ping = now + PING_INTERVAL;
                if ping.due(now, PING_INTERVAL) {
                    let nonce = ping.sent(now);
                    conn.send(&play::Ping { nonce }).await?;
                }
            }
        }
    }
}
