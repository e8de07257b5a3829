//! The admin API: list, kick and ban players over HTTP, on the metrics listener.
//!
//! Off unless a bearer token is configured (`--admin-token-file FILE` or the environment
//! variable `TILEGAME_ADMIN_TOKEN`): without one `/admin/...` does not exist (404). Every request
//! must carry `Authorization: Bearer TOKEN`, compared in constant time ([`token`]); a missing or
//! wrong token is 401, and those refusals are logged once per interval with their count, so a
//! flood cannot flood the log. Bodies are JSON of at most [`MAX_BODY`] bytes (413 beyond). Every
//! action is logged with the caller's address and what it did.
//!
//! | request | body | does |
//! |---|---|---|
//! | `GET /admin/players` | | players in play: id, name, address, ping, joined at |
//! | `POST /admin/kick` | `{"id": N}` or `{"name": S}`, `"reason"` | sends the player `Kick` |
//! | `GET /admin/bans` | | bans in force |
//! | `POST /admin/ban` | `{"name": S}` or `{"address": IP}`, `"reason"`, `"duration_secs"` (none: forever) | refuses them at login; kicks them now |
//! | `POST /admin/unban` | `{"name": S}` or `{"address": IP}` | lifts the ban |
//! | `POST /admin/broadcast` | `{"text": S}` | sends every player in play a Chat from the server |
//!
//! A kicked player gets `Kick(Kicked)` with the operator's reason, a banned one in play
//! `Kick(Banned)` and at login `JoinRejected(Banned)`, each with a message saying until when and
//! why. A broadcast is a Chat from `CHAT_FROM_SERVER`, held to the spec's chat text rules and
//! sent through the simulation like any line, so recordings and re-simulation carry it.

pub mod bans;
pub mod roster;
pub mod token;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;
use tilegame_game::PlayerId;
use tilegame_protocol::v1::{DisconnectReason, JoinError};
use tilegame_sim::Command;
use tokio::sync::mpsc;
use tracing::{info, warn};

use bans::{Ban, Bans, Target};
use roster::Roster;
use token::Token;

/// The largest request body accepted.
pub const MAX_BODY: usize = 4096;
/// The Kick reason an operator's kick sends.
pub const KICK_REASON: DisconnectReason = DisconnectReason::Kicked;
/// The Kick reason a player in play gets when an operator bans it.
pub const BAN_KICK_REASON: DisconnectReason = DisconnectReason::Banned;
/// The JoinRejected reason a banned player gets at login.
pub const BAN_REASON: JoinError = JoinError::Banned;
/// How often refused requests (wrong or missing token) are logged, as one line with a count.
const REFUSED_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// The longest reason an operator may give.
const MAX_REASON: usize = 200;

/// What the admin API acts on: the players in play and the bans, shared with the sessions.
pub struct Admin {
    /// The players in play.
    pub roster: Arc<Roster>,
    /// The bans in force.
    pub bans: Bans,
    token: Option<Token>,
    refused: Mutex<(Option<Instant>, u64)>,
    /// The simulation's command channel, for broadcasts (set once the server runs).
    commands: OnceLock<mpsc::Sender<Command>>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("enabled", &self.enabled())
            .field("bans", &self.bans)
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// The admin state: `token` turns the API on; `bans` were loaded from their file.
    pub fn new(token: Option<Token>, bans: Bans) -> Admin {
        Admin {
            roster: Arc::default(),
            bans,
            token,
            refused: Mutex::new((None, 0)),
            commands: OnceLock::new(),
        }
    }

    /// Connects the API to the running simulation (broadcasts go through it).
    pub fn connect(&self, commands: mpsc::Sender<Command>) {
        let _ = self.commands.set(commands);
    }

    /// Whether the API is served (a token is configured).
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    /// The message a player named `name` connecting from `ip` is refused with, if banned.
    pub fn refusal(&self, name: &str, ip: IpAddr) -> Option<String> {
        let ban = self.bans.refusing(name, ip)?;
        // The session logs the refusal with its message; this adds which ban it was.
        tracing::debug!(name, address = %ip, ban = %ban.target, "banned player refused at login");
        Some(ban.message())
    }

