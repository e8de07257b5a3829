//! A Wireshark dissector (Lua plugin) generated from a spec.
//!
//! Reading a capture of the game by hand means counting varints. This module emits one Lua file
//! that Wireshark loads as a plugin: it registers on a TCP port (a preference, default
//! [`DEFAULT_PORT`]), reassembles frames across TCP segments (`desegment_offset` /
//! `desegment_len`), splits `[length: VarU32][packet id: u8][body]` frames, and decodes every
//! body with one ProtoField per spec field, so that display filters such as
//! `tilegame.play.snapshot.tick > 100` work. Varints, zigzag, strings, lists, arrays, options
//! (presence bytes and presence masks), unions, magic, enums (value strings) and flags (bit
//! fields) are decoded; compressed blobs are shown as their bytes with their length, not
//! inflated. Bounds from the spec are checked and a violation is flagged as a malformed packet.
//!
//! **Connection state.** A packet id only means something within a connection state, and a
//! stateless dissector cannot know the state of a frame in the middle of a capture. The
//! direction comes from the port (to the server port = `to_server`). The state comes from a
//! preference, "Connection state": a fixed state decodes every frame as that state's packet;
//! the default, "Auto", trial-decodes the body as the packet with that id in *every* state and
//! keeps the candidates that decode without error and consume the body exactly. One fit is shown
//! as the packet; several fits (or none) show the raw body plus one subtree per candidate,
//! marked as fitting or not, and the info column lists the candidates with a `?`. Magic values,
//! bounds and exact lengths make most frames unambiguous in practice.
//!
//! The emitted Lua only uses the Wireshark Lua API available since 3.x (Lua 5.1–5.4 syntax, no
//! bitwise operators: 64-bit values go through `UInt64`/`Int64`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::hash::spec_hash;
use crate::model::{Direction, Endian, Field, IntTy, LenTy, Protocol, Ty, TypeDef};
use crate::names::to_snake_case;
use crate::parse::SpecFile;
use crate::span::Spanned;
use crate::wire;

/// The TCP port the dissector registers on unless told otherwise.
pub const DEFAULT_PORT: u16 = 35000;

