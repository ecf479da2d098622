//! A model test of the socket session: random sequences of what browsers do to a real embedded
//! app (send the next event, resend an applied one, skip ahead, send events that fail or several
//! at once, say `hello` again, reconnect a page, open a second socket on a token, in the same tab
//! or another, close a socket, race two sockets of one token), each checked against a reference
//! model of every token: its version, its applied events in order and each tab's last applied
//! seq.
//!
//! Every step waits for what it causes, and then for every other socket of the token to have
//! received it, so each socket's next frame is predictable: an event's answer must be the very next
//! frame on its socket (a delta of the next version with its tab and seq, an `ack`, or a typed
//! error), a `hello` must be answered by a hydrate showing the model, and every other socket of
//! the token must get exactly the deltas of the applied events, in order. The app logs the id of
//! each applied event, so the state shows an event applied twice, or lost, directly. At the end a
//! fresh hydrate of every page equals the model. Nothing waits for time to pass: each wait is for a
//! frame, bounded by the client's timeout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::OnceLock;

use proptest::prelude::*;
use refract::App;
use refract::testing::{ClientOptions, ErrorCode, ServerFrame, TestClient};
use refract_gateway::GatewayConfig;
use refract_proto::ClientFrame;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The app's one state: a count, and the id of every applied event in the order applied.
#[derive(refract::State, Default, Serialize, Deserialize)]
pub struct Tally {
    count: i64,
    log: Vec<String>,
}

#[refract::handlers]
impl Tally {
    /// Adds `n` and logs the event's `id`.
    pub fn add(&mut self, n: i64, id: String) {
        self.count += n;
        self.log.push(id);
    }

    /// Changes the state, then fails: nothing may be kept.
    pub fn fail(&mut self) -> Result<(), String> {
        self.count = -1;
        self.log.clear();
        Err("refused".into())
    }
}

/// What a step does. Socket and page numbers pick among those open (or known) when the step
/// runs, modulo their number.
#[derive(Debug, Clone)]
enum Op {
    /// The socket sends its tab's next event.
    Next { socket: usize, n: i64 },
    /// The socket resends an event its tab already applied.
    Duplicate { socket: usize, back: u64 },
    /// The socket sends an event `skip` past its tab's next seq: refused with `seq_gap`.
    Gap { socket: usize, skip: u64 },
    /// The socket sends its tab's next seq with an event that fails.
    Fail { socket: usize, kind: Failing },
    /// The socket sends several events without waiting for their answers.
    Burst { socket: usize, events: Vec<Sub> },
    /// The socket says `hello` again: a resync.
    Rehello { socket: usize },
    /// A page reconnects: its socket (if open) closes, and a new one says `hello` with the page's
    /// token and tab.
    Reconnect { page: usize },
    /// A new socket on the socket's token, in the same tab (a page with two sockets) or a new one
    /// ("Duplicate tab").
    Join { socket: usize, same_tab: bool },
    /// A new page with a new token.
    Fresh,
    /// The socket closes.
    Close { socket: usize },
    /// The socket and another of its token each send their tab's next event at once.
    Race { socket: usize, other: usize, n: i64 },
}

/// An event of a [`Op::Burst`].
#[derive(Debug, Clone, Copy)]
enum Sub {
    /// The next seq (as numbered at sending, counting the burst's own).
    Next(i64),
    /// Seq 1 again, or the last one sent.
    Duplicate,
    /// Two past the next.
    Gap,
    /// A failing event with the next seq.
    Fail(Failing),
}

/// An event of a burst as sent: an `add` of `n` with its id, or a failing one.
enum Sent {
    Add(i64, String),
    Failing(Failing),
}

/// How an event fails.
#[derive(Debug, Clone, Copy)]
enum Failing {
    /// The handler returns an error: `handler_failed`.
    Handler,
    /// A wrongly typed argument: `bad_arguments`.
    Arguments,
    /// No such handler: `unknown_handler`.
    Unknown,
}

