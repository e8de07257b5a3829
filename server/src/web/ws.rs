//! A WebSocket as the byte stream a session reads and writes: one binary message, one frame.
//!
//! The protocol's rules ("WebSocket") say every binary message carries exactly one whole frame
//! (`[length][id][body]`, the same bytes as on TCP) each way. [`WsReader`] checks that of every
//! message a client sends ([`message_frame`]) and hands the bytes on to the session's codec as
//! if they had come from a TCP socket; [`WsWriter`] cuts what the session's outbox writes (always
//! whole frames) into one message per frame. So the session, its codec, admission, limits,
//! write deadlines, kicks and recordings are the TCP ones.
//!
//! Whatever a client sends that is not a frame — a text message, a message of several frames or
//! of part of one, a message over the size limit (fragmented or not), a WebSocket protocol
//! violation — is a read error of kind [`std::io::ErrorKind::InvalidData`], which the session
//! answers with Kick(ProtocolError) naming it (as a binary message) before it closes.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{Sink, Stream};
use tilegame_protocol::frame::{decode_frame, FrameError};
use tilegame_protocol::v1;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

/// The longest message a client may send: the longest frame (`max_frame` plus a 5-byte length
/// prefix).
pub const MAX_MESSAGE: usize = v1::MAX_FRAME as usize + 5;

/// The WebSocket settings of a server connection: messages and WebSocket frames bounded by
/// [`MAX_MESSAGE`], small buffers (so thousands of connections stay cheap), and a write buffer
/// bounded so that a client that does not read holds at most one more message than it.
pub fn config() -> WebSocketConfig {
    let write_buffer = 16 * 1024;
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(write_buffer)
        .max_write_buffer_size(write_buffer + MAX_MESSAGE + 16)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// Why a client's WebSocket message is not one frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A text message (the protocol is binary).
    #[error("text message: the protocol is binary (one frame per binary message)")]
    Text,
    /// An empty binary message.
    #[error("empty message: a binary message carries exactly one frame")]
    Empty,
    /// The frame's length prefix is malformed or over `max_frame`.
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The message ends inside its frame.
    #[error(
        "message of {got} bytes holds part of a {frame}-byte frame (one whole frame per message)"
    )]
    Partial {
        /// Bytes in the message.
        got: usize,
        /// Bytes the frame's length prefix asks for, prefix included.
        frame: usize,
    },
    /// Bytes follow the message's frame.
    #[error("message of {got} bytes holds a {frame}-byte frame and more (one frame per message)")]
    Trailing {
        /// Bytes in the message.
        got: usize,
        /// The first frame's bytes, prefix included.
        frame: usize,
    },
    /// Over [`MAX_MESSAGE`] bytes, fragmented or not.
    #[error("message over {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The WebSocket framing itself is broken (reserved bits or opcodes, unmasked frames, bad
    /// control frames...).
    #[error("WebSocket protocol error: {0}")]
    Protocol(String),
}

impl From<MessageError> for io::Error {
    fn from(e: MessageError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Checks that a binary message is exactly one whole frame; returns the frame's length.
pub fn message_frame(message: &[u8]) -> Result<usize, MessageError> {
    if message.is_empty() {
        return Err(MessageError::Empty);
    }
    match decode_frame(message, v1::MAX_FRAME)? {
        Some(frame) if frame.wire_len() == message.len() => Ok(frame.wire_len()),
        Some(frame) => Err(MessageError::Trailing {
            got: message.len(),
            frame: frame.wire_len(),
        }),
        None => Err(MessageError::Partial {
            got: message.len(),
            frame: declared_len(message),
        }),
    }
}

/// The whole length a (complete) prefix declares, prefix included; the message's length when
/// the prefix itself is cut.
fn declared_len(message: &[u8]) -> usize {
    let mut len = 0usize;
    for (i, &b) in message.iter().enumerate().take(5) {
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return len + i + 1;
        }
    }
    message.len()
}

/// What reading a client message gives the session: frame bytes, nothing (pings, pongs), the
/// end, or an error. Kept apart from the I/O so it can be fuzzed.
pub fn judge(message: Message) -> Result<Option<Bytes>, MessageError> {
    match message {
        Message::Binary(bytes) => message_frame(&bytes).map(|_| Some(bytes)),
        Message::Text(_) => Err(MessageError::Text),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Close(_) => Ok(None),
    }
}

/// A read error of the WebSocket layer as the session sees it.
fn read_error(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            MessageError::TooLarge { max: MAX_MESSAGE }.into()
        }
        WsError::Utf8(_) => MessageError::Text.into(),
        WsError::Protocol(p) => MessageError::Protocol(p.to_string()).into(),
        other => MessageError::Protocol(other.to_string()).into(),
    }
}

