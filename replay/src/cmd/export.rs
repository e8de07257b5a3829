//! `export --pcap`: a recording as a packet capture, so that Wireshark can open any session.
//!
//! A recording keeps every frame's bytes, direction and time, not the TCP segments that carried
//! them. This command rebuilds a plausible TCP connection around them: a three-way handshake,
//! then each frame (`[length: VarU32][packet id][body]`) as data in its direction, split into
//! segments of at most [`MSS`] bytes, with sequence and acknowledgement numbers that follow
//! both directions' byte counts, and a FIN exchange at the end. The client is
//! `10.0.0.2:50000` (or another port), the server `10.0.0.1:<port>`; pieces may also be cut at
//! random sizes from a seed (a re-split stream, as a relay makes it); times are the recording's start time plus
//! each frame's recorded microseconds, so the capture is the same every time it is exported.
//! Opening the result in Wireshark with the generated dissector
//! (`tilegame-protocol dissector`) names every frame.
//!
//! The file is classic pcap (microsecond timestamps, Ethernet link type), which every version of
//! Wireshark and tcpdump reads.

use std::io::Write;

use tilegame_protocol::replay_format::{FrameDirection, Record};

use super::{scan, Flow, Tail};
use crate::tool::{ReplayFile, ToolError};

/// Largest TCP payload per segment (Ethernet's usual MSS).
pub const MSS: usize = 1460;

/// The server port used unless told otherwise (the game's default).
pub const DEFAULT_PORT: u16 = 35000;

/// The client port used unless told otherwise.
pub const CLIENT_PORT: u16 = 50000;

const CLIENT_IP: [u8; 4] = [10, 0, 0, 2];
const SERVER_IP: [u8; 4] = [10, 0, 0, 1];
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const CLIENT_ISN: u32 = 1_000;
const SERVER_ISN: u32 = 5_000_000;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;
const FIN: u8 = 0x01;

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// Frames of the recording exported.
    pub frames: u64,
    /// Capture records (Ethernet frames) written.
    pub packets: u64,
    /// How the recording ended.
    pub tail: Tail,
}

/// Options of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// The server's TCP port in the capture.
    pub port: u16,
    /// Largest TCP payload per segment (1 to [`MSS`]).
    pub segment_bytes: usize,
    /// Send consecutive frames of one direction as one byte stream cut into `segment_bytes`
    /// pieces (several frames per segment, frames across segments), as a busy socket does;
    /// otherwise each frame starts a segment of its own.
    pub coalesce: bool,
    /// The client's TCP port (several exports with different ports merge into one capture of
    /// several conversations).
    pub client_port: u16,
    /// Cut the bytes into pieces of random sizes from 1 to `segment_bytes`, drawn from this
    /// seed (the same capture every time), as a relay that re-splits a stream does; `None`
    /// cuts every piece `segment_bytes` long.
    pub split_seed: Option<u64>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            port: DEFAULT_PORT,
            segment_bytes: MSS,
            coalesce: false,
            client_port: CLIENT_PORT,
            split_seed: None,
        }
    }
}

/// One side of the synthetic connection.
struct Side {
    ip: [u8; 4],
    port: u16,
    mac: [u8; 6],
    /// Next sequence number this side sends.
    seq: u32,
}

/// Writes the capture records of the synthetic connection.
struct PcapWriter<W: Write> {
    out: W,
    client: Side,
    server: Side,
    packets: u64,
    ip_id: u16,
    /// The state of the xorshift generator of piece sizes, when they are random.
    split: Option<u64>,
}

impl<W: Write> PcapWriter<W> {
    fn new(
        mut out: W,
        port: u16,
        client_port: u16,
        split_seed: Option<u64>,
    ) -> std::io::Result<Self> {
        // Global header: magic, version 2.4, UTC, accuracy 0, snap length, LINKTYPE_ETHERNET.
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&65535u32.to_le_bytes());
        header.extend_from_slice(&1u32.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter {
            out,
            client: Side {
                ip: CLIENT_IP,
                port: client_port,
                mac: CLIENT_MAC,
                seq: CLIENT_ISN,
            },
            server: Side {
                ip: SERVER_IP,
                port,
                mac: SERVER_MAC,
                seq: SERVER_ISN,
            },
            packets: 0,
            ip_id: 0,
            split: split_seed.map(|seed| seed | 1),
        })
    }

    /// Writes one TCP segment from the client (`to_server`) or the server, at `micros` since
    /// the epoch; SYN and FIN count as one sequence number.
    fn segment(
        &mut self,
        to_server: bool,
        micros: u64,
        flags: u8,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let (from, to) = if to_server {
            (&self.client, &self.server)
        } else {
            (&self.server, &self.client)
        };
        let ack = if flags & ACK != 0 { to.seq } else { 0 };
        let tcp = tcp_segment(from, to, from.seq, ack, flags, payload);
        let ip = ipv4_packet(from.ip, to.ip, self.ip_id, &tcp);
        let mut frame = Vec::with_capacity(14 + ip.len());
        frame.extend_from_slice(&to.mac);
        frame.extend_from_slice(&from.mac);
        frame.extend_from_slice(&0x0800u16.to_be_bytes());
        frame.extend_from_slice(&ip);
        let consumed = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if to_server {
            self.client.seq = self.client.seq.wrapping_add(consumed);
        } else {
            self.server.seq = self.server.seq.wrapping_add(consumed);
        }
        self.ip_id = self.ip_id.wrapping_add(1);
        let len = frame.len() as u32;
        let mut record = Vec::with_capacity(16 + frame.len());
        record.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        record.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&frame);
        self.out.write_all(&record)?;
        self.packets += 1;
        Ok(())
    }

    /// Writes bytes as data segments of at most `segment` bytes.
    fn data(
        &mut self,
        to_server: bool,
        micros: u64,
        bytes: &[u8],
        segment: usize,
    ) -> std::io::Result<()> {
        let most = segment.clamp(1, MSS);
        let mut rest = bytes;
        while !rest.is_empty() {
            let size = match &mut self.split {
                Some(x) => {
                    // xorshift64: deterministic, so the capture is the same every time.
                    *x ^= *x << 13;
                    *x ^= *x >> 7;
                    *x ^= *x << 17;
                    1 + (*x % most as u64) as usize
                }
                None => most,
            };
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            self.segment(to_server, micros, PSH | ACK, piece)?;
            rest = tail;
        }
        Ok(())
    }
}

