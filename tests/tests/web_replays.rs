//! `tilegame-server --web ADDR --replays DIR` over loopback: the `.tgr` files of DIR are served
//! under `/replays/` (for the page's `?replay=URL`), and nothing else is — not other files of
//! the folder, not files outside it (`..` and its encodings are 400, links out and hidden
//! names 404), not the bundle's files under that prefix; without `--replays` the prefix is
//! just a path of the bundle (404).

use std::path::PathBuf;

use tilegame_server::ServerConfig;
use tilegame_tests::web::http;
use tilegame_tests::{start_server, test_config};

/// A bundle folder and a recordings folder beside a secret file.
struct Folders {
    dir: PathBuf,
}

impl Folders {
    fn new() -> Folders {
        let dir = std::env::temp_dir().join(format!("tilegame-replays-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("dist")).unwrap();
        std::fs::create_dir_all(dir.join("replays/old")).unwrap();
        std::fs::write(dir.join("dist/index.html"), "<title>tilegame</title>").unwrap();
        std::fs::write(dir.join("secret.tgr"), "SECRET").unwrap();
        std::fs::write(dir.join("replays/game.tgr"), b"TGREPLAY-game").unwrap();
        std::fs::write(dir.join("replays/old/day1.tgr"), b"TGREPLAY-day1").unwrap();
        std::fs::write(dir.join("replays/notes.txt"), "SECRET notes").unwrap();
        std::fs::write(dir.join("replays/.hidden.tgr"), "SECRET hidden").unwrap();
        std::os::unix::fs::symlink(dir.join("secret.tgr"), dir.join("replays/link.tgr")).unwrap();
        std::os::unix::fs::symlink(dir.join("dist"), dir.join("replays/up")).unwrap();
        Folders { dir }
    }
}

impl Drop for Folders {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn only_the_recordings_of_the_replays_folder_are_served_under_replays() {
    let folders = Folders::new();
    let server = start_server(ServerConfig {
        web: Some("127.0.0.1:0".parse().unwrap()),
        web_root: folders.dir.join("dist"),
        replays: Some(folders.dir.join("replays")),
        ..test_config()
    });
    let web = server.web_addr().expect("the web listener is on");

    let game = http(web, "GET", "/replays/game.tgr");
    assert_eq!(game.status, 200, "{game:?}");
    assert_eq!(game.body, b"TGREPLAY-game");
    let day = http(web, "GET", "/replays/old/day1.tgr");
    assert_eq!(day.status, 200, "{day:?}");
    assert_eq!(day.body, b"TGREPLAY-day1");
    assert_eq!(http(web, "HEAD", "/replays/game.tgr").status, 200);
    assert_eq!(http(web, "POST", "/replays/game.tgr").status, 405);
    // The bundle is still served beside it.
    assert_eq!(http(web, "GET", "/").status, 200);

    for path in [
        "/replays/../secret.tgr",
        "/replays/%2e%2e/secret.tgr",
        "/replays/%2E%2E%2Fsecret.tgr",
        "/replays/old/..%2f..%2fsecret.tgr",
        "/replays/..%5csecret.tgr",
        "/replays/./game.tgr",
        "/replays/%00.tgr",
        "/replays/%zz",
    ] {
        let r = http(web, "GET", path);
        assert_eq!(r.status, 400, "{path}: {r:?}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("SECRET"),
            "{path}"
        );
    }
    for path in [
        "/replays/notes.txt",
        "/replays/.hidden.tgr",
        "/replays/link.tgr",
        "/replays/up/index.html",
        "/replays/missing.tgr",
        "/replays/",
        "/replays/old",
        "/replays//secret.tgr",
        "/replays/%252e%252e/secret.tgr",
    ] {
        let r = http(web, "GET", path);
        assert_eq!(r.status, 404, "{path}: {r:?}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("SECRET"),
            "{path}"
        );
    }
    drop(server);

    // Without --replays, /replays/ is an ordinary (missing) path of the bundle.
    let server = start_server(ServerConfig {
        web: Some("127.0.0.1:0".parse().unwrap()),
        web_root: folders.dir.join("dist"),
        ..test_config()
    });
    let web = server.web_addr().expect("the web listener is on");
    assert_eq!(http(web, "GET", "/replays/game.tgr").status, 404);
}
