//! A Wireshark dissector (Lua plugin) generated from a spec.
//!
//! Reading a capture of the game by hand means counting varints. This module emits one Lua file
//! that Wireshark (or tshark, `-X lua_script:FILE`) loads as a plugin. It is generated from the
//! resolved layout ([`crate::layout`]), so it decodes exactly what the Rust code encodes.
//!
//! - **Registration**: on the TCP port preference (default [`DEFAULT_PORT`]), and as a heuristic
//!   on TCP that recognises a connection by its first frame (the first state's first client
//!   packet, when it starts with a magic) and claims the whole conversation. However TCP cut
//!   that frame, the heuristic asks for the rest of it while the bytes so far begin it (its
//!   length prefix, id and magic when its size is fixed) and decides on the whole frame.
//! - **Framing**: reassembles frames across TCP segments (`desegment_offset`/`desegment_len`) and
//!   splits several frames per segment: `[length: VarU32][packet id: u8][body]`.
//! - **State**: each TCP conversation (keyed by its endpoints from `pinfo`, which every pass
//!   fills, not by tree fields, which tshark's tree-less first pass of `-2` leaves empty) has
//!   its own state machine. It starts in the first state
//!   and moves on when the server sends the packet that enters the next state (derived from the
//!   spec, see [`crate::layout`]: e.g. handshake → login → map transfer → play). The state of
//!   every frame is remembered on the first pass, so re-dissection (filters, the GUI) names each
//!   frame the same way. Nothing is guessed: a packet id unknown in its state is malformed.
//! - **Fields**: one ProtoField per spec field, added only for the packet actually decoded, so
//!   `tilegame.map_transfer.map_begin.width` matches MapBegin frames only. Varints, zigzag,
//!   strings, lists, arrays, options (presence bytes and masks), unions, magic, enums (value
//!   strings) and flags (bit fields) are decoded; compressed values are inflated
//!   (`TvbRange:uncompress`) and their contents dissected. Hashes, checksums, ids and colours
//!   show in hex (with decimal). Bounds are checked; a violation is flagged malformed.
//! - **Info column**: `C->S`/`S->C` and the packet names of the frame, comma-separated.
//!
//! The emitted Lua uses the Wireshark Lua API of 3.x and 4.x (Lua 5.1–5.4 syntax, no bitwise
//! operators: 64-bit values go through `UInt64`/`Int64`).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::hash::spec_hash;
use crate::layout::{self, Body, Display, Encoding, Int, Layout, Prefix, TypeLayout};
use crate::model::Direction;
use crate::names::to_snake_case;
use crate::parse::SpecFile;

/// The TCP port the dissector registers on unless told otherwise.
pub const DEFAULT_PORT: u16 = 35000;

