//! The connection handler in the page: the native handler's loop ([`super::run`]) as a
//! browser task.
//!
//! Why it exists: the page has one thread and no tokio, so the connection runs as a
//! `wasm_bindgen_futures` task that the game loop talks to over channels, exactly as natively:
//! it polls [`NetEvent`]s each frame and sends [`NetCommand`]s, and never blocks. On the way
//! the page's status is published for scripts and tests ([`crate::web::net_status`],
//! [`crate::web::count_snapshots`]).

use futures_channel::mpsc;
use tilegame_game as game;
use tilegame_protocol::v1::play;

use super::super::connection::{ConnectOptions, FrameObserver};
use super::super::counters::ByteCounters;
use super::super::state::ConnectionState;
use super::{run, EventSink, NetCommand, NetEvent};

/// The game loop's channel, publishing the connection's state and the Snapshots received on
/// the page as events pass.
struct PageSink {
    events: mpsc::UnboundedSender<NetEvent>,
    snapshots: u64,
}

impl EventSink for PageSink {
    fn deliver(&mut self, event: NetEvent) -> bool {
        match &event {
            NetEvent::State(state, detail) => crate::web::net_status(state, detail),
            NetEvent::Joined(_) => crate::web::net_status(&ConnectionState::Success, ""),
            NetEvent::Packet(play::ToClient::Snapshot(_)) => {
                self.snapshots += 1;
                crate::web::count_snapshots(self.snapshots);
            }
            NetEvent::Packet(_) | NetEvent::Ping(_) => {}
        }
        self.events.unbounded_send(event).is_ok()
    }
}

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
            PageSink {
                events: events_tx,
                snapshots: 0,
            },
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