/// Emits the Lua dissector for `spec`, registered on TCP `port`.
pub fn generate(spec: &SpecFile, port: u16) -> String {
    let p = &spec.protocol;
    let mut g = Gen {
        p,
        proto: lua_ident(&p.name),
        fields: String::new(),
        keys: BTreeSet::new(),
    };
    let mut decoders = String::new();

    // Shared structs and unions get one decoder each; enums and flags are decoded at each use.
    for def in &p.types {
        let tkey = format!("type.{}", to_snake_case(def.name()));
        match &**def {
            TypeDef::Struct {
                presence, fields, ..
            } => {
                let body = g.body(&tkey, fields, *presence);
                let _ = writeln!(decoders, "TYPES[{}] = {body}", lua_str(def.name()));
            }
            TypeDef::Union { tag, variants, .. } => {
                let tag_key = format!("{tkey}.tag");
                let vs = tag_vs(*tag, def.name());
                g.field(
                    &tag_key,
                    "tag",
                    &format!("Tag of {}", def.name()),
                    &uint_ctor(*tag, "base.DEC", &vs),
                );
                let mut arms = String::new();
                for v in variants {
                    let vkey = format!("{tkey}.{}", to_snake_case(&v.name));
                    let body = g.body(&vkey, &v.fields, v.presence);
                    let _ = write!(
                        arms,
                        "\n  [{}] = {{ name = {}, dec = {body} }},",
                        v.value,
                        lua_str(&v.name)
                    );
                }
                let _ = writeln!(
                    decoders,
                    "TYPES[{}] = union(F[{}], {}, {}, {{{arms}\n}}, {})",
                    lua_str(def.name()),
                    lua_str(&tag_key),
                    tag.bits() / 8,
                    lua_bool(p.endian == Endian::Little),
                    lua_str(def.name()),
                );
            }
            TypeDef::Enum { .. } | TypeDef::Flags { .. } => {}
        }
    }

    let mut packets = String::from("local PACKETS = {\n");
    for dir in Direction::ALL {
        let _ = writeln!(packets, "  {} = {{", dir.key());
        for state in &p.states {
            let _ = writeln!(packets, "    {} = {{", lua_str_key(&state.name));
            for pk in state.packets(dir) {
                let key = format!("{}.{}", to_snake_case(&state.name), to_snake_case(&pk.name));
                let body = g.body(&key, &pk.fields, pk.presence);
                let _ = writeln!(
                    packets,
                    "      [0x{:02x}] = {{ name = {}, dec = {} }},",
                    pk.id,
                    lua_str(&pk.name),
                    body.replace('\n', "\n      ")
                );
            }
            packets.push_str("    },\n");
        }
        packets.push_str("  },\n");
    }
    packets.push_str("}\n");

    let mut out = String::new();
    let hash = format!("0x{:016x}", spec_hash(p));
    let _ = writeln!(
        out,
        "-- @generated by tilegame-protocol dissector — do not edit"
    );
    let _ = writeln!(
        out,
        "-- Wireshark dissector for the {} protocol v{} (spec hash {hash}).",
        p.name, p.version
    );
    out.push_str(
        "--\n\
         -- Install: copy this file into Wireshark's personal Lua plugins folder (Help > About >\n\
         -- Folders), or run `wireshark -X lua_script:this_file.lua`.\n\
         -- Frames: [length: VarU32][packet id: u8][body]; length counts the id and the body.\n\
         -- Direction: frames sent to the configured TCP port are client-to-server.\n\
         -- State: a packet id is only meaningful within a connection state, which a stateless\n\
         -- dissector cannot know. Preference \"Connection state\" picks one; \"Auto\" (default)\n\
         -- trial-decodes the body in every state, shows the packet when exactly one state fits,\n\
         -- and otherwise shows the raw body with one subtree per candidate state.\n\
         -- Compressed values are shown as bytes with their length (not inflated).\n\n",
    );
    let _ = writeln!(
        out,
        "local proto = Proto({}, {})",
        lua_str(&g.proto),
        lua_str(&format!("{} protocol v{}", p.name, p.version))
    );
    let _ = writeln!(out, "local PROTOCOL_VERSION = {}", p.version);
    let _ = writeln!(out, "local SPEC_HASH = {}", lua_str(&hash));
    let _ = writeln!(out, "local MAX_FRAME = {}", p.max_frame);
    let states: Vec<String> = p.states.iter().map(|s| lua_str(&s.name)).collect();
    let _ = writeln!(out, "local STATE_NAMES = {{ {} }}", states.join(", "));
    let mut choices = vec![r#"{ 1, "Auto (try every state)", 0 }"#.to_owned()];
    for (i, s) in p.states.iter().enumerate() {
        choices.push(format!("{{ {}, {}, {} }}", i + 2, lua_str(&s.name), i + 1));
    }
    let _ = writeln!(out, "local STATE_CHOICES = {{ {} }}", choices.join(", "));
    let _ = writeln!(
        out,
        "proto.prefs.port = Pref.uint(\"TCP port\", {port}, \"TCP port the server listens on\")"
    );
    out.push_str(
        "proto.prefs.state = Pref.enum(\"Connection state\", 0,\n  \
         \"Decode every frame as this state's packet; Auto tries every state\", STATE_CHOICES, false)\n\n",
    );
    out.push_str(RUNTIME);
    out.push_str("\n-- Value strings of the spec's enums and unions.\nlocal VS = {}\n");
    for def in &p.types {
        match &**def {
            TypeDef::Enum { variants, .. } => {
                let names: Vec<(u64, &str)> = variants
                    .iter()
                    .map(|v| (v.value, v.name.as_str()))
                    .collect();
                let _ = writeln!(out, "VS[{}] = {}", lua_str(def.name()), value_table(&names));
            }
            TypeDef::Union { variants, .. } => {
                let names: Vec<(u64, &str)> = variants
                    .iter()
                    .map(|v| (v.value, v.name.as_str()))
                    .collect();
                let _ = writeln!(out, "VS[{}] = {}", lua_str(def.name()), value_table(&names));
            }
            _ => {}
        }
    }
    out.push_str("\n-- One ProtoField per spec field (display filter names).\n");
    out.push_str("local F, FIELD_LIST = {}, {}\n");
    out.push_str(
        "local function field(key, pf) F[key] = pf; FIELD_LIST[#FIELD_LIST + 1] = pf end\n",
    );
    let _ = writeln!(
        out,
        "field(\"length\", ProtoField.uint32(\"{0}.length\", \"Length\", base.DEC, nil, nil, \"Bytes of packet id and body\"))\n\
         field(\"id\", ProtoField.uint8(\"{0}.id\", \"Packet id\", base.HEX))\n\
         field(\"body\", ProtoField.bytes(\"{0}.body\", \"Body\"))",
        g.proto
    );
    out.push_str(&g.fields);
    out.push_str(
        "proto.fields = FIELD_LIST\n\n-- Decoders of the shared structs and unions.\nTYPES = {}\n",
    );
    out.push_str(&decoders);
    out.push_str("\n-- PACKETS[direction][state][id] = { name, dec }\n");
    out.push_str(&packets);
    out.push('\n');
    out.push_str(FRAMING);
    out
}

struct Gen<'a> {
    p: &'a Protocol,
    proto: String,
    fields: String,
    keys: BTreeSet<String>,
}