/// Emits the Lua dissector for `spec`, registered on TCP `port` and as a TCP heuristic.
pub fn generate(spec: &SpecFile, port: u16) -> String {
    let p = &spec.protocol;
    let l = layout::resolve(p);
    let mut g = Gen {
        l: &l,
        proto: lua_ident(&p.name),
        fields: String::new(),
        keys: BTreeSet::new(),
    };
    let mut decoders = String::new();

    // Shared structs and unions get one decoder each; enums and flags are decoded at each use.
    for def in &l.types {
        let tkey = format!("type.{}", to_snake_case(&def.name));
        match &def.def {
            TypeLayout::Struct(body) => {
                let body = g.body(&tkey, body);
                let _ = writeln!(decoders, "TYPES[{}] = {body}", lua_str(&def.name));
            }
            TypeLayout::Union { tag, variants } => {
                let tag_key = format!("{tkey}.tag");
                g.field(
                    &tag_key,
                    "tag",
                    &format!("Tag of {}", def.name),
                    &uint_ctor(*tag, "base.DEC", &tag_vs(*tag, &def.name)),
                );
                let mut arms = String::new();
                for v in variants {
                    let vkey = format!("{tkey}.{}", to_snake_case(&v.name));
                    let body = g.body(&vkey, &v.body);
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
                    lua_str(&def.name),
                    lua_str(&tag_key),
                    tag.bytes,
                    lua_bool(tag.little),
                    lua_str(&def.name),
                );
            }
            TypeLayout::Enum { .. } | TypeLayout::Flags { .. } => {}
        }
    }

    let mut packets = String::from("local PACKETS = {\n");
    for dir in Direction::ALL {
        let _ = writeln!(packets, "  {} = {{", dir.key());
        for (index, state) in l.states.iter().enumerate() {
            let _ = writeln!(packets, "    [{}] = {{ -- {}", index + 1, state.name);
            for pk in state.packets(dir) {
                let key = format!("{}.{}", state.module, to_snake_case(&pk.name));
                let body = g.body(&key, &pk.body);
                let next = pk
                    .next_state
                    .map_or_else(|| "nil".to_owned(), |n| (n + 1).to_string());
                let _ = writeln!(
                    packets,
                    "      [0x{:02x}] = {{ name = {}, next = {next}, dec = {} }},",
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

    // The heuristic recognises a connection by the magic that opens its first client packet.
    let hello = l.states.first().and_then(|s| s.to_server.first());
    let hello_magic = hello
        .map(|pk| (pk.id, pk.body.fields.first()))
        .and_then(|(id, f)| match f.map(|f| &f.encoding) {
            Some(Encoding::Magic(text)) => Some((id, text.clone())),
            _ => None,
        });
    // When the opening packet has a fixed size, its whole head is known: length prefix, id,
    // magic. The heuristic matches it however few of its bytes a segment holds.
    let hello_len = hello.and_then(|pk| match l.body_size(&pk.body) {
        (min, Some(max)) if min == max => Some(min + 1),
        _ => None,
    });

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
    let transitions: Vec<String> = l
        .states
        .iter()
        .flat_map(|s| s.to_client.iter().map(move |pk| (s, pk)))
        .filter_map(|(s, pk)| {
            pk.next_state
                .and_then(|n| l.states.get(n))
                .map(|n| format!("{} --{}--> {}", s.name, pk.name, n.name))
        })
        .collect();
    out.push_str(
        "--\n\
         -- Install: copy this file into Wireshark's personal Lua plugins folder (Help > About >\n\
         -- Folders), or run `wireshark -X lua_script:this_file.lua` (tshark likewise).\n\
         -- Frames: [length: VarU32][packet id: u8][body]; length counts the id and the body.\n\
         -- Found on the TCP port preference, or by the heuristic on any port (a connection that\n\
         -- opens with the first client packet's magic). Frames sent to the server's port are\n\
         -- client-to-server.\n\
         -- State: tracked per TCP conversation from its first frame; the server's packets move it on:\n",
    );
    for t in &transitions {
        let _ = writeln!(out, "--   {t}");
    }
    out.push_str("-- Compressed values are inflated and their contents dissected.\n\n");
    let _ = writeln!(
        out,
        "local proto = Proto({}, {})",
        lua_str(&g.proto),
        lua_str(&format!("{} protocol v{}", p.name, p.version))
    );
    let _ = writeln!(out, "local PROTOCOL_VERSION = {}", p.version);
    let _ = writeln!(out, "local SPEC_HASH = {}", lua_str(&hash));
    let _ = writeln!(out, "local MAX_FRAME = {}", p.max_frame);
    let states: Vec<String> = l.states.iter().map(|s| lua_str(&s.name)).collect();
    let _ = writeln!(out, "local STATE_NAMES = {{ {} }}", states.join(", "));
    match &hello_magic {
        Some((id, magic)) => {
            let _ = writeln!(
                out,
                "local HELLO_ID, HELLO_MAGIC = {id}, {}",
                lua_str(magic)
            );
        }
        None => out.push_str("local HELLO_ID, HELLO_MAGIC = nil, nil\n"),
    }
    match (&hello_magic, hello_len) {
        (Some((id, magic)), Some(len)) => {
            let mut head = Vec::new();
            let mut v = len;
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                head.push(if v == 0 { byte } else { byte | 0x80 });
                if v == 0 {
                    break;
                }
            }
            let wire = head.len() as u64 + len;
            head.push(*id);
            head.extend_from_slice(magic.as_bytes());
            let escaped: String = head.iter().map(|b| format!("\\{b:03}")).collect();
            let _ = writeln!(
                out,
                "-- The opening frame: {len} bytes of id and body, {wire} on the wire, starting with HELLO_HEAD.\n\
                 local HELLO_LEN, HELLO_WIRE, HELLO_HEAD = {len}, {wire}, \"{escaped}\""
            );
        }
        _ => out.push_str("local HELLO_LEN, HELLO_WIRE, HELLO_HEAD = nil, nil, nil\n"),
    }
    let _ = writeln!(
        out,
        "proto.prefs.port = Pref.uint(\"TCP port\", {port}, \"TCP port the server listens on\")\n"
    );
    out.push_str(RUNTIME);
    out.push_str("\n-- Value strings of the spec's enums and unions.\nlocal VS = {}\n");
    for def in &l.types {
        let names: Vec<(u64, &str)> = match &def.def {
            TypeLayout::Enum { variants, .. } => {
                variants.iter().map(|v| (v.0, v.1.as_str())).collect()
            }
            TypeLayout::Union { variants, .. } => variants
                .iter()
                .map(|v| (v.value, v.name.as_str()))
                .collect(),
            _ => continue,
        };
        let _ = writeln!(out, "VS[{}] = {}", lua_str(&def.name), value_table(&names));
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
         field(\"state\", ProtoField.string(\"{0}.state\", \"Connection state\"))\n\
         field(\"packet\", ProtoField.string(\"{0}.packet\", \"Packet\"))\n\
         field(\"body\", ProtoField.bytes(\"{0}.body\", \"Body\"))",
        g.proto
    );
    out.push_str(&g.fields);
    out.push_str(
        "proto.fields = FIELD_LIST\n\n-- Decoders of the shared structs and unions.\nTYPES = {}\n",
    );
    out.push_str(&decoders);
    out.push_str(
        "\n-- PACKETS[direction][state index][id] = { name, next = state entered, dec }\n",
    );
    out.push_str(&packets);
    out.push('\n');
    out.push_str(FRAMING);
    out
}

struct Gen<'a> {
    l: &'a Layout,
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
    fn body(&mut self, prefix: &str, body: &Body) -> String {
        let mut items = Vec::new();
        for f in &body.fields {
            let key = format!("{prefix}.{}", f.name);
            let item = match &f.encoding {
                Encoding::Option { of, bit: Some(_) } => {
                    let dec = self.decoder(&key, &f.name, &f.doc, of, f.display);
                    format!("{{ opt = {}, dec = {dec} }}", lua_str(&f.name))
                }
                other => format!(
                    "{{ dec = {} }}",
                    self.decoder(&key, &f.name, &f.doc, other, f.display)
                ),
            };
            items.push(item);
        }
        let (mask, le) = body.mask.map_or((0, false), |m| (m.bytes, m.little));
        if items.is_empty() {
            return format!("body({{}}, {mask}, false)");
        }
        format!(
            "body({{\n  {},\n}}, {mask}, {})",
            items.join(",\n  "),
            lua_bool(le)
        )
    }

    /// A decoder expression for one value, declaring the ProtoFields it needs.
    fn decoder(
        &mut self,
        key: &str,
        label: &str,
        doc: &str,
        e: &Encoding,
        display: Display,
    ) -> String {
        let k = lua_str(key);
        let base = match display {
            Display::Hex => "base.HEX_DEC",
            _ => "base.DEC",
        };
        match e {
            Encoding::Int(i) => {
                let ctor = format!(
                    "ProtoField.{}int{}($ABBR, $NAME, {base}, nil, nil, $DESC)",
                    if i.signed { "" } else { "u" },
                    u32::from(i.bytes) * 8
                );
                self.field(key, label, doc, &ctor);
                format!("fixed(F[{k}], {}, {})", i.bytes, lua_bool(i.little))
            }
            Encoding::Float { bytes, little } => {
                let kind = if *bytes == 4 { "float" } else { "double" };
                self.field(
                    key,
                    label,
                    doc,
                    &format!("ProtoField.{kind}($ABBR, $NAME, nil, $DESC)"),
                );
                format!("fixed(F[{k}], {bytes}, {})", lua_bool(*little))
            }
            Encoding::Bool => {
                self.field(
                    key,
                    label,
                    doc,
                    "ProtoField.bool($ABBR, $NAME, base.NONE, nil, nil, $DESC)",
                );
                format!("boolean(F[{k}])")
            }
            Encoding::Var { signed, wide } => {
                let ctor = match (signed, wide) {
                    (false, false) => "uint32",
                    (false, true) => "uint64",
                    (true, false) => "int32",
                    (true, true) => "int64",
                };
                // Wireshark shows signed integers in decimal only.
                let base = if *signed { "base.DEC" } else { base };
                self.field(
                    key,
                    label,
                    doc,
                    &format!("ProtoField.{ctor}($ABBR, $NAME, {base}, nil, nil, $DESC)"),
                );
                format!("varint(F[{k}], {}, {})", lua_bool(*signed), lua_bool(*wide))
            }
            Encoding::Blob { utf8, max, len } => {
                let ctor = if *utf8 {
                    "ProtoField.string($ABBR, $NAME, nil, $DESC)"
                } else {
                    "ProtoField.bytes($ABBR, $NAME, nil, $DESC)"
                };
                self.field(key, label, doc, ctor);
                let (kind, le) = len_kind(*len);
                format!(
                    "blob(F[{k}], {kind}, {le}, {max}, {}, {})",
                    lua_bool(*utf8),
                    lua_str(label)
                )
            }
            Encoding::List { of, max, len } => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                let item = self.decoder(&format!("{key}.item"), "item", doc, of, display);
                let (kind, le) = len_kind(*len);
                format!("list(F[{k}], {kind}, {le}, {max}, {item})")
            }
            Encoding::Array { of, len } => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                let item = self.decoder(&format!("{key}.item"), "item", doc, of, display);
                format!("array(F[{k}], {len}, {item})")
            }
            // A masked option is handled by its body; this is the presence-byte form.
            Encoding::Option { of, .. } => {
                let inner = self.decoder(key, label, doc, of, display);
                format!("option({}, {inner})", lua_str(label))
            }
            Encoding::Magic(text) => {
                self.field(
                    key,
                    label,
                    doc,
                    "ProtoField.string($ABBR, $NAME, nil, $DESC)",
                );
                format!("magic(F[{k}], {})", lua_str(text))
            }
            Encoding::Compressed { of, max, limit } => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                let len_key = format!("{key}.compressed_length");
                self.field(
                    &len_key,
                    "compressed length",
                    "Bytes of the zlib stream",
                    "ProtoField.uint32($ABBR, $NAME, base.DEC, nil, nil, $DESC)",
                );
                let inner = self.decoder(&format!("{key}.inflated"), label, doc, of, display);
                format!(
                    "compressed(F[{k}], F[{}], {limit}, {max}, {}, {inner})",
                    lua_str(&len_key),
                    lua_str(label)
                )
            }
            Encoding::Named(name) => self.reference(key, label, doc, name),
            Encoding::Unknown(name) => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                format!("unknown_type({})", lua_str(name))
            }
        }
    }

    fn reference(&mut self, key: &str, label: &str, doc: &str, name: &str) -> String {
        let k = lua_str(key);
        let Some(def) = self.l.named(name) else {
            self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
            return format!("unknown_type({})", lua_str(name));
        };
        match &def.def {
            TypeLayout::Enum { tag, .. } => {
                self.field(
                    key,
                    label,
                    doc,
                    &uint_ctor(*tag, "base.DEC", &tag_vs(*tag, name)),
                );
                format!(
                    "enum(F[{k}], {}, {}, VS[{}], {})",
                    tag.bytes,
                    lua_bool(tag.little),
                    lua_str(name),
                    lua_str(name)
                )
            }
            TypeLayout::Flags { repr, bits, known } => {
                self.field(key, label, doc, &uint_ctor(*repr, "base.HEX", "nil"));
                let mut bit_keys = Vec::new();
                for b in bits {
                    if repr.bytes == 8 {
                        continue;
                    }
                    let bkey = format!("{key}.{}", b.name);
                    let ctor = format!(
                        "ProtoField.bool($ABBR, $NAME, {}, nil, 0x{:x}, $DESC)",
                        u32::from(repr.bytes) * 8,
                        b.mask
                    );
                    self.field(&bkey, &b.name, &b.doc, &ctor);
                    bit_keys.push(format!("F[{}]", lua_str(&bkey)));
                }
                format!(
                    "flags(F[{k}], {{ {} }}, {}, {}, UInt64.fromhex(\"{known:016x}\"), {})",
                    bit_keys.join(", "),
                    repr.bytes,
                    lua_bool(repr.little),
                    lua_str(name)
                )
            }
            TypeLayout::Struct(_) | TypeLayout::Union { .. } => {
                self.field(key, label, doc, "ProtoField.none($ABBR, $NAME, $DESC)");
                format!("sub(F[{k}], ref({}))", lua_str(name))
            }
        }
    }
}