impl Failing {
    fn event(self) -> (&'static str, Value) {
        match self {
            Failing::Handler => ("tally.fail", json!({})),
            Failing::Arguments => ("tally.add", json!({"n": "one", "id": "x"})),
            Failing::Unknown => ("tally.nope", json!({})),
        }
    }

    fn code(self) -> ErrorCode {
        match self {
            Failing::Handler => ErrorCode::HandlerFailed,
            Failing::Arguments => ErrorCode::BadArguments,
            Failing::Unknown => ErrorCode::UnknownHandler,
        }
    }
}

fn failing() -> impl Strategy<Value = Failing> {
    prop_oneof![
        Just(Failing::Handler),
        Just(Failing::Arguments),
        Just(Failing::Unknown)
    ]
}

fn sub() -> impl Strategy<Value = Sub> {
    prop_oneof![
        4 => (-3i64..4).prop_map(Sub::Next),
        1 => Just(Sub::Duplicate),
        1 => Just(Sub::Gap),
        1 => failing().prop_map(Sub::Fail),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let socket = 0usize..8;
    prop_oneof![
        6 => (socket.clone(), -3i64..4).prop_map(|(socket, n)| Op::Next { socket, n }),
        2 => (socket.clone(), 0u64..8).prop_map(|(socket, back)| Op::Duplicate { socket, back }),
        2 => (socket.clone(), 1u64..4).prop_map(|(socket, skip)| Op::Gap { socket, skip }),
        1 => (socket.clone(), failing()).prop_map(|(socket, kind)| Op::Fail { socket, kind }),
        2 => (socket.clone(), proptest::collection::vec(sub(), 2..6))
            .prop_map(|(socket, events)| Op::Burst { socket, events }),
        1 => socket.clone().prop_map(|socket| Op::Rehello { socket }),
        2 => (0usize..8).prop_map(|page| Op::Reconnect { page }),
        2 => (socket.clone(), any::<bool>())
            .prop_map(|(socket, same_tab)| Op::Join { socket, same_tab }),
        1 => Just(Op::Fresh),
        1 => socket.clone().prop_map(|socket| Op::Close { socket }),
        2 => (socket.clone(), socket, -3i64..4)
            .prop_map(|(socket, other, n)| Op::Race { socket, other, n }),
    ]
}

/// One applied event, as the model records it.
#[derive(Debug, Clone)]
struct Applied {
    tab: String,
    seq: u64,
    n: i64,
    id: String,
}

/// The reference model of one token.
#[derive(Debug, Default)]
struct TokenModel {
    /// The token, as the server issued it.
    token: String,
    /// The applied events in order: event `v` made version `v + 1`.
    history: Vec<Applied>,
    /// Each tab's last applied seq.
    last_seq: HashMap<String, u64>,
}

impl TokenModel {
    fn version(&self) -> u64 {
        self.history.len() as u64
    }

    fn last_seq(&self, tab: &str) -> u64 {
        self.last_seq.get(tab).copied().unwrap_or(0)
    }

    /// The state after the first `version` events.
    fn state_at(&self, version: u64) -> Value {
        let applied = &self.history[..version as usize];
        let count: i64 = applied.iter().map(|a| a.n).sum();
        let log: Vec<&str> = applied.iter().map(|a| a.id.as_str()).collect();
        json!({"count": count, "log": log})
    }

    fn state(&self) -> Value {
        self.state_at(self.version())
    }

    fn apply(&mut self, applied: Applied) {
        self.last_seq.insert(applied.tab.clone(), applied.seq);
        self.history.push(applied);
    }
}

/// An open socket: its client, and the model index of its token.
struct Socket {
    client: TestClient,
    token: usize,
}

/// A page: a token and a tab, whose socket may be open or closed.
#[derive(Debug, Clone)]
struct Page {
    token: usize,
    tab: String,
}

/// One run: the model, the open sockets and the known pages.
struct Run {
    addr: SocketAddr,
    tokens: Vec<TokenModel>,
    sockets: Vec<Socket>,
    pages: Vec<Page>,
    /// Numbers the events' ids, so that no two sends carry the same one.
    sent: u64,
}

/// What an event's answer must be.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Delta { version: u64 },
    Ack,
    Error(ErrorCode),
}

