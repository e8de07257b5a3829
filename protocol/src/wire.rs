//! The runtime the generated code calls: bounded codecs for every spec type that binrw does not
//! read natively, and the typed errors every decode and encode ends in.
//!
//! Generated types are `#[binrw]` structs and enums with `#[brw(big)]` (or the spec's byte
//! order). Fixed-width integers and shared types are read by binrw itself; every other field
//! names its codec here in `#[br(parse_with = rt::List::<…>::parse)]` /
//! `#[bw(write_with = rt::List::<…>::write)]` (varints, length-prefixed strings and lists,
//! options, compressed blobs, magic). Each codec checks its bound *before* allocating, so hostile
//! input can never make a reader allocate past the spec's declared maximum, and reports where it
//! failed as a [`FieldError`] inside `binrw::Error::Custom`. See `codegen/src/wire.rs` for the
//! encoding each codec implements.

use std::io::{Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;

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

impl FieldError {
    /// The error for an enum tag that names no variant (what generated `try_map`s return).
    #[cold]
    pub fn unknown_tag(tag: impl Into<u64>) -> FieldError {
        FieldError::UnknownTag { tag: tag.into() }
    }

    /// The error for a flag set with bits outside `known` (what generated `try_map`s return).
    #[cold]
    pub fn unknown_bits(bits: impl Into<u64>, known: u64) -> FieldError {
        FieldError::UnknownBits {
            bits: bits.into() & !known,
        }
    }
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

/// A [`FieldError`] `back` bytes before the stream's position. Inlined so the reader is not
/// passed to an out-of-line function (which would keep it in memory on the fast path too); the
/// error itself is built out of line by [`error_at`].
#[inline(always)]
fn fail<S: Seek>(s: &mut S, back: u64, error: FieldError) -> binrw::Error {
    let pos = s.stream_position().unwrap_or(0).saturating_sub(back);
    error_at(pos, error)
}

/// Names the field a result belongs to: on error, adds `name` to the error's field path.
#[inline(always)]
pub fn field<T>(name: &'static str, result: BinResult<T>) -> BinResult<T> {
    match result {
        Ok(v) => Ok(v),
        Err(err) => Err(in_field(err, name)),
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

/// How one value travels: a bounded reader and writer, named per field by the generated
/// `#[br(parse_with = C::parse)]` / `#[bw(write_with = C::write)]` attributes. The signatures
/// are binrw's own, so every codec is a binrw parser and writer function.
pub trait Codec {
    /// The Rust value.
    type Value;
    /// Reads one value (`e`: the field's byte order, used by fixed-width parts).
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, args: ()) -> BinResult<Self::Value>;
    /// Writes one value.
    fn write<W: Write + Seek>(v: &Self::Value, w: &mut W, e: Endian, args: ()) -> BinResult<()>;
}

/// A value binrw reads and writes itself (fixed-width integers, floats, shared types).
pub struct Plain<T>(PhantomData<T>);

impl<T> Codec for Plain<T>
where
    T: for<'a> BinRead<Args<'a> = ()> + for<'a> BinWrite<Args<'a> = ()>,
{
    type Value = T;

    #[inline(always)]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<T> {
        T::read_options(r, e, ())
    }

    #[inline(always)]
    fn write<W: Write + Seek>(v: &T, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        v.write_options(w, e, ())
    }
}

/// One byte (varints read a byte at a time: no variable-length copies).
#[inline(always)]
fn byte<R: Read>(r: &mut R) -> BinResult<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

/// Reads a LEB128 unsigned integer that fits in `bits` bits; one- and two-byte values (ids,
/// deltas, counts) take the inlined fast path.
#[inline(always)]
fn read_leb<R: Read + Seek>(r: &mut R, bits: u32) -> BinResult<u64> {
    let first = byte(r)?;
    if first & 0x80 == 0 {
        return Ok(u64::from(first));
    }
    let second = byte(r)?;
    if second & 0x80 == 0 && bits >= 14 {
        return Ok(u64::from(first & 0x7f) | u64::from(second) << 7);
    }
    read_leb_tail(r, bits, u64::from(first & 0x7f), second)
}

/// The rest of a LEB128 value: `value` holds the first byte's bits, `byte` is the second byte.
#[inline]
fn read_leb_tail<R: Read + Seek>(
    r: &mut R,
    bits: u32,
    mut value: u64,
    mut b: u8,
) -> BinResult<u64> {
    let mut shift = 7u32;
    loop {
        let part = u64::from(b & 0x7f);
        if shift >= bits || (bits - shift < 7 && part >> (bits - shift) != 0) {
            return Err(fail(r, 0, FieldError::VarintOverflow { bits }));
        }
        value |= part << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
        b = byte(r)?;
    }
}

/// Writes a LEB128 value one byte at a time.
#[inline(always)]
fn write_leb<W: Write>(w: &mut W, mut value: u64) -> BinResult<()> {
    while value >= 0x80 {
        w.write_all(&[(value as u8) | 0x80])?;
        value >>= 7;
    }
    w.write_all(&[value as u8])?;
    Ok(())
}

macro_rules! varint_codec {
    ($(#[$doc:meta] $name:ident: $t:ty, $bits:expr, |$v:ident| $enc:expr, |$u:ident| $dec:expr;)*) => {$(
        #[$doc]
        pub struct $name;

        impl Codec for $name {
            type Value = $t;

            #[inline(always)]
            fn parse<R: Read + Seek>(r: &mut R, _: Endian, _: ()) -> BinResult<$t> {
                let $u = read_leb(r, $bits)?;
                Ok($dec)
            }

            #[inline(always)]
            fn write<W: Write + Seek>($v: &$t, w: &mut W, _: Endian, _: ()) -> BinResult<()> {
                write_leb(w, $enc)
            }
        }
    )*};
}

varint_codec! {
    /// LEB128 `u32` (1–5 bytes).
    VarU32: u32, 32, |v| u64::from(*v), |u| u as u32;
    /// LEB128 `u64` (1–10 bytes).
    VarU64: u64, 64, |v| *v, |u| u;
    /// Zigzag LEB128 `i32`.
    VarI32: i32, 32, |v| u64::from(((*v << 1) ^ (*v >> 31)) as u32), |u| ((u as u32 >> 1) as i32) ^ -((u & 1) as i32);
    /// Zigzag LEB128 `i64`.
    VarI64: i64, 64, |v| ((*v << 1) ^ (*v >> 63)) as u64, |u| ((u >> 1) as i64) ^ -((u & 1) as i64);
}

/// A bool: one byte, exactly 0 or 1.
pub struct Bool;

impl Codec for Bool {
    type Value = bool;

    #[inline(always)]
    fn parse<R: Read + Seek>(r: &mut R, _: Endian, _: ()) -> BinResult<bool> {
        match byte(r)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(fail(r, 1, FieldError::BadBool(other))),
        }
    }

    #[inline(always)]
    fn write<W: Write + Seek>(v: &bool, w: &mut W, _: Endian, _: ()) -> BinResult<()> {
        w.write_all(&[u8::from(*v)])?;
        Ok(())
    }
}

/// The prefix in front of a length-prefixed value, as a type ([`VarLen`], [`U8Len`], ...).
pub trait Prefix {
    /// Which prefix.
    const LEN: Len;
}

/// A LEB128 `u32` length prefix.
pub struct VarLen;
/// A one-byte length prefix.
pub struct U8Len;
/// A two-byte length prefix in the field's byte order.
pub struct U16Len;
/// A four-byte length prefix in the field's byte order.
pub struct U32Len;

impl Prefix for VarLen {
    const LEN: Len = Len::Var;
}
impl Prefix for U8Len {
    const LEN: Len = Len::U8;
}
impl Prefix for U16Len {
    const LEN: Len = Len::U16;
}
impl Prefix for U32Len {
    const LEN: Len = Len::U32;
}

/// Reads a length prefix and checks it against `max` before anything is allocated.
#[inline(always)]
pub fn read_len<R: Read + Seek>(r: &mut R, e: Endian, len: Len, max: u32) -> BinResult<usize> {
    let n: u64 = match len {
        Len::Var => read_leb(r, 32)?,
        Len::U8 => u64::from(byte(r)?),
        Len::U16 => u64::from(u16::read_options(r, e, ())?),
        Len::U32 => u64::from(u32::read_options(r, e, ())?),
    };
    if n > u64::from(max) {
        return Err(too_long(r, len, n, max));
    }
    Ok(n as usize)
}

/// The error for a length over its bound, at the start of the prefix just read.
#[cold]
#[inline(never)]
fn too_long<R: Seek>(r: &mut R, len: Len, n: u64, max: u32) -> binrw::Error {
    let width = match len {
        Len::Var => crate_varint_len(n),
        Len::U8 => 1,
        Len::U16 => 2,
        Len::U32 => 4,
    };
    fail(r, width, FieldError::TooLong { len: n, max })
}

/// Bytes LEB128 needs for `n`.
fn crate_varint_len(n: u64) -> u64 {
    (64 - u64::from(n.leading_zeros())).div_ceil(7).max(1)
}

/// Writes a length prefix after checking it against `max`.
#[inline(always)]
pub fn write_len<W: Write + Seek>(
    w: &mut W,
    e: Endian,
    len: Len,
    n: usize,
    max: u32,
) -> BinResult<()> {
    if n as u64 > u64::from(max) {
        return Err(fail(w, 0, FieldError::TooLong { len: n as u64, max }));
    }
    match len {
        Len::Var => write_leb(w, n as u64),
        Len::U8 => Ok(w.write_all(&[n as u8])?),
        Len::U16 => (n as u16).write_options(w, e, ()),
        Len::U32 => (n as u32).write_options(w, e, ()),
    }
}

/// Lengths up to this are allocated at once; a longer one is first checked against the bytes
/// the input still holds, so a short input that declares a large bound (256 KiB for a replay
/// frame, 16 MiB for a keyframe) cannot make the decoder allocate it.
const PREALLOC_BYTES: usize = 4096;

/// Bytes left between the reader's position and the end of its input.
fn remaining<R: Seek>(r: &mut R) -> BinResult<u64> {
    let pos = r.stream_position()?;
    let end = r.seek(SeekFrom::End(0))?;
    if end != pos {
        r.seek(SeekFrom::Start(pos))?;
    }
    Ok(end.saturating_sub(pos))
}

/// Reads `n` bytes (already bounded by the caller) into a new vector.
#[inline]
fn read_n<R: Read + Seek>(r: &mut R, n: usize) -> BinResult<Vec<u8>> {
    if n > PREALLOC_BYTES && remaining(r)? < n as u64 {
        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
    }
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Length-prefixed bytes of at most `MAX`.
pub struct Bytes<P, const MAX: u32>(PhantomData<P>);

impl<P: Prefix, const MAX: u32> Codec for Bytes<P, MAX> {
    type Value = Vec<u8>;

    #[inline]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<Vec<u8>> {
        let n = read_len(r, e, P::LEN, MAX)?;
        read_n(r, n)
    }

    #[inline]
    fn write<W: Write + Seek>(v: &Vec<u8>, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        write_len(w, e, P::LEN, v.len(), MAX)?;
        w.write_all(v)?;
        Ok(())
    }
}

/// A length-prefixed UTF-8 string of at most `MAX` bytes.
pub struct Str<P, const MAX: u32>(PhantomData<P>);

impl<P: Prefix, const MAX: u32> Codec for Str<P, MAX> {
    type Value = String;

    #[inline]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<String> {
        let bytes = Bytes::<P, MAX>::parse(r, e, ())?;
        match String::from_utf8(bytes) {
            Ok(text) => Ok(text),
            Err(err) => Err(fail(r, err.as_bytes().len() as u64, FieldError::BadUtf8)),
        }
    }

    #[inline]
    fn write<W: Write + Seek>(v: &String, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        write_len(w, e, P::LEN, v.len(), MAX)?;
        w.write_all(v.as_bytes())?;
        Ok(())
    }
}

