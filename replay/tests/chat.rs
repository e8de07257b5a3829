//! Chat in recordings, end to end: two headless bots say a line each against a real server
//! that records its simulation; the line is in the server's recording (`SimChat`), re-simulates
//! into the stream a bot received (frame for frame), and comes out of the bot's own recording
//! through the client's managers as the replay viewer shows it.

mod common;

use tilegame_client::managers::ChatEntry;
use tilegame_protocol::replay_format::Record;
use tilegame_replay::cmd::sim;
use tilegame_replay::engine::Engine;
use tilegame_replay::ReplayFile;

use common::scratch;

#[test]
fn chat_lines_are_recorded_resimulated_and_replayed() {
    let dir = scratch("chat");
    let (sim_path, bot_path) = (dir.join("sim.tgr"), dir.join("bot1.tgr"));
    let args: Vec<std::ffi::OsString> = vec![
        "--seed".into(),
        "chat".into(),
        "--size".into(),
        "small".into(),
        "--record".into(),
        sim_path.clone().into(),
    ];
    let server = common::ServerProcess::start(&args);
    common::record_bots_saying(
        server.addr().to_string(),
        &bot_path,
        2,
        3.0,
        1200,
        &["hello, Zoë".to_owned()],
    );
    server.shutdown();

    // The server's recording holds both lines and re-simulates; the stream re-derived for bot 1
    // (chat included) is what bot 1 received.
    let simulation = ReplayFile::open(&sim_path).expect("recorded");
    let (_, records) = common::records(&simulation.bytes().expect("readable"));
    let said: Vec<(u32, String)> = records
        .iter()
        .filter_map(|r| match r {
            Record::SimChat(c) => Some((c.player, c.text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said.iter().all(|(_, t)| t == "hello, Zoë"));
    let (code, text) = common::output(|out| sim::dump(&simulation, None, None, None, out));
    assert_eq!(code.expect("dump runs"), 0);
    assert!(text.contains("chat   player 1: \"hello, Zoë\""), "{text}");
    let run = sim::resimulate(&simulation, None).expect("re-simulates");
    assert_eq!(run.exit_code(), 0, "{}", run.render());
    let bot = ReplayFile::open(&bot_path).expect("recorded");
    let d = sim::diff_stream(&simulation, &bot).expect("compares");
    assert_eq!(d.exit_code(), 0, "{}", d.render());

    // The bot's recording, through the client's managers (what `view` draws).
    let (header, records) = common::records(&bot.bytes().expect("readable"));
    let mut engine = Engine::new(&header);
    for r in &records {
        engine.feed(r).expect("replays");
    }
    let play = engine.play().expect("in play");
    let mut lines: Vec<(String, String)> = play
        .chat
        .items()
        .filter_map(|i| match &i.entry {
            ChatEntry::Line { name, text, .. } => Some((name.clone(), text.clone())),
            ChatEntry::Refused(_) => None,
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        vec![
            ("bot1".to_owned(), "hello, Zoë".to_owned()),
            ("bot2".to_owned(), "hello, Zoë".to_owned()),
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}
