//! The connection handler: the bridge between the network side and the game loop.
//!
//! Natively it runs a [`Connection`] on its own thread and runtime; in the page
//! (`handler_web.rs`) the same loop is a browser task, as the page has one thread. The game loop never blocks on the
//! network: it polls [`NetEvent`]s (state changes, the joined world, server packets, ping) and
//! sends [`NetCommand`]s (inputs, disconnect) through channels. Nothing mutable is shared
//! except the byte counters, which are atomics.

#[cfg(not(target_arch = "wasm32"))]
use std::sync::mpsc as std_mpsc;
#[cfg(not(target_arch = "wasm32"))]
use std::thread::JoinHandle;
use std::time::Duration;

use tilegame_game as game;
use tilegame_protocol::v1::play;
#[cfg(not(target_arch = "wasm32"))]
use {
    super::connection::{ConnectOptions, Connection, FrameObserver},
    super::counters::ByteCounters,
    super::ping::PingTracker,
    super::state::ConnectError,
    tilegame_protocol::convert::input_to_wire,
    tokio::sync::mpsc,
    web_time::Instant,
};

use super::connection::Joined;
use super::state::ConnectionState;

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
        let (commands, commands_rx) = mpsc::unbounded_channel();
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
        let _ = self.commands.send(NetCommand::Say(text));
    }

    /// Queues an input for sending.
    pub fn send_input(&self, input: game::Input, ack_tick: u32) {
        let _ = self.commands.send(NetCommand::Input(input, ack_tick));
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
        let _ = self.commands.send(NetCommand::Disconnect);
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

#[cfg(not(target_arch = "wasm32"))]
async fn run(
    options: ConnectOptions,
    observer: Option<Box<dyn FrameObserver>>,
    counters: ByteCounters,
    events: std_mpsc::Sender<NetEvent>,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
) {
    let mut report = |state: ConnectionState| {
        let _ = events.send(NetEvent::State(state, String::new()));
    };
    let (mut conn, joined) =
        match Connection::connect(&options, counters, observer, &mut report).await {
            Ok(ok) => ok,
            Err(e) => {
                let _ = events.send(NetEvent::State(e.state, e.detail));
                return;
            }
        };
    let _ = events.send(NetEvent::Joined(Box::new(joined)));
    let result = play_loop(&mut conn, &events, &mut commands).await;
    let (state, detail) = match result {
        Ok(detail) => (ConnectionState::Disconnected, detail),
        Err(ConnectError { state, detail }) => (state, detail),
    };
    let _ = events.send(NetEvent::State(state, detail));
}

#[cfg(not(target_arch = "wasm32"))]
async fn play_loop(
    conn: &mut Connection,
    events: &std_mpsc::Sender<NetEvent>,
    commands: &mut mpsc::UnboundedReceiver<NetCommand>,
) -> Result<String, ConnectError> {
    let mut ping = PingTracker::new();
    let mut ping_timer = tokio::time::interval(PING_INTERVAL);
    loop {
        tokio::select! {
            packet = conn.recv() => {
                let packet = packet?;
                match &packet {
                    play::ToClient::Pong(p) => {
                        if let Some(rtt) = ping.pong(p.nonce, Instant::now()) {
                            let _ = events.send(NetEvent::Ping(rtt));
                        }
                    }
                    play::ToClient::Kick(k) => {
                        let error = ConnectError::kicked(k);
                        let _ = events.send(NetEvent::Packet(packet));
                        return Err(error);
                    }
                    _ => {}
                }
                if events.send(NetEvent::Packet(packet)).is_err() {
                    conn.disconnect().await;
                    return Ok("the game closed".into());
                }
            }
            command = commands.recv() => match command {
                Some(NetCommand::Input(input, ack_tick)) => conn.send(&input_to_wire(&input, ack_tick)).await?,
                Some(NetCommand::Say(text)) => conn.send(&play::Say { text }).await?,
                Some(NetCommand::Disconnect) | None => {
                    conn.disconnect().await;
                    return Ok("you left the game".into());
                }
            },
            _ = ping_timer.tick() => {
                let now = Instant::now();
                if ping.due(now, PING_INTERVAL) {
                    let nonce = ping.sent(now);
                    conn.send(&play::Ping { nonce }).await?;
                }
            }
        }
    }
}