    /// Counts a refused request; logs the count once per interval.
    fn refused(&self, caller: SocketAddr, why: &'static str) {
        let mut r = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        r.1 += 1;
        if r.0.is_none_or(|at| at.elapsed() >= REFUSED_LOG_INTERVAL) {
            warn!(
                %caller,
                why,
                refused = r.1,
                interval_secs = REFUSED_LOG_INTERVAL.as_secs(),
                "admin requests refused"
            );
            *r = (Some(Instant::now()), 0);
        }
    }
}

/// The `/admin` routes, if a token is configured (else none: 404).
pub fn router(admin: Arc<Admin>) -> axum::Router {
    if !admin.enabled() {
        return axum::Router::new();
    }
    axum::Router::new()
        .route("/admin/players", get(players))
        .route("/admin/kick", post(kick))
        .route("/admin/bans", get(list_bans))
        .route("/admin/ban", post(ban))
        .route("/admin/unban", post(unban))
        .route("/admin/broadcast", post(broadcast))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&admin),
            authorize,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(admin)
}

/// An error answer: a status and `{"error": "..."}`.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

fn caller(request: &Request) -> SocketAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0)
}

async fn authorize(State(admin): State<Arc<Admin>>, request: Request, next: Next) -> Response {
    let from = caller(&request);
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    let ok = match (&admin.token, presented) {
        (Some(token), Some(p)) => token.matches(p),
        _ => false,
    };
    if !ok {
        admin.refused(
            from,
            if presented.is_some() {
                "wrong token"
            } else {
                "no bearer token"
            },
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({ "error": "a valid bearer token is required" })),
        )
            .into_response();
    }
    next.run(request).await
}

async fn players(
    State(admin): State<Arc<Admin>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
) -> Response {
    let list = admin.roster.list();
    info!(caller = %from, action = "list players", players = list.len(), "admin");
    Json(list).into_response()
}

/// `{"id": N}` or `{"name": S}` with a reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KickRequest {
    id: Option<u32>,
    name: Option<String>,
    #[serde(default)]
    reason: String,
}

fn reason(text: &str) -> Result<String, Failure> {
    let flat = crate::logging::one_line(text.trim());
    if flat.len() > MAX_REASON {
        return Err(Failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("reason: at most {MAX_REASON} bytes"),
        ));
    }
    Ok(flat)
}

async fn kick(
    State(admin): State<Arc<Admin>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Json(req): Json<KickRequest>,
) -> Result<Response, Failure> {
    let why = reason(&req.reason)?;
    let message = if why.is_empty() {
        "kicked by the operator".to_owned()
    } else {
        format!("kicked by the operator: {why}")
    };
    let kicked = match (req.id, &req.name) {
        (Some(id), None) => admin.roster.kick(|p, _, _| p == id, KICK_REASON, &message),
        (None, Some(name)) => admin.roster.kick(
            |_, n, _| n.eq_ignore_ascii_case(name),
            KICK_REASON,
            &message,
        ),
        _ => {
            return Err(Failure(
                StatusCode::UNPROCESSABLE_ENTITY,
                "give exactly one of \"id\" and \"name\"".into(),
            ))
        }
    };
    let Some(player) = kicked.first() else {
        info!(caller = %from, action = "kick", id = req.id, name = req.name, "admin: no such player");
        return Err(Failure(
            StatusCode::NOT_FOUND,
            "no such player in play".into(),
        ));
    };
    info!(
        caller = %from,
        action = "kick",
        id = player.id,
        name = %player.name,
        address = %player.address,
        reason = %why,
        "admin"
    );
    Ok(Json(serde_json::json!({ "kicked": kicked })).into_response())
}

/// `{"name": S}` or `{"address": IP}`; with a reason and a duration for a ban.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BanRequest {
    name: Option<String>,
    address: Option<IpAddr>,
    #[serde(default)]
    reason: String,
    duration_secs: Option<u64>,
}