impl Run {
    async fn new(addr: SocketAddr) -> Run {
        let mut run = Run {
            addr,
            tokens: Vec::new(),
            sockets: Vec::new(),
            pages: Vec::new(),
            sent: 0,
        };
        run.fresh().await;
        run
    }

    fn id(&mut self) -> String {
        self.sent += 1;
        format!("e{}", self.sent)
    }

    /// The index of an open socket, opening a new page first if none is open.
    async fn socket(&mut self, pick: usize) -> usize {
        if self.sockets.is_empty() {
            self.fresh().await;
        }
        pick % self.sockets.len()
    }

    /// Does `op`, then waits until every socket has received what it caused.
    async fn step(&mut self, op: &Op) {
        self.act(op).await;
        self.settle().await;
    }

    async fn act(&mut self, op: &Op) {
        match *op {
            Op::Next { socket, n } => {
                let s = self.socket(socket).await;
                self.next(s, n).await;
            }
            Op::Duplicate { socket, back } => {
                let s = self.socket(socket).await;
                let (token, tab) = self.identity(s);
                let last = self.tokens[token].last_seq(&tab);
                if last == 0 {
                    return self.next(s, 1).await;
                }
                let seq = last - back % last;
                let id = self.id();
                self.send_add(s, seq, 1, &id).await;
                self.expect_answer(s, seq, Expect::Ack).await;
            }
            Op::Gap { socket, skip } => {
                let s = self.socket(socket).await;
                let (token, tab) = self.identity(s);
                let seq = self.tokens[token].last_seq(&tab) + 1 + skip;
                let id = self.id();
                self.send_add(s, seq, 1, &id).await;
                self.expect_answer(s, seq, Expect::Error(ErrorCode::SeqGap))
                    .await;
            }
            Op::Fail { socket, kind } => {
                let s = self.socket(socket).await;
                let (token, tab) = self.identity(s);
                let seq = self.tokens[token].last_seq(&tab) + 1;
                self.send_failing(s, seq, kind).await;
                self.expect_answer(s, seq, Expect::Error(kind.code())).await;
            }
            Op::Burst { socket, ref events } => {
                let s = self.socket(socket).await;
                self.burst(s, events).await;
            }
            Op::Rehello { socket } => {
                let s = self.socket(socket).await;
                let frame = self.hello_again(s).await;
                assert!(
                    matches!(frame, ServerFrame::Hydrate { .. }),
                    "a hello again is answered by a hydrate, not {frame:?}"
                );
                self.check_hydrated(s);
            }
            Op::Reconnect { page } => {
                let page = self.pages[page % self.pages.len()].clone();
                if let Some(open) = self
                    .sockets
                    .iter()
                    .position(|s| s.token == page.token && s.client.tab == page.tab)
                {
                    self.sockets.swap_remove(open).client.close().await;
                }
                self.open(page.token, Some(page.tab)).await;
            }
            Op::Join { socket, same_tab } => {
                let s = self.socket(socket).await;
                let (token, tab) = self.identity(s);
                self.open(token, same_tab.then_some(tab)).await;
            }
            Op::Fresh => self.fresh().await,
            Op::Close { socket } => {
                let s = self.socket(socket).await;
                self.sockets.swap_remove(s).client.close().await;
            }
            Op::Race { socket, other, n } => {
                let a = self.socket(socket).await;
                let token = self.sockets[a].token;
                let others: Vec<usize> = (0..self.sockets.len())
                    .filter(|&b| b != a && self.sockets[b].token == token)
                    .collect();
                if others.is_empty() {
                    return self.next(a, n).await;
                }
                let b = others[other % others.len()];
                self.race(a, b, n).await;
            }
        }
    }

    fn identity(&self, s: usize) -> (usize, String) {
        (self.sockets[s].token, self.sockets[s].client.tab.clone())
    }