/// A count-prefixed list of at most `MAX` items, each read by `C`: the count is checked before
/// the vector is allocated, which is then pre-sized (never past 4096 items) and filled in place.
pub struct List<C, P, const MAX: u32>(PhantomData<(C, P)>);

impl<C: Codec, P: Prefix, const MAX: u32> List<C, P, MAX> {
    /// Writes a slice as this list (what the generated part writers call).
    #[inline]
    pub fn write_slice<W: Write + Seek>(v: &[C::Value], w: &mut W, e: Endian) -> BinResult<()> {
        write_len(w, e, P::LEN, v.len(), MAX)?;
        for x in v {
            C::write(x, w, e, ())?;
        }
        Ok(())
    }
}

impl<C: Codec, P: Prefix, const MAX: u32> Codec for List<C, P, MAX> {
    type Value = Vec<C::Value>;

    #[inline]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<Vec<C::Value>> {
        let n = read_len(r, e, P::LEN, MAX)?;
        let mut out = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            out.push(C::parse(r, e, ())?);
        }
        Ok(out)
    }

    #[inline]
    fn write<W: Write + Seek>(v: &Vec<C::Value>, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        Self::write_slice(v, w, e)
    }
}

/// Exactly `N` items with no prefix.
pub struct Array<C, const N: usize>(PhantomData<C>);

