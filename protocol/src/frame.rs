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

/// One frame located in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The packet id.
    pub id: u8,
    /// The packet body.
    pub body: &'a [u8],
    /// Bytes the frame occupied on the wire, length prefix included.
    pub wire_len: usize,
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
        id: buf[prefix],
        body: &buf[prefix + 1..total],
        wire_len: total,
    }))
}

/// Appends a frame holding `id` and `body` to `out`; returns its wire length.
pub fn encode_frame(id: u8, body: &[u8], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let mut len = body.len() as u64 + 1;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        out.push(if len == 0 { byte } else { byte | 0x80 });
        if len == 0 {
            break;
        }
    }
    out.push(id);
    out.extend_from_slice(body);
    out.len() - start
}

/// Encodes packets into frames, reusing one scratch buffer for bodies.
#[derive(Debug, Default)]
pub struct FrameEncoder {
    scratch: Vec<u8>,
}

impl FrameEncoder {
    /// A new encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the frame of one packet to `out`; returns the wire length.
    pub fn encode<P: crate::v1::Packet>(
        &mut self,
        packet: &P,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        self.scratch.clear();
        encode_body(packet, P::NAME, &mut self.scratch)?;
        self.check(P::NAME)?;
        Ok(encode_frame(P::ID, &self.scratch, out))
    }

    /// Appends the frame of a packet given by id and an encoding closure (for the state enums).
    pub fn encode_with(
        &mut self,
        id: u8,
        name: &'static str,
        body: impl FnOnce(&mut Vec<u8>) -> Result<(), EncodeError>,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        self.scratch.clear();
        body(&mut self.scratch)?;
        self.check(name)?;
        Ok(encode_frame(id, &self.scratch, out))
    }

    fn check(&self, name: &'static str) -> Result<(), EncodeError> {
        let max = crate::v1::MAX_FRAME as usize;
        if self.scratch.len() + 1 > max {
            return Err(EncodeError {
                packet: name,
                message: format!(
                    "frame of {} bytes exceeds the maximum of {max}",
                    self.scratch.len() + 1
                ),
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

    /// The wire length of the next frame if it is complete, `Ok(None)` when more bytes are needed.
    pub fn next_frame_len(&self) -> Result<Option<usize>, FrameError> {
        Ok(decode_frame(&self.buf[self.start..], self.max)?.map(|f| f.wire_len))
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<FrameRef<'_>>, FrameError> {
        match decode_frame(&self.buf[self.start..], self.max)? {
            None => Ok(None),
            Some(frame) => {
                self.start += frame.wire_len;
                let end = self.start;
                let body_start = end - frame.body.len();
                Ok(Some(FrameRef {
                    id: frame.id,
                    body: &self.buf[body_start..end],
                    wire_len: frame.wire_len,
                }))
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
        assert_eq!((f.id, f.body, f.wire_len), (7, &[1u8, 2, 3][..], 5));
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