impl Gen<'_> {
    /// Declares a ProtoField once under `key` (abbreviation `proto.key`).
    fn field(&mut self, key: &str, label: &str, doc: &str, ctor: &str) {
        if self.keys.insert(key.to_owned()) {
            let abbr = lua_str(&format!("{}.{key}", self.proto));
            let ctor = ctor
                .replace("$ABBR", &abbr)
                .replace("$NAME", &lua_str(label))
                .replace("$DESC", &lua_str(doc));
            let _ = writeln!(self.fields, "field({}, {ctor})", lua_str(key));
        }
    }

    /// A `body(...)` decoder for a field list; `prefix` is the key of the enclosing item.
    fn body(&mut self, prefix: &str, fields: &[Spanned<Field>], presence: bool) -> String {
        let options = fields
            .iter()
            .filter(|f| matches!(f.ty, Ty::Option(_)))
            .count();
        let mask = if presence {
            wire::presence_width(options).map_or(0, |t| t.bits() / 8)
        } else {
            0
        };
        let mut items = Vec::new();
        for f in fields {
            let key = format!("{prefix}.{}", f.name);
            let little = match f.endian {
                Endian::Little => true,
                Endian::Big => false,
                Endian::Default => self.p.endian == Endian::Little,
            };
            let item = match (&f.ty, mask > 0) {
                (Ty::Option(inner), true) => {
                    let dec = self.decoder(&key, &f.name, &f.doc, inner, little);
                    format!("{{ opt = {}, dec = {dec} }}", lua_str(&f.name))
                }
                _ => format!(
                    "{{ dec = {} }}",
                    self.decoder(&key, &f.name, &f.doc, &f.ty, little)
                ),
            };
            items.push(item);
        }
        if items.is_empty() {
            return format!("body({{}}, {mask}, false)");
        }
        format!(
            "body({{\n  {},\n}}, {mask}, {})",
            items.join(",\n  "),
            lua_bool(self.p.endian == Endian::Little)
        )
    }

    /// A decoder expression for one value of `ty`, declaring the ProtoFields it needs.
    fn decoder(&mut self, key: &str, label: &str, doc: &str, ty: &Ty, little: bool) -> String {
        let k = lua_str(key);
        let le = lua_bool(little);
        let fixed = |g: &mut Self, ctor: &str, n: u32| {
            g.field(key, label, doc, ctor);
            format!("fixed(F[{k}], {n}, {le})")
        };
        match ty {
            Ty::U8 => fixed(
                self,
                "ProtoField.uint8($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                1,
            ),
            Ty::U16 => fixed(
                self,
                "ProtoField.uint16($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                2,
            ),
            Ty::U32 => fixed(
                self,
                "ProtoField.uint32($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                4,
            ),
            Ty::U64 => fixed(
                self,
                "ProtoField.uint64($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                8,
            ),
            Ty::I8 => fixed(
                self,
                "ProtoField.int8($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                1,
            ),
            Ty::I16 => fixed(
                self,
                "ProtoField.int16($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                2,
            ),
            Ty::I32 => fixed(
                self,
                "ProtoField.int32($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                4,
            ),
            Ty::I64 => fixed(
                self,
                "ProtoField.int64($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                8,
            ),
            Ty::F32 => fixed(self, "ProtoField.float($ABBR, $NAME, nil, $DESC)", 4),
            Ty::F64 => fixed(self, "ProtoField.double($ABBR, $NAME, nil, $DESC)", 8),
            Ty::Bool => {
                self.field(
                    key,
                    label,
                    doc,
                    "ProtoField.bool($ABBR, $NAME, base.NONE, nil, nil, $DESC)",
                );
                format!("boolean(F[{k}])")
            }
            Ty::VarU32 | Ty::VarU64 | Ty::VarI32 | Ty::VarI64 => {
                let (ctor, signed, wide) = match ty {
                    Ty::VarU32 => ("uint32", false, false),
                    Ty::VarU64 => ("uint64", false, true),
                    Ty::VarI32 => ("int32", true, false),
                    _ => ("int64", true, true),
                };
                self.field(
                    key,
                    label,
                    doc,
                    &format!("ProtoField.{ctor}($ABBR, $NAME, base.DEC, nil, nil, $DESC)"),
                );
                format!("varint(F[{k}], {}, {})", lua_bool(signed), lua_bool(wide))
            }
            Ty::String { max, len } => {
                self.field(
                    key,
                    label,
                    doc,
                    "ProtoField.string($ABBR, $NAME, nil, $DESC)",
                );
                format!(
                    "blob(F[{k}], {}, {le}, {max}, true, {})",
                    len_kind(*len),
                    lua_str(label)
                )
            }
            Ty::Bytes { max, len } => {
                self.field(
                    key,
                    label,
                    doc,
                    "ProtoField.bytes($ABBR, $NAME, nil, $DESC)",
                );
                format!(
                    "blob(F[{k}], {}, {le}, {max}, false, {})",
                    len_kind(*len),
                    lua_str(label)
                )
            }
            Ty::List { of, max, len } => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                let item = self.decoder(&format!("{key}.item"), "item", doc, of, little);
                format!("list(F[{k}], {}, {le}, {max}, {item})", len_kind(*len))
            }
            Ty::Array { of, len } => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                let item = self.decoder(&format!("{key}.item"), "item", doc, of, little);
                format!("array(F[{k}], {len}, {item})")
            }
            Ty::Option(inner) => {
                let inner = self.decoder(key, label, doc, inner, little);
                format!("option({}, {inner})", lua_str(label))
            }
            Ty::Magic(text) => {
                self.field(
                    key,
                    label,
                    doc,
                    "ProtoField.string($ABBR, $NAME, nil, $DESC)",
                );
                format!("magic(F[{k}], {})", lua_str(text))
            }
            Ty::Compressed { max, .. } => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                let len_key = format!("{key}.length");
                let data_key = format!("{key}.data");
                self.field(
                    &len_key,
                    "compressed length",
                    "Bytes of the zlib stream",
                    "ProtoField.uint32($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                );
                self.field(
                    &data_key,
                    "zlib data",
                    "The zlib stream (not inflated here)",
                    "ProtoField.bytes($ABBR, $NAME, nil, $DESC)",
                );
                format!(
                    "compressed(F[{k}], F[{}], F[{}], {}, {max})",
                    lua_str(&len_key),
                    lua_str(&data_key),
                    wire::compressed_limit(*max)
                )
            }
            Ty::Ref(name) => self.reference(key, label, doc, name, little),
        }
    }

    fn reference(&mut self, key: &str, label: &str, doc: &str, name: &str, little: bool) -> String {
        let k = lua_str(key);
        let le = lua_bool(little);
        let Some(def) = self.p.types.iter().find(|t| t.name() == name) else {
            self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
            return format!("unknown_type({})", lua_str(name));
        };
        match &**def {
            TypeDef::Enum { tag, .. } => {
                let vs = tag_vs(*tag, name);
                self.field(key, label, doc, &uint_ctor(*tag, "base.DEC", &vs));
                format!(
                    "enum(F[{k}], {}, {le}, VS[{}], {})",
                    tag.bits() / 8,
                    lua_str(name),
                    lua_str(name)
                )
            }
            TypeDef::Flags { repr, bits, .. } => {
                self.field(key, label, doc, &uint_ctor(*repr, "base.HEX", "nil"));
                let mut bit_keys = Vec::new();
                let mut known = 0u64;
                for b in bits {
                    known |= 1u64.checked_shl(b.bit).unwrap_or(0);
                    if *repr == IntTy::U64 {
                        continue;
                    }
                    let bkey = format!("{key}.{}", b.name);
                    let mask = 1u64.checked_shl(b.bit).unwrap_or(0);
                    let ctor = format!(
                        "ProtoField.bool($ABBR, $NAME, {}, nil, 0x{mask:x}, $DESC)",
                        repr.bits()
                    );
                    self.field(&bkey, &b.name, &b.doc, &ctor);
                    bit_keys.push(format!("F[{}]", lua_str(&bkey)));
                }
                format!(
                    "flags(F[{k}], {{ {} }}, {}, {le}, UInt64.fromhex(\"{known:016x}\"), {})",
                    bit_keys.join(", "),
                    repr.bits() / 8,
                    lua_str(name)
                )
            }
            TypeDef::Struct { .. } | TypeDef::Union { .. } => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                format!("sub(F[{k}], ref({}))", lua_str(name))
            }
        }
    }
}

