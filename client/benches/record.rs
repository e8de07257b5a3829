//! What recording costs the client: CPU time of a headless session with and without `--record`,
//! and the recorder's own cost per frame.
//!
//! `cargo bench -p tilegame-client --bench record [-- --seconds 15]`
//!
//! The server runs in a child process (`tilegame-server` logic started from this executable
//! with `--serve`) so the client's CPU time is measured alone, with `getrusage`-style process
//! times read from /proc/self/stat. Both runs play the same seeded bots for the same time.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tilegame_client::headless::{run, HeadlessOptions};
use tilegame_protocol::recorder::Recorder;
use tilegame_protocol::{Direction, State};

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 (utime, stime) are at indexes 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn session(addr: &str, seconds: f64, record: Option<&std::path::Path>) -> (f64, u64, u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let recorder = record
        .map(|p| tilegame_client::net::recorder::create(p, "rec1", 1200).expect("recording file"));
    let before = cpu_seconds();
    let statuses = rt.block_on(run(HeadlessOptions {
        address: addr.to_owned(),
        name: "rec".into(),
        bots: 10,
        seconds: Some(seconds),
        seed: 99,
        print_status: false,
        recorder: recorder.clone(),
        connect_timeout: Duration::from_secs(10),
        play_timeout: Duration::from_secs(10),
        say: Vec::new(),
    }));
    let cpu = cpu_seconds() - before;
    let wire = statuses
        .first()
        .map_or(0, |s| s.counters.sent() + s.counters.received());
    let file = record
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len());
    (cpu, wire, file)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        let config = tilegame_server::ServerConfig {
            bind: "127.0.0.1:0".parse().expect("address"),
            seed: "recordbench".into(),
            size: "medium".into(),
            ..tilegame_server::ServerConfig::default()
        };
        let server = tilegame_server::ServerHandle::start(config).expect("server");
        println!("{}", server.addr());
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        return;
    }
    let seconds: f64 = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(15.0);
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("server child");
    let addr = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .next()
        .and_then(Result::ok)
        .expect("address");
    let dir = std::env::temp_dir().join(format!("tilegame-record-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.tgr");

    let (cpu_plain, _, _) = session(&addr, seconds, None);
    let (cpu_rec, wire, file) = session(&addr, seconds, Some(&path));

    // The recorder alone: a typical 40-byte snapshot frame, written and flushed as one chunk.
    let mut r = Recorder::create(
        &dir.join("micro.tgr"),
        tilegame_protocol::replay_format::Recorder::Client,
        "bench",
        "micro",
        0,
    )
    .expect("file");
    let frame = [0u8; 40];
    let n = 20_000;
    let started = Instant::now();
    for i in 0..n {
        r.frame(Direction::ToClient, State::Play, i, &frame, 41);
    }
    let per_frame = started.elapsed().as_nanos() as f64 / f64::from(n);
    r.finish("bench");

    println!("\n== Recording cost (10 headless bots, {seconds:.0} s each run; bot 1 records) ==");
    println!("client CPU without recording: {cpu_plain:.3} s");
    println!(
        "client CPU with recording:    {cpu_rec:.3} s  ({:+.1}%)",
        100.0 * (cpu_rec - cpu_plain) / cpu_plain.max(1e-9)
    );
    println!(
        "recorder per frame (encode + checksum + write + flush): {:.0} ns",
        per_frame
    );
    println!(
        "recorded session: {wire} wire bytes -> {file} file bytes ({:.2}x)",
        file as f64 / wire.max(1) as f64
    );
    let _ = child.stdin.take().map(|mut s| writeln!(s, "quit"));
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
