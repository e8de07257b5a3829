//! Framing: `[length: VarU32][packet id: u8][body]` on a byte stream.
//!
//! TCP delivers a stream, not messages (the original game assumed otherwise and broke). Every
//! frame therefore starts with its length, which counts the id and the body and is checked
//! against the protocol's maximum *before* any byte of the frame is buffered. Decoding works on
//! byte slices: an incomplete frame is "need more bytes" (`Ok(None)`), a malformed one is a
//! typed [`FrameError`] — never a panic.

use crate::wire::{encode_body, EncodeError};

/// Why a byte stream is not a valid sequence of frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix exceeds the maximum frame size.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    TooLong {
        /// Declared length.
        len: u64,
        /// The limit.
        max: u32,
    },
    /// A frame of length 0 has no packet id.
    #[error("empty frame (length 0) has no packet id")]
    Empty,
    /// The length prefix is not a valid varint (more than 5 bytes or over 32 bits).
    #[error("malformed length prefix")]
    BadLength,
}

/// One frame located in a buffer: its length prefix, packet id and body, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The whole frame as on the wire, length prefix included.
    wire: &'a [u8],
    /// Bytes of the length prefix.
    prefix: usize,
}

impl<'a> FrameRef<'a> {
    /// The packet id.
    #[inline]
    pub fn id(&self) -> u8 {
        self.wire[self.prefix]
    }

    /// The packet body (after the id).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.wire[self.prefix + 1..]
    }

    /// The packet id followed by the body: what a replay file records.
    #[inline]
    pub fn packet_bytes(&self) -> &'a [u8] {
        &self.wire[self.prefix..]
    }

    /// The whole frame as on the wire.
    #[inline]
    pub fn wire(&self) -> &'a [u8] {
        self.wire
    }

    /// Bytes the frame occupies on the wire, length prefix included.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.wire.len()
    }
}

/// Decodes the first frame of `buf`: `Ok(None)` when more bytes are needed.
#[inline]
pub fn decode_frame(buf: &[u8], max: u32) -> Result<Option<FrameRef<'_>>, FrameError> {
    let mut len: u64 = 0;
    let mut prefix = 0usize;
    loop {
        let Some(&byte) = buf.get(prefix) else {
            return Ok(None);
        };
        if prefix == 5 {
            return Err(FrameError::BadLength);
        }
        len |= u64::from(byte & 0x7f) << (7 * prefix);
        prefix += 1;
        if len > u64::from(max) {
            return Err(FrameError::TooLong { len, max });
        }
        if byte & 0x80 == 0 {
            break;
        }
    }
    if len == 0 {
        return Err(FrameError::Empty);
    }
    let total = prefix + len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some(FrameRef {
        wire: &buf[..total],
        prefix,
    }))
}

/// Splits a buffer of whole frames (e.g. a batch about to be written) into frames; stops at the
/// first incomplete or malformed one.
pub fn frames(mut buf: &[u8], max: u32) -> impl Iterator<Item = FrameRef<'_>> {
    std::iter::from_fn(move || {
        let frame = decode_frame(buf, max).ok()??;
        buf = &buf[frame.wire_len()..];
        Some(frame)
    })
}

/// Appends a frame holding `id` and `body` to `out`; returns its wire length.
///
/// This writes any id in any state: connections send through the typed codecs in
/// [`crate::codec`]; this is for tools and for tests that send hostile frames on purpose.
pub fn encode_frame(id: u8, body: &[u8], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    push_head(id, body.len(), out);
    out.extend_from_slice(body);
    out.len() - start
}

/// Appends the head of a frame whose body of `body_len` bytes the caller appends next: the
/// length prefix and the id. Fails with the frame's length when it exceeds `MAX_FRAME`.
pub fn encode_frame_head(id: u8, body_len: usize, out: &mut Vec<u8>) -> Result<(), u64> {
    let len = body_len as u64 + 1;
    if len > u64::from(crate::v1::MAX_FRAME) {
        return Err(len);
    }
    push_head(id, body_len, out);
    Ok(())
}