fn uint_ctor(ty: IntTy, base: &str, vs: &str) -> String {
    format!(
        "ProtoField.uint{}($ABBR, $NAME, {base}, {vs}, nil, $DESC)",
        ty.bits()
    )
}

/// The value string of a tag's ProtoField (Wireshark's value strings are 32-bit).
fn tag_vs(ty: IntTy, type_name: &str) -> String {
    if ty == IntTy::U64 {
        "nil".to_owned()
    } else {
        format!("VS[{}]", lua_str(type_name))
    }
}

fn value_table(names: &[(u64, &str)]) -> String {
    let entries: Vec<String> = names
        .iter()
        .map(|(v, n)| format!("[{v}] = {}", lua_str(n)))
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

fn len_kind(len: LenTy) -> &'static str {
    match len {
        LenTy::Var => "\"var\"",
        LenTy::U8 => "1",
        LenTy::U16 => "2",
        LenTy::U32 => "4",
    }
}

fn lua_bool(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// A Lua string literal.
fn lua_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\{:03}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A table key: a bare name where Lua allows one.
fn lua_str_key(name: &str) -> String {
    format!("[{}]", lua_str(name))
}

/// A protocol name Wireshark accepts as a filter prefix.
fn lua_ident(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "protocol".to_owned()
    } else {
        s
    }
}

