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

/// What was wrong with the bytes of one field: the typed cause a [`DecodeError`] keeps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// The input ended inside the value.
    #[error("the body ends too early")]
    Eof,
    /// A length or count prefix is larger than the spec's bound.
    #[error("length {len} exceeds the maximum of {max}")]
    TooLong {
        /// The declared length.
        len: u64,
        /// The bound from the spec.
        max: u32,
    },
    /// A varint has more significant bits than its type.
    #[error("varint does not fit in {bits} bits")]
    VarintOverflow {
        /// Width of the type.
        bits: u32,
    },
    /// A bool byte other than 0 or 1.
    #[error("bool must be 0 or 1, found {0}")]
    BadBool(u8),
    /// A string that is not UTF-8.
    #[error("string is not UTF-8")]
    BadUtf8,
    /// An enum or union tag that names no variant.
    #[error("unknown tag {tag:#x}")]
    UnknownTag {
        /// The tag read.
        tag: u64,
    },
    /// A flag set or presence mask with bits the spec does not define.
    #[error("unknown bits {bits:#x} set")]
    UnknownBits {
        /// The undefined bits.
        bits: u64,
    },
    /// Fixed magic bytes that do not match.
    #[error("bad magic: expected {expected:?}, found {found:?}")]
    BadMagic {
        /// What the spec requires.
        expected: &'static str,
        /// What was read.
        found: Vec<u8>,
    },
    /// A zlib stream that does not inflate.
    #[error("compressed data is corrupt")]
    Corrupt,
    /// A zlib stream that inflates past its bound (an inflate bomb).
    #[error("compressed data inflates past the maximum of {max} bytes")]
    InflateTooBig {
        /// The bound from the spec.
        max: u32,
    },
    /// Bytes left over inside a compressed value after it was decoded.
    #[error("compressed data has {extra} bytes left over after its value")]
    CompressedLeftover {
        /// Bytes not consumed.
        extra: usize,
    },
    /// A value breaks a bound of the spec on encoding (too long, wrong array length).
    #[error("{0}")]
    Invalid(String),
    /// The reader or writer failed for another reason.
    #[error("{0}")]
    Io(String),
}