    async fn send_add(&mut self, s: usize, seq: u64, n: i64, id: &str) {
        let event = ClientFrame::Event {
            seq,
            handler: "tally.add".into(),
            args: json!({"n": n, "id": id}),
            page: None,
            depth: 0,
        };
        self.sockets[s].client.send(&event).await.unwrap();
    }

    async fn send_failing(&mut self, s: usize, seq: u64, kind: Failing) {
        let (handler, args) = kind.event();
        let event = ClientFrame::Event {
            seq,
            handler: handler.into(),
            args,
            page: None,
            depth: 0,
        };
        self.sockets[s].client.send(&event).await.unwrap();
    }

    /// Sends the tab's next event and checks that it applies as the next version.
    async fn next(&mut self, s: usize, n: i64) {
        let (token, tab) = self.identity(s);
        let seq = self.tokens[token].last_seq(&tab) + 1;
        let id = self.id();
        self.send_add(s, seq, n, &id).await;
        let version = self.tokens[token].version() + 1;
        self.tokens[token].apply(Applied { tab, seq, n, id });
        self.expect_answer(s, seq, Expect::Delta { version }).await;
    }

    /// The socket's next frame answers event `seq` as `expect` says, and the socket then shows
    /// the model.
    async fn expect_answer(&mut self, s: usize, seq: u64, expect: Expect) {
        let tab = self.sockets[s].client.tab.clone();
        let frame = self.sockets[s].client.recv().await.unwrap();
        let got = match &frame {
            ServerFrame::Delta {
                version,
                seq: Some(answered),
                tab: Some(of),
                ..
            } if *answered == seq && *of == tab => Expect::Delta { version: *version },
            ServerFrame::Ack { seq: answered, .. } if *answered == seq => Expect::Ack,
            ServerFrame::Error {
                seq: Some(answered),
                code,
                retryable: false,
                message,
                ..
            } if *answered == seq && !message.is_empty() => Expect::Error(*code),
            other => panic!("event {seq} of tab {tab}: expected {expect:?}, got {other:?}"),
        };
        assert_eq!(got, expect, "event {seq} of tab {tab}: {frame:?}");
        self.check_shows_model(s);
    }

    /// Sends `events` back to back, then reads their answers, in order: the session runs a
    /// socket's events one at a time, in the order sent, so the model predicts each.
    async fn burst(&mut self, s: usize, events: &[Sub]) {
        let (token, tab) = self.identity(s);
        // Numbered as a runtime would, at sending: the next seq counts the burst's own events.
        let mut numbered = self.tokens[token].last_seq(&tab);
        let mut sent = Vec::new();
        for sub in events {
            match *sub {
                Sub::Next(n) => {
                    numbered += 1;
                    let id = self.id();
                    self.send_add(s, numbered, n, &id).await;
                    sent.push((numbered, Sent::Add(n, id)));
                }
                Sub::Duplicate => {
                    let seq = numbered.max(1);
                    let id = self.id();
                    self.send_add(s, seq, 1, &id).await;
                    sent.push((seq, Sent::Add(1, id)));
                }
                Sub::Gap => {
                    let id = self.id();
                    self.send_add(s, numbered + 3, 1, &id).await;
                    sent.push((numbered + 3, Sent::Add(1, id)));
                }
                Sub::Fail(kind) => {
                    self.send_failing(s, numbered + 1, kind).await;
                    sent.push((numbered + 1, Sent::Failing(kind)));
                }
            }
        }
        for (seq, sent) in sent {
            let model = &mut self.tokens[token];
            let last = model.last_seq(&tab);
            let expect = match sent {
                // The handler is resolved first: an unknown one is refused whatever its seq.
                Sent::Failing(Failing::Unknown) => Expect::Error(ErrorCode::UnknownHandler),
                _ if seq <= last => Expect::Ack,
                _ if seq > last + 1 => Expect::Error(ErrorCode::SeqGap),
                Sent::Failing(kind) => Expect::Error(kind.code()),
                Sent::Add(n, id) => {
                    let version = model.version() + 1;
                    model.apply(Applied {
                        tab: tab.clone(),
                        seq,
                        n,
                        id,
                    });
                    Expect::Delta { version }
                }
            };
            self.expect_answer(s, seq, expect).await;
        }
    }