/// Decoder combinators: each returns `function(buf, off, tree) -> next offset`.
const RUNTIME: &str = r#"-- Errors raised while decoding a body; anything else is a bug in this file.
local function fail(fmt, ...)
  error({ tilegame = string.format(fmt, ...) }, 0)
end

-- A tree stand-in for trial decoding: every method call is accepted and returns it again.
local NULL = {}
local function null_method() return NULL end
setmetatable(NULL, { __index = function() return null_method end })

local function need(buf, off, n)
  if off + n > buf:len() then
    fail("truncated: %d byte(s) needed at offset %d, frame has %d", n, off, buf:len())
  end
end

-- LEB128; returns the value as UInt64 and the number of bytes read.
local function read_varint(buf, off, max_bytes)
  local value = UInt64(0)
  for i = 0, max_bytes - 1 do
    need(buf, off + i, 1)
    local b = buf(off + i, 1):uint()
    value = value:bor(UInt64(b % 128):lshift(7 * i))
    if b < 128 then return value, i + 1 end
  end
  fail("varint at offset %d is longer than %d bytes", off, max_bytes)
end

local U32_MAX = UInt64(4294967295)

-- kind: "var" or the prefix width in bytes.
local function read_len(buf, off, kind, le)
  if kind == "var" then
    local v, n = read_varint(buf, off, 5)
    if v > U32_MAX then fail("length at offset %d exceeds u32", off) end
    return v:tonumber(), n
  end
  need(buf, off, kind)
  local r = buf(off, kind)
  if le then return r:le_uint(), kind end
  return r:uint(), kind