/// A field name on the error path (a binrw context frame), so errors name where they happened.
#[derive(Debug, Clone, Copy)]
pub struct FieldName(pub &'static str);

impl std::fmt::Display for FieldName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A [`FieldError`] at byte `pos` as a binrw error.
#[cold]
pub fn error_at(pos: u64, error: FieldError) -> binrw::Error {
    binrw::Error::Custom {
        pos,
        err: Box::new(error),
    }
}

/// A [`FieldError`] at the writer's current position minus `back` bytes.
#[cold]
fn fail<S: Seek>(s: &mut S, back: u64, error: FieldError) -> Fail {
    let pos = s.stream_position().unwrap_or(0).saturating_sub(back);
    Fail::from(error_at(pos, error))
}

/// A [`FieldError`] `back` bytes before the reader's position.
///
/// The position is taken inline and only plain values cross into the out-of-line part: a
/// reader whose address reached an out-of-line function could no longer live in registers,
/// and every read on the hot path would store it to the stack and load it back.
#[inline(always)]
fn fail_read<R: Source>(r: &mut R, back: u64, error: FieldError) -> Fail {
    fail_at(r.offset().saturating_sub(back), error)
}

/// The out-of-line part of [`fail_read`].
#[cold]
#[inline(never)]
fn fail_at(pos: u64, error: FieldError) -> Fail {
    Fail::from(error_at(pos, error))
}

/// Names the field a result belongs to: on error, adds `name` to the error's field path.
#[inline(always)]
pub fn field<T>(name: &'static str, result: WireResult<T>) -> WireResult<T> {
    match result {
        Ok(v) => Ok(v),
        Err(err) => Err(err.in_field(name)),
    }
}

/// Adds a field name to an error's path (innermost first).
#[cold]
pub fn in_field(err: binrw::Error, name: &'static str) -> binrw::Error {
    use binrw::error::ContextExt;
    err.with_context(binrw::error::BacktraceFrame::Custom(Box::new(FieldName(
        name,
    ))))
}

/// The error every reader and writer here returns: a binrw error behind one pointer.
///
/// `binrw::Error` is five words wide, so a `BinResult<u8>` is returned through memory and every
/// field read pays for it; `Result<u8, Fail>` fits in two registers. Errors are rare, so they
/// pay for the box instead. Generated `BinRead`/`BinWrite` impls unwrap it once, at the top.
#[derive(Debug)]
pub struct Fail(Box<binrw::Error>);

/// What the runtime's readers and writers return.
pub type WireResult<T> = Result<T, Fail>;

impl Fail {
    /// The binrw error inside.
    #[cold]
    pub fn into_binrw(self) -> binrw::Error {
        *self.0
    }

    /// Adds a field name to the error's path (innermost first).
    #[cold]
    #[must_use]
    pub fn in_field(self, name: &'static str) -> Fail {
        Fail(Box::new(in_field(*self.0, name)))
    }
}

impl From<binrw::Error> for Fail {
    #[cold]
    fn from(err: binrw::Error) -> Self {
        Fail(Box::new(err))
    }
}

impl From<std::io::Error> for Fail {
    #[cold]
    fn from(err: std::io::Error) -> Self {
        Fail(Box::new(binrw::Error::Io(err)))
    }
}

impl From<Fail> for binrw::Error {
    #[cold]
    fn from(fail: Fail) -> Self {
        fail.into_binrw()
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A type the generated code reads field by field (every spec type and fixed-width integer).
pub trait WireRead: Sized {
    /// Reads one value in byte order `e` (spec types use their own declared order).
    fn read_wire<R: Source>(r: &mut R, e: Endian) -> WireResult<Self>;
}

/// What the generated readers read from.
///
/// Any `Read + Seek` works through [`IoSource`] (the generated `BinRead` impls wrap their reader
/// in one); [`SliceReader`], which every packet body is decoded from, overrides each method with
/// plain slice operations, so that, once inlined, its state stays in registers.
pub trait Source: Read + Seek + Sized {
    /// The next byte.
    #[inline]
    fn next_byte(&mut self) -> WireResult<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// The next `N` bytes.
    #[inline]
    fn next_array<const N: usize>(&mut self) -> WireResult<[u8; N]> {
        let mut b = [0u8; N];
        self.read_exact(&mut b)?;
        Ok(b)
    }

    /// The next `n` bytes (`n` already bounded by the caller) in a new vector. The declared
    /// length is only a claim: memory follows the bytes present, so a short input that declares
    /// the bound (16 MiB for a replay keyframe) cannot make the decoder allocate it.
    fn next_vec(&mut self, n: usize) -> WireResult<Vec<u8>> {
        let mut buf = Vec::with_capacity(n.min(PREALLOC_BYTES));
        self.by_ref().take(n as u64).read_to_end(&mut buf)?;
        if buf.len() != n {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        Ok(buf)
    }

    /// Bytes read so far (for error offsets).
    #[inline]
    fn offset(&mut self) -> u64 {
        self.stream_position().unwrap_or(0)
    }

    /// Runs `f`, which may not be inlined, on this reader. A slice reader hands `f` a copy and
    /// takes it back after, so that its own address never reaches out-of-line code.
    #[inline(always)]
    fn apart<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        f(self)
    }
}

/// Any `Read + Seek` as a [`Source`] (the generated `BinRead` impls read through one).
#[derive(Debug)]
pub struct IoSource<'a, R>(pub &'a mut R);

impl<R: Read> Read for IoSource<'_, R> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }

    #[inline]
    fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_exact(buf)
    }
}

impl<R: Seek> Seek for IoSource<'_, R> {
    #[inline]
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(to)
    }

    #[inline]
    fn stream_position(&mut self) -> std::io::Result<u64> {
        self.0.stream_position()
    }
}

impl<R: Read + Seek> Source for IoSource<'_, R> {}

/// A type the generated code writes field by field.
pub trait WireWrite {
    /// Writes this value in byte order `e` (spec types use their own declared order).
    fn write_wire<W: Write + Seek>(&self, w: &mut W, e: Endian) -> WireResult<()>;
}

macro_rules! wire_number {
    ($($t:ty),*) => {$(
        impl WireRead for $t {
            #[inline]
            fn read_wire<R: Source>(r: &mut R, e: Endian) -> WireResult<Self> {
                let b = r.next_array::<{ std::mem::size_of::<$t>() }>()?;
                Ok(match e {
                    Endian::Big => <$t>::from_be_bytes(b),
                    Endian::Little => <$t>::from_le_bytes(b),
                })
            }
        }
        impl WireWrite for $t {
            #[inline]
            fn write_wire<W: Write + Seek>(&self, w: &mut W, e: Endian) -> WireResult<()> {
                let b = match e {
                    Endian::Big => self.to_be_bytes(),
                    Endian::Little => self.to_le_bytes(),
                };
                w.write_all(&b)?;
                Ok(())
            }
        }
    )*};
}
wire_number!(u8, u16, u32, u64, i8, i16, i32, i64, f32, f64);

#[inline(always)]
fn read_u8<R: Source>(r: &mut R) -> WireResult<u8> {
    r.next_byte()
}

