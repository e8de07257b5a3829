//! The runtime the generated code calls: bounded readers and writers for every spec type.
//!
//! Generated types are plain `#[binrw]` structs; wherever a field needs more than a fixed-width
//! read (varints, length-prefixed strings and lists, options, compressed blobs) the generated
//! code calls the functions here. Each one checks its bound *before* allocating, so hostile input
//! can never make a reader allocate past the spec's declared maximum, and reports where it failed.
//! This module is the only place that touches raw bytes; see `codegen/src/wire.rs` for the
//! encoding each function implements.

use std::io::{Read, Seek, SeekFrom, Write};

pub use binrw::{BinRead, BinResult, BinWrite, Endian};

/// The integer in front of a variable-length value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    /// LEB128 u32.
    Var,
    /// One byte.
    U8,
    /// Two bytes in the field's byte order.
    U16,
    /// Four bytes in the field's byte order.
    U32,
}

/// An assertion-style error at the reader's current position.
fn fail<S: Seek>(s: &mut S, message: String) -> binrw::Error {
    let pos = s.stream_position().unwrap_or(0);
    binrw::Error::AssertFail { pos, message }
}

#[inline]
fn read_u8<R: Read>(r: &mut R) -> BinResult<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

/// Reads a LEB128 unsigned integer that fits in `bits` bits; one-byte values take the fast path.
#[inline(always)]
fn read_leb<R: Read + Seek>(r: &mut R, bits: u32) -> BinResult<u64> {
    let first = read_u8(r)?;
    if first & 0x80 == 0 {
        return Ok(u64::from(first));
    }
    read_leb_tail(r, bits, first)
}