impl<C: Codec, const N: usize> Codec for Array<C, N> {
    type Value = Vec<C::Value>;

    #[inline]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<Vec<C::Value>> {
        let mut out = Vec::with_capacity(N.min(4096));
        for _ in 0..N {
            out.push(C::parse(r, e, ())?);
        }
        Ok(out)
    }

    #[inline]
    fn write<W: Write + Seek>(v: &Vec<C::Value>, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        if v.len() != N {
            return Err(fail(
                w,
                0,
                FieldError::Invalid(format!(
                    "array must have exactly {N} items, has {}",
                    v.len()
                )),
            ));
        }
        for x in v {
            C::write(x, w, e, ())?;
        }
        Ok(())
    }
}

/// A bool-prefixed optional value.
pub struct Optional<C>(PhantomData<C>);

impl<C: Codec> Codec for Optional<C> {
    type Value = Option<C::Value>;

    #[inline]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<Option<C::Value>> {
        if Bool::parse(r, e, ())? {
            C::parse(r, e, ()).map(Some)
        } else {
            Ok(None)
        }
    }

    #[inline]
    fn write<W: Write + Seek>(v: &Option<C::Value>, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        Bool::write(&v.is_some(), w, e, ())?;
        match v {
            Some(x) => C::write(x, w, e, ()),
            None => Ok(()),
        }
    }
}