/// Reads a LEB128 unsigned integer that fits in `bits` bits; one- and two-byte values (ids,
/// deltas, counts) take the inlined fast path.
#[inline(always)]
fn read_leb<R: Source>(r: &mut R, bits: u32) -> WireResult<u64> {
    let first = read_u8(r)?;
    if first & 0x80 == 0 {
        return Ok(u64::from(first));
    }
    let second = read_u8(r)?;
    if second & 0x80 == 0 && bits >= 14 {
        return Ok(u64::from(first & 0x7f) | u64::from(second) << 7);
    }
    r.apart(|r| read_leb_tail(r, bits, u64::from(first & 0x7f), second))
}

/// The rest of a LEB128 value: `value` holds the first byte's bits, `byte` is the second byte.
#[inline(never)]
fn read_leb_tail<R: Source>(r: &mut R, bits: u32, mut value: u64, mut byte: u8) -> WireResult<u64> {
    let mut shift = 7u32;
    loop {
        let part = u64::from(byte & 0x7f);
        if shift >= bits || (bits - shift < 7 && part >> (bits - shift) != 0) {
            return Err(fail_read(r, 0, FieldError::VarintOverflow { bits }));
        }
        value |= part << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        byte = read_u8(r)?;
    }
}

/// Writes a LEB128 value one byte at a time (no variable-length copies).
#[inline(always)]
fn write_leb<W: Write>(w: &mut W, mut value: u64) -> WireResult<()> {
    while value >= 0x80 {
        w.write_all(&[(value as u8) | 0x80])?;
        value >>= 7;
    }
    w.write_all(&[value as u8])?;
    Ok(())
}

/// Reads a LEB128 `u32`.
#[inline]
pub fn read_var_u32<R: Source>(r: &mut R, _: Endian) -> WireResult<u32> {
    read_leb(r, 32).map(|v| v as u32)
}

/// Writes a LEB128 `u32`.
#[inline]
pub fn write_var_u32<W: Write + Seek>(v: &u32, w: &mut W, _: Endian) -> WireResult<()> {
    write_leb(w, u64::from(*v))
}

/// Reads a LEB128 `u64`.
#[inline]
pub fn read_var_u64<R: Source>(r: &mut R, _: Endian) -> WireResult<u64> {
    read_leb(r, 64)
}

/// Writes a LEB128 `u64`.
#[inline]
pub fn write_var_u64<W: Write + Seek>(v: &u64, w: &mut W, _: Endian) -> WireResult<()> {
    write_leb(w, *v)
}