/// The rest of a multi-byte LEB128 value.
#[inline(never)]
fn read_leb_tail<R: Read + Seek>(r: &mut R, bits: u32, first: u8) -> BinResult<u64> {
    let mut value = u64::from(first & 0x7f);
    let mut shift = 7u32;
    loop {
        let byte = read_u8(r)?;
        let part = u64::from(byte & 0x7f);
        if shift >= bits || (bits - shift < 7 && part >> (bits - shift) != 0) {
            return Err(varint_overflow(r, bits));
        }
        value |= part << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

#[cold]
fn varint_overflow<S: Seek>(s: &mut S, bits: u32) -> binrw::Error {
    fail(s, format!("varint does not fit in {bits} bits"))
}

/// Writes a LEB128 value one byte at a time (no variable-length copies).
#[inline(always)]
fn write_leb<W: Write>(w: &mut W, mut value: u64) -> BinResult<()> {
    while value >= 0x80 {
        w.write_all(&[(value as u8) | 0x80])?;
        value >>= 7;
    }
    w.write_all(&[value as u8])?;
    Ok(())
}

/// Adds "While parsing field …" context to an error from a hand-shaped reader, as the derive
/// does, so [`explain`] can name the field.
#[cold]
pub fn in_field(err: binrw::Error, context: &'static str) -> binrw::Error {
    use binrw::error::ContextExt;
    err.with_context(binrw::error::BacktraceFrame::Message(context.into()))
}

/// Reads a LEB128 `u32`.
#[inline]
pub fn read_var_u32<R: Read + Seek>(r: &mut R, _: Endian, _: ()) -> BinResult<u32> {
    read_leb(r, 32).map(|v| v as u32)
}

/// Writes a LEB128 `u32`.
#[inline]
pub fn write_var_u32<W: Write + Seek>(v: &u32, w: &mut W, _: Endian, _: ()) -> BinResult<()> {
    write_leb(w, u64::from(*v))
}

/// Reads a LEB128 `u64`.
#[inline]
pub fn read_var_u64<R: Read + Seek>(r: &mut R, _: Endian, _: ()) -> BinResult<u64> {
    read_leb(r, 64)
}

/// Writes a LEB128 `u64`.
#[inline]
pub fn write_var_u64<W: Write + Seek>(v: &u64, w: &mut W, _: Endian, _: ()) -> BinResult<()> {
    write_leb(w, *v)
}

/// Reads a zigzag LEB128 `i32`.
#[inline]
pub fn read_var_i32<R: Read + Seek>(r: &mut R, _: Endian, _: ()) -> BinResult<i32> {
    let v = read_leb(r, 32)? as u32;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Writes a zigzag LEB128 `i32`.
#[inline]
pub fn write_var_i32<W: Write + Seek>(v: &i32, w: &mut W, _: Endian, _: ()) -> BinResult<()> {
    write_leb(w, u64::from(((*v << 1) ^ (*v >> 31)) as u32))
}

/// Reads a zigzag LEB128 `i64`.
#[inline]
pub fn read_var_i64<R: Read + Seek>(r: &mut R, _: Endian, _: ()) -> BinResult<i64> {
    let v = read_leb(r, 64)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Writes a zigzag LEB128 `i64`.
#[inline]
pub fn write_var_i64<W: Write + Seek>(v: &i64, w: &mut W, _: Endian, _: ()) -> BinResult<()> {
    write_leb(w, ((*v << 1) ^ (*v >> 63)) as u64)
}

/// Reads a bool: exactly 0 or 1.
#[inline]
pub fn read_bool<R: Read + Seek>(r: &mut R, _: Endian, _: ()) -> BinResult<bool> {
    match read_u8(r)? {
        0 => Ok(false),
        1 => Ok(true),
        other => {
            r.seek(SeekFrom::Current(-1))?;
            Err(fail(r, format!("bool must be 0 or 1, found {other}")))
        }
    }
}

/// Writes a bool as 0 or 1.
#[inline]
pub fn write_bool<W: Write + Seek>(v: &bool, w: &mut W, _: Endian, _: ()) -> BinResult<()> {
    w.write_all(&[u8::from(*v)])?;
    Ok(())
}

/// Reads a length prefix and checks it against `max` before anything is allocated.
#[inline]
pub fn read_len<R: Read + Seek>(r: &mut R, e: Endian, len: Len, max: u32) -> BinResult<usize> {
    let n: u64 = match len {
        Len::Var => read_leb(r, 32)?,
        Len::U8 => u64::from(read_u8(r)?),
        Len::U16 => u64::from(u16::read_options(r, e, ())?),
        Len::U32 => u64::from(u32::read_options(r, e, ())?),
    };
    if n > u64::from(max) {
        return Err(fail(r, format!("length {n} exceeds the maximum of {max}")));
    }
    Ok(n as usize)
}

/// Writes a length prefix after checking it against `max`.
#[inline]
pub fn write_len<W: Write + Seek>(
    w: &mut W,
    e: Endian,
    len: Len,
    n: usize,
    max: u32,
) -> BinResult<()> {
    if n as u64 > u64::from(max) {
        return Err(fail(w, format!("length {n} exceeds the maximum of {max}")));
    }
    match len {
        Len::Var => write_leb(w, n as u64),
        Len::U8 => Ok(w.write_all(&[n as u8])?),
        Len::U16 => (n as u16).write_options(w, e, ()),
        Len::U32 => (n as u32).write_options(w, e, ()),
    }
}

/// Reads exactly `n` bytes into a new vector (`n` already bounded by the caller).
#[inline]
fn read_exact_vec<R: Read>(r: &mut R, n: usize) -> BinResult<Vec<u8>> {
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Reads length-prefixed bytes of at most `max`.
#[inline]
pub fn read_bytes<R: Read + Seek>(r: &mut R, e: Endian, len: Len, max: u32) -> BinResult<Vec<u8>> {
    let n = read_len(r, e, len, max)?;
    read_exact_vec(r, n)
}

/// Writes length-prefixed bytes of at most `max`.
#[inline]
pub fn write_bytes<W: Write + Seek>(
    v: &[u8],
    w: &mut W,
    e: Endian,
    len: Len,
    max: u32,
) -> BinResult<()> {
    write_len(w, e, len, v.len(), max)?;
    w.write_all(v)?;
    Ok(())
}

/// Reads a length-prefixed UTF-8 string of at most `max` bytes.
#[inline]
pub fn read_string<R: Read + Seek>(r: &mut R, e: Endian, len: Len, max: u32) -> BinResult<String> {
    let start = r.stream_position()?;
    let bytes = read_bytes(r, e, len, max)?;
    String::from_utf8(bytes).map_err(|err| binrw::Error::AssertFail {
        pos: start,
        message: format!("string is not UTF-8: {err}"),
    })
}

/// Writes a length-prefixed UTF-8 string of at most `max` bytes.
#[inline]
pub fn write_string<W: Write + Seek>(
    v: &str,
    w: &mut W,
    e: Endian,
    len: Len,
    max: u32,
) -> BinResult<()> {
    write_bytes(v.as_bytes(), w, e, len, max)
}

/// Reads a count-prefixed list of at most `max` items, pre-sized after the bound check.
#[inline]
pub fn read_list<R: Read + Seek, T>(
    r: &mut R,
    e: Endian,
    len: Len,
    max: u32,
    mut item: impl FnMut(&mut R, Endian) -> BinResult<T>,
) -> BinResult<Vec<T>> {
    let n = read_len(r, e, len, max)?;
    // Items are at least one byte each in every spec type but empty structs; never pre-size past
    // what the remaining input could hold.
    let mut out = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        out.push(item(r, e)?);
    }
    Ok(out)
}

/// Writes a count-prefixed list of at most `max` items.
#[inline]
pub fn write_list<W: Write + Seek, T>(
    v: &[T],
    w: &mut W,
    e: Endian,
    len: Len,
    max: u32,
    mut item: impl FnMut(&T, &mut W, Endian) -> BinResult<()>,
) -> BinResult<()> {
    write_len(w, e, len, v.len(), max)?;
    for x in v {
        item(x, w, e)?;
    }
    Ok(())
}

/// Reads exactly `n` items with no prefix.
#[inline]
pub fn read_array<R: Read + Seek, T>(
    r: &mut R,
    e: Endian,
    n: usize,
    mut item: impl FnMut(&mut R, Endian) -> BinResult<T>,
) -> BinResult<Vec<T>> {
    let mut out = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        out.push(item(r, e)?);
    }
    Ok(out)
}

/// Writes exactly `n` items with no prefix (a different count is an error).
#[inline]
pub fn write_array<W: Write + Seek, T>(
    v: &[T],
    w: &mut W,
    e: Endian,
    n: usize,
    mut item: impl FnMut(&T, &mut W, Endian) -> BinResult<()>,
) -> BinResult<()> {
    if v.len() != n {
        return Err(fail(
            w,
            format!("array must have exactly {n} items, has {}", v.len()),
        ));
    }
    for x in v {
        item(x, w, e)?;
    }
    Ok(())
}

/// Reads a bool-prefixed optional value.
#[inline]
pub fn read_option<R: Read + Seek, T>(
    r: &mut R,
    e: Endian,
    item: impl FnOnce(&mut R, Endian) -> BinResult<T>,
) -> BinResult<Option<T>> {
    if read_bool(r, e, ())? {
        item(r, e).map(Some)
    } else {
        Ok(None)
    }
}

/// Writes a bool-prefixed optional value.
#[inline]
pub fn write_option<W: Write + Seek, T>(
    v: &Option<T>,
    w: &mut W,
    e: Endian,
    item: impl FnOnce(&T, &mut W, Endian) -> BinResult<()>,
) -> BinResult<()> {
    write_bool(&v.is_some(), w, e, ())?;
    match v {
        Some(x) => item(x, w, e),
        None => Ok(()),
    }
}

/// Reads an optional value whose presence was given by a presence-mask bit.
#[inline]
pub fn read_present<R: Read + Seek, T>(
    r: &mut R,
    e: Endian,
    present: bool,
    item: impl FnOnce(&mut R, Endian) -> BinResult<T>,
) -> BinResult<Option<T>> {
    if present {
        item(r, e).map(Some)
    } else {
        Ok(None)
    }
}

/// Writes an optional value whose presence goes into a presence mask (nothing when absent).
#[inline]
pub fn write_present<W: Write + Seek, T>(
    v: &Option<T>,
    w: &mut W,
    e: Endian,
    item: impl FnOnce(&T, &mut W, Endian) -> BinResult<()>,
) -> BinResult<()> {
    match v {
        Some(x) => item(x, w, e),
        None => Ok(()),
    }
}

/// Largest compressed length accepted for a value inflating to at most `max` bytes.
pub const fn compressed_limit(max: u32) -> u32 {
    let limit = max as u64 + max as u64 / 64 + 64;
    if limit > u32::MAX as u64 {
        u32::MAX
    } else {
        limit as u32
    }
}

/// Reads a varint-length zlib blob, inflates it to at most `max` bytes (more is an error, so an
/// inflate bomb costs at most `max + 1` bytes of memory), then decodes the inner value from it.
pub fn read_compressed<R: Read + Seek, T>(
    r: &mut R,
    e: Endian,
    max: u32,
    inner: impl FnOnce(&mut std::io::Cursor<&[u8]>, Endian) -> BinResult<T>,
) -> BinResult<T> {
    let start = r.stream_position()?;
    let n = read_len(r, e, Len::Var, compressed_limit(max))?;
    let packed = read_exact_vec(r, n)?;
    let mut inflated = Vec::with_capacity((max as usize).min(n.saturating_mul(4)).min(1 << 20));
    let at = |message: String| binrw::Error::AssertFail {
        pos: start,
        message,
    };
    flate2::read::ZlibDecoder::new(packed.as_slice())
        .take(u64::from(max) + 1)
        .read_to_end(&mut inflated)
        .map_err(|err| at(format!("compressed data is corrupt: {err}")))?;
    if inflated.len() > max as usize {
        return Err(at(format!(
            "compressed data inflates past the maximum of {max} bytes"
        )));
    }
    let mut cursor = std::io::Cursor::new(inflated.as_slice());
    let value =
        inner(&mut cursor, e).map_err(|err| at(format!("inside compressed data: {err}")))?;
    if (cursor.position() as usize) != inflated.len() {
        return Err(at(format!(
            "compressed data has {} bytes left over after its value",
            inflated.len() - cursor.position() as usize
        )));
    }
    Ok(value)
}

/// Encodes a value, deflates it and writes it with a varint length.
pub fn write_compressed<W: Write + Seek, T>(
    v: &T,
    w: &mut W,
    e: Endian,
    max: u32,
    inner: impl FnOnce(&T, &mut VecSink<'_>, Endian) -> BinResult<()>,
) -> BinResult<()> {
    let mut plain = Vec::new();
    inner(v, &mut VecSink::new(&mut plain), e)?;
    if plain.len() > max as usize {
        return Err(fail(
            w,
            format!(
                "value is {} bytes, more than the maximum of {max} for compression",
                plain.len()
            ),
        ));
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&plain)?;
    let packed = encoder.finish()?;
    write_bytes(&packed, w, e, Len::Var, compressed_limit(max))
}

/// Reads a fixed-width value with `BinRead` (used inside list, option and compressed helpers).
#[inline]
pub fn read_plain<R: Read + Seek, T: for<'a> BinRead<Args<'a> = ()>>(
    r: &mut R,
    e: Endian,
) -> BinResult<T> {
    T::read_options(r, e, ())
}

/// Writes a value with `BinWrite` (used inside list, option and compressed helpers).
#[inline]
pub fn write_plain<W: Write + Seek, T: for<'a> BinWrite<Args<'a> = ()>>(
    v: &T,
    w: &mut W,
    e: Endian,
) -> BinResult<()> {
    v.write_options(w, e, ())
}

/// Which way a packet travels.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Direction {
    /// Client to server.
    ToServer,
    /// Server to client.
    ToClient,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        })
    }
}