/// An optional value whose presence is a presence-mask bit: read only under the field's
/// `#[br(if(...))]`, written only when present.
pub struct Present<C>(PhantomData<C>);

impl<C: Codec> Codec for Present<C> {
    type Value = Option<C::Value>;

    #[inline(always)]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<Option<C::Value>> {
        C::parse(r, e, ()).map(Some)
    }

    #[inline(always)]
    fn write<W: Write + Seek>(v: &Option<C::Value>, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        match v {
            Some(x) => C::write(x, w, e, ()),
            None => Ok(()),
        }
    }
}

/// An unsigned integer usable as a flag set or presence mask.
pub trait Tag:
    Copy + Into<u64> + for<'a> BinRead<Args<'a> = ()> + for<'a> BinWrite<Args<'a> = ()>
{
    /// Width in bytes.
    const BYTES: u64;
}

macro_rules! tag_impl {
    ($($t:ty),*) => {$(impl Tag for $t { const BYTES: u64 = std::mem::size_of::<$t>() as u64; })*};
}
tag_impl!(u8, u16, u32, u64);

/// A presence mask (or flag set) whose bits outside `KNOWN` are [`FieldError::UnknownBits`].
pub struct Bits<T, const KNOWN: u64>(PhantomData<T>);

impl<T: Tag, const KNOWN: u64> Codec for Bits<T, KNOWN> {
    type Value = T;

    #[inline(always)]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<T> {
        let bits = T::read_options(r, e, ())?;
        if bits.into() & !KNOWN != 0 {
            return Err(fail(
                r,
                T::BYTES,
                FieldError::unknown_bits(bits.into(), KNOWN),
            ));
        }
        Ok(bits)
    }

    #[inline(always)]
    fn write<W: Write + Seek>(v: &T, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        v.write_options(w, e, ())
    }
}