/// Reads a zigzag LEB128 `i32`.
#[inline]
pub fn read_var_i32<R: Source>(r: &mut R, _: Endian) -> WireResult<i32> {
    let v = read_leb(r, 32)? as u32;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Writes a zigzag LEB128 `i32`.
#[inline]
pub fn write_var_i32<W: Write + Seek>(v: &i32, w: &mut W, _: Endian) -> WireResult<()> {
    write_leb(w, u64::from(((*v << 1) ^ (*v >> 31)) as u32))
}

/// Reads a zigzag LEB128 `i64`.
#[inline]
pub fn read_var_i64<R: Source>(r: &mut R, _: Endian) -> WireResult<i64> {
    let v = read_leb(r, 64)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Writes a zigzag LEB128 `i64`.
#[inline]
pub fn write_var_i64<W: Write + Seek>(v: &i64, w: &mut W, _: Endian) -> WireResult<()> {
    write_leb(w, ((*v << 1) ^ (*v >> 63)) as u64)
}

/// Reads a bool: exactly 0 or 1.
#[inline]
pub fn read_bool<R: Source>(r: &mut R, _: Endian) -> WireResult<bool> {
    match read_u8(r)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(fail_read(r, 1, FieldError::BadBool(other))),
    }
}

/// Writes a bool as 0 or 1.
#[inline]
pub fn write_bool<W: Write + Seek>(v: &bool, w: &mut W, _: Endian) -> WireResult<()> {
    w.write_all(&[u8::from(*v)])?;
    Ok(())
}

/// Reads fixed magic bytes; anything else is [`FieldError::BadMagic`].
#[inline]
pub fn read_magic<R: Source, const N: usize>(
    r: &mut R,
    expected: &'static [u8; N],
) -> WireResult<()> {
    let found = r.next_array::<N>()?;
    if &found != expected {
        return Err(fail_read(
            r,
            N as u64,
            FieldError::BadMagic {
                expected: std::str::from_utf8(expected).unwrap_or("?"),
                found: found.to_vec(),
            },
        ));
    }
    Ok(())
}

/// Writes fixed magic bytes.
#[inline]
pub fn write_magic<W: Write + Seek>(w: &mut W, magic: &[u8]) -> WireResult<()> {
    w.write_all(magic)?;
    Ok(())
}

/// An unsigned integer usable as an enum tag, flag set or presence mask.
pub trait Tag: Copy + Into<u64> + WireRead + WireWrite {
    /// Width in bytes.
    const BYTES: u64;
}

macro_rules! tag_impl {
    ($($t:ty),*) => {$(impl Tag for $t { const BYTES: u64 = std::mem::size_of::<$t>() as u64; })*};
}
tag_impl!(u8, u16, u32, u64);

/// Reads an enum tag and maps it to its variant; an unknown tag is [`FieldError::UnknownTag`].
#[inline]
pub fn read_enum<R: Source, T: Tag, V>(
    r: &mut R,
    e: Endian,
    from_tag: impl FnOnce(T) -> Option<V>,
) -> WireResult<V> {
    let tag = T::read_wire(r, e)?;
    match from_tag(tag) {
        Some(v) => Ok(v),
        None => Err(unknown_tag(r, tag)),
    }
}

/// The error for a union or enum tag that names no variant (the tag was just read).
#[inline(always)]
pub fn unknown_tag<R: Source, T: Tag>(r: &mut R, tag: T) -> Fail {
    fail_read(r, T::BYTES, FieldError::UnknownTag { tag: tag.into() })
}

/// Reads a flag set or presence mask; bits outside `known` are [`FieldError::UnknownBits`].
#[inline]
pub fn read_bits<R: Source, T: Tag>(r: &mut R, e: Endian, known: u64) -> WireResult<T> {
    let bits = T::read_wire(r, e)?;
    let unknown = bits.into() & !known;
    if unknown != 0 {
        return Err(fail_read(
            r,
            T::BYTES,
            FieldError::UnknownBits { bits: unknown },
        ));
    }
    Ok(bits)
}

/// Reads a length prefix and checks it against `max` before anything is allocated.
#[inline]
pub fn read_len<R: Source>(r: &mut R, e: Endian, len: Len, max: u32) -> WireResult<usize> {
    let n: u64 = match len {
        Len::Var => read_leb(r, 32)?,
        Len::U8 => u64::from(read_u8(r)?),
        Len::U16 => u64::from(u16::read_wire(r, e)?),
        Len::U32 => u64::from(u32::read_wire(r, e)?),
    };
    if n > u64::from(max) {
        return Err(too_long(r, len, n, max));
    }
    Ok(n as usize)
}

/// The error for a length over its bound, at the start of the prefix just read.
#[inline(always)]
fn too_long<R: Source>(r: &mut R, len: Len, n: u64, max: u32) -> Fail {
    let width = match len {
        Len::Var => (64 - u64::from(n.leading_zeros())).div_ceil(7).max(1),
        Len::U8 => 1,
        Len::U16 => 2,
        Len::U32 => 4,
    };
    fail_read(r, width, FieldError::TooLong { len: n, max })
}

/// Writes a length prefix after checking it against `max`.
#[inline]
pub fn write_len<W: Write + Seek>(
    w: &mut W,
    e: Endian,
    len: Len,
    n: usize,
    max: u32,
) -> WireResult<()> {
    if n as u64 > u64::from(max) {
        return Err(fail(w, 0, FieldError::TooLong { len: n as u64, max }));
    }
    match len {
        Len::Var => write_leb(w, n as u64),
        Len::U8 => Ok(w.write_all(&[n as u8])?),
        Len::U16 => (n as u16).write_wire(w, e),
        Len::U32 => (n as u32).write_wire(w, e),
    }
}

/// Bytes reserved up front for a length-prefixed value; beyond this the buffer grows with what
/// is actually read.
const PREALLOC_BYTES: usize = 4096;

/// Reads length-prefixed bytes of at most `max`.
#[inline]
pub fn read_bytes<R: Source>(r: &mut R, e: Endian, len: Len, max: u32) -> WireResult<Vec<u8>> {
    let n = read_len(r, e, len, max)?;
    r.next_vec(n)
}

/// Writes length-prefixed bytes of at most `max`.
#[inline]
pub fn write_bytes<W: Write + Seek>(
    v: &[u8],
    w: &mut W,
    e: Endian,
    len: Len,
    max: u32,
) -> WireResult<()> {
    write_len(w, e, len, v.len(), max)?;
    w.write_all(v)?;
    Ok(())
}

/// Reads a length-prefixed UTF-8 string of at most `max` bytes.
#[inline]
pub fn read_string<R: Source>(r: &mut R, e: Endian, len: Len, max: u32) -> WireResult<String> {
    let bytes = read_bytes(r, e, len, max)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(err) => Err(fail_read(
            r,
            err.as_bytes().len() as u64,
            FieldError::BadUtf8,
        )),
    }
}

/// Writes a length-prefixed UTF-8 string of at most `max` bytes.
#[inline]
pub fn write_string<W: Write + Seek>(
    v: &str,
    w: &mut W,
    e: Endian,
    len: Len,
    max: u32,
) -> WireResult<()> {
    write_bytes(v.as_bytes(), w, e, len, max)
}