end

local function fixed(f, n, le)
  return function(buf, off, tree)
    need(buf, off, n)
    if le then tree:add_le(f, buf(off, n)) else tree:add(f, buf(off, n)) end
    return off + n
  end
end

local function boolean(f)
  return function(buf, off, tree)
    need(buf, off, 1)
    tree:add(f, buf(off, 1))
    local v = buf(off, 1):uint()
    if v > 1 then fail("bool at offset %d is %d, not 0 or 1", off, v) end
    return off + 1
  end
end

local function varint(f, signed, wide)
  return function(buf, off, tree)
    local v, n = read_varint(buf, off, wide and 10 or 5)
    if not wide and v > U32_MAX then fail("varint at offset %d exceeds 32 bits", off) end
    local value = v
    if signed then
      local half = v:rshift(1)
      value = Int64(half:lower(), half:higher())
      if v:band(1):tonumber() == 1 then value = -value - 1 end
    end
    if not wide then value = value:tonumber() end
    tree:add(f, buf(off, n), value)
    return off + n
  end
end

local function blob(f, kind, le, max, utf8, name)
  return function(buf, off, tree)
    local len, n = read_len(buf, off, kind, le)
    if len > max then fail("%s: length %d exceeds the maximum %d", name, len, max) end
    need(buf, off + n, len)
    if utf8 then
      local text = ""
      if len > 0 then text = buf(off + n, len):string(ENC_UTF_8) end
      tree:add(f, buf(off, n + len), text)
    elseif len > 0 then
      tree:add(f, buf(off + n, len)):append_text(string.format(" (%d bytes)", len))
    else
      tree:add(buf(off, n), name .. ": (empty)")
    end
    return off + n + len
  end
end

local function list(f, kind, le, max, item)
  return function(buf, off, tree)
    local count, n = read_len(buf, off, kind, le)
    if count > max then fail("list: %d items exceed the maximum %d", count, max) end
    local sub = tree:add(f, buf(off, n))
    sub:append_text(string.format(" (%d items)", count))
    local pos = off + n
    for _ = 1, count do pos = item(buf, pos, sub) end
    sub:set_len(pos - off)
    return pos
  end
end

local function array(f, len, item)
  return function(buf, off, tree)
    local sub = tree:add(f, buf(off, 0))
    local pos = off
    for _ = 1, len do pos = item(buf, pos, sub) end
    sub:set_len(pos - off)
    return pos
  end
end

-- An option with its own presence byte (0 = absent, 1 = present).
local function option(name, inner)
  return function(buf, off, tree)
    need(buf, off, 1)
    local flag = buf(off, 1):uint()
    if flag == 0 then
      tree:add(buf(off, 1), name .. ": absent")
      return off + 1
    end
    if flag ~= 1 then fail("%s: presence byte is %d, not 0 or 1", name, flag) end
    return inner(buf, off + 1, tree)
  end
end