/// The TCP header (20 bytes, no options) and payload, with its checksum.
fn tcp_segment(from: &Side, to: &Side, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&from.port.to_be_bytes());
    tcp.extend_from_slice(&to.port.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.push(5 << 4); // data offset: 5 words
    tcp.push(flags);
    tcp.extend_from_slice(&65535u16.to_be_bytes()); // window
    tcp.extend_from_slice(&[0, 0]); // checksum, below
    tcp.extend_from_slice(&[0, 0]); // urgent pointer
    tcp.extend_from_slice(payload);
    let mut pseudo = Vec::with_capacity(12 + tcp.len());
    pseudo.extend_from_slice(&from.ip);
    pseudo.extend_from_slice(&to.ip);
    pseudo.push(0);
    pseudo.push(6);
    pseudo.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
    pseudo.extend_from_slice(&tcp);
    let sum = checksum(&pseudo);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    tcp
}

/// An IPv4 packet (20-byte header, don't fragment, TTL 64) around a TCP segment.
fn ipv4_packet(from: [u8; 4], to: [u8; 4], id: u16, tcp: &[u8]) -> Vec<u8> {
    let total = (20 + tcp.len()) as u16;
    let mut ip = Vec::with_capacity(total as usize);
    ip.push(0x45);
    ip.push(0);
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes());
    ip.extend_from_slice(&0x4000u16.to_be_bytes());
    ip.push(64);
    ip.push(6);
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(&from);
    ip.extend_from_slice(&to);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip.extend_from_slice(tcp);
    ip
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// LEB128 of a frame length.
fn varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Writes `file` as a pcap capture to `out`.
pub fn export_pcap(
    file: &ReplayFile,
    options: &ExportOptions,
    out: impl Write,
) -> Result<ExportSummary, ToolError> {
    let start_micros = file
        .reader(false)?
        .header()
        .start_unix_ms
        .saturating_mul(1000);
    let mut pcap = PcapWriter::new(out, options.port, options.client_port, options.split_seed)?;
    // The handshake, just before the first frame.
    pcap.segment(true, start_micros, SYN, &[])?;
    pcap.segment(false, start_micros, SYN | ACK, &[])?;
    pcap.segment(true, start_micros, ACK, &[])?;
    let mut frames = 0u64;
    let mut last = start_micros;
    // Bytes not yet written: (direction, time of their first frame, stream bytes).
    let mut pending: Option<(bool, u64, Vec<u8>)> = None;
    let mut write_error = None;
    let segment = options.segment_bytes;
    let tail = scan(file, false, "exporting", |record, _| {
        let Record::Frame(frame) = record else {
            return Ok(Flow::Continue);
        };
        let at = start_micros.saturating_add(frame.micros).max(last);
        last = at;
        let to_server = frame.direction == FrameDirection::ToServer;
        if let Some((dir, first, bytes)) = pending.take() {
            if options.coalesce && dir == to_server {
                pending = Some((dir, first, bytes));
            } else if let Err(e) = pcap.data(dir, first, &bytes, segment) {
                write_error = Some(e);
                return Ok(Flow::Stop);
            }
        }
        let (_, _, bytes) = pending.get_or_insert_with(|| (to_server, at, Vec::new()));
        varint(frame.bytes.len() as u64, bytes);
        bytes.extend_from_slice(&frame.bytes);
        frames += 1;
        Ok(Flow::Continue)
    })?;
    if let Some(e) = write_error {
        return Err(ToolError::Output(e));
    }
    if let Some((dir, first, bytes)) = pending {
        pcap.data(dir, first, &bytes, segment)?;
    }
    // The client closes, the server answers, the client acknowledges.
    pcap.segment(true, last, FIN | ACK, &[])?;
    pcap.segment(false, last, FIN | ACK, &[])?;
    pcap.segment(true, last, ACK, &[])?;
    pcap.out.flush()?;
    Ok(ExportSummary {
        frames,
        packets: pcap.packets,
        tail,
    })
}

/// `export FILE --pcap OUT`: writes the capture and a one-line summary.
pub fn run(
    file: &ReplayFile,
    pcap_path: &std::path::Path,
    options: &ExportOptions,
    out: &mut dyn Write,
) -> Result<u8, ToolError> {
    let target = std::fs::File::create(pcap_path).map_err(|source| ToolError::Write {
        path: pcap_path.to_owned(),
        source,
    })?;
    let summary = export_pcap(file, options, std::io::BufWriter::new(target))?;
    writeln!(
        out,
        "{}: {} frames in {} TCP segments (server port {}); the recording ended {}",
        pcap_path.display(),
        summary.frames,
        summary.packets,
        options.port,
        summary.tail.describe()
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_header() {
        // RFC 1071's example words sum to 0xddf2 → checksum 0x220d.
        let words = [0x00u8, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&words), 0x220d);
    }

    #[test]
    fn varints_match_the_protocol() {
        let mut out = Vec::new();
        varint(300, &mut out);
        assert_eq!(out, [0xac, 0x02]);
    }
}
