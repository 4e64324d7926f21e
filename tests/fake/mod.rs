//! A fake LLM API server for tests and benchmarks: the OpenAI Chat
//! Completions, Anthropic Messages and Gemini `generateContent` wire
//! protocols on `127.0.0.1:0` (and OpenAI's at Azure's paths, `azure.rs`),
//! with faults you can queue or switch on.
//!
//! The design decision to know: it is a hand-written HTTP/1.1 server on a
//! raw tokio socket (`http.rs`), not axum, so faults are real socket
//! behaviour. [`Fault::Drop`] reads the whole request and closes the
//! connection without a byte of response; [`Fault::Hang`] keeps it open and
//! silent until the client gives up (so `always: Some(Fault::Hang)` is a
//! server that accepts connections and never answers). Each server has its own thread and tokio
//! runtime, so it serves the real binary from a plain `#[test]` as well as
//! reqwest from a `#[tokio::test]`.
//!
//! ```ignore
//! let server = FakeServer::start(FakeConfig::default());
//! server.push_faults([Fault::Status(500), Fault::Drop]);
//! // point `providers.<name>.base_url` at server.openai_base_url() and run
//! assert_eq!(server.requests().len(), 3); // two faults, then the answer
//! ```
//!
//! Every request, on any path, is recorded and takes the next queued fault,
//! so the k-th recorded request got the k-th queued fault.

#![allow(dead_code)] // each user of the server needs a different part of it

mod azure;
mod http;
mod wire;

use std::collections::VecDeque;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use http::{ReadError, Request, Response};

/// Which wire protocol a request spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `POST /v1/chat/completions`
    OpenAi,
    /// `POST /v1/messages`
    Anthropic,
    /// `POST /v1beta/models/{model}:generateContent`
    Gemini,
}

/// A chat request as the responder sees it, the same from either API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatCall {
    pub api: Api,
    pub model: String,
    /// Anthropic's `system`, or OpenAI's system and developer messages joined
    /// with blank lines (and left out of `messages`). Text blocks are joined
    /// with newlines.
    pub system: String,
    /// `(role, content)`, in order, without system messages. A tool result
    /// is `("tool", content)` from either API (Anthropic's `tool_result`
    /// blocks are lifted out of their `user` turn).
    pub messages: Vec<(String, String)>,
    /// The names of the tools the request declares, in either API's shape.
    pub tools: Vec<String>,
    /// Every tool call of the prior assistant turns, in order.
    pub calls: Vec<FakeCall>,
    /// Every tool result sent back, in order.
    pub results: Vec<ToolResult>,
}

/// A tool call, as an agent reply makes it or a request carries it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    pub id: String,
    pub name: String,
    /// The arguments as OpenAI sends them: a JSON string (which need not be
    /// valid JSON, to test a client with). Anthropic's `input` is this parsed.
    pub arguments: String,
}

/// A tool result a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    /// The call it answers (`tool_call_id`, `tool_use_id`).
    pub id: String,
    pub content: String,
    /// Anthropic's `is_error`; OpenAI has none.
    pub is_error: bool,
}

/// A whole answer, for an [`FakeConfig::agent`]: text, tool calls, or both,
/// in each API's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reply {
    /// The text; `None` is OpenAI's `content: null` (no text block for
    /// Anthropic), `Some("")` LiteLLM's `content: ""` beside tool calls.
    pub content: Option<String>,
    pub calls: Vec<FakeCall>,
    /// The finish reason as sent (`finish_reason` / `stop_reason`); by
    /// default `tool_calls` / `tool_use` with calls, else `stop` / `end_turn`.
    pub finish: Option<String>,
}

impl Reply {
    /// A text answer.
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            content: Some(text.into()),
            ..Reply::default()
        }
    }

    /// Calls of these `(name, arguments)`, with ids `call_1`, `call_2`, …
    /// numbered after `after` earlier calls, and `content: null`.
    pub fn calls(after: usize, calls: &[(&str, &str)]) -> Reply {
        Reply {
            content: None,
            calls: calls
                .iter()
                .enumerate()
                .map(|(i, (name, arguments))| FakeCall {
                    id: format!("call_{}", after + i + 1),
                    name: name.to_string(),
                    arguments: arguments.to_string(),
                })
                .collect(),
            finish: None,
        }
    }
}

