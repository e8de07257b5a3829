//! The browser transport: the page's `WebSocket` at `ws://HOST/ws` (the WebSocket side of
//! [`super::transport`]).
//!
//! Why it exists: a page cannot open TCP sockets. The server takes the same frames over
//! WebSocket, one whole frame per binary message (the spec's rule "WebSocket"), so the codec
//! is fed each message as it arrives and each frame we send is one message. The browser's
//! callbacks push events into a channel that [`Transport::read`] awaits, which keeps reads
//! cancel-safe. Bytes are counted per message payload (the WebSocket header is the browser's).

use std::io;

use futures_channel::mpsc;
use futures_util::StreamExt;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent};

use super::counters::ByteCounters;
use super::state::{ConnectError, ConnectionState};
use super::transport::Transport;

/// Messages longer than this are refused: the spec's largest frame (`max_frame` is at most
/// 16 MiB) plus its 5-byte length prefix.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024 + 5;

/// What the socket's callbacks report.
enum SocketEvent {
    Open,
    Binary(Vec<u8>),
    /// A message that is not one binary frame (text, or too long): named for the error.
    Refused(String),
    Error,
    Closed {
        code: u16,
        reason: String,
    },
}

/// A WebSocket connection to the server.
pub struct WebSocket {
    socket: web_sys::WebSocket,
    events: mpsc::UnboundedReceiver<SocketEvent>,
    counters: ByteCounters,
    url: String,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    /// Closes the socket when the page goes away, so the server hears a close, not silence.
    on_page_hide: Closure<dyn FnMut(Event)>,
}

/// The WebSocket URL for a server address: `ws://ADDRESS/ws` (`wss://` from an https page);
/// an address that already is a `ws://` or `wss://` URL is used as it is.
pub fn url_for(address: &str, page_is_https: bool) -> String {
    let address = address.trim();
    if address.starts_with("ws://") || address.starts_with("wss://") {
        return address.to_string();
    }
    let scheme = if page_is_https { "wss" } else { "ws" };
    format!("{scheme}://{address}/ws")
}

fn page_is_https() -> bool {
    web_sys::window()
        .and_then(|w| w.location().protocol().ok())
        .is_some_and(|p| p == "https:")
}

/// A JavaScript error as text.
fn js_text(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

impl Transport for WebSocket {
    async fn open(address: &str, counters: ByteCounters) -> Result<Self, ConnectError> {
        let url = url_for(address, page_is_https());
        let socket = web_sys::WebSocket::new(&url).map_err(|e| {
            ConnectError::new(
                ConnectionState::InvalidHost,
                format!("{url}: {}", js_text(&e)),
            )
        })?;
        socket.set_binary_type(BinaryType::Arraybuffer);
        let (tx, events) = mpsc::unbounded();
        let send = tx.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            let _ = send.unbounded_send(SocketEvent::Open);
        });
        let send = tx.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let event = match e.data().dyn_into::<js_sys::ArrayBuffer>() {
                Ok(buffer) if buffer.byte_length() as usize > MAX_MESSAGE_BYTES => {
                    SocketEvent::Refused(format!(
                        "a message of {} bytes (at most {MAX_MESSAGE_BYTES})",
                        buffer.byte_length()
                    ))
                }
                Ok(buffer) => SocketEvent::Binary(js_sys::Uint8Array::new(&buffer).to_vec()),
                Err(_) => SocketEvent::Refused("a text message".into()),
            };
            let _ = send.unbounded_send(event);
        });
        let send = tx.clone();
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            let _ = send.unbounded_send(SocketEvent::Error);
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            let _ = tx.unbounded_send(SocketEvent::Closed {
                code: e.code(),
                reason: e.reason(),
            });
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let closing = socket.clone();
        let on_page_hide = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            let _ = closing.close_with_code(1000);
        });
        if let Some(w) = web_sys::window() {
            let _ = w.add_event_listener_with_callback(
                "pagehide",
                on_page_hide.as_ref().unchecked_ref(),
            );
        }
        let mut ws = WebSocket {
            socket,
            events,
            counters,
            url,
            _on_open: on_open,
            _on_message: on_message,
            _on_error: on_error,
            _on_close: on_close,
            on_page_hide,
        };
        loop {
            match ws.events.next().await {
                Some(SocketEvent::Open) => return Ok(ws),
                Some(SocketEvent::Error) => continue,
                Some(SocketEvent::Closed { code, reason }) => {
                    return Err(ConnectError::new(
                        ConnectionState::Refused,
                        format!(
                            "{}: no WebSocket connection (close code {code}) {reason}",
                            ws.url
                        ),
                    ))
                }
                Some(SocketEvent::Binary(_) | SocketEvent::Refused(_)) => continue,
                None => {
                    return Err(ConnectError::new(
                        ConnectionState::Error,
                        format!("{}: the WebSocket went away", ws.url),
                    ))
                }
            }
        }
    }

    async fn read(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            match self.events.next().await {
                Some(SocketEvent::Binary(bytes)) if bytes.is_empty() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the server sent an empty WebSocket message",
                    ))
                }
                Some(SocketEvent::Binary(bytes)) => {
                    self.counters.add_received(bytes.len() as u64);
                    buf.extend_from_slice(&bytes);
                    return Ok(bytes.len());
                }
                Some(SocketEvent::Refused(what)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the server sent {what}, not one binary frame"),
                    ))
                }
                Some(SocketEvent::Open) => {}
                Some(SocketEvent::Error) => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        format!("{}: the WebSocket failed", self.url),
                    ))
                }
                Some(SocketEvent::Closed { .. }) | None => return Ok(0),
            }
        }
    }

    async fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        if self.socket.ready_state() != web_sys::WebSocket::OPEN {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the WebSocket is not open",
            ));
        }
        self.socket
            .send_with_u8_array(frame)
            .map_err(|e| io::Error::other(js_text(&e)))?;
        self.counters.add_sent(frame.len() as u64);
        Ok(())
    }

    async fn close(&mut self) {
        let _ = self.socket.close();
        loop {
            match self.events.next().await {
                Some(SocketEvent::Binary(bytes)) => self.counters.add_received(bytes.len() as u64),
                Some(SocketEvent::Closed { .. }) | None => break,
                Some(_) => {}
            }
        }
    }

    fn counters(&self) -> &ByteCounters {
        &self.counters
    }
}

impl Drop for WebSocket {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onerror(None);
        self.socket.set_onclose(None);
        if let Some(w) = web_sys::window() {
            let _ = w.remove_event_listener_with_callback(
                "pagehide",
                self.on_page_hide.as_ref().unchecked_ref(),
            );
        }
        let _ = self.socket.close();
    }
}

#[cfg(test)]
mod tests {
    use super::url_for;

    #[test]
    fn urls() {
        assert_eq!(
            url_for("example.org:35080", false),
            "ws://example.org:35080/ws"
        );
        assert_eq!(url_for("example.org", true), "wss://example.org/ws");
        assert_eq!(url_for(" ws://h:1/ws ", false), "ws://h:1/ws");
    }
}