fn uint_ctor(ty: Int, base: &str, vs: &str) -> String {
    format!(
        "ProtoField.uint{}($ABBR, $NAME, {base}, {vs}, nil, $DESC)",
        u32::from(ty.bytes) * 8
    )
}

/// The value string of a tag's ProtoField (Wireshark's value strings are 32-bit).
fn tag_vs(ty: Int, type_name: &str) -> String {
    if ty.bytes == 8 {
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

/// A length prefix for the runtime: its kind (`"var"` or the width) and byte order.
fn len_kind(len: Prefix) -> (String, &'static str) {
    match len {
        Prefix::Var => ("\"var\"".to_owned(), "false"),
        Prefix::Fixed(i) => (i.bytes.to_string(), lua_bool(i.little)),
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

-- A zlib stream behind a varint length, inflated (Wireshark's TvbRange:uncompress) and its
-- content dissected in a tab of its own.
local function compressed(f, f_len, limit, max, name, inner)
  return function(buf, off, tree)
    local len, n = read_len(buf, off, "var", false)
    if len > limit then fail("%s: compressed length %d exceeds the limit %d", name, len, limit) end
    need(buf, off + n, len)
    local item = tree:add(f, buf(off, n + len))
    item:add(f_len, buf(off, n), len)
    if len == 0 then fail("%s: empty zlib stream", name) end
    local inflated = buf(off + n, len):uncompress("Inflated " .. name)
    if inflated == nil then fail("%s: the zlib stream does not inflate", name) end
    local itvb = inflated:tvb()
    if itvb:len() > max then fail("%s: inflates to %d bytes, more than %d", name, itvb:len(), max) end
    item:append_text(string.format(" (%d zlib bytes, %d inflated)", len, itvb:len()))
    local stop = inner(itvb, 0, item)
    if stop ~= itvb:len() then
      fail("%s: %d byte(s) left after the inflated value", name, itvb:len() - stop)
    end
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

/// Frame splitting, TCP reassembly, per-conversation state, info column and registration.
const FRAMING: &str = r#"local E_MALFORMED = ProtoExpert.new(proto.name .. ".malformed", "Malformed frame",
  expert.group.MALFORMED, expert.severity.ERROR)
proto.experts = { E_MALFORMED }

-- Per TCP conversation: { state = index into STATE_NAMES, server_port = n }, keyed by the
-- conversation's two endpoints (address and port, the lower first). The key comes from pinfo,
-- which every pass fills, never from tree fields such as tcp.stream: tshark's first pass of
-- `-2` builds no tree, and a field extractor finds nothing there.
local CONVS = {}
-- The state each frame was decoded in on the first pass, by frame number, offset and length,
-- so that re-dissection (display filters, the GUI, tshark's second pass) names every frame the
-- same way.
local FRAME_STATE = {}

function proto.init()
  CONVS = {}
  FRAME_STATE = {}
end

local function conv_key(pinfo)
  local a = tostring(pinfo.src) .. ":" .. tostring(pinfo.src_port)
  local b = tostring(pinfo.dst) .. ":" .. tostring(pinfo.dst_port)
  if a < b then return a .. " " .. b end
  return b .. " " .. a
end

local function conversation(pinfo)
  local key = conv_key(pinfo)
  local conv = CONVS[key]
  if conv == nil then
    conv = { state = 1, server_port = proto.prefs.port }
    CONVS[key] = conv
  end
  return conv
end

-- Whether a whole frame at `off` is the connection's opening packet (id and magic): a client
-- that sends it on a conversation already past its first state reuses the same ports for a
-- new connection, which starts over in the first state.
local function is_hello(tvb, off, nlen, len)
  if HELLO_MAGIC == nil or len < 1 + #HELLO_MAGIC then return false end
  if HELLO_LEN ~= nil and len ~= HELLO_LEN then return false end
  return tvb(off + nlen, 1):uint() == HELLO_ID
    and tvb(off + nlen + 1, #HELLO_MAGIC):raw() == HELLO_MAGIC
end

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

-- Dissects one whole frame (length prefix included) in `state`; returns the packet (or nil)
-- and a short summary for the info column.
local function dissect_frame(frame, root, dir, state)
  local len, nlen = peek_len(frame, 0)
  local tree = root:add(proto, frame())
  tree:add(F["length"], frame(0, nlen), len)
  local id = frame(nlen, 1):uint()
  tree:add(F["id"], frame(nlen, 1))
  local state_name = STATE_NAMES[state] or "?"
  tree:add(F["state"], frame(0, 0), state_name)
  local body_off = nlen + 1
  local body_len = frame:len() - body_off
  local pkt = PACKETS[dir][state] and PACKETS[dir][state][id]
  if pkt == nil then
    tree:append_text(string.format(", %s: unknown packet id 0x%02x", state_name, id))
    if body_len > 0 then tree:add(F["body"], frame(body_off, body_len)) end
    tree:add_proto_expert_info(E_MALFORMED,
      string.format("no %s packet has id 0x%02x in state %s", dir, id, state_name))
    return nil, string.format("%s 0x%02x (unknown)", state_name, id)
  end
  tree:append_text(string.format(", %s/%s (0x%02x)", state_name, pkt.name, id))
  tree:add(F["packet"], frame(nlen, 1), pkt.name)
  local err = decode_as(frame, body_off, pkt, tree)
  if err ~= nil then
    tree:add_proto_expert_info(E_MALFORMED, err)
    return pkt, pkt.name .. " (malformed)"
  end
  return pkt, pkt.name
end

-- The info column of the frame being dissected. TCP calls the dissector once per reassembled
-- piece of a segment and fences the column between calls, so a later call for the same frame
-- appends ", names" instead of setting (which would run into the fenced text).
local INFO = { frame = -1, text = "" }
local function set_info(pinfo, arrow, summaries)
  local text = table.concat(summaries, ", ")
  pinfo.cols.protocol = proto.name
  if INFO.frame == pinfo.number and tostring(pinfo.cols.info) == INFO.text then
    pinfo.cols.info:append(", " .. text)
    text = INFO.text .. ", " .. text
  else
    text = arrow .. text
    pinfo.cols.info = text
  end
  INFO = { frame = pinfo.number, text = text }
end

function proto.dissector(tvb, pinfo, root)
  local conv = conversation(pinfo)
  local dir = "to_client"
  if pinfo.dst_port == conv.server_port then dir = "to_server" end
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
      summaries[#summaries + 1] = "bad frame length"
      off = total
      break
    end
    if off + nlen + len > total then
      pinfo.desegment_offset = off
      pinfo.desegment_len = off + nlen + len - total
      break
    end
    local key = pinfo.number .. ":" .. off .. ":" .. total
    local state = FRAME_STATE[key]
    if state == nil then
      if dir == "to_server" and conv.state ~= 1 and is_hello(tvb, off, nlen, len) then
        conv.state = 1
      end
      state = conv.state
      FRAME_STATE[key] = state
    end
    local pkt, summary = dissect_frame(tvb(off, nlen + len):tvb(), root, dir, state)
    summaries[#summaries + 1] = summary
    -- Only the first pass moves the conversation on; later passes replay FRAME_STATE.
    if not pinfo.visited and pkt ~= nil and pkt.next ~= nil then conv.state = pkt.next end
    off = off + nlen + len
  end
  if #summaries > 0 then
    local arrow = "S->C "
    if dir == "to_server" then arrow = "C->S " end
    set_info(pinfo, arrow, summaries)
  end
  return total
end

-- Heuristic: a conversation that opens with the first client packet (id and magic) is ours,
-- whatever the port; the side that sent it is the client. TCP may deliver that frame in
-- pieces of any size: while the bytes seen so far are a beginning of it, the heuristic asks TCP
-- for the rest of the frame, and decides once the frame is whole.
local function heuristic(tvb, pinfo, root)
  if HELLO_MAGIC == nil then return false end
  local n = tvb:len()
  if n == 0 then return false end
  if HELLO_HEAD ~= nil then
    local m = math.min(n, #HELLO_HEAD)
    if tvb(0, m):raw() ~= HELLO_HEAD:sub(1, m) then return false end
    if n < HELLO_WIRE then
      pinfo.desegment_offset = 0
      pinfo.desegment_len = HELLO_WIRE - n
      return true
    end
  else
    local len, nlen = peek_len(tvb, 0)
    if len == nil then
      if nlen ~= 0 or n >= 5 then return false end
      pinfo.desegment_offset = 0
      pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
      return true
    end
    if len < 1 + #HELLO_MAGIC or len > MAX_FRAME then return false end
    local have = n - nlen
    if have >= 1 and tvb(nlen, 1):uint() ~= HELLO_ID then return false end
    local m = math.min(#HELLO_MAGIC, have - 1)
    if m > 0 and tvb(nlen + 1, m):raw() ~= HELLO_MAGIC:sub(1, m) then return false end
    if n < nlen + len then
      pinfo.desegment_offset = 0
      pinfo.desegment_len = nlen + len - n
      return true
    end
  end
  local key = conv_key(pinfo)
  if CONVS[key] == nil then
    CONVS[key] = { state = 1, server_port = pinfo.dst_port }
  end
  pinfo.conversation = proto
  proto.dissector(tvb, pinfo, root)
  return true
end
proto:register_heuristic("tcp", heuristic)

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