/// An agent's whole answer to a request.
pub type Agent = Arc<dyn Fn(&ChatCall) -> Reply + Send + Sync>;

impl ChatCall {
    /// The content of the last `user` message, or "".
    pub fn last_user(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|(role, _)| role == "user")
            .map_or("", |(_, content)| content)
    }
}

/// One way to misbehave, for one request (queued) or all of them (`always`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That status, with a JSON error body in the API's own error shape
    /// (OpenAI `{"error":{…}}`, Anthropic `{"type":"error","error":{…}}`),
    /// and no `Retry-After`.
    Status(u16),
    /// 429 with this `Retry-After` value (seconds or an HTTP date).
    RateLimited { retry_after: String },
    /// 429 with this `retry-after-ms` value (OpenAI's milliseconds).
    RateLimitedMs { retry_after_ms: String },
    /// 429 with exactly these headers added (`llm_provider-retry-after`,
    /// `x-ratelimit-reset-tokens`, `anthropic-ratelimit-requests-reset`, …).
    RateLimitedWith {
        headers: Vec<(&'static str, String)>,
    },
    /// Read the whole request, then close the TCP connection (FIN) without
    /// any response.
    Drop,
    /// Read the request and never answer; the connection stays open until
    /// the client closes it or the server is dropped.
    Hang,
    /// 200, `content-type: application/json`, and a body that is not JSON.
    Malformed,
    /// 401 with the provider's real error JSON.
    Unauthorized,
    /// 200 with this exact content text in the normal envelope (after the
    /// configured latency).
    Reply(String),
    /// 200 with a normal envelope around `bytes` bytes of content: an
    /// answer too large to hold. `chunked` sends it without a
    /// `Content-Length`, so the client finds its size only by reading it.
    Huge { bytes: usize, chunked: bool },
    /// That status with this message in the API's error shape: a server that
    /// echoes what it was sent (the key, say) back in its error.
    Error { status: u16, message: String },
    /// Azure's refusal of a prompt by its content filter: 400 with
    /// `error.code: "content_filter"` and the categories in
    /// `innererror.content_filter_result`, in Azure's real shape.
    ContentFilter,
    /// 200 with this JSON as the whole body: a reply shape the normal
    /// envelope does not make (`content: null`, a `refusal`,
    /// `finish_reason: "length"`, Anthropic `stop_reason: "max_tokens"`).
    Json(Value),
    /// That status with this JSON as the whole body: an error shape the
    /// usual one does not make (Gemini's `details`, say).
    Body { status: u16, body: Value },
}

/// A barrier for chat answers (see [`FakeConfig::hold`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// Answer the held requests once this many are held together.
    pub requests: usize,
    /// Answer anyway after this long (counted by [`FakeServer::held_out`]),
    /// so that a client that never sends enough at once gets its answer.
    pub at_most: Duration,
}

/// The content of a normal answer.
pub type Responder = Arc<dyn Fn(&ChatCall) -> String + Send + Sync>;

/// How long to take over one chat answer, chosen per call.
pub type Pace = Arc<dyn Fn(&ChatCall) -> Duration + Send + Sync>;

/// How the server behaves when no fault is queued.
#[derive(Clone)]
pub struct FakeConfig {
    /// Added to every normal answer (and [`Fault::Reply`]), without blocking
    /// other requests.
    pub latency: Duration,
    /// When set, the latency of each chat answer (in place of `latency`),
    /// so that answers can finish in another order than they were asked.
    pub pace: Option<Pace>,
    /// A request arriving when at least this many requests arrived in the
    /// past second is answered 429 with `retry-after: 1`. Every request
    /// counts, the refused ones too (as OpenAI counts them), so a client that
    /// retries at once stays locked out. A queued or `always` fault wins.
    pub rps_limit: Option<u32>,
    /// Applied to every request for which no fault is queued.
    pub always: Option<Fault>,
    /// When set, every chat answer is held, before its latency starts, at
    /// a barrier: a barrier that shows requests overlapping without the test
    /// sleeping.
    pub hold: Option<Hold>,
    /// The content of normal answers.
    pub responder: Responder,
    /// When set, answers in place of `responder`, with tool calls as well as text.
    pub agent: Option<Agent>,
}

