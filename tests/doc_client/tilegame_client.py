#!/usr/bin/env python3
"""A tilegame client written from docs/PROTOCOL.md alone (Python 3.11, stdlib only).

Usage:
  tilegame_client.py --addr 127.0.0.1:PORT [--name NAME] [--linger S]
  tilegame_client.py --addr 127.0.0.1:PORT --selftest-errors

See tests/doc_client/README.md.
"""

import argparse
import heapq
import math
import os
import select
import socket
import struct
import sys
import time
import zlib

# ---------------------------------------------------------------------------
# Constants (PROTOCOL.md "Constants" and the spec header table)
# ---------------------------------------------------------------------------
import os as _os
import re as _re


def _header_values(path):
    """Version and spec hash from the header table of the protocol reference (the first spec in
    it is tilegame's): a client built from the document takes them from the document, so it
    follows the spec as the document is regenerated."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    version = int(_re.search(r"^\| Version \| (\d+) \|$", text, _re.M).group(1))
    spec_hash = int(_re.search(r"^\| Spec hash \| `0x([0-9a-f]+)` \|$", text, _re.M).group(1), 16)
    return version, spec_hash


_DOC = _os.environ.get("TILEGAME_PROTOCOL_DOC") or _os.path.join(
    _os.path.dirname(_os.path.abspath(__file__)), "..", "..", "docs", "PROTOCOL.md")
PROTOCOL_VERSION, SPEC_HASH = _header_values(_DOC)   # "Version" and "Spec hash" in the header table
MAGIC = b"TGME"
MAX_FRAME = 262144
TICK_RATE = 20
TILE_SIZE = 32
MAX_MAP_SIDE = 1024
MAX_MAP_CELLS = 1048576
MAP_CHUNK_BYTES = 16384
MAX_MAP_BYTES = 12582912
NAME_MAX_CHARS = 16
NAME_MAX_BYTES = 64
MAX_HEALTH = 100
TOP_SPEED_PX_PER_S = 350
BREAK_REACH_TILES = 3
SHOVEL_STRENGTH = 16
HEARTBEAT_TICKS = 20
INPUT_QUEUE = 8
SUBPIXELS = 256
ACCEL_TICKS = 2
DECEL_TICKS = 5
DIAGONAL_SCALE = 181

RUN_DEADLINE_S = 150.0  # whole run bound (generous: CI machines are shared and busy)

# Enums -------------------------------------------------------------------
THEMES = {0: "Default", 1: "Hell", 2: "Islands", 3: "HellIslands"}
# value: (name, breakable, resistance, becomes, damage, damage_period_tenths, lethal, speed_divisor)
TILES = {
    0: ("Void", False, 0, 0, 0, 1, False, 1),
    1: ("Grass", False, 0, 1, 0, 1, False, 1),
    2: ("Plains", False, 0, 2, 0, 1, False, 1),
    3: ("Dirt", False, 0, 3, 0, 1, False, 1),
    4: ("Cobblestone", True, 10, 3, 0, 1, False, 1),
    5: ("Sand", False, 0, 5, 0, 1, False, 1),
    6: ("CobblestoneStairs", False, 0, 6, 0, 1, False, 1),
    7: ("Firestone", True, 25, 3, 0, 1, False, 1),
    8: ("Water", False, 0, 8, 0, 1, False, 2),
    9: ("Lava", False, 0, 9, 3, 5, True, 3),
}
ITEM_SHOVEL, ITEM_GUN = 0, 1
REJECT_REASONS = {0: "BadMagic", 1: "VersionMismatch", 2: "SpecMismatch"}
JOIN_ERRORS = {0: "NameTaken", 1: "ServerFull", 2: "InvalidName"}
DISCONNECT_REASONS = {0: "Quit", 2: "Timeout", 3: "ProtocolError", 4: "TooSlow", 5: "ServerShutdown", 6: "Busy"}
BTN_UP, BTN_DOWN, BTN_LEFT, BTN_RIGHT = 0x01, 0x02, 0x04, 0x08
ACTION_IDLE, ACTION_BREAK, ACTION_RESPAWN = 0, 1, 2

# Packet ids ------------------------------------------------------------------
ID_EVERY = 0x7F  # Disconnect (c->s) / Kick (s->c) in every state
# Handshake
C_CLIENT_HELLO = 0x00
S_SERVER_WELCOME, S_REJECT = 0x00, 0x01
# Login
C_JOIN_REQUEST = 0x00
S_JOIN_ACCEPTED, S_JOIN_REJECTED = 0x00, 0x01
# MapTransfer
S_MAP_BEGIN, S_MAP_CHUNK, S_MAP_END = 0x00, 0x01, 0x02
# Play
C_INPUT, C_PING = 0x00, 0x01
S_SNAPSHOT, S_PLAYER_JOINED, S_PLAYER_LEFT, S_PONG = 0x00, 0x01, 0x02, 0x03

NOTES = []  # observations about the document, printed with --verbose


def note(msg):
    if msg not in NOTES:
        NOTES.append(msg)


class ProtocolFailure(Exception):
    pass


class Kicked(Exception):
    def __init__(self, state, reason, message):
        super().__init__(f"KICK {state} {reason}: {message}")
        self.state, self.reason, self.message = state, reason, message


class Rejected(Exception):
    def __init__(self, reason, message):
        super().__init__(f"REJECT {reason}" + (f": {message}" if message is not None else ""))
        self.reason, self.message = reason, message


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------
def enc_varu(v):
    if v < 0:
        raise ValueError("negative varint")
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_vari(v):
    return enc_varu(((v << 1) ^ (v >> 31)) & 0xFFFFFFFF)  # zigzag i32


def enc_str_u8(s, max_bytes):
    b = s.encode("utf-8")
    if len(b) > max_bytes or len(b) > 255:
        raise ValueError("string too long")
    return bytes([len(b)]) + b


def enc_str_var(s):
    b = s.encode("utf-8")
    return enc_varu(len(b)) + b


def enc_compressed(inner):
    z = zlib.compress(inner)
    return enc_varu(len(z)) + z


def frame(pid, body=b""):
    n = 1 + len(body)
    if n > MAX_FRAME:
        raise ValueError("frame too large")
    return enc_varu(n) + bytes([pid]) + body


class Reader:
    """Decodes one packet body; every read is bounds checked."""

    def __init__(self, data, what):
        self.d = data
        self.p = 0
        self.what = what

    def _take(self, n, field):
        if self.p + n > len(self.d):
            raise ProtocolFailure(f"{self.what}.{field}: truncated at byte {self.p}")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def u8(self, f):
        return self._take(1, f)[0]

    def u16(self, f):
        return struct.unpack(">H", self._take(2, f))[0]

    def u32(self, f):
        return struct.unpack(">I", self._take(4, f))[0]

    def u64(self, f):
        return struct.unpack(">Q", self._take(8, f))[0]

    def bool(self, f):
        v = self.u8(f)
        if v not in (0, 1):
            raise ProtocolFailure(f"{self.what}.{f}: bool {v}")
        return v == 1

    def varu(self, f, max_bytes=5, bits=32):
        v = 0
        shift = 0
        for i in range(max_bytes):
            b = self.u8(f)
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if v >= (1 << bits):
                    raise ProtocolFailure(f"{self.what}.{f}: varint overflow")
                return v
        raise ProtocolFailure(f"{self.what}.{f}: varint too long")

    def vari(self, f):
        z = self.varu(f)
        return (z >> 1) ^ -(z & 1)

    def str_u8(self, f, max_bytes):
        n = self.u8(f)
        if n > max_bytes:
            raise ProtocolFailure(f"{self.what}.{f}: string of {n} bytes > {max_bytes}")
        return self._take(n, f).decode("utf-8")

    def str_var(self, f, max_bytes):
        n = self.varu(f)
        if n > max_bytes:
            raise ProtocolFailure(f"{self.what}.{f}: string of {n} bytes > {max_bytes}")
        return self._take(n, f).decode("utf-8")

    def bytes_var(self, f, max_bytes):
        n = self.varu(f)
        if n > max_bytes:
            raise ProtocolFailure(f"{self.what}.{f}: blob of {n} bytes > {max_bytes}")
        return self._take(n, f)

    def compressed(self, f, max_inflated):
        z = self.bytes_var(f, MAX_FRAME)
        d = zlib.decompressobj()
        out = d.decompress(z, max_inflated + 1)
        if len(out) > max_inflated:
            raise ProtocolFailure(f"{self.what}.{f}: inflates past {max_inflated}")
        if not d.eof:
            raise ProtocolFailure(f"{self.what}.{f}: zlib stream incomplete")
        if d.unused_data:
            raise ProtocolFailure(f"{self.what}.{f}: bytes after zlib stream")
        return out

    def enum(self, f, table):
        v = self.u8(f)
        if v not in table:
            raise ProtocolFailure(f"{self.what}.{f}: unknown tag {v}")
        return v

    def position(self, f):
        return (self.vari(f + ".x"), self.vari(f + ".y"))

    def list_count(self, f, max_items):
        n = self.varu(f)
        if n > max_items:
            raise ProtocolFailure(f"{self.what}.{f}: {n} items > {max_items}")
        return n

    def done(self):
        if self.p != len(self.d):
            raise ProtocolFailure(f"{self.what}: {len(self.d) - self.p} bytes left over")

    def at_end(self):
        return self.p == len(self.d)


# ---------------------------------------------------------------------------
# Connection with framing and state tracking
# ---------------------------------------------------------------------------
class Conn:
    def __init__(self, addr, deadline):
        host, port = addr.rsplit(":", 1)
        if host not in ("127.0.0.1", "localhost"):
            raise SystemExit("refusing to connect anywhere but loopback")
        self.deadline = deadline
        self.sock = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = bytearray()
        self.state = "Handshake"
        self.closed = False

    def send(self, pid, body=b""):
        data = frame(pid, body)
        self.sock.setblocking(True)
        self.sock.settimeout(5)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def send_raw(self, data):
        self.sock.setblocking(True)
        self.sock.settimeout(5)
        try:
            self.sock.sendall(data)
        finally:
            self.sock.setblocking(False)

    def _try_parse(self):
        # [length: VarU32][packet id: u8][body]
        v = 0
        shift = 0
        i = 0
        while True:
            if i >= len(self.buf):
                return None
            if i >= 3:  # length <= 262144 takes at most 3 bytes
                raise ProtocolFailure("frame length prefix longer than 3 bytes")
            b = self.buf[i]
            v |= (b & 0x7F) << shift
            shift += 7
            i += 1
            if not b & 0x80:
                break
        if v < 1 or v > MAX_FRAME:
            raise ProtocolFailure(f"frame length {v} out of range")
        if len(self.buf) < i + v:
            return None
        pid = self.buf[i]
        body = bytes(self.buf[i + 1:i + v])
        del self.buf[:i + v]
        return pid, body

    def poll(self, timeout):
        """Return one (pid, body) or None after timeout. Raises on EOF."""
        f = self._try_parse()
        if f is not None:
            return f
        end = time.monotonic() + max(0.0, timeout)
        while True:
            rem = min(end, self.deadline) - time.monotonic()
            if time.monotonic() >= self.deadline:
                raise ProtocolFailure("overall run deadline exceeded")
            r, _, _ = select.select([self.sock], [], [], max(0.0, rem))
            if not r:
                if rem <= 0:
                    return None
                continue
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
                raise ConnectionError(f"server closed the connection in state {self.state}")
            self.buf += data
            f = self._try_parse()
            if f is not None:
                return f

    def recv(self, timeout, what):
        f = self.poll(timeout)
        if f is None:
            raise ProtocolFailure(f"timed out after {timeout}s waiting for {what} in state {self.state}")
        return f

    def check_kick(self, pid, body):
        if pid == ID_EVERY:
            r = Reader(body, "Kick")
            reason = DISCONNECT_REASONS[r.enum("reason", DISCONNECT_REASONS)]
            msg = r.str_var("message", 256)
            r.done()
            raise Kicked(self.state, reason, msg)

    def disconnect(self):
        """Send Disconnect, then read until the server closes (bounded), so that the
        server sees an orderly Quit rather than a reset."""
        try:
            self.send(ID_EVERY)
            self.sock.shutdown(socket.SHUT_WR)
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                r, _, _ = select.select([self.sock], [], [], end - time.monotonic())
                if r:
                    try:
                        if not self.sock.recv(65536):
                            break
                    except BlockingIOError:
                        continue
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True


# ---------------------------------------------------------------------------
# Handshake, login, map transfer
# ---------------------------------------------------------------------------
def client_hello(magic=MAGIC, version=PROTOCOL_VERSION, spec_hash=SPEC_HASH):
    return magic + struct.pack(">IQ", version, spec_hash)


def do_handshake(c, hello_body=None):
    c.send(C_CLIENT_HELLO, hello_body if hello_body is not None else client_hello())
    pid, body = c.recv(5, "ServerWelcome")
    c.check_kick(pid, body)
    if pid == S_SERVER_WELCOME:
        r = Reader(body, "ServerWelcome")
        w = {
            "server_name": r.str_var("server_name", 64),
            "tick_rate": r.u8("tick_rate"),
            "players": r.varu("players"),
            "max_players": r.varu("max_players"),
        }
        r.done()
        c.state = "Login"
        return w
    if pid == S_REJECT:
        r = Reader(body, "Reject")
        reason = REJECT_REASONS[r.enum("reason", REJECT_REASONS)]
        sv = r.u32("server_version")
        sh = r.u64("server_hash")
        r.done()
        e = Rejected(reason, None)
        e.args = (f"REJECT {reason} (server_version={sv} server_hash={sh:#018x})",)
        raise e
    raise ProtocolFailure(f"unknown packet id 0x{pid:02x} in Handshake")


def join_request_body(name, color=0x3366CC, locale="en"):
    nb = name.encode("utf-8")
    profile = struct.pack(">I", color) + enc_str_u8(locale, 16)
    return bytes([len(nb)]) + nb + enc_compressed(profile)


def do_login(c, name, color=0x3366CC):
    c.send(C_JOIN_REQUEST, join_request_body(name, color))
    pid, body = c.recv(5, "JoinAccepted")
    c.check_kick(pid, body)
    if pid == S_JOIN_ACCEPTED:
        r = Reader(body, "JoinAccepted")
        j = {"player_id": r.varu("player_id"), "spawn": r.position("spawn"), "tick": r.varu("tick")}
        r.done()
        c.state = "MapTransfer"
        return j
    if pid == S_JOIN_REJECTED:
        r = Reader(body, "JoinRejected")
        reason = JOIN_ERRORS[r.enum("reason", JOIN_ERRORS)]
        msg = r.str_var("message", 256)
        r.done()
        raise Rejected(reason, msg)
    raise ProtocolFailure(f"unknown packet id 0x{pid:02x} in Login")


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def decode_player_info(r, what):
    pid = r.varu(what + ".id")
    name = r.str_u8(what + ".name", NAME_MAX_BYTES)
    return pid, name


def decode_map_payload(payload, width, height):
    cells = width * height
    r = Reader(payload, "MapPayload")
    n = r.list_count("tiles", MAX_MAP_CELLS)
    tiles = bytearray()
    for i in range(n):
        t = r.enum(f"tiles[{i}].tile", TILES)
        cnt = r.varu(f"tiles[{i}].count")
        if cnt < 1 or cnt > MAX_MAP_CELLS:
            raise ProtocolFailure(f"tile run {i} count {cnt} out of range")
        if len(tiles) + cnt > cells:
            raise ProtocolFailure("tile runs exceed width*height")
        tiles += bytes([t]) * cnt
    if len(tiles) != cells:
        raise ProtocolFailure(f"tile runs cover {len(tiles)} cells, map has {cells}")
    n = r.list_count("dynatiles", MAX_MAP_CELLS)
    dyn = bytearray()
    for i in range(n):
        ch = r.bool(f"dynatiles[{i}].changed")
        cnt = r.varu(f"dynatiles[{i}].count")
        if cnt < 1 or cnt > MAX_MAP_CELLS:
            raise ProtocolFailure(f"dyn run {i} count {cnt} out of range")
        if len(dyn) + cnt > cells:
            raise ProtocolFailure("dynatile runs exceed width*height")
        dyn += bytes([1 if ch else 0]) * cnt
    if len(dyn) != cells:
        raise ProtocolFailure(f"dynatile runs cover {len(dyn)} cells, map has {cells}")
    r.done()
    return tiles, dyn


def do_map_transfer(c, log):
    pid, body = c.recv(10, "MapBegin")
    c.check_kick(pid, body)
    if pid != S_MAP_BEGIN:
        raise ProtocolFailure(f"expected MapBegin, got id 0x{pid:02x}")
    r = Reader(body, "MapBegin")
    width, height = r.u16("width"), r.u16("height")
    seed = r.str_u8("seed", 64)
    theme = THEMES[r.enum("theme", THEMES)]
    total = r.varu("total_bytes")
    chunks = r.varu("chunks")
    r.done()
    if not (1 <= width <= MAX_MAP_SIDE and 1 <= height <= MAX_MAP_SIDE):
        raise ProtocolFailure(f"bad map size {width}x{height}")
    if total > MAX_MAP_BYTES:
        raise ProtocolFailure(f"total_bytes {total} > MAX_MAP_BYTES")
    log(f"MapBegin {width}x{height} seed={seed!r} theme={theme} total_bytes={total} chunks={chunks}")
    parts = {}
    checksum = None
    players = []
    while True:
        pid, body = c.recv(10, "MapChunk/MapEnd")
        c.check_kick(pid, body)
        if pid == S_MAP_CHUNK:
            r = Reader(body, "MapChunk")
            idx = r.varu("index")
            inflated = r.compressed("data", 65540)
            r.done()
            # The wire type is "zlib-compressed bytes (<= 65536 B, varint length)":
            # the inflated value is itself a varint-length-prefixed byte blob.
            ir = Reader(inflated, "MapChunk.data(inflated)")
            try:
                piece = ir.bytes_var("bytes", 65536)
                ir.done()
                note("MapChunk inflated data = varint length + bytes (the inner 'bytes' value keeps its own length prefix)")
            except ProtocolFailure:
                piece = inflated
                note("MapChunk inflated data = raw slice (no inner length prefix)")
            if idx >= chunks or idx in parts:
                raise ProtocolFailure(f"bad or duplicate chunk index {idx}")
            parts[idx] = piece
        elif pid == S_MAP_END:
            r = Reader(body, "MapEnd")
            checksum = r.u64("checksum")
            n = r.list_count("players", 1024)
            for i in range(n):
                players.append(decode_player_info(r, f"players[{i}]"))
            r.done()
            break
        else:
            raise ProtocolFailure(f"unknown packet id 0x{pid:02x} in MapTransfer")
    if len(parts) != chunks:
        raise ProtocolFailure(f"got {len(parts)} chunks, MapBegin said {chunks}")
    for i in range(chunks):
        if i < chunks - 1 and len(parts[i]) != MAP_CHUNK_BYTES:
            raise ProtocolFailure(f"chunk {i} has {len(parts[i])} bytes, expected {MAP_CHUNK_BYTES}")
    payload = b"".join(parts[i] for i in range(chunks))
    if len(payload) != total:
        raise ProtocolFailure(f"map payload is {len(payload)} bytes, MapBegin said {total}")
    h = fnv1a64(payload)
    if h != checksum:
        raise ProtocolFailure(f"map checksum mismatch: computed {h:#018x}, MapEnd says {checksum:#018x}")
    tiles, dyn = decode_map_payload(payload, width, height)
    c.state = "Play"
    return {"width": width, "height": height, "seed": seed, "theme": theme, "tiles": tiles,
            "dyn": dyn, "players": players, "total": total, "checksum": checksum, "chunks": chunks}


# ---------------------------------------------------------------------------
# Geometry (PROTOCOL.md "Coordinates")
# ---------------------------------------------------------------------------
def trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class Geo:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.ox = trunc_div(-w * TILE_SIZE, 2)
        self.oy = trunc_div(-h * TILE_SIZE, 2)

    def tile_of(self, px, py):
        return ((px - self.ox) // TILE_SIZE, (py - self.oy) // TILE_SIZE)

    def centre(self, tx, ty):
        return (self.ox + tx * TILE_SIZE + TILE_SIZE // 2, self.oy + ty * TILE_SIZE + TILE_SIZE // 2)

    def inside(self, tx, ty):
        return 0 <= tx < self.w and 0 <= ty < self.h


# ---------------------------------------------------------------------------
# Movement (PROTOCOL.md rule "Movement"): the server's law, re-computed tick by tick
# ---------------------------------------------------------------------------
TOP = trunc_div(TOP_SPEED_PX_PER_S * SUBPIXELS, TICK_RATE)
ACCEL = trunc_div(TOP, ACCEL_TICKS)
DECEL = trunc_div(TOP, DECEL_TICKS)


def _sign(v):
    return (v > 0) - (v < 0)


class MovementLaw:
    """The client's own player simulated by the document's law, in sub-pixels. Every Snapshot
    that mentions the player is checked against it: position (rounded down to whole pixels)
    and velocity (px/s truncated towards zero), tick by tick."""

    def __init__(self, geo, tiles, spawn):
        self.geo, self.tiles = geo, tiles
        self.x, self.y = spawn[0] * SUBPIXELS, spawn[1] * SUBPIXELS
        self.vx = self.vy = 0
        self.alive = True
        self.checked = 0  # snapshots whose own delta was checked

    def _divisor(self):
        tx, ty = self.geo.tile_of(self.x // SUBPIXELS, self.y // SUBPIXELS)
        if not self.geo.inside(tx, ty):
            return 1
        return max(1, TILES[self.tiles[ty * self.geo.w + tx]][7])

    @staticmethod
    def _approach(v, t):
        v = max(-TOP, min(TOP, v))
        speeding_up = t != 0 and (v == 0 or _sign(v) == _sign(t)) and abs(v) < abs(t)
        reversing = t != 0 and v != 0 and _sign(v) != _sign(t)
        step = ACCEL if speeding_up or reversing else DECEL
        return min(v + step, t) if v < t else max(v - step, t)

    def step(self, buttons, action):
        """One tick with the Input applied that tick (buttons 0, action idle without one)."""
        if not self.alive:
            if action == ACTION_RESPAWN:
                self.x = self.y = self.vx = self.vy = 0
                self.alive = True
            return
        mx = (1 if buttons & BTN_RIGHT else 0) - (1 if buttons & BTN_LEFT else 0)
        my = (1 if buttons & BTN_DOWN else 0) - (1 if buttons & BTN_UP else 0)
        top = trunc_div(TOP, self._divisor())
        if mx != 0 and my != 0:
            top = trunc_div(top * DIAGONAL_SCALE, 256)
        self.vx = self._approach(self.vx, mx * top)
        self.vy = self._approach(self.vy, my * top)
        half = TILE_SIZE // 2
        lo_x, hi_x = (self.geo.ox + half) * SUBPIXELS, (self.geo.ox + self.geo.w * TILE_SIZE - half) * SUBPIXELS
        lo_y, hi_y = (self.geo.oy + half) * SUBPIXELS, (self.geo.oy + self.geo.h * TILE_SIZE - half) * SUBPIXELS
        self.x = max(lo_x, min(hi_x, self.x + self.vx))
        self.y = max(lo_y, min(hi_y, self.y + self.vy))
        if (self.x == lo_x and self.vx < 0) or (self.x == hi_x and self.vx > 0):
            self.vx = 0
        if (self.y == lo_y and self.vy < 0) or (self.y == hi_y and self.vy > 0):
            self.vy = 0

    def wire(self):
        """Position and velocity as a Snapshot carries them."""
        return (self.x // SUBPIXELS, self.y // SUBPIXELS,
                trunc_div(self.vx * TICK_RATE, SUBPIXELS), trunc_div(self.vy * TICK_RATE, SUBPIXELS))


# ---------------------------------------------------------------------------
# Play
# ---------------------------------------------------------------------------
class Game:
    def __init__(self, c, join, mp, name, log):
        self.c = c
        self.log = log
        self.name = name
        self.me = join["player_id"]
        self.geo = Geo(mp["width"], mp["height"])
        self.map = mp
        self.tiles = mp["tiles"]
        self.players = {}  # id -> dict
        self.known = {}    # id -> name, everyone in the game we were told about
        for pid, pname in mp["players"]:
            self.known[pid] = pname
        self.others_seen = set(pid for pid, _ in mp["players"])
        self.players[self.me] = {"name": name, "x": join["spawn"][0], "y": join["spawn"][1],
                                 "vx": 0, "vy": 0, "health": MAX_HEALTH, "color": None, "visible": True}
        self.seq = 0
        self.ack_seq = 0
        self.last_tick = 0
        self.tick_at_join = join["tick"]
        self.snapshots = 0
        self.pings = {}
        self.rtts = []
        self.nonce = 1
        self.tile_events = []
        self.self_in_snapshot = False
        # Movement law: the Inputs sent (seq -> (buttons, action)) and the law's state, advanced
        # over every tick up to each Snapshot's, with the Input that Snapshot acknowledges.
        self.sent = {}
        self.law = MovementLaw(self.geo, self.tiles, join["spawn"])
        self.law_tick = join["tick"]

    # -- incoming -----------------------------------------------------------
    def handle(self, pid, body):
        self.c.check_kick(pid, body)
        if pid == S_SNAPSHOT:
            self.on_snapshot(body)
        elif pid == S_PLAYER_JOINED:
            r = Reader(body, "PlayerJoined")
            i, n = decode_player_info(r, "player")
            r.done()
            self.known[i] = n
            if i != self.me:
                self.others_seen.add(i)
            self.log(f"PlayerJoined id={i} name={n}")
        elif pid == S_PLAYER_LEFT:
            r = Reader(body, "PlayerLeft")
            i = r.varu("id")
            reason = DISCONNECT_REASONS[r.enum("reason", DISCONNECT_REASONS)]
            r.done()
            self.log(f"PlayerLeft id={i} name={self.known.get(i)} reason={reason}")
            self.known.pop(i, None)
            self.players.pop(i, None)
        elif pid == S_PONG:
            r = Reader(body, "Pong")
            n = r.u32("nonce")
            r.done()
            t0 = self.pings.pop(n, None)
            if t0 is None:
                raise ProtocolFailure(f"Pong with unknown nonce {n}")
            self.rtts.append((time.monotonic() - t0) * 1000.0)
        else:
            raise ProtocolFailure(f"unknown packet id 0x{pid:02x} in Play")

    def advance_law(self, tick, ack):
        """Runs the law over the ticks since the last Snapshot. The server sends a Snapshot on
        every tick that applies one of our Inputs (ack_seq changes) and on every tick our
        player's wire state changes, so the ticks in between applied no Input and left a
        resting player at rest; the Snapshot's own tick applied Input `ack` if it is new."""
        if tick <= self.law_tick:
            return
        new_input = ack != self.ack_seq
        if new_input and ack not in self.sent:
            raise ProtocolFailure(f"Snapshot tick {tick} acknowledges seq {ack}, never sent")
        for t in range(self.law_tick + 1, tick + 1):
            if t == tick and new_input:
                self.law.step(*self.sent[ack])
            else:
                self.law.step(0, ACTION_IDLE)
        self.law_tick = tick

    def check_law(self, tick):
        p = self.players[self.me]
        if p["x"] is None or not self.law.alive:
            return
        got = (p["x"], p["y"], p["vx"], p["vy"])
        want = self.law.wire()
        if got != want:
            raise ProtocolFailure(
                f"movement law: at tick {tick} the server says position ({got[0]}, {got[1]}) "
                f"velocity ({got[2]}, {got[3]}), the rule \"Movement\" gives position "
                f"({want[0]}, {want[1]}) velocity ({want[2]}, {want[3]}) "
                f"(sub-pixels {self.law.x}, {self.law.y}, {self.law.vx}, {self.law.vy})")
        self.law.checked += 1

    def on_snapshot(self, body):
        r = Reader(body, "Snapshot")
        tick = r.varu("tick")
        ack = r.varu("ack_seq")
        self.advance_law(tick, ack)
        n = r.list_count("players", 1024)
        for i in range(n):
            f = f"players[{i}]"
            mask = r.u8(f + ".mask")
            if mask & 0x80:
                raise ProtocolFailure(f"Snapshot.{f}: unknown presence bit 7")
            pid = r.varu(f + ".id")
            p = self.players.get(pid)
            if p is None:
                p = {"name": self.known.get(pid), "x": None, "y": None, "vx": 0, "vy": 0,
                     "health": None, "color": None, "visible": True}
                self.players[pid] = p
            p["visible"] = True
            if mask & 0x01:
                p["name"] = r.str_u8(f + ".name", NAME_MAX_BYTES)
            if mask & 0x02:
                p["x"], p["y"] = r.position(f + ".position")
            if mask & 0x04:
                dx = r.vari(f + ".dx")
                if p["x"] is None:
                    raise ProtocolFailure(f"delta dx for player {pid} with no known position")
                p["x"] += dx
            if mask & 0x08:
                dy = r.vari(f + ".dy")
                if p["y"] is None:
                    raise ProtocolFailure(f"delta dy for player {pid} with no known position")
                p["y"] += dy
            if mask & 0x10:
                p["vx"], p["vy"] = r.position(f + ".velocity")
            if mask & 0x20:
                h = r.u8(f + ".health")
                if h > MAX_HEALTH:
                    raise ProtocolFailure(f"health {h} > MAX_HEALTH")
                if pid == self.me and h == 0:
                    self.law.alive = False
                    self.law.vx = self.law.vy = 0
                if pid == self.me and p["health"] is not None and h != p["health"]:
                    self.log(f"  tick {tick}: my health {p['health']} -> {h}")
                p["health"] = h
            if mask & 0x40:
                p["color"] = r.u32(f + ".color")
            if pid == self.me:
                self.self_in_snapshot = True
            else:
                self.others_seen.add(pid)
                if mask & 0x01:
                    self.log(f"  sees player {pid} {p['name']!r} at ({p['x']}, {p['y']}) colour={p['color']}")
        n = r.list_count("tiles", 4096)
        for i in range(n):
            tx = r.u16(f"tiles[{i}].pos.x")
            ty = r.u16(f"tiles[{i}].pos.y")
            t = r.enum(f"tiles[{i}].tile", TILES)
            if not self.geo.inside(tx, ty):
                raise ProtocolFailure(f"TileChange outside the map: ({tx}, {ty})")
            old = self.tiles[ty * self.geo.w + tx]
            self.tiles[ty * self.geo.w + tx] = t
            self.map["dyn"][ty * self.geo.w + tx] = 1
            self.tile_events.append((tick, tx, ty, old, t))
            self.log(f"  tick {tick}: tile ({tx}, {ty}) {TILES[old][0]} -> {TILES[t][0]}")
        n = r.list_count("gone", 1024)
        for i in range(n):
            g = r.varu(f"gone[{i}]")
            if g in self.players:
                self.players[g]["visible"] = False
                self.players[g]["x"] = self.players[g]["y"] = None
            self.log(f"  player {g} left the view")
        r.done()
        if tick < self.last_tick:
            raise ProtocolFailure(f"snapshot tick went backwards {self.last_tick} -> {tick}")
        self.last_tick = tick
        self.ack_seq = ack
        for seq in [q for q in self.sent if q < ack]:
            del self.sent[seq]
        self.check_law(tick)
        self.snapshots += 1

    # -- outgoing -----------------------------------------------------------
    def send_input(self, buttons=0, item=ITEM_SHOVEL, action=ACTION_IDLE, tile=None):
        self.seq += 1
        self.sent[self.seq] = (buttons, action)
        body = enc_varu(self.seq) + enc_varu(self.last_tick) + bytes([buttons, item, action])
        if action == ACTION_BREAK:
            body += struct.pack(">HH", tile[0], tile[1])
        self.c.send(C_INPUT, body)

    def send_ping(self):
        n = self.nonce
        self.nonce += 1
        self.pings[n] = time.monotonic()
        self.c.send(C_PING, struct.pack(">I", n))

    # -- helpers -------------------------------------------------------------
    def my_pos(self):
        p = self.players[self.me]
        return p["x"], p["y"]

    def find_nearest_breakable(self, only=None):
        px, py = self.my_pos()
        best = None
        for idx, t in enumerate(self.tiles):
            if TILES[t][1] and (only is None or TILES[t][0] == only):
                tx, ty = idx % self.geo.w, idx // self.geo.w
                cx, cy = self.geo.centre(tx, ty)
                d = (cx - px) ** 2 + (cy - py) ** 2
                if best is None or d < best[0]:
                    best = (d, tx, ty)
        return None if best is None else (best[1], best[2])

    def plan_path(self, goal):
        """Dijkstra over tiles, avoiding lethal tiles, to any tile whose centre is well within reach."""
        w, h = self.geo.w, self.geo.h
        gx, gy = self.geo.centre(*goal)
        reach2 = (2 * TILE_SIZE) ** 2
        start = self.geo.tile_of(*self.my_pos())
        dist = {start: 0}
        prev = {}
        pq = [(0, start)]
        end = None
        while pq:
            d, (x, y) = heapq.heappop(pq)
            if d > dist.get((x, y), 1e18):
                continue
            cx, cy = self.geo.centre(x, y)
            if (cx - gx) ** 2 + (cy - gy) ** 2 <= reach2:
                end = (x, y)
                break
            for nx, ny in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if not (0 <= nx < w and 0 <= ny < h):
                    continue
                t = TILES[self.tiles[ny * w + nx]]
                cost = t[7] + (1000 if t[6] else 0)
                nd = d + cost
                if nd < dist.get((nx, ny), 1e18):
                    dist[(nx, ny)] = nd
                    prev[(nx, ny)] = (x, y)
                    heapq.heappush(pq, (nd, (nx, ny)))
        if end is None:
            return None
        path = [end]
        while path[-1] != start:
            path.append(prev[path[-1]])
        path.reverse()
        return path

    def line_is_safe(self, a, b):
        (ax, ay), (bx, by) = a, b
        steps = max(1, int(math.hypot(bx - ax, by - ay) // 8))
        for i in range(steps + 1):
            x = ax + (bx - ax) * i / steps
            y = ay + (by - ay) * i / steps
            tx, ty = self.geo.tile_of(int(x), int(y))
            if not self.geo.inside(tx, ty) or TILES[self.tiles[ty * self.geo.w + tx]][6]:
                return False
        return True


def steer(px, py, tx, ty, dead=6):
    b = 0
    if tx - px > dead:
        b |= BTN_RIGHT
    elif px - tx > dead:
        b |= BTN_LEFT
    if ty - py > dead:
        b |= BTN_DOWN
    elif py - ty > dead:
        b |= BTN_UP
    return b


# A short walk that exercises every case of the rule "Movement" (accelerating, top speed,
# stopping, diagonals and their stop, reversing, opposite keys cancelling) and ends near where
# it started; every Snapshot along it is checked against the law.
R, L, U, D = BTN_RIGHT, BTN_LEFT, BTN_UP, BTN_DOWN
MOVEMENT_SCRIPT = ([R] * 4 + [0] * 6 + [L] * 4 + [0] * 6
                   + [R | D] * 4 + [0] * 5 + [L | U] * 4 + [0] * 5
                   + [L] * 3 + [R] * 3 + [0] * 6
                   + [U | D] * 2 + [L | R] * 2 + [U | D | L] * 2 + [0] * 6)


def play(c, join, mp, name, log, linger, deadline, only_tile=None):
    g = Game(c, join, mp, name, log)
    script = list(MOVEMENT_SCRIPT)
    tick_s = 1.0 / TICK_RATE
    next_input = time.monotonic()
    next_ping = time.monotonic()
    phase = "wait-self"
    target = None
    path = None
    waypoint_i = 0
    break_started_seq = None
    result = None
    linger_until = None
    ticks_needed = None
    stuck_check = (time.monotonic(), None)

    while True:
        now = time.monotonic()
        if now > deadline:
            raise ProtocolFailure(f"run deadline exceeded in phase {phase}")
        f = c.poll(max(0.0, min(next_input, next_ping) - now))
        if f is not None:
            g.handle(*f)
            continue
        now = time.monotonic()
        if now >= next_ping:
            if len(g.pings) < 3:
                g.send_ping()
            next_ping = now + 1.0
        if now < next_input:
            continue
        next_input += tick_s
        if next_input < now - 0.5:  # we fell far behind (e.g. a long stall): resynchronise
            next_input = now + tick_s

        me = g.players[g.me]
        buttons, action, btile = 0, ACTION_IDLE, None
        if me.get("health") == 0:
            log("dead: respawning")
            action = ACTION_RESPAWN
            path = None
        elif phase == "wait-self":
            # the spawn from JoinAccepted is our position; wait for one snapshot first
            if g.snapshots > 0:
                phase = "script"
        if phase == "script" and action == ACTION_IDLE:
            if script:
                buttons = script.pop(0)
            elif g.ack_seq == g.seq:
                # Every scripted Input applied: the walk to a breakable tile starts here.
                phase = "find"
        if phase == "find" and action == ACTION_IDLE:
            target = g.find_nearest_breakable(only_tile)
            if target is None:
                raise ProtocolFailure("the map has no breakable tile")
            t = g.tiles[target[1] * g.geo.w + target[0]]
            cx, cy = g.geo.centre(*target)
            log(f"me at {g.my_pos()} tile {g.geo.tile_of(*g.my_pos())}; nearest breakable: "
                f"{TILES[t][0]} at {target} centre ({cx}, {cy}), "
                f"{math.hypot(cx - me['x'], cy - me['y']) / TILE_SIZE:.1f} tiles away")
            phase = "walk"
        if phase == "walk" and action == ACTION_IDLE:
            px, py = g.my_pos()
            cx, cy = g.geo.centre(*target)
            dist = math.hypot(cx - px, cy - py)
            if dist <= 2 * TILE_SIZE + 8:
                phase = "break"
                t = g.tiles[target[1] * g.geo.w + target[0]]
                ticks_needed = math.ceil(TILES[t][2] * TICK_RATE / SHOVEL_STRENGTH)
                break_started_seq = g.seq + 1
                g.tile_events_before = len(g.tile_events)
                log(f"within reach ({dist / TILE_SIZE:.2f} tiles) at ({px}, {py}); breaking "
                    f"{TILES[t][0]} (needs {ticks_needed} ticks)")
            else:
                if g.line_is_safe((px, py), (cx, cy)):
                    buttons = steer(px, py, cx, cy)
                else:
                    if path is None:
                        path = g.plan_path(target)
                        waypoint_i = 1
                        if path is None:
                            raise ProtocolFailure("no path to the target")
                        log(f"path of {len(path)} tiles around lethal tiles")
                    cur = g.geo.tile_of(px, py)
                    while waypoint_i < len(path) - 1 and (cur == path[waypoint_i] or
                                                           g.line_is_safe((px, py), g.geo.centre(*path[waypoint_i + 1]))):
                        waypoint_i += 1
                    wx, wy = g.geo.centre(*path[min(waypoint_i, len(path) - 1)])
                    buttons = steer(px, py, wx, wy)
                # stuck detection
                t0, p0 = stuck_check
                if now - t0 > 2.0:
                    if p0 == (px, py):
                        log(f"no movement for 2 s at ({px}, {py}); replanning")
                        path = None
                    stuck_check = (now, (px, py))
        if phase == "break" and action == ACTION_IDLE:
            action, btile = ACTION_BREAK, target
            # tile change seen?
            for (tick, tx, ty, old, new) in g.tile_events[g.tile_events_before:]:
                if (tx, ty) == target:
                    want = TILES[old][3]
                    if new != want:
                        raise ProtocolFailure(f"{TILES[old][0]} at {target} became {TILES[new][0]}, "
                                              f"the tile table says it becomes {TILES[want][0]}")
                    held = g.ack_seq - break_started_seq + 1
                    log(f"broke {TILES[old][0]} at {target} -> {TILES[new][0]} at tick {tick} "
                        f"(Break inputs applied by then: ~{held}, rule says {ticks_needed})")
                    result = (TILES[old][0], target, TILES[new][0])
                    phase = "linger"
                    linger_until = now + linger
                    action, btile = ACTION_IDLE, None
                    break
            else:
                px, py = g.my_pos()
                cx, cy = g.geo.centre(*target)
                if math.hypot(cx - px, cy - py) > BREAK_REACH_TILES * TILE_SIZE:
                    log(f"drifted out of reach at ({px}, {py}); walking again")
                    phase = "walk"
                    action, btile = ACTION_IDLE, None
                elif g.seq - break_started_seq > ticks_needed + 3 * TICK_RATE:
                    raise ProtocolFailure(f"held Break for {g.seq - break_started_seq} inputs, "
                                          f"tile did not change (needs {ticks_needed})")
        if phase == "linger":
            if now >= linger_until and g.rtts and not g.pings:
                break
        if phase == "break" and break_started_seq == g.seq + 1:
            # Pad the server's input queue a little so that network jitter never leaves a
            # tick without an Input (which would reset the break progress).
            g.send_input(buttons, ITEM_SHOVEL, action, btile)
        g.send_input(buttons, ITEM_SHOVEL, action, btile)

    g.c.disconnect()
    return g, result


# ---------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------
def run_normal(args):
    deadline = time.monotonic() + RUN_DEADLINE_S
    verbose = not args.quiet

    def log(m):
        if verbose:
            print(m, flush=True)

    c = Conn(args.addr, deadline)
    try:
        w = do_handshake(c)
        log(f"ServerWelcome: name={w['server_name']!r} tick_rate={w['tick_rate']} players={w['players']}/{w['max_players']}")
        if w["tick_rate"] != TICK_RATE:
            log(f"note: server tick rate {w['tick_rate']} != TICK_RATE {TICK_RATE}")
        j = do_login(c, args.name)
        log(f"JoinAccepted: id={j['player_id']} spawn={j['spawn']} tick={j['tick']}")
        mp = do_map_transfer(c, log)
        counts = {}
        for t in mp["tiles"]:
            counts[t] = counts.get(t, 0) + 1
        named = sum(counts.values())
        log(f"map {mp['width']}x{mp['height']}: {mp['chunks']} chunks, {mp['total']} bytes, "
            f"checksum {mp['checksum']:#018x} ok; changed tiles {sum(mp['dyn'])}")
        log("tiles: " + ", ".join(f"{TILES[t][0]}={n}" for t, n in sorted(counts.items())))
        log(f"players already in game: {mp['players']}")
        g, result = play(c, j, mp, args.name, log, args.linger, deadline, args.tile)
    except Kicked as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 2
    except Rejected as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 3
    except (ProtocolFailure, ConnectionError, OSError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    finally:
        c.close()
    if verbose and args.notes:
        for n in NOTES:
            print("note:", n)
    rtt = sorted(g.rtts)[len(g.rtts) // 2]
    (old, (x, y), new) = result
    print(f"OK: joined, map {mp['width']}x{mp['height']} decoded ({named} tiles named), broke {old} "
          f"at ({x}, {y}) -> {new}, saw {len(g.others_seen)} other players, ping {rtt:.1f} ms, "
          f"movement law held on {g.law.checked} snapshots")
    return 0


def selftest_errors(args):
    deadline = time.monotonic() + RUN_DEADLINE_S
    ok = True
    results = []

    mismatches = []

    def expect(label, fn, want, doc_claim=False):
        """doc_claim: the check tests a statement of PROTOCOL.md that the reference server
        is known not to follow; a failure is reported as MISMATCH and fails only --strict."""
        nonlocal ok
        try:
            fn()
            line = f"(no error) for {label}"
            good = False
        except (Kicked, Rejected) as e:
            line = str(e)
            good = want in line
        except (ProtocolFailure, ConnectionError, OSError) as e:
            line = f"FAIL {type(e).__name__}: {e}"
            good = False
        if not good and doc_claim:
            print(f"MISMATCH {label}: got '{line}', PROTOCOL.md implies {want}", flush=True)
            mismatches.append(label)
            return
        print(line + ("" if good else f"    <-- expected {want}"), flush=True)
        results.append(good)
        ok = ok and good

    # 1. Handshake rejects
    def bad_hash():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c, client_hello(spec_hash=SPEC_HASH ^ 0xFFFF))
        finally:
            c.close()

    def bad_version():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c, client_hello(version=PROTOCOL_VERSION + 1))
        finally:
            c.close()

    def bad_magic():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c, client_hello(magic=b"XXXX"))
        finally:
            c.close()

    # "Handshake checks": the magic is judged before the body's length, the version before the
    # hash.
    def bad_magic_short():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c, b"XXXX")
        finally:
            c.close()

    def good_magic_long():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c, client_hello() + b"\x00")
        finally:
            c.close()

    def bad_version_and_hash():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c, client_hello(version=PROTOCOL_VERSION + 1, spec_hash=SPEC_HASH ^ 1))
        finally:
            c.close()

    expect("wrong spec hash", bad_hash, "REJECT SpecMismatch")
    expect("wrong version", bad_version, "REJECT VersionMismatch")
    expect("wrong magic", bad_magic, "REJECT BadMagic")
    expect("wrong magic, 4-byte body", bad_magic_short, "REJECT BadMagic")
    expect("right magic, 17-byte body", good_magic_long, "KICK Handshake ProtocolError")
    expect("wrong version and hash", bad_version_and_hash, "REJECT VersionMismatch")

    # 2. Name taken: first client joins and stays connected (reading) while a second tries
    name = "dup" + os.urandom(3).hex()
    a = Conn(args.addr, deadline)
    try:
        do_handshake(a)
        ja = do_login(a, name)
        mp = do_map_transfer(a, lambda m: None)

        def taken(n):
            def f():
                b = Conn(args.addr, deadline)
                try:
                    do_handshake(b)
                    do_login(b, n)
                finally:
                    b.close()
            return f
        expect("name taken (same name)", taken(name), "REJECT NameTaken")
        # PROTOCOL.md: names are "unique on a server ignoring ASCII case"
        expect("name taken (same name, other case)", taken(name.upper()), "REJECT NameTaken",
               doc_claim=True)
    finally:
        a.disconnect()

    # 3. Invalid names
    def invalid(n):
        def f():
            c = Conn(args.addr, deadline)
            try:
                do_handshake(c)
                do_login(c, n)
            finally:
                c.close()
        return f
    expect("invalid name 'bad name!'", invalid("bad name!"), "REJECT InvalidName")
    expect("invalid name ''", invalid(""), "REJECT InvalidName")
    expect("invalid name 'a\U0001F600'", invalid("a\U0001F600"), "REJECT InvalidName")
    # 17 characters fit the wire type (UTF-8 string <= NAME_MAX_BYTES B) but not NAME_MAX_CHARS
    expect("name of 17 chars", invalid("a" * 17), "REJECT InvalidName")
    # 65 bytes do not fit the wire type: a decode error, not InvalidName
    expect("name of 65 bytes", invalid("a" * 65), "KICK Login ProtocolError")

    # 4. Protocol errors: an id that does not exist in the state
    def kick_handshake():
        c = Conn(args.addr, deadline)
        try:
            c.send(0x05, b"")
            while True:
                c.check_kick(*c.recv(5, "Kick"))
        finally:
            c.close()

    def kick_login():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c)
            c.send(0x05, b"")
            while True:
                c.check_kick(*c.recv(5, "Kick"))
        finally:
            c.close()

    def kick_login_trailing():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c)
            c.send(C_JOIN_REQUEST, join_request_body("trail" + os.urandom(2).hex()) + b"\x00")
            while True:
                c.check_kick(*c.recv(5, "Kick"))
        finally:
            c.close()

    def kick_play():
        c = Conn(args.addr, deadline)
        try:
            do_handshake(c)
            do_login(c, "kp" + os.urandom(3).hex())
            do_map_transfer(c, lambda m: None)
            # Input with an unknown Item tag (7)
            c.send(C_INPUT, enc_varu(1) + enc_varu(0) + bytes([0, 7, 0]))
            while True:
                pid, body = c.recv(5, "Kick")
                c.check_kick(pid, body)
        finally:
            c.close()

    expect("unknown id 0x05 in Handshake", kick_handshake, "KICK Handshake ProtocolError")
    expect("unknown id 0x05 in Login", kick_login, "KICK Login ProtocolError")
    expect("JoinRequest with a trailing byte", kick_login_trailing, "KICK Login ProtocolError")
    expect("Input with Item tag 7 in Play", kick_play, "KICK Play ProtocolError")

    if args.with_timeouts:
        # Silent connections: HANDSHAKE_TIMEOUT_MS in Handshake and Login, IDLE_TIMEOUT_MS in Play.
        # Opened together so the whole wait is ~10 s (the server's configured timeouts).
        import threading
        outcome = {}

        def silent(label, upto):
            def body():
                try:
                    c = Conn(args.addr, deadline)
                    try:
                        if upto in ("Login", "Play"):
                            do_handshake(c)
                        if upto == "Play":
                            do_login(c, "idle" + os.urandom(3).hex())
                            do_map_transfer(c, lambda m: None)
                        while True:
                            pid, b = c.recv(20, "Kick")
                            c.check_kick(pid, b)
                    finally:
                        c.close()
                except Exception as e:  # recorded and printed below
                    outcome[label] = e
            return body
        labels = [("silent in Handshake", "Handshake"), ("silent in Login", "Login"),
                  ("silent in Play", "Play")]
        threads = [threading.Thread(target=silent(l, u)) for l, u in labels]
        for t in threads:
            t.start()
        for t in threads:
            t.join(25)
        for (label, st) in labels:
            def reraise(label=label):
                e = outcome.get(label)
                if e is not None:
                    raise e
            expect(label, reraise, f"KICK {st} Timeout")

    print(f"selftest-errors: {sum(results)}/{len(results)} as expected"
          + (f", {len(mismatches)} document/server mismatch(es): {', '.join(mismatches)}" if mismatches else ""))
    return 0 if ok and not (args.strict and mismatches) else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--addr", required=True, help="server address, 127.0.0.1:PORT")
    ap.add_argument("--name", default="docclient", help="player name")
    ap.add_argument("--linger", type=float, default=3.0, help="seconds to stay after breaking")
    ap.add_argument("--quiet", action="store_true", help="print only the final line")
    ap.add_argument("--notes", action="store_true", help="print observations about the document")
    ap.add_argument("--tile", help="break the nearest tile of this kind (default: any breakable)")
    ap.add_argument("--selftest-errors", action="store_true",
                    help="provoke and print every rejection/kick reason we can reach")
    ap.add_argument("--with-timeouts", action="store_true",
                    help="with --selftest-errors: also wait for the Timeout kicks (~10 s more)")
    ap.add_argument("--strict", action="store_true",
                    help="with --selftest-errors: also fail on document/server mismatches")
    args = ap.parse_args()
    if args.selftest_errors:
        return selftest_errors(args)
    return run_normal(args)


if __name__ == "__main__":
    sys.exit(main())
