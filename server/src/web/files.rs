//! Serving the web client's bundle: GET and HEAD of the files inside one folder.
//!
//! The request path is turned into a relative path of plain names by [`super::path`]; the file
//! is then located with symbolic links resolved, and refused unless it still lies inside the
//! folder (so a link pointing out of it serves nothing). tower-http's `ServeFile` writes the
//! answer: the content type from the extension (`.wasm` is `application/wasm`), lengths, ranges,
//! conditional requests and HEAD. The recordings of `--replays DIR` are served the same way,
//! `.tgr` files only ([`serve_recording`]).

use std::path::{Path, PathBuf};

use http::{Request, Response, StatusCode};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::path::{self, INDEX};
use super::{boxed, text, Body};

/// Answers a GET or HEAD for a file of the bundle in `root`.
pub async fn serve<B>(req: Request<B>, root: &Path) -> Response<Body>
where
    B: Send + 'static,
{
    let path = req.uri().path().to_owned();
    serve_path(req, &path, root, |_| true).await
}

/// Answers a GET or HEAD for the recording `path` (the request's path after `/replays`) in
/// `dir`: a `.tgr` file inside it, by the rules of [`serve`].
pub async fn serve_recording<B>(req: Request<B>, path: &str, dir: &Path) -> Response<Body>
where
    B: Send + 'static,
{
    serve_path(req, path, dir, |file| {
        file.extension().is_some_and(|e| e == "tgr")
    })
    .await
}

/// Answers for the file `path` names in `root` when `allowed` accepts it (else 404).
async fn serve_path<B>(
    req: Request<B>,
    path: &str,
    root: &Path,
    allowed: impl Fn(&Path) -> bool,
) -> Response<Body>
where
    B: Send + 'static,
{
    let relative = match path::resolve(path) {
        Ok(p) => p,
        Err(e) if e.is_bad_request() => return text(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(_) => return not_found(),
    };
    let Some(file) = locate(root, &relative).await.filter(|f| allowed(f)) else {
        return not_found();
    };
    match ServeFile::new(file).oneshot(req).await {
        Ok(response) => response.map(boxed),
        Err(never) => match never {},
    }
}

fn not_found() -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found")
}

/// The file `relative` names inside `root`, links resolved, if it is a file inside `root` (a
/// folder gives its [`INDEX`]).
pub async fn locate(root: &Path, relative: &Path) -> Option<PathBuf> {
    let root = tokio::fs::canonicalize(root).await.ok()?;
    let mut file = inside(&root, &root.join(relative)).await?;
    if tokio::fs::metadata(&file).await.ok()?.is_dir() {
        file = inside(&root, &file.join(INDEX)).await?;
    }
    tokio::fs::metadata(&file)
        .await
        .ok()?
        .is_file()
        .then_some(file)
}

async fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let real = tokio::fs::canonicalize(path).await.ok()?;
    real.starts_with(root).then_some(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_inside_are_found_and_links_out_are_not() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dist");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "<html>").unwrap();
        std::fs::write(root.join("sub/index.html"), "<html>").unwrap();
        std::fs::write(root.join("app.wasm"), b"\0asm").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("link.txt"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("app.wasm"), root.join("alias.wasm")).unwrap();

        let found = |p: &str| {
            let root = root.clone();
            let p = PathBuf::from(p);
            async move { locate(&root, &p).await }
        };
        assert!(found("index.html").await.is_some());
        assert!(found("sub").await.unwrap().ends_with("sub/index.html"));
        assert!(found("app.wasm").await.is_some());
        assert!(
            found("alias.wasm").await.is_some(),
            "a link inside stays in"
        );
        assert_eq!(found("link.txt").await, None, "a link out is not served");
        assert_eq!(found("out/secret.txt").await, None);
        assert_eq!(found("missing").await, None);
        assert_eq!(
            locate(&dir.path().join("nope"), Path::new("index.html")).await,
            None
        );
    }
}