impl FakeConfig {
    /// The default configuration with this responder.
    pub fn responding(
        responder: impl Fn(&ChatCall) -> String + Send + Sync + 'static,
    ) -> FakeConfig {
        FakeConfig {
            responder: Arc::new(responder),
            ..FakeConfig::default()
        }
    }

    /// The default configuration with this agent.
    pub fn agent(agent: impl Fn(&ChatCall) -> Reply + Send + Sync + 'static) -> FakeConfig {
        FakeConfig {
            agent: Some(Arc::new(agent)),
            ..FakeConfig::default()
        }
    }
}

impl Default for FakeConfig {
    /// No latency, no limit, no fault; answers `echo: <last user message>`.
    fn default() -> FakeConfig {
        FakeConfig {
            latency: Duration::ZERO,
            pace: None,
            rps_limit: None,
            always: None,
            hold: None,
            responder: Arc::new(|call: &ChatCall| format!("echo: {}", call.last_user())),
            agent: None,
        }
    }
}

impl fmt::Debug for FakeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeConfig")
            .field("latency", &self.latency)
            .field("pace", &self.pace.as_ref().map(|_| "per call"))
            .field("rps_limit", &self.rps_limit)
            .field("always", &self.always)
            .field("hold", &self.hold)
            .finish_non_exhaustive()
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Without the query string, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The query string without its `?`, e.g. `api-version=2024-10-21`.
    pub query: String,
    /// Names in lower case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The JSON body; `Null` when empty, a `String` of the raw text when it
    /// is not JSON.
    pub body: Value,
    /// When the request had been read whole.
    pub at: Instant,
    /// The fault it was answered with, if any; a refusal by `rps_limit` is
    /// `RateLimited { retry_after: "1" }` (see [`FakeServer::rps_limited`]).
    pub fault: Option<Fault>,
}

impl Recorded {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        http::header(&self.headers, name)
    }
}

