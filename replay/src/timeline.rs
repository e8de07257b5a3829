//! What the viewer shows beside the world: the recording's own ping and byte rates at the
//! play-head, the join times its timeline bar marks, and the speed ladder.
//!
//! All of it comes from the recorded frames (their microseconds, wire bytes and ping/pong
//! nonces), never from the viewer's own clock or sockets, so the HUD at recorded time T shows
//! what the recorded client measured then. Kept apart from the window so it can be tested; the
//! bar itself (drawing, and mapping clicks to times) is the renderer's
//! `tilegame_client::render::timeline_bar`.

use tilegame_protocol::replay_format::{FrameDirection, Record};
use tilegame_protocol::v1::{login, play};

use crate::packets::{self, AnyPacket};

/// Playback speeds the viewer steps through.
pub const SPEEDS: [f64; 7] = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];

/// The ladder step nearest to `speed`.
pub fn speed_index(speed: f64) -> usize {
    SPEEDS
        .iter()
        .enumerate()
        .min_by(|a, b| {
            (a.1 - speed)
                .abs()
                .partial_cmp(&(b.1 - speed).abs())
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .map_or(3, |(i, _)| i)
}

/// What the HUD shows at one moment of the recording.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TrafficAt {
    /// The latest round trip measured before then, in ms.
    pub ping_ms: Option<u32>,
    /// kB (1000 B) per minute received over the minute before (or since the start).
    pub kb_in_per_min: f64,
    /// kB per minute sent.
    pub kb_out_per_min: f64,
    /// MB (10^6 B) received until then.
    pub mb_in: f64,
    /// MB sent until then.
    pub mb_out: f64,
}

/// The recording's traffic over time.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    /// After each frame: (micros, wire bytes in so far, wire bytes out so far).
    totals: Vec<(u64, u64, u64)>,
    /// (micros of the pong, round trip in ms).
    pings: Vec<(u64, u32)>,
    /// Micros at which a player joined (the recording client's own JoinAccepted, and every
    /// PlayerJoined), ascending.
    joins: Vec<u64>,
}

/// The averaging window of the rates (one minute, as the live HUD).
const RATE_WINDOW_MICROS: u64 = 60_000_000;

impl Traffic {
    /// Gathers the traffic of `records`.
    pub fn of(records: &[Record]) -> Traffic {
        let mut t = Traffic::default();
        let (mut wire_in, mut wire_out) = (0u64, 0u64);
        let mut sent: Vec<(u32, u64)> = Vec::new();
        for r in records {
            let Record::Frame(f) = r else { continue };
            match f.direction {
                FrameDirection::ToClient => wire_in += u64::from(f.wire_bytes),
                FrameDirection::ToServer => wire_out += u64::from(f.wire_bytes),
            }
            t.totals.push((f.micros, wire_in, wire_out));
            match packets::decode(f) {
                Ok(AnyPacket::PlayToServer(play::ToServer::Ping(p))) => {
                    sent.retain(|(n, _)| *n != p.nonce);
                    sent.push((p.nonce, f.micros));
                    if sent.len() > 64 {
                        sent.remove(0);
                    }
                }
                Ok(AnyPacket::LoginToClient(login::ToClient::JoinAccepted(_)))
                | Ok(AnyPacket::PlayToClient(play::ToClient::PlayerJoined(_))) => {
                    t.joins.push(f.micros);
                }
                Ok(AnyPacket::PlayToClient(play::ToClient::Pong(p))) => {
                    if let Some(i) = sent.iter().position(|(n, _)| *n == p.nonce) {
                        let (_, at) = sent.remove(i);
                        let ms = f.micros.saturating_sub(at) / 1000;
                        t.pings.push((f.micros, ms.min(u64::from(u32::MAX)) as u32));
                    }
                }
                _ => {}
            }
        }
        t
    }

    /// When players joined (recorded micros, ascending): the join marks of the timeline.
    pub fn joins(&self) -> &[u64] {
        &self.joins
    }

    fn totals_at(&self, micros: u64) -> (u64, u64) {
        let i = self.totals.partition_point(|(t, _, _)| *t <= micros);
        i.checked_sub(1)
            .map_or((0, 0), |i| (self.totals[i].1, self.totals[i].2))
    }

    /// The HUD's figures at recorded time `micros`.
    pub fn at(&self, micros: u64) -> TrafficAt {
        let (now_in, now_out) = self.totals_at(micros);
        let from = micros.saturating_sub(RATE_WINDOW_MICROS);
        let (then_in, then_out) = if from == 0 {
            (0, 0)
        } else {
            self.totals_at(from)
        };
        let span_min = ((micros - from) as f64 / 60e6).max(1e-9);
        let p = self.pings.partition_point(|(t, _)| *t <= micros);
        TrafficAt {
            ping_ms: p.checked_sub(1).map(|i| self.pings[i].1),
            kb_in_per_min: if micros == 0 {
                0.0
            } else {
                (now_in - then_in) as f64 / 1000.0 / span_min
            },
            kb_out_per_min: if micros == 0 {
                0.0
            } else {
                (now_out - then_out) as f64 / 1000.0 / span_min
            },
            mb_in: now_in as f64 / 1e6,
            mb_out: now_out as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilegame_protocol::replay_format::Frame;
    use tilegame_protocol::v1::Packet;

    fn frame(seq: u64, micros: u64, dir: FrameDirection, bytes: Vec<u8>) -> Record {
        Record::Frame(Frame {
            seq,
            direction: dir,
            state: tilegame_protocol::State::Play.tag(),
            tick: 0,
            micros,
            wire_bytes: 1000,
            payload_bytes: bytes.len() as u32 - 1,
            packet_id: bytes[0],
            bytes,
        })
    }

    fn encoded(p: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        p(&mut v);
        v
    }

    #[test]
    fn ping_and_rates_come_from_the_recording() {
        let ping = encoded(|v| {
            v.push(play::Ping::ID);
            play::ToServer::Ping(play::Ping { nonce: 7 })
                .encode_body(v)
                .unwrap();
        });
        let pong = encoded(|v| {
            v.push(play::Pong::ID);
            play::ToClient::Pong(play::Pong { nonce: 7 })
                .encode_body(v)
                .unwrap();
        });
        let records = vec![
            frame(0, 1_000_000, FrameDirection::ToServer, ping),
            frame(1, 1_042_000, FrameDirection::ToClient, pong),
            frame(2, 30_000_000, FrameDirection::ToClient, vec![0x7f]),
        ];
        let t = Traffic::of(&records);
        assert_eq!(t.at(0), TrafficAt::default());
        assert_eq!(t.at(1_041_999).ping_ms, None);
        assert_eq!(t.at(1_042_000).ping_ms, Some(42));
        let at = t.at(30_000_000);
        assert_eq!((at.mb_in, at.mb_out), (0.002, 0.001));
        // 2 kB in over the first 30 s: 4 kB/min.
        assert!((at.kb_in_per_min - 4.0).abs() < 1e-9, "{at:?}");
        // A minute later only the last minute counts: nothing.
        assert_eq!(t.at(120_000_000).kb_in_per_min, 0.0);
    }

    #[test]
    fn speed_ladder() {
        assert_eq!(SPEEDS[speed_index(3.0)], 2.0);
        assert_eq!(SPEEDS[speed_index(100.0)], 8.0);
        assert_eq!(SPEEDS[speed_index(0.0)], 0.1);
        assert_eq!(SPEEDS[speed_index(f64::NAN)], 0.1);
    }
}