/// Reads a count-prefixed list of at most `max` items, pre-sized after the bound check.
#[inline]
pub fn read_list<R: Source, T>(
    r: &mut R,
    e: Endian,
    len: Len,
    max: u32,
    mut item: impl FnMut(&mut R, Endian) -> WireResult<T>,
) -> WireResult<Vec<T>> {
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
    mut item: impl FnMut(&T, &mut W, Endian) -> WireResult<()>,
) -> WireResult<()> {
    write_len(w, e, len, v.len(), max)?;
    for x in v {
        item(x, w, e)?;
    }
    Ok(())
}

/// Reads exactly `n` items with no prefix.
#[inline]
pub fn read_array<R: Source, T>(
    r: &mut R,
    e: Endian,
    n: usize,
    mut item: impl FnMut(&mut R, Endian) -> WireResult<T>,
) -> WireResult<Vec<T>> {
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
    mut item: impl FnMut(&T, &mut W, Endian) -> WireResult<()>,
) -> WireResult<()> {
    if v.len() != n {
        return Err(fail(
            w,
            0,
            FieldError::Invalid(format!(
                "array must have exactly {n} items, has {}",
                v.len()
            )),
        ));
    }
    for x in v {
        item(x, w, e)?;
    }
    Ok(())
}

/// Reads a bool-prefixed optional value.
#[inline]
pub fn read_option<R: Source, T>(
    r: &mut R,
    e: Endian,
    item: impl FnOnce(&mut R, Endian) -> WireResult<T>,
) -> WireResult<Option<T>> {
    if read_bool(r, e)? {
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
    item: impl FnOnce(&T, &mut W, Endian) -> WireResult<()>,
) -> WireResult<()> {
    write_bool(&v.is_some(), w, e)?;
    match v {
        Some(x) => item(x, w, e),
        None => Ok(()),
    }
}

/// Reads an optional value whose presence was given by a presence-mask bit.
#[inline]
pub fn read_present<R: Source, T>(
    r: &mut R,
    e: Endian,
    present: bool,
    item: impl FnOnce(&mut R, Endian) -> WireResult<T>,
) -> WireResult<Option<T>> {
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
    item: impl FnOnce(&T, &mut W, Endian) -> WireResult<()>,
) -> WireResult<()> {
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
/// Errors inside the inflated value keep their cause and field path; their offset is the blob's.
#[inline]
pub fn read_compressed<R: Source, T>(
    r: &mut R,
    e: Endian,
    max: u32,
    inner: impl FnOnce(&mut SliceReader<'_>, Endian) -> WireResult<T>,
) -> WireResult<T> {
    r.apart(|r| inflate_and_read(r, e, max, inner))
}

/// The out-of-line body of [`read_compressed`].
fn inflate_and_read<R: Source, T>(
    r: &mut R,
    e: Endian,
    max: u32,
    inner: impl FnOnce(&mut SliceReader<'_>, Endian) -> WireResult<T>,
) -> WireResult<T> {
    let start = r.stream_position()?;
    let n = read_len(r, e, Len::Var, compressed_limit(max))?;
    // Both buffers are this thread's scratch (a nested compressed value takes fresh ones), so a
    // stream of map chunks or keyframes allocates nothing per value.
    let mut packed = Scratch::take();
    let mut inflated = Scratch::take();
    let result = (|| {
        r.by_ref().take(n as u64).read_to_end(&mut packed)?;
        if packed.len() != n {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
        }
        flate2::bufread::ZlibDecoder::new(packed.as_slice())
            .take(u64::from(max) + 1)
            .read_to_end(&mut inflated)
            .map_err(|_| Fail::from(error_at(start, FieldError::Corrupt)))?;
        if inflated.len() > max as usize {
            return Err(error_at(start, FieldError::InflateTooBig { max }).into());
        }
        let mut cursor = SliceReader::new(inflated.as_slice());
        let value =
            inner(&mut cursor, e).map_err(|err| Fail::from(rebase(err.into_binrw(), start)))?;
        let used = cursor.position();
        if used != inflated.len() {
            return Err(Fail::from(error_at(
                start,
                FieldError::CompressedLeftover {
                    extra: inflated.len() - used,
                },
            )));
        }
        Ok(value)
    })();
    Scratch::give_back(packed);
    Scratch::give_back(inflated);
    result
}

/// Per-thread buffers for compressed values, kept between values up to [`Scratch::KEEP`] bytes.
struct Scratch;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Scratch {
    /// Buffers larger than this are freed rather than kept (a keyframe may inflate to 16 MiB).
    const KEEP: usize = 1 << 20;
    /// Buffers kept per thread (two per nesting level in use).
    const SLOTS: usize = 4;

    /// An empty buffer, reused when this thread has one.
    fn take() -> Vec<u8> {
        let mut buf = SCRATCH
            .try_with(|s| s.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        buf.clear();
        buf
    }

    /// Keeps `buf` for the next value on this thread, unless it is large.
    fn give_back(buf: Vec<u8>) {
        if buf.capacity() <= Self::KEEP {
            let _ = SCRATCH.try_with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < Self::SLOTS {
                    s.push(buf);
                }
            });
        }
    }
}

/// Moves an error from inside inflated data to the offset of the compressed blob.
fn rebase(err: binrw::Error, pos: u64) -> binrw::Error {
    match err {
        binrw::Error::Backtrace(mut bt) => {
            *bt.error = rebase(*bt.error, pos);
            binrw::Error::Backtrace(bt)
        }
        binrw::Error::Custom { err, .. } => binrw::Error::Custom { pos, err },
        other => {
            let (_, error) = root_cause(&other, 0);
            error_at(pos, error)
        }
    }
}

/// Encodes a value, deflates it and writes it with a varint length.
pub fn write_compressed<W: Write + Seek, T>(
    v: &T,
    w: &mut W,
    e: Endian,
    max: u32,
    inner: impl FnOnce(&T, &mut VecSink<'_>, Endian) -> WireResult<()>,
) -> WireResult<()> {
    let mut plain = Vec::new();
    inner(v, &mut VecSink::new(&mut plain), e)?;
    if plain.len() > max as usize {
        return Err(fail(
            w,
            0,
            FieldError::TooLong {
                len: plain.len() as u64,
                max,
            },
        ));
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&plain)?;
    let packed = encoder.finish()?;
    write_bytes(&packed, w, e, Len::Var, compressed_limit(max))
}

/// Reads a value with its own [`WireRead`] (shared types, fixed-width integers).
#[inline]
pub fn read_plain<R: Source, T: WireRead>(r: &mut R, e: Endian) -> WireResult<T> {
    r.apart(|r| T::read_wire(r, e))
}

/// Writes a value with its own [`WireWrite`] (shared types, fixed-width integers).
#[inline]
pub fn write_plain<W: Write + Seek, T: WireWrite>(v: &T, w: &mut W, e: Endian) -> WireResult<()> {
    v.write_wire(w, e)
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

impl Direction {
    /// Both directions.
    pub const ALL: [Direction; 2] = [Direction::ToServer, Direction::ToClient];
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        })
    }
}

/// The packets of one state and direction as one enum (generated `ToServer` / `ToClient`).
pub trait PacketSet: Sized + std::fmt::Debug {
    /// Decodes a packet body by id; the whole body must be consumed.
    fn decode(id: u8, body: &[u8]) -> Result<Self, DecodeError>;
    /// The packet's id.
    fn id(&self) -> u8;
    /// The packet's name as in the spec.
    fn name(&self) -> &'static str;
    /// Appends the packet's body (without id) to `out`.
    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError>;
}

/// Why a packet body could not be decoded. Every variant keeps its typed cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No packet with this id exists in this state and direction.
    #[error("unknown packet id {id:#04x} in state {state} ({direction})")]
    UnknownId {
        /// The connection state's name.
        state: &'static str,
        /// The direction.
        direction: Direction,
        /// The id received.
        id: u8,
    },
    /// The packet's fixed magic bytes are wrong: the peer does not speak this protocol.
    #[error("{packet} does not start with the magic {expected:?} (found {found:02x?})")]
    BadMagic {
        /// The packet.
        packet: &'static str,
        /// The magic the spec requires.
        expected: &'static str,
        /// The bytes found instead.
        found: Vec<u8>,
    },
    /// A field's bytes do not match the packet's layout.
    #[error("malformed {packet}{}: {error} (at byte {offset} of the body)", field.as_ref().map(|f| format!(".{f}")).unwrap_or_default())]
    Parse {
        /// The packet.
        packet: &'static str,
        /// The field being read, when known (dotted path from the packet).
        field: Option<String>,
        /// Byte offset in the body where decoding failed.
        offset: u64,
        /// What was wrong.
        error: FieldError,
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
#[error("cannot encode {packet}{}: {error}", field.as_ref().map(|f| format!(".{f}")).unwrap_or_default())]
pub struct EncodeError {
    /// The packet.
    pub packet: &'static str,
    /// The field being written, when known.
    pub field: Option<String>,
    /// What was wrong.
    pub error: FieldError,
}

/// The innermost cause of a binrw error as a [`FieldError`] with its byte offset.
fn root_cause(err: &binrw::Error, body_len: usize) -> (u64, FieldError) {
    match err {
        binrw::Error::Backtrace(bt) => root_cause(&bt.error, body_len),
        binrw::Error::Custom { pos, err } => match err.downcast_ref::<FieldError>() {
            Some(e) => (*pos, e.clone()),
            None => (*pos, FieldError::Io(err.to_string())),
        },
        binrw::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            (body_len as u64, FieldError::Eof)
        }
        binrw::Error::Io(io) => (0, FieldError::Io(io.to_string())),
        binrw::Error::BadMagic { pos, .. }
        | binrw::Error::AssertFail { pos, .. }
        | binrw::Error::NoVariantMatch { pos }
        | binrw::Error::EnumErrors { pos, .. } => (*pos, FieldError::Io(err.to_string())),
        other => (0, FieldError::Io(other.to_string())),
    }
}

/// The field path of a binrw error, outermost first, from its [`FieldName`] frames.
fn field_path(err: &binrw::Error) -> Option<String> {
    let binrw::Error::Backtrace(bt) = err else {
        return None;
    };
    let names: Vec<&str> = bt
        .frames
        .iter()
        .rev()
        .filter_map(|frame| match frame {
            binrw::error::BacktraceFrame::Custom(c) => c.downcast_ref::<FieldName>().map(|f| f.0),
            _ => None,
        })
        .collect();
    (!names.is_empty()).then(|| names.join("."))
}

/// Turns a binrw error into its field path, byte offset and message (for tools that print it).
pub fn explain(err: &binrw::Error, body_len: usize) -> (Option<String>, u64, String) {
    let (offset, error) = root_cause(err, body_len);
    (field_path(err), offset, error.to_string())
}

/// The typed decode error for a failed read of `packet`.
#[cold]
pub fn decode_error(packet: &'static str, err: &binrw::Error, body_len: usize) -> DecodeError {
    let (offset, error) = root_cause(err, body_len);
    let field = field_path(err);
    match error {
        FieldError::BadMagic { expected, found } if field.as_deref() == Some("magic") => {
            DecodeError::BadMagic {
                packet,
                expected,
                found,
            }
        }
        error => DecodeError::Parse {
            packet,
            field,
            offset,
            error,
        },
    }
}

/// Decodes a whole packet body; any bytes left over are an error.
#[inline]
pub fn decode_body<T: WireRead>(packet: &'static str, body: &[u8]) -> Result<T, DecodeError> {
    let mut cursor = SliceReader::new(body);
    let value = T::read_wire(&mut cursor, Endian::Big)
        .map_err(|err| decode_error(packet, &err.into_binrw(), body.len()))?;
    let used = cursor.position();
    if used != body.len() {
        return Err(DecodeError::Leftover {
            packet,
            extra: body.len() - used,
        });
    }
    Ok(value)
}

/// A reader over a byte slice: what every packet body is decoded from.
///
/// Like `std::io::Cursor<&[u8]>`, but its reads ([`Source`]) are inlined slice splits and its
/// address never reaches out-of-line code ([`Source::apart`]), so the compiler keeps it in two
/// registers and the generated readers' one- and two-byte reads cost no more than indexing the
/// slice.
#[derive(Debug, Clone)]
pub struct SliceReader<'a> {
    /// The whole input.
    buf: &'a [u8],
    /// What is left of it to read (always a tail of `buf`).
    rest: &'a [u8],
}

impl<'a> SliceReader<'a> {
    /// Reads `buf` from its start.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        SliceReader { buf, rest: buf }
    }

    /// Bytes consumed so far.
    #[inline]
    pub fn position(&self) -> usize {
        self.buf.len() - self.rest.len()
    }
}

