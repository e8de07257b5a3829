//! The connection handler in the page: the native handler's loop as a browser task.
//!
//! Why it exists: the page has one thread and no tokio, so the connection runs as a
//! `wasm_bindgen_futures` task that the game loop talks to over channels, exactly as natively:
//! it polls [`NetEvent`]s each frame and sends [`NetCommand`]s, and never blocks.

use futures_channel::mpsc;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use tilegame_game as game;
use tilegame_protocol::convert::input_to_wire;
use tilegame_protocol::v1::play;
use web_time::Instant;

use super::super::connection::{ConnectOptions, Connection, FrameObserver};
use super::super::counters::ByteCounters;
use super::super::ping::PingTracker;
use super::super::rt;
use super::super::state::{ConnectError, ConnectionState};
use super::{NetCommand, NetEvent, PING_INTERVAL};

/// Owns the network task of one connection.
pub struct ConnectionHandler {
    events: mpsc::UnboundedReceiver<NetEvent>,
    commands: mpsc::UnboundedSender<NetCommand>,
    counters: ByteCounters,
}

impl ConnectionHandler {
    /// Starts connecting in the background.
    pub fn spawn(
        options: ConnectOptions,
        observer: Option<Box<dyn FrameObserver>>,
    ) -> ConnectionHandler {
        let (events_tx, events) = mpsc::unbounded();
        let (commands, commands_rx) = mpsc::unbounded();
        let counters = ByteCounters::new();
        wasm_bindgen_futures::spawn_local(run(
            options,
            observer,
            counters.clone(),
            events_tx,
            commands_rx,
        ));
        ConnectionHandler {
            events,
            commands,
            counters,
        }
    }

    /// Every event that arrived since the last call (never blocks).
    pub fn poll(&mut self) -> Vec<NetEvent> {
        let mut out = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            out.push(event);
        }
        out
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

    /// The transport's byte counters.
    pub fn counters(&self) -> &ByteCounters {
        &self.counters
    }

    /// Leaves politely; the task says goodbye and closes the socket in the background (it
    /// cannot be waited for on the page's one thread). What arrived before can still be
    /// [`poll`](Self::poll)ed.
    pub fn disconnect(&mut self) {
        let _ = self.commands.unbounded_send(NetCommand::Disconnect);
    }
}

impl Drop for ConnectionHandler {
    fn drop(&mut self) {
        self.disconnect();
    }
}

async fn run(
    options: ConnectOptions,
    observer: Option<Box<dyn FrameObserver>>,
    counters: ByteCounters,
    events: mpsc::UnboundedSender<NetEvent>,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
) {
    let mut report = |state: ConnectionState| {
        crate::web::net_status(&state, "");
        let _ = events.unbounded_send(NetEvent::State(state, String::new()));
    };
    let (mut conn, joined) =
        match Connection::connect(&options, counters, observer, &mut report).await {
            Ok(ok) => ok,
            Err(e) => {
                crate::web::net_status(&e.state, &e.detail);
                let _ = events.unbounded_send(NetEvent::State(e.state, e.detail));
                return;
            }
        };
    crate::web::net_status(&ConnectionState::Success, "");
    let _ = events.unbounded_send(NetEvent::Joined(Box::new(joined)));
    let result = play_loop(&mut conn, &events, &mut commands).await;
    let (state, detail) = match result {
        Ok(detail) => (ConnectionState::Disconnected, detail),
        Err(ConnectError { state, detail }) => (state, detail),
    };
    crate::web::net_status(&state, &detail);
    let _ = events.unbounded_send(NetEvent::State(state, detail));
}

/// What woke the play loop.
enum Wake {
    Packet(Result<play::ToClient, ConnectError>),
    Command(Option<NetCommand>),
    PingDue,
}

async fn play_loop(
    conn: &mut Connection,
    events: &mpsc::UnboundedSender<NetEvent>,
    commands: &mut mpsc::UnboundedReceiver<NetCommand>,
) -> Result<String, ConnectError> {
    let mut ping = PingTracker::new();
    let mut next_ping = Instant::now();
    let mut snapshots = 0u64;
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
                            let _ = events.unbounded_send(NetEvent::Ping(rtt));
                        }
                    }
                    play::ToClient::Kick(k) => {
                        let error = ConnectError::kicked(k);
                        let _ = events.unbounded_send(NetEvent::Packet(packet));
                        return Err(error);
                    }
                    play::ToClient::Snapshot(_) => {
                        snapshots += 1;
                        crate::web::count_snapshots(snapshots);
                    }
                    _ => {}
                }
                if events.unbounded_send(NetEvent::Packet(packet)).is_err() {
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