/// Fixed magic bytes: the value of a generated `magic` field (`#[br(temp)]`, `#[bw(calc)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Magic<const N: usize>(pub [u8; N]);

impl<const N: usize> BinWrite for Magic<N> {
    type Args<'a> = ();

    #[inline]
    fn write_options<W: Write + Seek>(&self, w: &mut W, _: Endian, _: ()) -> BinResult<()> {
        w.write_all(&self.0)?;
        Ok(())
    }
}

/// Reads fixed magic bytes (binrw parser; `expected` passed with `args_raw`); anything else is
/// [`FieldError::BadMagic`].
#[inline]
pub fn read_magic<R: Read + Seek, const N: usize>(
    r: &mut R,
    _: Endian,
    expected: &'static [u8; N],
) -> BinResult<Magic<N>> {
    let mut found = [0u8; N];
    r.read_exact(&mut found)?;
    if &found != expected {
        return Err(fail(
            r,
            N as u64,
            FieldError::BadMagic {
                expected: std::str::from_utf8(expected).unwrap_or("?"),
                found: found.to_vec(),
            },
        ));
    }
    Ok(Magic(found))
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

/// A varint-length zlib blob inflating to at most `MAX` bytes of `C`'s encoding: more is an
/// error, so an inflate bomb costs at most `MAX + 1` bytes of memory. Errors inside the inflated
/// value keep their cause and field path; their offset is the blob's.
pub struct Compressed<C, const MAX: u32>(PhantomData<C>);

impl<C: Codec, const MAX: u32> Codec for Compressed<C, MAX> {
    type Value = C::Value;

    #[inline]
    fn parse<R: Read + Seek>(r: &mut R, e: Endian, _: ()) -> BinResult<C::Value> {
        inflate_and_read(r, e, MAX, |r, e, ()| C::parse(r, e, ()))
    }

    #[inline]
    fn write<W: Write + Seek>(v: &C::Value, w: &mut W, e: Endian, _: ()) -> BinResult<()> {
        write_compressed(v, w, e, MAX, |v, w, e| C::write(v, w, e, ()))
    }
}

/// Reads a compressed value: see [`Compressed`].
fn inflate_and_read<R: Read + Seek, T>(
    r: &mut R,
    e: Endian,
    max: u32,
    inner: impl FnOnce(&mut SliceReader<'_>, Endian, ()) -> BinResult<T>,
) -> BinResult<T> {
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
            .map_err(|_| error_at(start, FieldError::Corrupt))?;
        if inflated.len() > max as usize {
            return Err(error_at(start, FieldError::InflateTooBig { max }));
        }
        let mut cursor = SliceReader::new(inflated.as_slice());
        let value = inner(&mut cursor, e, ()).map_err(|err| rebase(err, start))?;
        let used = cursor.position();
        if used != inflated.len() {
            return Err(error_at(
                start,
                FieldError::CompressedLeftover {
                    extra: inflated.len() - used,
                },
            ));
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

/// Encodes a value with `inner`, deflates it and writes it with a varint length (at most `max`
/// bytes before compression).
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
    write_len(w, e, Len::Var, packed.len(), compressed_limit(max))?;
    w.write_all(&packed)?;
    Ok(())
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

/// The error a union reports when no variant's tag matched, or the one variant whose tag
/// matched but whose body failed (binrw tries each variant's magic in turn).
fn variant_error<'e>(
    variant_errors: &'e [(&'static str, binrw::Error)],
) -> Option<&'e binrw::Error> {
    variant_errors
        .iter()
        .map(|(_, e)| e)
        .find(|e| !matches!(e, binrw::Error::BadMagic { .. }))
}