impl Read for SliceReader<'_> {
    #[inline]
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = out.len().min(self.rest.len());
        let (head, tail) = self.rest.split_at(n);
        out[..n].copy_from_slice(head);
        self.rest = tail;
        Ok(n)
    }

    #[inline]
    fn read_exact(&mut self, out: &mut [u8]) -> std::io::Result<()> {
        match self.rest.split_at_checked(out.len()) {
            Some((head, tail)) => {
                out.copy_from_slice(head);
                self.rest = tail;
                Ok(())
            }
            None => {
                self.rest = &[];
                Err(std::io::ErrorKind::UnexpectedEof.into())
            }
        }
    }
}

impl Source for SliceReader<'_> {
    #[inline(always)]
    fn next_byte(&mut self) -> WireResult<u8> {
        match self.rest.split_first() {
            Some((&b, tail)) => {
                self.rest = tail;
                Ok(b)
            }
            None => Err(eof()),
        }
    }

    #[inline(always)]
    fn next_array<const N: usize>(&mut self) -> WireResult<[u8; N]> {
        match self.rest.split_first_chunk::<N>() {
            Some((&head, tail)) => {
                self.rest = tail;
                Ok(head)
            }
            None => {
                self.rest = &[];
                Err(eof())
            }
        }
    }

    #[inline]
    fn next_vec(&mut self, n: usize) -> WireResult<Vec<u8>> {
        match self.rest.split_at_checked(n) {
            Some((head, tail)) => {
                self.rest = tail;
                Ok(head.to_vec())
            }
            None => {
                self.rest = &[];
                Err(eof())
            }
        }
    }

    #[inline(always)]
    fn offset(&mut self) -> u64 {
        self.position() as u64
    }

    #[inline(always)]
    fn apart<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let mut own = self.clone();
        let out = f(&mut own);
        *self = own;
        out
    }
}