impl BanRequest {
    fn target(&self) -> Result<Target, Failure> {
        match (&self.name, self.address) {
            (Some(name), None) => {
                let valid = (1..=16).contains(&name.len())
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    return Err(Failure(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "name: 1 to 16 of [A-Za-z0-9_-]".into(),
                    ));
                }
                Ok(Target::Name(name.clone()))
            }
            (None, Some(ip)) => Ok(Target::Address(ip)),
            _ => Err(Failure(
                StatusCode::UNPROCESSABLE_ENTITY,
                "give exactly one of \"name\" and \"address\"".into(),
            )),
        }
    }
}

fn bans_failure(e: bans::BansError) -> Failure {
    warn!("admin: {e}");
    Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn list_bans(
    State(admin): State<Arc<Admin>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
) -> Result<Response, Failure> {
    let list = admin.bans.list().map_err(bans_failure)?;
    info!(caller = %from, action = "list bans", bans = list.len(), "admin");
    Ok(Json(list).into_response())
}

async fn ban(
    State(admin): State<Arc<Admin>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Json(req): Json<BanRequest>,
) -> Result<Response, Failure> {
    let target = req.target()?;
    let why = reason(&req.reason)?;
    let now = bans::now_unix_ms();
    let until = match req.duration_secs {
        Some(0) => {
            return Err(Failure(
                StatusCode::UNPROCESSABLE_ENTITY,
                "duration_secs: at least 1 (leave it out for a ban without end)".into(),
            ))
        }
        Some(secs) => Some(now.saturating_add(secs.saturating_mul(1000))),
        None => None,
    };
    let ban = Ban {
        target: target.clone(),
        reason: if why.is_empty() {
            "by the operator".into()
        } else {
            why.clone()
        },
        since_unix_ms: now,
        until_unix_ms: until,
        by: from.to_string(),
    };
    admin.bans.add(ban.clone()).map_err(bans_failure)?;
    let message = ban.message();
    let kicked = admin.roster.kick(
        |_, name, address| match &target {
            Target::Name(n) => n.eq_ignore_ascii_case(name),
            Target::Address(ip) => *ip == address.ip(),
        },
        BAN_KICK_REASON,
        &message,
    );
    info!(
        caller = %from,
        action = "ban",
        target = %target,
        duration_secs = req.duration_secs,
        reason = %why,
        kicked = kicked.len(),
        "admin"
    );
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "ban": ban, "kicked": kicked })),
    )
        .into_response())
}

async fn unban(
    State(admin): State<Arc<Admin>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Json(req): Json<BanRequest>,
) -> Result<Response, Failure> {
    let target = req.target()?;
    match admin.bans.remove(&target).map_err(bans_failure)? {
        Some(ban) => {
            info!(caller = %from, action = "unban", target = %target, "admin");
            Ok(Json(serde_json::json!({ "unbanned": ban })).into_response())
        }
        None => {
            info!(caller = %from, action = "unban", target = %target, "admin: no such ban");
            Err(Failure(
                StatusCode::NOT_FOUND,
                format!("no ban on {target}"),
            ))
        }
    }
}

/// `{"text": S}`: a line for everyone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BroadcastRequest {
    text: String,
}

async fn broadcast(
    State(admin): State<Arc<Admin>>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Json(req): Json<BroadcastRequest>,
) -> Result<Response, Failure> {
    // The spec's chat text rules, as for a player's line (the rate limit aside).
    let text = tilegame_game::check_line(&req.text)
        .map_err(|e| Failure(StatusCode::UNPROCESSABLE_ENTITY, format!("text: {e}")))?;
    let commands = admin.commands.get().ok_or_else(|| {
        Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is not running".into(),
        )
    })?;
    let players = admin.roster.list().len();
    commands
        .send(Command::Chat {
            id: PlayerId(tilegame_protocol::v1::CHAT_FROM_SERVER),
            text: text.clone(),
        })
        .await
        .map_err(|_| {
            Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is stopping".into(),
            )
        })?;
    info!(caller = %from, action = "broadcast", players, text = %crate::logging::one_line(&text), "admin");
    Ok(Json(serde_json::json!({ "sent": text, "players": players })).into_response())
}