/// The tag a union read when no variant matched (binrw keeps the value read for each magic).
fn unmatched_tag(variant_errors: &[(&'static str, binrw::Error)]) -> u64 {
    variant_errors
        .iter()
        .find_map(|(_, e)| match e {
            binrw::Error::BadMagic { found, .. } => format!("{found:?}").parse().ok(),
            _ => None,
        })
        .unwrap_or(0)
}

/// The value a `#[brw(repr = …)]` enum read when no variant matched, from the message frame
/// binrw adds ("Unexpected value for enum: 5").
fn enum_value(frames: &[binrw::error::BacktraceFrame]) -> Option<u64> {
    frames.iter().find_map(|frame| match frame {
        binrw::error::BacktraceFrame::Message(m) => m
            .strip_prefix("Unexpected value for enum: ")
            .and_then(|v| v.parse().ok()),
        _ => None,
    })
}

/// The innermost cause of a binrw error as a [`FieldError`] with its byte offset.
fn root_cause(err: &binrw::Error, body_len: usize) -> (u64, FieldError) {
    match err {
        binrw::Error::Backtrace(bt) => match (&*bt.error, enum_value(&bt.frames)) {
            // A `repr` enum's unknown value: binrw names it in a message frame.
            (binrw::Error::NoVariantMatch { pos }, Some(tag)) => {
                (*pos, FieldError::UnknownTag { tag })
            }
            _ => root_cause(&bt.error, body_len),
        },
        binrw::Error::Custom { pos, err } => match err.downcast_ref::<FieldError>() {
            Some(e) => (*pos, e.clone()),
            None => (*pos, FieldError::Io(err.to_string())),
        },
        binrw::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            (body_len as u64, FieldError::Eof)
        }
        binrw::Error::Io(io) => (0, FieldError::Io(io.to_string())),
        binrw::Error::EnumErrors {
            pos,
            variant_errors,
        } => match variant_error(variant_errors) {
            Some(inner) => root_cause(inner, body_len),
            None => (
                *pos,
                FieldError::UnknownTag {
                    tag: unmatched_tag(variant_errors),
                },
            ),
        },
        binrw::Error::BadMagic { pos, .. }
        | binrw::Error::AssertFail { pos, .. }
        | binrw::Error::NoVariantMatch { pos } => (*pos, FieldError::Io(err.to_string())),
        other => (0, FieldError::Io(other.to_string())),
    }
}

/// The field a binrw context frame names: ours ([`FieldName`]) or the derive's ("While parsing
/// field 'x' in T"; a newtype variant's `self_0` is no field of the spec).
fn frame_field(frame: &binrw::error::BacktraceFrame) -> Option<&str> {
    match frame {
        binrw::error::BacktraceFrame::Custom(c) => c.downcast_ref::<FieldName>().map(|f| f.0),
        binrw::error::BacktraceFrame::Full { message, .. } => message
            .strip_prefix("While parsing field '")
            .and_then(|rest| rest.split('\'').next())
            .filter(|name| !name.starts_with("self_")),
        _ => None,
    }
}

/// Field names on a binrw error's path, innermost first.
fn collect_path<'e>(err: &'e binrw::Error, names: &mut Vec<&'e str>) {
    match err {
        binrw::Error::Backtrace(bt) => {
            collect_path(&bt.error, names);
            names.extend(bt.frames.iter().filter_map(frame_field));
        }
        binrw::Error::EnumErrors { variant_errors, .. } => {
            if let Some(inner) = variant_error(variant_errors) {
                collect_path(inner, names);
            }
        }
        _ => {}
    }
}