/// The error for input that ends inside a value.
#[cold]
#[inline(never)]
fn eof() -> Fail {
    Fail::from(std::io::Error::from(std::io::ErrorKind::UnexpectedEof))
}

impl Seek for SliceReader<'_> {
    #[inline]
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => (self.position() as u64).checked_add_signed(d),
            SeekFrom::End(d) => (self.buf.len() as u64).checked_add_signed(d),
        };
        let at = target
            .and_then(|t| usize::try_from(t).ok())
            .ok_or(std::io::ErrorKind::InvalidInput)?;
        // Past the end reads nothing, as with `Cursor`.
        self.rest = self.buf.get(at..).unwrap_or_default();
        Ok(at as u64)
    }

    #[inline]
    fn stream_position(&mut self) -> std::io::Result<u64> {
        Ok(self.position() as u64)
    }
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
pub fn encode_body<T: WireWrite + ?Sized>(
    value: &T,
    packet: &'static str,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    value
        .write_wire(&mut VecSink::new(out), Endian::Big)
        .map_err(|err| {
            let err = err.into_binrw();
            let (_, error) = root_cause(&err, 0);
            EncodeError {
                packet,
                field: field_path(&err),
                error,
            }
        })
}

/// Appends one part of a body (a field, or a list's count) written by `write` to `out`; what
/// the generated `write_FIELD` items call (see `tilegame_codegen::fields`).
#[inline]
pub fn encode_part(
    packet: &'static str,
    field_name: &'static str,
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut VecSink<'_>) -> WireResult<()>,
) -> Result<(), EncodeError> {
    write(&mut VecSink::new(out)).map_err(|err| {
        let err = err.in_field(field_name).into_binrw();
        let (_, error) = root_cause(&err, 0);
        EncodeError {
            packet,
            field: field_path(&err),
            error,
        }
    })
}