/// Why a packet body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No packet with this id exists in this state and direction.
    #[error("unknown packet id {id:#04x} in state {state} ({direction})")]
    UnknownId {
        /// The connection state.
        state: &'static str,
        /// The direction.
        direction: Direction,
        /// The id received.
        id: u8,
    },
    /// The body does not match the packet's layout.
    #[error("malformed {packet}{}: {message} (at byte {offset} of the body)", field.as_ref().map(|f| format!(".{f}")).unwrap_or_default())]
    Parse {
        /// The packet.
        packet: &'static str,
        /// The innermost field being read, when known (dotted path).
        field: Option<String>,
        /// Byte offset in the body where decoding failed.
        offset: u64,
        /// What went wrong.
        message: String,
    },
    /// The body is longer than the packet.
    #[error("{packet} has {extra} bytes left over after its last field")]
    Leftover {
        /// The packet.
        packet: &'static str,
        /// Bytes not consumed.
        extra: usize,
    },
}

/// Why a packet could not be encoded (a value broke a bound of the spec).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {packet}: {message}")]
pub struct EncodeError {
    /// The packet.
    pub packet: &'static str,
    /// What went wrong.
    pub message: String,
}

/// Turns a binrw error into its innermost message, byte offset and field path.
pub fn explain(err: &binrw::Error, body_len: usize) -> (Option<String>, u64, String) {
    let mut fields = Vec::new();
    let root = match err {
        binrw::Error::Backtrace(bt) => {
            for frame in bt.frames.iter().rev() {
                let text = match frame {
                    binrw::error::BacktraceFrame::Full { message, .. }
                    | binrw::error::BacktraceFrame::Message(message) => message.as_ref(),
                    binrw::error::BacktraceFrame::Custom(_) => continue,
                };
                if let Some(rest) = text.split("field '").nth(1) {
                    if let Some(name) = rest.split('\'').next() {
                        fields.push(name.to_owned());
                    }
                }
            }
            bt.error.as_ref()
        }
        other => other,
    };
    let (offset, message) = match root {
        binrw::Error::BadMagic { pos, found } => (*pos, format!("bad magic, found {found:?}")),
        binrw::Error::AssertFail { pos, message } => (*pos, message.clone()),
        binrw::Error::Custom { pos, err } => (*pos, format!("{err:?}")),
        binrw::Error::NoVariantMatch { pos } => (*pos, "no variant matches the tag".to_owned()),
        binrw::Error::EnumErrors { pos, .. } => (*pos, "unknown enum tag".to_owned()),
        binrw::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            (body_len as u64, "body ends too early".to_owned())
        }
        other => (0, other.to_string()),
    };
    let field = (!fields.is_empty()).then(|| fields.join("."));
    (field, offset, message)
}

