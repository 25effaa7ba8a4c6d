//! A TCP proxy in front of the test PostgreSQL server that a test can take
//! down and bring back: what a database restart looks like from the store
//! (every open connection cut, new ones closed at once for a while), or a
//! server that stops answering (new connections accepted and never served),
//! without restarting the shared server other tests use.
//!
//! One file for both kinds of test: the integration tests use it as
//! `support::flaky_server` (the real binary's `store.url` points at it), and
//! the store's unit tests include this same file by path
//! (`store/mod.rs`), so there is one proxy, not two.
//!
//! Owns its listener (one port for its whole life) and the connections it
//! forwards. It must never touch the server itself.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

/// What the "server" does with a new connection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Up,
    /// Closes it at once.
    Down,
    /// Accepts it and never answers.
    Silent,
}

/// The mode, and the token that cuts the connections taken since the
/// mode last changed.
struct State {
    mode: Mode,
    cut: CancellationToken,
}

pub struct FlakyServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: AbortHandle,
}

impl FlakyServer {
    /// Listen on a free local port and forward to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FlakyServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Up,
            cut: CancellationToken::new(),
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (mode, cut) = {
                    let state = shared.lock().expect("state");
                    (state.mode, state.cut.clone())
                };
                match mode {
                    Mode::Up => drop(tokio::spawn(forward(client, upstream, cut))),
                    Mode::Down => drop(client),
                    Mode::Silent => drop(tokio::spawn(async move {
                        cut.cancelled().await;
                        drop(client);
                    })),
                }
            }
        });
        FlakyServer {
            addr,
            state,
            task: task.abort_handle(),
        }
    }

    /// Start in front of the server `url` names; returns the proxy and `url`
    /// pointed at it (everything else, password included, unchanged).
    pub async fn in_front_of(url: &str) -> (FlakyServer, String) {
        let mut url = url::Url::parse(url).expect("a PostgreSQL URL");
        let upstream = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(5432)
        );
        let upstream = tokio::net::lookup_host(upstream)
            .await
            .expect("the server's address resolves")
            .next()
            .expect("the server has an address");
        let server = FlakyServer::start(upstream).await;
        url.set_host(Some("127.0.0.1")).expect("a host");
        url.set_port(Some(server.addr().port())).expect("a port");
        (server, url.to_string())
    }

    /// The address to connect to instead of the server's.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cut every connection and close new ones at once.
    pub fn go_down(&self) {
        self.set(Mode::Down);
    }

    /// Cut every connection and leave new ones unanswered.
    pub fn go_silent(&self) {
        self.set(Mode::Silent);
    }

    /// Cut what is held and forward new connections again.
    pub fn come_back(&self) {
        self.set(Mode::Up);
    }

    fn set(&self, mode: Mode) {
        let mut state = self.state.lock().expect("state");
        state.mode = mode;
        state.cut.cancel();
        state.cut = CancellationToken::new();
    }
}

impl Drop for FlakyServer {
    fn drop(&mut self) {
        self.task.abort();
        self.state.lock().expect("state").cut.cancel();
    }
}

/// Copy both ways until either side closes or `cut` fires.
async fn forward(mut client: TcpStream, upstream: SocketAddr, cut: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        () = cut.cancelled() => {}
    }
}