/// Reads the start of a body with `read` (bytes after what it reads are not looked at); what
/// the generated `peek_FIELD` items call.
#[inline]
pub fn peek_part<T>(
    packet: &'static str,
    body: &[u8],
    read: impl FnOnce(&mut SliceReader<'_>) -> WireResult<T>,
) -> Result<T, DecodeError> {
    read(&mut SliceReader::new(body))
        .map_err(|err| decode_error(packet, &err.into_binrw(), body.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_reader_reads_seeks_and_stops_at_the_end() {
        let mut r = SliceReader::new(&[1, 2, 3, 4, 5]);
        let mut two = [0u8; 2];
        r.read_exact(&mut two).expect("two bytes");
        assert_eq!((two, r.position()), ([1, 2], 2));
        assert_eq!(r.seek(SeekFrom::Current(-1)).expect("back one"), 1);
        r.read_exact(&mut two).expect("two bytes");
        assert_eq!(two, [2, 3]);
        let mut four = [0u8; 4];
        assert!(r.read_exact(&mut four).is_err(), "only two bytes left");
        assert_eq!(
            r.position(),
            5,
            "a short read consumes the rest, like Cursor"
        );
        assert_eq!(r.seek(SeekFrom::End(-2)).expect("from the end"), 3);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).expect("rest");
        assert_eq!(rest, [4, 5]);
        assert!(r.seek(SeekFrom::Current(-9)).is_err(), "before the start");
        assert_eq!(r.seek(SeekFrom::Start(9)).expect("past the end"), 9);
        assert_eq!(r.read(&mut two).expect("nothing"), 0);
    }

    #[test]
    fn varints_decode_on_every_path_and_overflow_is_caught() {
        let cases: [(&[u8], u32); 5] = [
            (&[0x05], 5),
            (&[0x80, 0x01], 128),
            (&[0xff, 0x7f], 16_383),
            (&[0xc0, 0xc4, 0x07], 123_456),
            (&[0xff, 0xff, 0xff, 0xff, 0x0f], u32::MAX),
        ];
        for (bytes, want) in cases {
            let mut r = SliceReader::new(bytes);
            assert_eq!(read_var_u32(&mut r, Endian::Big).expect("valid"), want);
            assert_eq!(r.position(), bytes.len());
        }
        for bad in [
            &[0xff, 0xff, 0xff, 0xff, 0x10][..],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        ] {
            let err = read_var_u32(&mut SliceReader::new(bad), Endian::Big)
                .expect_err("too wide")
                .into_binrw();
            assert!(matches!(
                root_cause(&err, bad.len()).1,
                FieldError::VarintOverflow { bits: 32 }
            ));
        }
        assert!(read_var_u32(&mut SliceReader::new(&[0x80]), Endian::Big).is_err());
    }
}