local function magic(f, text)
  return function(buf, off, tree)
    need(buf, off, #text)
    tree:add(f, buf(off, #text))
    local got = buf(off, #text):raw()
    if got ~= text then fail("magic is %q, expected %q", got, text) end
    return off + #text
  end
end

local function compressed(f, f_len, f_data, limit, max)
  return function(buf, off, tree)
    local len, n = read_len(buf, off, "var", false)
    if len > limit then fail("compressed length %d exceeds the limit %d", len, limit) end
    need(buf, off + n, len)
    local item = tree:add(f, buf(off, n + len))
    item:append_text(string.format(" (%d zlib bytes, inflating to at most %d)", len, max))
    item:add(f_len, buf(off, n), len)
    if len > 0 then item:add(f_data, buf(off + n, len)) end
    return off + n + len
  end
end

local function read_tag(buf, off, n, le)
  need(buf, off, n)
  local r = buf(off, n)
  if le then return r, r:le_uint64() end
  return r, r:uint64()
end

local function enum(f, n, le, names, type_name)
  return function(buf, off, tree)
    local r, v = read_tag(buf, off, n, le)
    if le then tree:add_le(f, r) else tree:add(f, r) end
    if names[v:tonumber()] == nil then fail("unknown %s value %s", type_name, tostring(v)) end
    return off + n
  end
end

local function flags(f, bit_fields, n, le, known, type_name)
  return function(buf, off, tree)
    local r, v = read_tag(buf, off, n, le)
    local item
    if le then item = tree:add_le(f, r) else item = tree:add(f, r) end
    for _, bf in ipairs(bit_fields) do
      if le then item:add_le(bf, r) else item:add(bf, r) end
    end
    if v:band(known:bnot()) ~= UInt64(0) then item:append_text(" (unknown " .. type_name .. " bits set)") end
    return off + n
  end
end

local TYPES -- filled in below; ref() looks names up when it runs
local function ref(name)
  return function(buf, off, tree) return TYPES[name](buf, off, tree) end
end

local function unknown_type(name)
  return function() fail("type %s is not declared in the spec", name) end
end

-- A subtree for a struct or union value.
local function sub(f, dec)
  return function(buf, off, tree)
    local item = tree:add(f, buf(off, 0))
    local stop = dec(buf, off, item)
    item:set_len(stop - off)
    return stop
  end
end

-- A field list: fields = { { dec = d } or { opt = name, dec = d } }; mask_bytes > 0 means a
-- presence mask precedes the fields and `opt` fields are present when their bit is set.
local function body(fields, mask_bytes, le)
  return function(buf, off, tree)
    local mask, bit = nil, 0
    if mask_bytes > 0 then
      local r
      r, mask = read_tag(buf, off, mask_bytes, le)
      tree:add(r, "Presence mask: 0x" .. mask:tohex(mask_bytes * 2))
      off = off + mask_bytes
    end
    for _, fd in ipairs(fields) do
      if mask ~= nil and fd.opt ~= nil then
        if mask:rshift(bit):band(1):tonumber() == 1 then
          off = fd.dec(buf, off, tree)
        else
          tree:add(buf(off, 0), fd.opt .. ": absent")
        end
        bit = bit + 1
      else
        off = fd.dec(buf, off, tree)
      end
    end
    return off
  end
end

local function union(tag_f, n, le, variants, type_name)
  return function(buf, off, tree)
    local r, tag = read_tag(buf, off, n, le)
    if le then tree:add_le(tag_f, r) else tree:add(tag_f, r) end
    local v = variants[tag:tonumber()]
    if v == nil then fail("unknown %s tag %s", type_name, tostring(tag)) end
    tree:append_text(": " .. v.name)
    return v.dec(buf, off + n, tree)
  end
end
"#;

/// Frame splitting, TCP reassembly, state selection and registration.
const FRAMING: &str = r#"local E_MALFORMED = ProtoExpert.new(proto.name .. ".malformed", "Malformed frame",
  expert.group.MALFORMED, expert.severity.ERROR)
local E_AMBIGUOUS = ProtoExpert.new(proto.name .. ".ambiguous", "Packet id is ambiguous without the connection state",
  expert.group.PROTOCOL, expert.severity.NOTE)
proto.experts = { E_MALFORMED, E_AMBIGUOUS }

-- The frame length prefix; returns nil, 0 when more bytes are needed and nil, -1 when malformed.
local function peek_len(tvb, off)
  local value, mult = 0, 1
  for i = 0, 4 do
    if off + i >= tvb:len() then return nil, 0 end
    local b = tvb(off + i, 1):uint()
    value = value + (b % 128) * mult
    if b < 128 then return value, i + 1 end
    mult = mult * 128
  end
  return nil, -1
end

-- Decodes frame[off..] as pkt into tree; returns nil on success, else the error message.
local function decode_as(frame, off, pkt, tree)
  local ok, err = pcall(function()
    local stop = pkt.dec(frame, off, tree)
    if stop ~= frame:len() then fail("%d byte(s) left after the body", frame:len() - stop) end
  end)
  if ok then return nil end
  if type(err) == "table" and err.tilegame then return err.tilegame end
  return tostring(err)
end

-- Dissects one whole frame (length prefix included); returns a short summary for the info column.
local function dissect_frame(frame, pinfo, root, dir)
  local len, nlen = peek_len(frame, 0)
  local tree = root:add(proto, frame())
  tree:add(F["length"], frame(0, nlen), len)
  local id = frame(nlen, 1):uint()
  tree:add(F["id"], frame(nlen, 1))
  local body_off = nlen + 1
  local body_len = frame:len() - body_off
  local choice = proto.prefs.state
  local states = STATE_NAMES
  if choice ~= 0 then states = { STATE_NAMES[choice] } end

  local candidates, fits = {}, {}
  for _, state in ipairs(states) do
    local pkt = PACKETS[dir][state][id]
    if pkt ~= nil then
      local c = { state = state, pkt = pkt, err = decode_as(frame, body_off, pkt, NULL) }
      candidates[#candidates + 1] = c
      if c.err == nil then fits[#fits + 1] = c end
    end
  end

  if #candidates == 0 then
    tree:append_text(string.format(", unknown packet id 0x%02x", id))
    if body_len > 0 then tree:add(F["body"], frame(body_off, body_len)) end
    tree:add_proto_expert_info(E_MALFORMED, string.format("no %s packet has id 0x%02x", dir, id))
    return string.format("0x%02x?", id)
  end

  local chosen = nil
  if #candidates == 1 then chosen = candidates[1] elseif #fits == 1 then chosen = fits[1] end
  if chosen ~= nil then
    tree:append_text(string.format(", %s/%s (0x%02x)", chosen.state, chosen.pkt.name, id))
    local err = decode_as(frame, body_off, chosen.pkt, tree)
    if err ~= nil then tree:add_proto_expert_info(E_MALFORMED, err) end
    return chosen.pkt.name
  end

  tree:append_text(string.format(", packet id 0x%02x in one of %d states", id, #candidates))
  tree:add_proto_expert_info(E_AMBIGUOUS)
  if body_len > 0 then tree:add(F["body"], frame(body_off, body_len)) end
  local names = {}
  for _, c in ipairs(candidates) do
    local label = "As " .. c.state .. "/" .. c.pkt.name
    if c.err == nil then label = label .. " (fits)" else label = label .. " (does not fit: " .. c.err .. ")" end
    local sub = tree:add(frame(body_off, body_len), label)
    decode_as(frame, body_off, c.pkt, sub)
    if c.err == nil then names[#names + 1] = c.pkt.name .. "?" end
  end
  if #names == 0 then return string.format("0x%02x (malformed)", id) end
  return table.concat(names, "|")
end

function proto.dissector(tvb, pinfo, root)
  local dir = "to_client"
  if pinfo.dst_port == proto.prefs.port then dir = "to_server" end
  local total = tvb:len()
  local off = 0
  local summaries = {}
  while off < total do
    local len, nlen = peek_len(tvb, off)
    if len == nil and nlen == 0 then
      pinfo.desegment_offset = off
      pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
      break
    end
    if len == nil or len == 0 or len > MAX_FRAME then
      local item = root:add(proto, tvb(off, total - off))
      item:add_proto_expert_info(E_MALFORMED, "bad frame length (0, over 5 bytes, or over " .. MAX_FRAME .. ")")
      off = total
      break
    end
    if off + nlen + len > total then
      pinfo.desegment_offset = off
      pinfo.desegment_len = off + nlen + len - total
      break
    end
    summaries[#summaries + 1] = dissect_frame(tvb(off, nlen + len):tvb(), pinfo, root, dir)
    off = off + nlen + len
  end
  if #summaries > 0 then
    pinfo.cols.protocol = proto.name
    local arrow = "S->C "
    if dir == "to_server" then arrow = "C->S " end
    pinfo.cols.info = arrow .. table.concat(summaries, ", ")
  end
  return total
end

local tcp_port = DissectorTable.get("tcp.port")
local registered_port = proto.prefs.port
tcp_port:add(registered_port, proto)

function proto.prefs_changed()
  if registered_port ~= proto.prefs.port then
    tcp_port:remove(registered_port, proto)
    registered_port = proto.prefs.port
    tcp_port:add(registered_port, proto)
  end
end
"#;