fn push_head(id: u8, body_len: usize, out: &mut Vec<u8>) {
    let mut len = body_len as u64 + 1;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        out.push(if len == 0 { byte } else { byte | 0x80 });
        if len == 0 {
            break;
        }
    }
    out.push(id);
}

/// Encodes packets into frames, reusing one scratch buffer for bodies. Untyped: the codecs in
/// [`crate::codec`] wrap it so that each side can only send the packets of its state.
#[derive(Debug, Default)]
pub(crate) struct FrameEncoder {
    scratch: Vec<u8>,
}

impl FrameEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the frame of one packet to `out`; returns the frame, borrowed from `out`.
    pub fn encode<'o, P: crate::v1::Packet>(
        &mut self,
        packet: &P,
        out: &'o mut Vec<u8>,
    ) -> Result<FrameRef<'o>, EncodeError> {
        self.scratch.clear();
        encode_body(packet, P::NAME, &mut self.scratch)?;
        self.check(P::NAME)?;
        let start = out.len();
        let len = encode_frame(P::ID, &self.scratch, out);
        Ok(FrameRef {
            wire: &out[start..],
            prefix: len - self.scratch.len() - 1,
        })
    }

    fn check(&self, name: &'static str) -> Result<(), EncodeError> {
        let max = crate::v1::MAX_FRAME as usize;
        if self.scratch.len() + 1 > max {
            return Err(EncodeError {
                packet: name,
                field: None,
                error: crate::wire::FieldError::TooLong {
                    len: self.scratch.len() as u64 + 1,
                    max: max as u32,
                },
            });
        }
        Ok(())
    }
}

/// Accumulates stream bytes and yields complete frames.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max: u32,
}

impl FrameDecoder {
    /// A decoder accepting frames up to `max` bytes.
    pub fn new(max: u32) -> Self {
        FrameDecoder {
            buf: Vec::with_capacity(4096),
            start: 0,
            max,
        }
    }

    /// Appends bytes read from the stream.
    pub fn extend(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, FrameError> {
        let start = self.start;
        match decode_frame(&self.buf[start..], self.max)? {
            None => Ok(None),
            Some(frame) => {
                self.start += frame.wire_len();
                Ok(Some(frame))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_partial_input() {
        let mut out = Vec::new();
        encode_frame(7, &[1, 2, 3], &mut out);
        encode_frame(9, &[0; 200], &mut out);
        for cut in 0..out.len() {
            let mut d = FrameDecoder::new(1024);
            d.extend(&out[..cut]);
            let mut n = 0;
            while let Some(_f) = d.next_frame().unwrap() {
                n += 1;
            }
            d.extend(&out[cut..]);
            while let Some(_f) = d.next_frame().unwrap() {
                n += 1;
            }
            assert_eq!(n, 2);
        }
        let f = decode_frame(&out, 1024).unwrap().unwrap();
        assert_eq!(
            (f.id(), f.payload(), f.wire_len()),
            (7, &[1u8, 2, 3][..], 5)
        );
        assert_eq!(f.packet_bytes(), &[7u8, 1, 2, 3][..]);
        assert_eq!(frames(&out, 1024).count(), 2);
    }

    #[test]
    fn hostile_lengths_are_errors() {
        assert_eq!(decode_frame(&[0x00], 10), Err(FrameError::Empty));
        assert_eq!(
            decode_frame(&[0xff, 0xff, 0xff, 0xff, 0x7f], 10),
            Err(FrameError::TooLong { len: 127, max: 10 })
        );
        assert_eq!(
            decode_frame(&[0x0b], 10),
            Err(FrameError::TooLong { len: 11, max: 10 })
        );
        assert_eq!(decode_frame(&[0x80, 0x80], u32::MAX), Ok(None));
        assert_eq!(
            decode_frame(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], u32::MAX),
            Err(FrameError::BadLength)
        );
    }
}