/// A running fake server. Dropping it shuts it down and closes every connection.
pub struct FakeServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts on `127.0.0.1:0` in a background thread with its own tokio
    /// runtime; returns once listening.
    pub fn start(config: FakeConfig) -> FakeServer {
        let shared = Arc::new(Shared::new(config));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel();
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("fake-llm-server".into())
                .spawn(move || {
                    let runtime = match tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .thread_name("fake-llm-worker")
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(err) => {
                            let _ = ready_tx.send(Err(err));
                            return;
                        }
                    };
                    runtime.block_on(async move {
                        let listener = match listen() {
                            Ok(listener) => listener,
                            Err(err) => {
                                let _ = ready_tx.send(Err(err));
                                return;
                            }
                        };
                        let _ = ready_tx.send(listener.local_addr());
                        tokio::select! {
                            () = accept_loop(listener, shared) => {}
                            _ = shutdown_rx => {}
                        }
                    });
                    // Drops every connection task, hung ones included.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                })
                .expect("fake server: spawn thread")
        };
        let addr = match ready_rx.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(err)) => panic!("fake server: cannot listen on 127.0.0.1:0: {err}"),
            Err(_) => panic!("fake server: thread died while starting"),
        };
        FakeServer {
            addr,
            shared,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/v1`, the OpenAI base URL.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`, the Anthropic base URL.
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT`, the Gemini base URL.
    pub fn gemini_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far (including ones answered with a fault),
    /// in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests were received, without copying them.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Queues faults: each incoming request takes the next one; when the
    /// queue is empty requests are answered normally (or with `always`).
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.shared.faults).extend(faults);
    }

    /// Queued faults no request has taken yet.
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults).len()
    }

    /// Peak number of requests that were being handled at the same time
    /// (from the moment one was read whole until its answer was written, its
    /// connection dropped, or its client gave up on a hang).
    pub fn peak_concurrency(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    /// How many TCP connections were accepted: fewer than requests when the
    /// client reuses connections (keep-alive).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// How many requests are being handled right now.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// How many requests `rps_limit` answered 429.
    pub fn rps_limited(&self) -> usize {
        self.shared.rps_limited.load(Ordering::SeqCst)
    }

    /// How many chat answers [`FakeConfig::hold`] held until its
    /// `at_most` ran out: requests that never had enough company.
    pub fn held_out(&self) -> usize {
        self.shared.held_out.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// State shared by the server's tasks and the [`FakeServer`] handle.
struct Shared {
    config: FakeConfig,
    requests: Mutex<Vec<Recorded>>,
    faults: Mutex<VecDeque<Fault>>,
    /// Arrival times within the last second, for `rps_limit`.
    window: Mutex<VecDeque<Instant>>,
    connections: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    rps_limited: AtomicUsize,
    held_out: AtomicUsize,
    /// The `hold` barrier, and how its held requests are told it opened.
    barrier: Mutex<Barrier>,
    released: tokio::sync::Notify,
    next_id: AtomicU64,
}

/// Requests held at the `hold` barrier in this round, and how many rounds
/// it has opened.
#[derive(Default)]
struct Barrier {
    held: usize,
    round: u64,
}

/// A test that panicked while holding a lock must not hide the server's state.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How a request is to be answered.
enum Verdict {
    Normal,
    Fault(Fault),
    /// Refused by `rps_limit`.
    OverLimit,
}

/// What to do with one request.
enum Action {
    Respond(Response),
    Drop,
    Hang,
}

/// Counts a request as in flight while it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn new(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.peak.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    fn new(config: FakeConfig) -> Shared {
        Shared {
            config,
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            window: Mutex::new(VecDeque::new()),
            connections: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            rps_limited: AtomicUsize::new(0),
            held_out: AtomicUsize::new(0),
            barrier: Mutex::new(Barrier::default()),
            released: tokio::sync::Notify::new(),
            next_id: AtomicU64::new(1),
        }
    }

    /// Records the request and picks its fault: a queued one, else `always`,
    /// else a 429 from `rps_limit`. One lock around both keeps the k-th
    /// recorded request paired with the k-th queued fault.
    fn admit(&self, request: &Request) -> Verdict {
        let body = if request.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&request.body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&request.body).into_owned())
            })
        };
        let mut requests = lock(&self.requests);
        let at = Instant::now();
        let over_limit = self.config.rps_limit.is_some_and(|limit| {
            let mut window = lock(&self.window);
            while window
                .front()
                .is_some_and(|t| at.duration_since(*t) >= Duration::from_secs(1))
            {
                window.pop_front();
            }
            let over = window.len() >= limit as usize;
            window.push_back(at);
            over
        });
        let fault = lock(&self.faults)
            .pop_front()
            .or_else(|| self.config.always.clone());
        let verdict = match fault {
            Some(fault) => Verdict::Fault(fault),
            None if over_limit => {
                self.rps_limited.fetch_add(1, Ordering::SeqCst);
                Verdict::OverLimit
            }
            None => Verdict::Normal,
        };
        requests.push(Recorded {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            headers: request.headers.clone(),
            body,
            at,
            fault: match &verdict {
                Verdict::Normal => None,
                Verdict::Fault(fault) => Some(fault.clone()),
                Verdict::OverLimit => Some(Fault::RateLimited {
                    retry_after: "1".into(),
                }),
            },
        });
        verdict
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

fn listen() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    // A deep backlog, so a burst of hundreds of connects is not throttled by
    // SYN retries (the kernel caps it at net.core.somaxconn).
    socket.listen(4096)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, Arc::clone(&shared)));
            }
            // Out of file descriptors, say: wait and go on accepting.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Serves one connection: requests one after another until the client
/// closes it, asks to close it, or a fault ends it.
async fn connection(mut stream: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    loop {
        let request = match http::read_request(&mut stream, &mut buf).await {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Gone) => return,
            Err(ReadError::Bad(status, message)) => {
                let body = wire::error(Api::OpenAi, status, Some(message), "");
                let _ =
                    http::write_response(&mut stream, &Response::json(status, &body), false).await;
                return;
            }
        };
        let _in_flight = InFlight::new(&shared);
        let keep_alive = request.keep_alive;
        let (action, delay) = respond(&shared, &request);
        let response = match action {
            Action::Respond(response) => response,
            Action::Drop => return,
            Action::Hang => {
                http::closed(&mut stream, &mut buf).await;
                return;
            }
        };
        if let Some(hold) = shared.config.hold.filter(|_| is_chat(&request))
            && !held(&shared, hold, &mut stream, &mut buf).await
        {
            return;
        }
        if !delay.is_zero() && !sleep_unless_closed(&mut stream, &mut buf, delay).await {
            return;
        }
        if http::write_response(&mut stream, &response, keep_alive)
            .await
            .is_err()
            || !keep_alive
        {
            return;
        }
    }
}

/// Whether a request asks for a chat answer (of any API).
fn is_chat(request: &Request) -> bool {
    request.method == "POST"
        && (matches!(
            request.path.as_str(),
            "/v1/chat/completions" | "/v1/messages"
        ) || azure::route(request).is_some_and(|r| r.path == "/v1/chat/completions")
            || gemini_model(&request.path).is_some())
}

/// The model of a Gemini `generateContent` path
/// (`/v1beta/models/{model}:generateContent`).
fn gemini_model(path: &str) -> Option<&str> {
    path.strip_prefix("/v1beta/models/")?
        .strip_suffix(":generateContent")
        .filter(|m| !m.is_empty() && !m.contains('/'))
}

/// Holds a chat answer at the barrier until `hold.requests` are held
/// together (or `hold.at_most` has passed) while watching the socket.
/// False if the client closed the connection.
async fn held(shared: &Shared, hold: Hold, stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let deadline = tokio::time::Instant::now() + hold.at_most;
    let round = {
        let mut barrier = lock(&shared.barrier);
        barrier.held += 1;
        if barrier.held >= hold.requests {
            barrier.held = 0;
            barrier.round += 1;
            shared.released.notify_waiters();
            return true;
        }
        barrier.round
    };
    // Leaves the barrier without having been released.
    let leave = || {
        let mut barrier = lock(&shared.barrier);
        if barrier.round == round {
            barrier.held -= 1;
            true
        } else {
            false
        }
    };
    loop {
        let released = shared.released.notified();
        tokio::pin!(released);
        // Registered before the check, so a release between the two is seen.
        released.as_mut().enable();
        if lock(&shared.barrier).round != round {
            return true;
        }
        tokio::select! {
            () = &mut released => {}
            () = tokio::time::sleep_until(deadline) => {
                if leave() {
                    shared.held_out.fetch_add(1, Ordering::SeqCst);
                }
                return true;
            }
            () = http::closed(stream, buf) => {
                leave();
                return false;
            }
        }
    }
}

/// Sleeps for `delay` while watching the socket, so a client that gives up
/// stops counting as in flight. False if it closed the connection.
async fn sleep_unless_closed(stream: &mut TcpStream, buf: &mut Vec<u8>, delay: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = http::closed(stream, buf) => false,
    }
}

/// Which API's shapes to answer a request in: by path, then by header.
fn api_of(request: &Request) -> Api {
    match request.path.as_str() {
        "/v1/chat/completions" => Api::OpenAi,
        "/v1/messages" => Api::Anthropic,
        path if path.starts_with("/v1beta/") => Api::Gemini,
        _ if request.header("anthropic-version").is_some() => Api::Anthropic,
        _ if request.header("x-api-key").is_some() && request.header("authorization").is_none() => {
            Api::Anthropic
        }
        _ => Api::OpenAi,
    }
}

/// The body [`Fault::Malformed`] sends: a chat completion cut off mid-way.
const MALFORMED: &[u8] = br#"{"id":"chatcmpl-fake","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis"#;

/// Decides the answer to one request, and how long to wait before giving it.
fn respond(shared: &Shared, request: &Request) -> (Action, Duration) {
    let verdict = shared.admit(request);
    let answer = Answer::new(shared, request);
    let respond_now = |response| (Action::Respond(response), Duration::ZERO);
    match verdict {
        Verdict::Normal => answer.normal(shared, request, None),
        Verdict::Fault(Fault::Reply(content)) => answer.normal(shared, request, Some(content)),
        Verdict::Fault(Fault::Huge { bytes, chunked }) => {
            match answer.normal(shared, request, Some("x".repeat(bytes))) {
                (Action::Respond(mut response), delay) => {
                    response.chunked = chunked;
                    (Action::Respond(response), delay)
                }
                other => other,
            }
        }
        Verdict::Fault(Fault::Json(body)) => respond_now(answer.tagged(Response::json(200, &body))),
        Verdict::Fault(Fault::ContentFilter) => {
            respond_now(answer.tagged(Response::json(400, &azure::content_filter_error())))
        }
        Verdict::Fault(Fault::Body { status, body }) => {
            respond_now(answer.tagged(Response::json(status, &body)))
        }
        Verdict::Fault(Fault::Drop) => (Action::Drop, Duration::ZERO),
        Verdict::Fault(Fault::Hang) => (Action::Hang, Duration::ZERO),
        Verdict::Fault(Fault::Status(status)) => respond_now(answer.error(status, None)),
        Verdict::Fault(Fault::Unauthorized) => respond_now(answer.error(401, None)),
        Verdict::Fault(Fault::Error { status, message }) => {
            respond_now(answer.error(status, Some(&message)))
        }
        Verdict::Fault(Fault::RateLimited { retry_after }) => respond_now(
            answer
                .error(429, None)
                .with_header("retry-after", retry_after),
        ),
        Verdict::Fault(Fault::RateLimitedMs { retry_after_ms }) => respond_now(
            answer
                .error(429, None)
                .with_header("retry-after-ms", retry_after_ms),
        ),
        Verdict::Fault(Fault::RateLimitedWith { headers }) => {
            let mut response = answer.error(429, None);
            response.headers.extend(headers);
            respond_now(response)
        }
        Verdict::Fault(Fault::Malformed) => respond_now(answer.tagged(Response {
            status: 200,
            headers: vec![("content-type", "application/json".into())],
            body: MALFORMED.to_vec(),
            chunked: false,
        })),
        Verdict::OverLimit => {
            let limit = shared.config.rps_limit.unwrap_or_default();
            let message = format!(
                "Rate limit reached: limit {limit} requests per second. Please try again in 1s."
            );
            respond_now(
                answer
                    .error(429, Some(&message))
                    .with_header("retry-after", "1"),
            )
        }
    }
}

/// Builds the responses to one request, in its API's shapes.
struct Answer {
    api: Api,
    id: u64,
    request_id: String,
}

impl Answer {
    fn new(shared: &Shared, request: &Request) -> Answer {
        let id = shared.next_id();
        Answer {
            api: api_of(request),
            id,
            request_id: format!("req_fake{id:012}"),
        }
    }

    /// Adds the request-id header each API sends.
    fn tagged(&self, response: Response) -> Response {
        let name = match self.api {
            Api::OpenAi => "x-request-id",
            Api::Anthropic => "request-id",
            Api::Gemini => "x-goog-request-id",
        };
        response.with_header(name, self.request_id.clone())
    }

    /// An error response; `message` overrides the status's usual text.
    fn error(&self, status: u16, message: Option<&str>) -> Response {
        let body = wire::error(self.api, status, message, &self.request_id);
        self.tagged(Response::json(status, &body))
    }

    /// A normal answer, after the configured latency: the model list, or a
    /// chat answer with the responder's content (or `content`, for
    /// [`Fault::Reply`]); or the 4xx the real API would give.
    fn normal(
        &self,
        shared: &Shared,
        request: &Request,
        content: Option<String>,
    ) -> (Action, Duration) {
        let now = |response| (Action::Respond(response), Duration::ZERO);
        let latency = shared.config.latency;
        if self.api == Api::Gemini {
            if let Some(refused) = self.gemini_key(request) {
                return now(refused);
            }
            match (request.method.as_str(), request.path.as_str()) {
                ("GET", "/v1beta/models") => {
                    let models = Response::json(200, &wire::models(self.api));
                    return (Action::Respond(self.tagged(models)), latency);
                }
                ("POST", path) if gemini_model(path).is_some() => {}
                (method, path) => {
                    return now(
                        self.error(404, Some(&format!("Unknown request URL: {method} {path}")))
                    );
                }
            }
        }
        // Azure's paths speak OpenAI's wire, once their key and version are there.
        let azure = azure::route(request);
        if let Some(refusal) = azure.as_ref().and_then(|r| azure::refuse(request, r)) {
            return now(self.tagged(refusal));
        }
        let path = azure.as_ref().map_or(request.path.as_str(), |r| r.path);
        match (request.method.as_str(), path) {
            ("POST", path) if self.api == Api::Gemini && gemini_model(path).is_some() => {}
            ("POST", "/v1/chat/completions" | "/v1/messages") => {}
            ("GET", "/v1/models") => {
                let models = Response::json(200, &wire::models(self.api));
                return (Action::Respond(self.tagged(models)), latency);
            }
            (method, path @ ("/v1/chat/completions" | "/v1/messages" | "/v1/models")) => {
                return now(self.error(
                    405,
                    Some(&format!("Method {method} not allowed for {path}")),
                ));
            }
            (method, path) => {
                return now(self.error(404, Some(&format!("Unknown request URL: {method} {path}"))));
            }
        }
        let mut body: Value = match serde_json::from_slice(&request.body) {
            Ok(body) => body,
            Err(err) => {
                let message = format!("We could not parse the JSON body of your request: {err}");
                return now(self.error(400, Some(&message)));
            }
        };
        // A deployment's URL names the model; the body need not.
        if let (Some(deployment), Some(obj)) = (
            azure.as_ref().and_then(|r| r.deployment.as_ref()),
            body.as_object_mut(),
        ) {
            obj.insert("model".into(), Value::from(deployment.as_str()));
        }
        let parsed = match self.api {
            Api::OpenAi => wire::parse_openai(&body),
            Api::Anthropic => wire::parse_anthropic(&body, &request.headers),
            Api::Gemini => wire::parse_gemini(&body, gemini_model(&request.path).unwrap_or("")),
        };
        let (call, reply) = match (parsed, content) {
            // A scripted reply does not need a valid request.
            (parsed, Some(content)) => (parsed.ok(), Reply::text(content)),
            (Err(wire::Invalid(message)), None) => return now(self.error(400, Some(&message))),
            (Ok(call), None) => match respond_to(&shared.config, &call) {
                Ok(reply) => (Some(call), reply),
                Err(message) => return now(self.error(500, Some(&message))),
            },
        };
        let model = match self.api {
            Api::Gemini => gemini_model(&request.path).unwrap_or_default(),
            _ => body
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        };
        let mut answer = wire::answer(self.api, self.id, model, call.as_ref(), &reply);
        if azure.is_some() {
            azure::annotate(&mut answer);
        }
        let latency = match (&shared.config.pace, &call) {
            (Some(pace), Some(call)) => pace(call),
            _ => latency,
        };
        (
            Action::Respond(self.tagged(Response::json(200, &answer))),
            latency,
        )
    }
}

impl Answer {
    /// Gemini's refusals of a key, as the real API gives them: none at all
    /// is 403 `PERMISSION_DENIED`; one that is not shaped like a Google
    /// key (`AIza…`) is 400 `INVALID_ARGUMENT` with reason `API_KEY_INVALID`.
    fn gemini_key(&self, request: &Request) -> Option<Response> {
        match request.header("x-goog-api-key") {
            None => Some(self.error(
                403,
                Some("Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."),
            )),
            Some(key) if !key.starts_with("AIza") => Some(self.tagged(Response::json(
                400,
                &wire::gemini_key_invalid(),
            ))),
            Some(_) => None,
        }
    }
}

/// Runs the agent or the responder; a panic (a bug in a test) becomes a 500
/// that says so, rather than a dropped connection that looks like [`Fault::Drop`].
fn respond_to(config: &FakeConfig, call: &ChatCall) -> Result<Reply, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| match &config.agent {
        Some(agent) => agent(call),
        None => Reply::text((config.responder)(call)),
    }))
    .map_err(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("fake server: the responder panicked: {what}")
    })
}

#[cfg(test)]
mod tests;