    /// Two sockets of one token each send their tab's next event, at once. Of two tabs both
    /// apply, in an order the server picks; of one tab (the same seq) one applies and the other is
    /// acknowledged.
    async fn race(&mut self, a: usize, b: usize, n: i64) {
        let token = self.sockets[a].token;
        let mut sent = Vec::new();
        for (s, n) in [(a, n), (b, n + 10)] {
            let tab = self.sockets[s].client.tab.clone();
            let seq = self.tokens[token].last_seq(&tab) + 1;
            let id = self.id();
            self.send_add(s, seq, n, &id).await;
            sent.push(Applied { tab, seq, n, id });
        }
        let same_tab = sent[0].tab == sent[1].tab;
        let target = self.tokens[token].version() + if same_tab { 1 } else { 2 };
        // Each socket gets every applied version, by its answer or relayed, in order; or, when its
        // answer overtakes the relay of the other's event, a hydrate that covers both.
        let mut answered = [false, false];
        let mut acked = [false, false];
        for (i, s) in [a, b].into_iter().enumerate() {
            let own = (sent[i].tab.as_str(), sent[i].seq);
            while self.sockets[s].client.version < target {
                match self.sockets[s].client.recv().await.unwrap() {
                    ServerFrame::Delta { seq, tab, .. } => {
                        answered[i] |= (tab.as_deref(), seq) == (Some(own.0), Some(own.1));
                    }
                    ServerFrame::Hydrate { last_seq, .. } => answered[i] |= last_seq >= own.1,
                    ServerFrame::Ack { seq, .. } if same_tab && seq == own.1 => acked[i] = true,
                    other => panic!("racing sockets: unexpected {other:?}"),
                }
            }
        }
        // The log tells the order they applied in.
        let log = self.sockets[a].client.var("tally", "log").clone();
        let log: Vec<&str> = log
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let applied = &log[self.tokens[token].history.len()..];
        let order: Vec<usize> = applied
            .iter()
            .map(|id| {
                sent.iter()
                    .position(|e| e.id == *id)
                    .expect("a racing event")
            })
            .collect();
        if same_tab {
            // The other, the same seq, is acknowledged and not run.
            let (winner, loser) = (order[0], 1 - order[0]);
            assert!(answered[winner] && !acked[winner], "{sent:?}");
            if !acked[loser] {
                let s = [a, b][loser];
                let frame = self.sockets[s].client.recv().await.unwrap();
                assert_eq!(
                    frame,
                    ServerFrame::Ack {
                        seq: sent[loser].seq,
                        then: vec![]
                    }
                );
            }
        } else {
            assert!(answered[0] && answered[1], "both events answered: {sent:?}");
        }
        for i in order {
            self.tokens[token].apply(sent[i].clone());
        }
        self.check_shows_model(a);
        self.check_shows_model(b);
    }

    /// Opens a new page with a new token.
    async fn fresh(&mut self) {
        let client = TestClient::connect(self.addr, None).await.unwrap();
        self.tokens.push(TokenModel {
            token: client.token.clone(),
            ..TokenModel::default()
        });
        let token = self.tokens.len() - 1;
        self.pages.push(Page {
            token,
            tab: client.tab.clone(),
        });
        self.sockets.push(Socket { client, token });
        self.check_hydrated(self.sockets.len() - 1);
    }

    /// Opens a socket on `token`, in `tab` (`None`: a new tab).
    async fn open(&mut self, token: usize, tab: Option<String>) {
        let options = ClientOptions {
            tab,
            ..ClientOptions::default()
        };
        let issued = self.tokens[token].token.clone();
        let client = TestClient::connect_with(self.addr, Some(&issued), &options)
            .await
            .unwrap();
        assert_eq!(client.token, issued, "a resumed token is kept");
        if !self
            .pages
            .iter()
            .any(|p| p.token == token && p.tab == client.tab)
        {
            self.pages.push(Page {
                token,
                tab: client.tab.clone(),
            });
        }
        self.sockets.push(Socket { client, token });
        self.check_hydrated(self.sockets.len() - 1);
    }