/// Decodes a whole packet body; any bytes left over are an error.
#[inline]
pub fn decode_body<T: for<'a> BinRead<Args<'a> = ()>>(
    packet: &'static str,
    body: &[u8],
) -> Result<T, DecodeError> {
    let mut cursor = std::io::Cursor::new(body);
    let value = T::read_options(&mut cursor, Endian::Big, ()).map_err(|err| {
        let (field, offset, message) = explain(&err, body.len());
        DecodeError::Parse {
            packet,
            field,
            offset,
            message,
        }
    })?;
    let used = cursor.position() as usize;
    if used != body.len() {
        return Err(DecodeError::Leftover {
            packet,
            extra: body.len() - used,
        });
    }
    Ok(value)
}

/// A writer that appends to a `Vec<u8>`; its position is the number of bytes appended. It
/// answers position queries only (all the generated writers need) and keeps no state of its
/// own, so encoding costs no more than pushing bytes.
pub struct VecSink<'a> {
    vec: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> VecSink<'a> {
    /// Appends to `vec`.
    #[inline]
    pub fn new(vec: &'a mut Vec<u8>) -> Self {
        let start = vec.len();
        VecSink { vec, start }
    }
}

impl Write for VecSink<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.vec.extend_from_slice(buf);
        Ok(buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.vec.extend_from_slice(buf);
        Ok(())
    }

    #[inline]
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for VecSink<'_> {
    #[inline]
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match pos {
            SeekFrom::Current(0) => Ok((self.vec.len() - self.start) as u64),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "an append-only sink cannot seek",
            )),
        }
    }

    #[inline]
    fn stream_position(&mut self) -> std::io::Result<u64> {
        Ok((self.vec.len() - self.start) as u64)
    }
}

/// Appends a packet body to `out`.
#[inline]
pub fn encode_body<T: for<'a> BinWrite<Args<'a> = ()>>(
    value: &T,
    packet: &'static str,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    value
        .write_options(&mut VecSink::new(out), Endian::Big, ())
        .map_err(|err| EncodeError {
            packet,
            message: explain(&err, 0).2,
        })
}