/// The read half: the frames of a client's binary messages, as a byte stream.
pub struct WsReader<S> {
    stream: SplitStream<WebSocketStream<S>>,
    /// What is left of the current message.
    pending: Bytes,
    done: bool,
}

impl<S> WsReader<S> {
    /// Reads `stream`'s messages.
    pub fn new(stream: SplitStream<WebSocketStream<S>>) -> Self {
        WsReader {
            stream,
            pending: Bytes::new(),
            done: false,
        }
    }
}

impl<S> AsyncRead for WsReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.remaining());
                let chunk = self.pending.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if self.done {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.stream).poll_next(cx)) {
                None | Some(Ok(Message::Close(_))) => self.done = true,
                Some(Ok(message)) => match judge(message) {
                    Ok(Some(frame)) => self.pending = frame,
                    Ok(None) => {}
                    Err(e) => {
                        self.done = true;
                        return Poll::Ready(Err(e.into()));
                    }
                },
                Some(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Err(read_error(e)));
                }
            }
        }
    }
}

/// The write half: whole frames in, one binary message per frame out.
pub struct WsWriter<S> {
    sink: SplitSink<WebSocketStream<S>, Message>,
}

impl<S> WsWriter<S> {
    /// Writes into `sink`.
    pub fn new(sink: SplitSink<WebSocketStream<S>, Message>) -> Self {
        WsWriter { sink }
    }
}

fn write_error(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => io::ErrorKind::BrokenPipe.into(),
        other => io::Error::other(other),
    }
}

impl<S> AsyncWrite for WsWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Sends the whole frames at the start of `buf`, one message each, as far as the socket
    /// takes them; returns the bytes of the frames sent (so a retry starts at a frame boundary).
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut sent = 0;
        while sent < buf.len() {
            let rest = &buf[sent..];
            let len = match decode_frame(rest, v1::MAX_FRAME) {
                Ok(Some(frame)) => frame.wire_len(),
                _ => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the outbox wrote bytes that are not whole frames",
                    )))
                }
            };
            match Pin::new(&mut self.sink).poll_ready(cx) {
                Poll::Pending if sent > 0 => break,
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(write_error(e))),
                Poll::Ready(Ok(())) => {}
            }
            let message = Message::Binary(Bytes::copy_from_slice(&rest[..len]));
            if let Err(e) = Pin::new(&mut self.sink).start_send(message) {
                return Poll::Ready(Err(write_error(e)));
            }
            sent += len;
        }
        Poll::Ready(Ok(sent))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sink).poll_flush(cx).map_err(write_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.sink).poll_close(cx).map_err(write_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::frame::encode_frame;

    #[test]
    fn a_message_is_exactly_one_frame() {
        let mut one = Vec::new();
        encode_frame(0x02, b"abc", &mut one);
        assert_eq!(message_frame(&one), Ok(one.len()));
        let mut two = one.clone();
        encode_frame(0x7f, b"", &mut two);
        assert_eq!(
            message_frame(&two),
            Err(MessageError::Trailing { got: 7, frame: 5 })
        );
        assert_eq!(
            message_frame(&one[..3]),
            Err(MessageError::Partial { got: 3, frame: 5 })
        );
        assert_eq!(message_frame(&[]), Err(MessageError::Empty));
        assert_eq!(
            message_frame(&[0]),
            Err(MessageError::Frame(FrameError::Empty))
        );
        assert!(matches!(
            message_frame(&[0xff, 0xff, 0xff, 0x7f]),
            Err(MessageError::Frame(FrameError::TooLong { .. }))
        ));
        assert_eq!(judge(Message::text("hi")), Err(MessageError::Text));
        assert_eq!(judge(Message::Ping(Bytes::new())), Ok(None));
    }
}