    /// The socket was just hydrated: its version, state and tab's last seq are the model's.
    fn check_hydrated(&self, s: usize) {
        let socket = &self.sockets[s];
        let model = &self.tokens[socket.token];
        assert_eq!(
            socket.client.last_seq,
            model.last_seq(&socket.client.tab),
            "the hydrate's last_seq is the tab's"
        );
        self.check_shows_model(s);
    }

    /// The socket shows the model's version and state.
    fn check_shows_model(&self, s: usize) {
        let socket = &self.sockets[s];
        let model = &self.tokens[socket.token];
        assert_eq!(socket.client.version, model.version(), "version");
        assert_eq!(
            socket.client.state.get("tally"),
            Some(&model.state()),
            "state"
        );
    }

    /// Waits until every open socket has received every applied event of its token: each next
    /// frame must be the delta of its next version, as the model recorded it.
    async fn settle(&mut self) {
        for s in 0..self.sockets.len() {
            let model = &self.tokens[self.sockets[s].token];
            while self.sockets[s].client.version < model.version() {
                let frame = self.sockets[s].client.recv().await.unwrap();
                let client = &self.sockets[s].client;
                let ServerFrame::Delta {
                    version, seq, tab, ..
                } = frame
                else {
                    panic!("a socket behind its token gets deltas, not {frame:?}");
                };
                let applied = &model.history[version as usize - 1];
                assert_eq!(
                    (seq, tab.as_deref()),
                    (Some(applied.seq), Some(applied.tab.as_str())),
                    "the delta of version {version} is that of {applied:?}"
                );
                assert_eq!(client.state.get("tally"), Some(&model.state_at(version)));
            }
            assert_eq!(self.sockets[s].client.version, model.version());
        }
    }

    /// Sends socket `s` a `hello` with its own token and tab again; the frame that follows.
    async fn hello_again(&mut self, s: usize) -> ServerFrame {
        let token = self.tokens[self.sockets[s].token].token.clone();
        let tab = self.sockets[s].client.tab.clone();
        let hello = ClientFrame::Hello {
            token: Some(token),
            tab: Some(tab),
            page: None,
        };
        self.sockets[s].client.send(&hello).await.unwrap();
        self.sockets[s].client.recv().await.unwrap()
    }

    /// Every open socket has nothing left to read (a `hello` is answered by the very next frame),
    /// and a fresh hydrate of every page shows the model; then every socket closes.
    async fn finish(mut self) {
        for s in 0..self.sockets.len() {
            let frame = self.hello_again(s).await;
            assert!(
                matches!(frame, ServerFrame::Hydrate { .. }),
                "nothing was left unread: {frame:?}"
            );
            self.check_hydrated(s);
        }
        for page in self.pages.clone() {
            self.open(page.token, Some(page.tab)).await;
        }
        for socket in self.sockets {
            socket.client.close().await;
        }
    }
}

/// The app's server, started once for every case (each case uses its own tokens), on its runtime.
fn server() -> &'static (tokio::runtime::Runtime, SocketAddr) {
    static SERVER: OnceLock<(tokio::runtime::Runtime, SocketAddr)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let config = GatewayConfig {
                max_connections_per_ip: 0,
                ..GatewayConfig::default()
            };
            let server = App::new("session model")
                .state::<Tally>()
                .serve(listener, config)
                .unwrap();
            server.addr
        });
        (runtime, addr)
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Whatever browsers do to their sockets, every event is answered, none is applied twice or
    /// lost, and every socket and every fresh hydrate shows the model's state.
    #[test]
    fn sockets_agree_with_the_model(ops in proptest::collection::vec(op(), 1..24)) {
        let (runtime, addr) = server();
        runtime.block_on(async {
            let mut run = Run::new(*addr).await;
            for op in &ops {
                run.step(op).await;
            }
            run.finish().await;
        });
    }
}