/// The field path of a binrw error, outermost first.
fn field_path(err: &binrw::Error) -> Option<String> {
    let mut names = Vec::new();
    collect_path(err, &mut names);
    names.reverse();
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
pub fn decode_body<T>(packet: &'static str, body: &[u8]) -> Result<T, DecodeError>
where
    T: for<'a> BinRead<Args<'a> = ()>,
{
    let mut cursor = SliceReader::new(body);
    // Generated types declare their byte order (`#[brw(big)]`), so the endian passed here is
    // not looked at.
    let value = T::read_options(&mut cursor, Endian::Big, ())
        .map_err(|err| decode_error(packet, &err, body.len()))?;
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
/// Like `std::io::Cursor<&[u8]>`, but `read_exact` is an inlined bounds check and copy, so once
/// binrw's generated readers are inlined the codecs' one- and two-byte reads cost no more than
/// indexing the slice. The state is the slice and one index (`pos <= buf.len()`): a read updates
/// one word, which matters when the reader lives on the stack between out-of-line calls.
#[derive(Debug, Clone)]
pub struct SliceReader<'a> {
    /// The whole input.
    buf: &'a [u8],
    /// Bytes consumed so far (never past `buf.len()`).
    pos: usize,
}

impl<'a> SliceReader<'a> {
    /// A reader at the start of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        SliceReader { buf, pos: 0 }
    }

    /// Bytes read so far.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Read for SliceReader<'_> {
    #[inline]
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = out.len().min(rest.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }

    #[inline]
    fn read_exact(&mut self, out: &mut [u8]) -> std::io::Result<()> {
        // `pos <= buf.len()` and a slice is at most `isize::MAX` bytes: the sum cannot overflow.
        let end = self.pos.wrapping_add(out.len());
        match self.buf.get(self.pos..end) {
            Some(src) => {
                out.copy_from_slice(src);
                self.pos = end;
                Ok(())
            }
            None => {
                self.pos = self.buf.len();
                Err(std::io::ErrorKind::UnexpectedEof.into())
            }
        }
    }
}

impl Seek for SliceReader<'_> {
    #[inline]
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => (self.pos as u64).checked_add_signed(d),
            SeekFrom::End(d) => (self.buf.len() as u64).checked_add_signed(d),
        };
        let at = target
            .and_then(|t| usize::try_from(t).ok())
            .ok_or(std::io::ErrorKind::InvalidInput)?;
        // Past the end reads nothing, as with `Cursor`.
        self.pos = at.min(self.buf.len());
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
pub fn encode_body<T>(value: &T, packet: &'static str, out: &mut Vec<u8>) -> Result<(), EncodeError>
where
    T: for<'a> BinWrite<Args<'a> = ()> + ?Sized,
{
    // Generated types declare their byte order (`#[brw(big)]`): the endian passed is not used.
    value
        .write_options(&mut VecSink::new(out), Endian::Big, ())
        .map_err(|err| {
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
    write: impl FnOnce(&mut VecSink<'_>) -> BinResult<()>,
) -> Result<(), EncodeError> {
    write(&mut VecSink::new(out)).map_err(|err| {
        let err = in_field(err, field_name);
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
    read: impl FnOnce(&mut SliceReader<'_>) -> BinResult<T>,
) -> Result<T, DecodeError> {
    read(&mut SliceReader::new(body)).map_err(|err| decode_error(packet, &err, body.len()))
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
            assert_eq!(VarU32::parse(&mut r, Endian::Big, ()).expect("valid"), want);
            assert_eq!(r.position(), bytes.len());
        }
        for bad in [
            &[0xff, 0xff, 0xff, 0xff, 0x10][..],
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
        ] {
            let err =
                VarU32::parse(&mut SliceReader::new(bad), Endian::Big, ()).expect_err("too wide");
            assert!(matches!(
                root_cause(&err, bad.len()).1,
                FieldError::VarintOverflow { bits: 32 }
            ));
        }
        assert!(VarU32::parse(&mut SliceReader::new(&[0x80]), Endian::Big, ()).is_err());
    }

    #[test]
    fn a_packet_read_with_little_endian_keeps_its_declared_big_endian_layout() {
        use crate::v1::handshake::ClientHello;
        let body = [
            b'T', b'G', b'M', b'E', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x01, 0x02,
        ];
        let hello = ClientHello::read_options(&mut std::io::Cursor::new(&body), Endian::Little, ())
            .expect("a whole ClientHello");
        assert_eq!((hello.protocol_version, hello.spec_hash), (1, 0x0102));
        let mut out = Vec::new();
        hello
            .write_options(&mut binrw::io::NoSeek::new(&mut out), Endian::Little, ())
            .expect("encodes");
        assert_eq!(out, body, "written big-endian whatever the caller asks");
        // A wrong magic is still the typed error, at byte 0.
        let mut bad = body;
        bad[0] = b'X';
        let err = ClientHello::read_options(&mut std::io::Cursor::new(&bad), Endian::Little, ())
            .expect_err("bad magic");
        assert_eq!(field_path(&err).as_deref(), Some("magic"));
        assert!(matches!(
            root_cause(&err, bad.len()),
            (0, FieldError::BadMagic { .. })
        ));
    }
}
