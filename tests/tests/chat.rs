//! Chat end to end over loopback: a line from one player reaches every player with the
//! sender's id, NFC-normalised; lines that break the spec's rules are refused to the sender alone
//! with a reason; a flood gets rate-limit notices, then `Kick(ChatFlood)`, and the others see
//! the flooder leave with that reason; a line over the wire bound is a protocol error.

use std::time::Duration;

use tilegame_game as game;
use tilegame_protocol::codec::ClientCodec;
use tilegame_protocol::frame::encode_frame;
use tilegame_protocol::v1::{marker, play, ChatRefusal, DisconnectReason, Packet};
use tilegame_tests::{start_server, test_config, ClientError, TestClient};

/// Reads snapshots until `client` has received `n` chat lines.
fn chat_lines(client: &mut TestClient, n: usize) -> Vec<(u32, String)> {
    client
        .until("chat lines", |c| c.chat.len() >= n)
        .expect("chat arrives");
    client.chat.clone()
}

#[test]
fn a_line_reaches_everyone_with_the_sender_id() {
    let server = start_server(test_config());
    let mut alice = TestClient::join(server.addr(), "alice").expect("alice joins");
    let mut bob = TestClient::join(server.addr(), "bob").expect("bob joins");
    // "Zoe" + a combining diaeresis arrives as the precomposed "Zoë" (NFC).
    alice.say("hello from Zoe\u{308}").expect("sent");
    let expected = vec![(alice.id, "hello from Zoë".to_owned())];
    assert_eq!(chat_lines(&mut bob, 1), expected);
    assert_eq!(
        chat_lines(&mut alice, 1),
        expected,
        "the sender gets it too"
    );
    bob.say("Дмитрий: привет, さくら").expect("sent");
    assert_eq!(
        chat_lines(&mut alice, 2)[1],
        (bob.id, "Дмитрий: привет, さくら".to_owned())
    );
}

#[test]
fn lines_that_break_the_rules_are_refused_to_the_sender_only() {
    let server = start_server(test_config());
    let mut alice = TestClient::join(server.addr(), "alice").expect("alice joins");
    let mut bob = TestClient::join(server.addr(), "bob").expect("bob joins");
    alice.say("ring\u{7}").expect("sent");
    alice.say("right-to-left \u{202E}olleh").expect("sent");
    alice
        .say(&"x".repeat(game::CHAT_MAX_CHARS + 1))
        .expect("sent");
    alice.say("   ").expect("sent");
    alice.say("after the refusals").expect("sent");
    assert_eq!(
        chat_lines(&mut alice, 1),
        vec![(alice.id, "after the refusals".to_owned())]
    );
    assert_eq!(
        alice.chat_refused,
        vec![
            ChatRefusal::ControlCharacter,
            ChatRefusal::ControlCharacter,
            ChatRefusal::TooLong,
            ChatRefusal::Empty,
        ]
    );
    // Bob gets only the accepted line, and no refusal of someone else's.
    assert_eq!(
        chat_lines(&mut bob, 1),
        vec![(alice.id, "after the refusals".to_owned())]
    );
    assert!(bob.chat_refused.is_empty());
    // Refusals for content do not count towards a flood: alice is still here.
    assert!(alice.kicked.is_none());
}

#[test]
fn a_flood_is_rate_limited_then_kicked_with_its_reason() {
    // The watcher sends nothing while it waits; on loaded CI cores the wait has outlasted the
    // 10 s idle timeout, which closed it before the flooder's leave arrived.
    let server = start_server(tilegame_server::ServerConfig {
        idle_timeout_secs: 120,
        ..test_config()
    });
    let mut watcher = TestClient::join(server.addr(), "watcher").expect("joins");
    let mut flooder = TestClient::join(server.addr(), "flooder").expect("joins");
    let flooder_id = flooder.id;
    // Far more lines than the burst and the flood allowance, in one write.
    let lines = (game::CHAT_BURST + game::CHAT_FLOOD_LINES) as usize * 3;
    let mut bytes = Vec::new();
    let mut codec = ClientCodec::<marker::Play>::new();
    for i in 0..lines {
        let say = play::Say {
            text: format!("spam {i}"),
        };
        codec.encode(&say, &mut bytes).expect("encodes");
    }
    flooder.send_raw(&bytes).expect("sent");
    let end = flooder.until("the flood kick", |_| false);
    assert!(matches!(end, Err(ClientError::Closed)), "{end:?}");
    let kick = flooder.kicked.clone().expect("kicked");
    assert_eq!(kick.reason, DisconnectReason::ChatFlood);
    assert!(kick.message.contains("rate limit"), "{}", kick.message);
    let limited = flooder
        .chat_refused
        .iter()
        .filter(|r| **r == ChatRefusal::RateLimited)
        .count();
    assert!(
        limited >= game::CHAT_FLOOD_LINES as usize - 1,
        "notices before the kick: {:?}",
        flooder.chat_refused
    );
    assert!(flooder.closed_within(Duration::from_secs(5)));
    watcher
        .until("the flooder leaves", |c| {
            c.left.contains(&(flooder_id, DisconnectReason::ChatFlood))
        })
        .expect("announced");
    // The burst passed (before the leave), the rest did not.
    let seen = watcher.chat.len();
    assert!(
        seen >= game::CHAT_BURST as usize && seen < lines,
        "the burst passed, the flood did not: {seen} lines"
    );
    assert!(watcher.chat.iter().all(|(from, _)| *from == flooder_id));
    assert_eq!(watcher.chat[0].1, "spam 0");
}

#[test]
fn a_line_over_the_wire_bound_is_a_protocol_error_naming_the_field() {
    let server = start_server(test_config());
    let mut c = TestClient::join(server.addr(), "loud").expect("joins");
    // A Say whose text claims and carries 900 bytes: over the spec's 800.
    let mut body = vec![0x84, 0x07];
    body.extend(std::iter::repeat_n(b'a', 900));
    let mut frame = Vec::new();
    encode_frame(<play::Say as Packet>::ID, &body, &mut frame);
    c.send_raw(&frame).expect("sent");
    let end = c.until("the kick", |_| false);
    assert!(matches!(end, Err(ClientError::Closed)), "{end:?}");
    let kick = c.kicked.clone().expect("kicked");
    assert_eq!(kick.reason, DisconnectReason::ProtocolError);
    assert!(
        kick.message.contains("Say") && kick.message.contains("text"),
        "{}",
        kick.message
    );
}

#[test]
fn headless_bots_say_their_lines_and_each_receives_the_others() {
    let server = start_server(test_config());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let statuses = runtime.block_on(tilegame_client::headless::run(
        tilegame_client::headless::HeadlessOptions {
            address: server.addr().to_string(),
            name: "talker".into(),
            bots: 2,
            seconds: Some(4.0),
            seed: 1,
            print_status: false,
            recorder: None,
            connect_timeout: Duration::from_secs(10),
            play_timeout: Duration::from_secs(10),
            say: vec!["hello, Zoë".into(), "bye".into()],
        },
    ));
    assert_eq!(statuses.len(), 2);
    for (i, status) in statuses.iter().enumerate() {
        for line in [
            "talker1: hello, Zoë",
            "talker2: hello, Zoë",
            "talker1: bye",
            "talker2: bye",
        ] {
            assert!(
                status.chat.iter().any(|l| l == line),
                "bot {} did not get {line:?}: {:?}",
                i + 1,
                status.chat
            );
        }
    }
}
