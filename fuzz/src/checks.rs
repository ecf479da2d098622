//! The checks of the fuzz targets, one function per target, each taking the fuzzer's bytes:
//!
//! * [`frame`]: the bytes as a frame a browser (or a server) sent: the proto crate's parsers never
//!   panic, refuse with a typed error, and what they accept encodes and parses back the same;
//! * [`handler_args`]: a few events (`state.handler` and JSON arguments) run by the worker's engine
//!   on the memory store over a small app of typed states: each applies (its delta is what a fresh
//!   hydrate then shows, and a resend changes nothing) or fails with a typed error and leaves the
//!   stored state as it was;
//! * [`shard`]: `state` and the bytes stored as that state's shard: loading them gives a state
//!   (decoded, migrated or reset), and the next event applies and stores a state that decodes.
//!
//! This file is the one home of these checks: the fuzz targets (`fuzz/fuzz_targets/`) run them
//! under libFuzzer, and `refract/tests/fuzz_corpus.rs` includes this file to replay the kept corpus
//! (`fuzz/corpus/<target>/`) through them on the stable toolchain. A check fails by panicking; a
//! panic inside an app's handler is the engine's to catch (`handler_failed`), not a failure.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use refract_core::{ClientHeaders, EventContext, PageContext, State, StateRegistry};
use refract_proto::frame::{
    DeltaHeader, MAX_PAGE_BYTES, MAX_SEQ, delta_header, event_seq, valid_tab,
};
use refract_proto::layout::Target;
use refract_proto::{
    ClientFrame, ErrorCode, EventRequest, Hydration, Outcome, Processor, ServerFrame,
};
use refract_worker::{Commit, Engine, MemoryStore, StateStore};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// The app the engine checks run: three states with typed handler parameters.

/// A counter: a var, a backend var and a computed var.
#[derive(refract::State, Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
    #[backend]
    touches: u64,
}

#[refract::handlers]
impl Counter {
    /// Adds `n` (an overflow panics, which the engine turns into `handler_failed`).
    pub fn add(&mut self, n: i64) {
        self.count += n;
    }

    /// Sets the count, then refuses a negative one: the change must not be kept.
    pub fn set(&mut self, value: i64) -> Result<(), String> {
        self.count = value;
        if value < 0 {
            return Err("the count cannot be negative".into());
        }
        Ok(())
    }

    /// Changes only the backend var: the event applies with an empty delta.
    pub fn touch(&mut self) {
        self.touches = self.touches.wrapping_add(1);
    }

    /// Adds `n` as many times as the page's query parameter `times` says (once without one): a
    /// handler that reads the event's context. Refuses a `times` that is no integer.
    pub fn add_times(&mut self, n: i64, cx: &EventContext) -> Result<(), String> {
        let times = match cx.query_param("times") {
            Some(times) => times.parse::<i64>().map_err(|e| format!("times: {e}"))?,
            None => 1,
        };
        self.count += n * times;
        Ok(())
    }

    /// Twice the count.
    #[computed]
    pub fn doubled(&self) -> i64 {
        self.count.wrapping_mul(2)
    }
}

/// One item of [`Todos`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Its id.
    pub id: u64,
    /// What needs doing.
    pub text: String,
    /// Whether it is done.
    pub done: bool,
    /// Free labels.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Which items [`Todos`] shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Every item.
    #[default]
    All,
    /// The open ones.
    Active,
    /// The done ones.
    Done,
}

/// A list: a vector of structs, an enum, and backend vars.
#[derive(refract::State, Default, Serialize, Deserialize)]
pub struct Todos {
    items: Vec<Item>,
    filter: Filter,
    #[backend]
    next_id: u64,
    #[backend]
    touches: u64,
}

#[refract::handlers]
impl Todos {
    /// Adds an open item; refuses blank text.
    pub fn add(&mut self, text: String, tags: Option<Vec<String>>) -> Result<(), String> {
        if text.trim().is_empty() {
            return Err("an item needs text".into());
        }
        self.next_id = self.next_id.wrapping_add(1);
        self.items.push(Item {
            id: self.next_id,
            text,
            done: false,
            tags: tags.unwrap_or_default(),
        });
        Ok(())
    }

    /// Ticks or clears the item `id`; refuses an unknown id.
    pub fn toggle(&mut self, id: u64) -> Result<(), String> {
        let item = self.items.iter_mut().find(|i| i.id == id);
        let item = item.ok_or_else(|| format!("no item {id}"))?;
        item.done = !item.done;
        Ok(())
    }

    /// Replaces every item (a handler taking a list of structs).
    pub async fn replace(&mut self, items: Vec<Item>) {
        self.items = items;
    }

    /// Shows the items of `filter`.
    pub fn show(&mut self, filter: Filter) {
        self.filter = filter;
    }

    /// Changes only a backend var.
    pub fn touch(&mut self) {
        self.touches = self.touches.wrapping_add(1);
    }

    /// How many items are open.
    #[computed]
    pub fn remaining(&self) -> usize {
        self.items.iter().filter(|i| !i.done).count()
    }
}

/// How to reach someone, in [`Profile`]: an enum with data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Contact {
    /// None given.
    #[default]
    Nothing,
    /// An address.
    Email(String),
    /// A number.
    Phone {
        /// The country code.
        country: u16,
        /// The number.
        number: String,
    },
}

/// A form: narrow integers, a float, a map, a char, a tuple and an enum with data.
#[derive(refract::State, Default, Serialize, Deserialize)]
pub struct Profile {
    name: String,
    age: u8,
    score: f64,
    tags: BTreeMap<String, i32>,
    initial: Option<char>,
    pair: (i32, bool),
    contact: Contact,
    #[backend]
    touches: u64,
}

#[refract::handlers]
impl Profile {
    /// Sets the name, age and score at once.
    pub fn submit(&mut self, name: String, age: u8, score: f64) {
        self.name = name;
        self.age = age;
        self.score = score;
    }

    /// Multiplies the score.
    pub fn scale(&mut self, by: f64) {
        self.score *= by;
    }

    /// Sets the tag `key` to `value`, or removes it.
    pub fn tag(&mut self, key: String, value: Option<i32>) {
        match value {
            Some(value) => self.tags.insert(key, value),
            None => self.tags.remove(&key),
        };
    }

    /// Sets the initial and the pair.
    pub fn pick(&mut self, initial: char, pair: (i32, bool)) {
        self.initial = Some(initial);
        self.pair = pair;
    }

    /// Sets the contact.
    pub async fn reach(&mut self, contact: Contact) {
        self.contact = contact;
    }

    /// Changes only a backend var.
    pub fn touch(&mut self) {
        self.touches = self.touches.wrapping_add(1);
    }

    /// The name and the age.
    #[computed]
    pub fn summary(&self) -> String {
        format!("{} ({})", self.name, self.age)
    }
}

/// The states of the app the engine checks run.
pub fn states() -> StateRegistry {
    let mut states = StateRegistry::default();
    states.register::<Counter>();
    states.register::<Todos>();
    states.register::<Profile>();
    states
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// Any bytes as a frame: [`ClientFrame::parse`] answers a frame or a typed refusal; an accepted
/// frame keeps the protocol's limits and encodes and parses back the same; [`event_seq`],
/// [`delta_header`], [`ServerFrame::parse`], the context's query and cookie readers, route
/// matching and parsing, and [`Target::parse`] never panic, and a server frame read back is what was sent.
///
/// # Panics
/// When a property does not hold (that is the finding).
pub fn frame(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match ClientFrame::parse(&text) {
        Ok(frame) => client_frame_holds(&frame),
        Err(rejected) => {
            let code = rejected.failure.code;
            assert!(
                matches!(code, ErrorCode::MalformedFrame | ErrorCode::BadArguments),
                "refused with {code}"
            );
            assert!(!rejected.failure.message.is_empty(), "a refusal says why");
            // `bad_arguments` answers an event, so it names the event's seq.
            assert_eq!(
                code == ErrorCode::BadArguments,
                rejected.seq.is_some(),
                "{rejected:?}"
            );
            if let Some(seq) = rejected.seq {
                assert!((1..=MAX_SEQ).contains(&seq), "{rejected:?}");
            }
        }
    }
    if let Some(seq) = event_seq(&text) {
        assert!(seq > 0, "event_seq read seq 0");
    }
    let _ = delta_header(&text);
    if let Ok(frame) = ServerFrame::parse(&text) {
        server_frame_holds(&frame);
    }
    // What handlers read of a page and of the headers: the query string and the cookies.
    let cx = EventContext {
        page: PageContext {
            path: "/".into(),
            query: text.to_string(),
        },
        headers: ClientHeaders {
            cookie: Some(text.to_string()),
            ..ClientHeaders::default()
        },
        ..EventContext::default()
    };
    for (name, value) in cx.query_pairs() {
        assert!(cx.query_param(&name).is_some(), "{name}={value}");
    }
    let _ = cx.cookie("session");
    // A page's path against routes of every kind: a match names a route and reads a parameter
    // for each of the route's; taken as a route itself, it is accepted or refused, never a panic.
    let routes = refract_core::Routes::new(["/", "/posts/:id", "/:lang?/docs/*", "/a/b"])
        .expect("the fuzz routes are valid");
    if let Some(found) = routes.find(&text) {
        let wanted = match found.route.as_str() {
            "/posts/:id" => vec!["id"],
            "/:lang?/docs/*" => vec!["*"],
            _ => vec![],
        };
        assert!(
            wanted.iter().all(|p| found.params.contains_key(*p)),
            "{text}: {found:?}"
        );
    }
    let _ = refract_core::Routes::new([text.as_ref(), "/posts/:id"]);
    match Target::parse(&text) {
        Ok(Target::Single(url)) => assert_eq!(url, text),
        Ok(Target::Cluster(nodes)) => assert!(!nodes.is_empty()),
        Err(message) => assert!(!message.is_empty()),
    }
}

/// What an accepted client frame promises.
fn client_frame_holds(frame: &ClientFrame) {
    let encoded = frame.encode();
    match frame {
        ClientFrame::Hello { tab, page, .. } => {
            assert!(tab.as_deref().is_none_or(valid_tab), "{frame:?}");
            assert!(page.as_ref().is_none_or(page_holds), "{frame:?}");
        }
        ClientFrame::Event {
            seq, args, page, ..
        } => {
            assert!(page.as_ref().is_none_or(page_holds), "{frame:?}");
            assert!((1..=MAX_SEQ).contains(seq), "{frame:?}");
            assert!(args.is_object() || args.is_null(), "{frame:?}");
            // A frame too large to parse is answered by the seq read from it.
            assert_eq!(event_seq(&encoded), Some(*seq), "{encoded}");
        }
        ClientFrame::ClientError { .. } => {}
    }
    let again = ClientFrame::parse(&encoded)
        .unwrap_or_else(|e| panic!("the encoding of {frame:?} is refused: {e:?}"));
    assert!(
        same(&to_json(&again), &to_json(frame)),
        "{frame:?} reads back as {again:?}"
    );
}

/// What an accepted page promises: a path from the root, path and query of bounded length.
fn page_holds(page: &PageContext) -> bool {
    page.path.starts_with('/')
        && page.path.len() <= MAX_PAGE_BYTES
        && page.query.len() <= MAX_PAGE_BYTES
}

/// What a server frame that parsed promises: it encodes and parses back the same, and the header
/// of its encoding is read without its vars.
fn server_frame_holds(frame: &ServerFrame) {
    let encoded = frame.encode();
    let again = ServerFrame::parse(&encoded)
        .unwrap_or_else(|e| panic!("the encoding of {frame:?} does not parse: {e}"));
    assert!(
        same(&to_json(&again), &to_json(frame)),
        "{frame:?} reads back as {again:?}"
    );
    let header = match frame {
        ServerFrame::Delta {
            version, seq, tab, ..
        } => Some(DeltaHeader {
            version: *version,
            seq: *seq,
            tab: tab.clone(),
        }),
        _ => None,
    };
    assert_eq!(delta_header(&encoded), header, "{encoded}");
}

/// Up to [`EVENTS`] events, each a line `state.handler` and a line of JSON arguments (empty:
/// `null`), after an optional line `?query` (the query string of the page the events come from,
/// which handlers read from their context), run in turn by the engine on the memory store, after
/// a first event left every state with no default value. An event that applies answers the delta
/// frame of the next version, and a fresh hydrate then shows the state before with that delta
/// applied; sent again, it is a duplicate and changes nothing. One that fails is
/// `unknown_handler`, `bad_arguments` or `handler_failed`, leaves every stored byte as it was, and
/// leaves its seq to the next event. Inputs that are not UTF-8, or whose arguments are not one
/// line of JSON (a frame the gateway refuses), are skipped.
///
/// # Panics
/// When a property does not hold.
pub fn handler_args(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A first line `?query` is the query string of the page the events come from.
    let (query, text) = match text.strip_prefix('?') {
        Some(rest) => rest.split_once('\n').unwrap_or((rest, "")),
        None => ("", text),
    };
    let context = EventContext {
        page: PageContext {
            path: "/".into(),
            query: query.into(),
        },
        ..EventContext::default()
    };
    let mut lines = text.split('\n');
    let mut events = Vec::new();
    while let Some(handler) = lines.next()
        && events.len() < EVENTS
    {
        let args = match lines.next().map(str::trim) {
            None | Some("") => Value::Null,
            Some(args) => match serde_json::from_str::<Value>(args) {
                Ok(args) => args,
                Err(_) => return,
            },
        };
        events.push((handler, args));
    }
    block_on(async {
        let engine = engine();
        let names = state_names();
        store(&engine, &seed_shards()).await;
        let mut seq = 2;
        for (handler, args) in events {
            let mut request = event(seq, handler, args);
            request.context = context.clone();
            if applies(&engine, &names, request).await {
                seq += 1;
            }
        }
        // The store still works, and the next seq is free.
        let next = engine
            .process(event(seq, "counter.touch", Value::Null))
            .await;
        assert!(matches!(next, Ok(Outcome::Applied { .. })), "{next:?}");
    });
}

/// How many events one input of [`handler_args`] runs at most.
const EVENTS: usize = 4;

/// Runs an event of [`handler_args`] and checks what became of it; returns whether it applied.
async fn applies(engine: &Engine<Arc<MemoryStore>>, names: &[&str], request: EventRequest) -> bool {
    let (seq, handler, args) = (request.seq, request.handler.clone(), request.args.clone());
    let before = hydrate(engine).await;
    let stored = stored(engine, names).await;
    match engine.process(request.clone()).await {
        Ok(Outcome::Applied { version, frame }) => {
            assert_eq!(version, before.version + 1);
            let Ok(ServerFrame::Delta {
                version: delta_version,
                seq: Some(answered),
                tab: None,
                delta,
                ..
            }) = ServerFrame::parse(&frame)
            else {
                panic!("{handler}({args}) applied with the frame {frame}");
            };
            assert_eq!((delta_version, answered), (version, seq));
            let after = hydrate(engine).await;
            assert_eq!((after.version, after.last_seq), (version, seq));
            let mut shown = before.state.clone();
            for (state, vars) in delta {
                let (Some(Value::Object(held)), Value::Object(vars)) =
                    (shown.get_mut(&state), vars)
                else {
                    panic!("{handler}({args}): a delta of no state `{state}`");
                };
                held.extend(vars);
            }
            assert!(
                same(&Value::Object(after.state.clone()), &Value::Object(shown)),
                "{handler}({args}): its delta and a fresh hydrate disagree: {frame} then {:?}",
                after.state
            );
            // Only the handler's own state was written.
            let own = handler.split_once('.').map_or("", |(state, _)| state);
            let now = self::stored(engine, names).await;
            for ((name, then), now) in names.iter().zip(&stored).zip(&now) {
                assert!(*name == own || then == now, "{handler} wrote `{name}`");
            }
            // Sent again, it is not run again.
            let again = engine.process(request).await;
            assert_eq!(
                again,
                Ok(Outcome::Duplicate { then: vec![] }),
                "{handler}({args}) resent"
            );
            assert_eq!(hydrate(engine).await, after, "{handler}({args}) resent");
            true
        }
        Ok(Outcome::Duplicate { .. }) => panic!("{handler}({args}): seq {seq} was new"),
        Err(failure) => {
            assert!(
                matches!(
                    failure.code,
                    ErrorCode::UnknownHandler | ErrorCode::BadArguments | ErrorCode::HandlerFailed
                ),
                "{handler}({args}) failed with {failure:?}"
            );
            assert!(!failure.message.is_empty());
            assert_eq!(hydrate(engine).await, before, "{handler}({args}) failed");
            assert_eq!(self::stored(engine, names).await, stored);
            false
        }
    }
}

/// `state`, a newline, then the bytes stored as that state's shard (as an older deploy, or damage,
/// left them). A fresh hydrate reads them as a state: decoded when they decode, the default when
/// they are not a JSON object, else migrated; the next event of that state applies, stores bytes
/// that decode, and leaves what the browser sees as it was. Inputs naming no state are skipped.
///
/// # Panics
/// When a property does not hold.
pub fn shard(data: &[u8]) {
    let Some(split) = data.iter().position(|b| *b == b'\n') else {
        return;
    };
    let (name, bytes) = (&data[..split], &data[split + 1..]);
    let states = states();
    let Some(desc) = std::str::from_utf8(name).ok().and_then(|n| states.get(n)) else {
        return;
    };
    let defaults = states.default_vars().expect("the defaults serialise");
    block_on(async {
        let engine = engine();
        store(&engine, &[(desc.name, bytes.to_vec())]).await;
        let before = hydrate(&engine).await;
        assert_eq!((before.version, before.last_seq), (1, 1));
        let shown = &before.state[desc.name];
        if let Ok(state) = (desc.decode)(bytes) {
            let vars = state.vars().expect("a decoded state's vars serialise");
            assert!(same(shown, &Value::Object(vars)), "decoded as {shown}");
        } else if !matches!(serde_json::from_slice(bytes), Ok(Value::Object(_))) {
            assert_eq!(shown, &defaults[desc.name], "not an object: reset");
        }
        for (name, vars) in &defaults {
            assert!(name == desc.name || &before.state[name] == vars);
        }
        let touched = engine
            .process(event(2, &format!("{}.touch", desc.name), Value::Null))
            .await;
        assert!(
            matches!(touched, Ok(Outcome::Applied { version: 2, .. })),
            "the next event: {touched:?}"
        );
        let now = stored(&engine, &[desc.name]).await;
        let now = now[0].as_deref().expect("the commit stored the state");
        assert!(
            (desc.decode)(now).is_ok(),
            "the commit stored bytes that do not decode: {}",
            String::from_utf8_lossy(now)
        );
        let after = hydrate(&engine).await;
        assert!(
            same(
                &Value::Object(after.state.clone()),
                &Value::Object(before.state.clone())
            ),
            "a backend-only event changed what the browser sees: {:?} vs {:?}",
            before.state,
            after.state
        );
    });
}

// ---------------------------------------------------------------------------------------------
// What the checks share.

/// The token (its store key) every check's events use.
const TOKEN: &str = "fuzz";

thread_local! {
    /// The runtime the engine checks run on, one per thread (libFuzzer runs a target on one).
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime");
}

/// Runs `future` to completion on this thread's runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// A new engine on an empty memory store, so that every input starts alike.
fn engine() -> Engine<Arc<MemoryStore>> {
    Engine::new(Arc::new(states()), Arc::new(MemoryStore::new()))
}

/// The names of the app's states, in the registry's order.
fn state_names() -> Vec<&'static str> {
    states().iter().map(|d| d.name).collect()
}

/// Event `seq` of the unnamed tab of [`TOKEN`].
fn event(seq: u64, handler: &str, args: Value) -> EventRequest {
    EventRequest {
        token: TOKEN.into(),
        tab: String::new(),
        seq,
        handler: handler.into(),
        args,
        depth: 0,
        context: Default::default(),
    }
}

/// Shards of every state with no default value in them, as event 1 would have left them.
fn seed_shards() -> Vec<(&'static str, Vec<u8>)> {
    let todos = Todos {
        items: vec![Item {
            id: 1,
            text: "write the fuzz targets".into(),
            done: false,
            tags: vec!["ci".into()],
        }],
        filter: Filter::Active,
        next_id: 1,
        touches: 3,
    };
    let profile = Profile {
        name: "Ada".into(),
        age: 36,
        score: 0.5,
        tags: BTreeMap::from([("x".into(), 1)]),
        initial: Some('A'),
        pair: (-1, true),
        contact: Contact::Phone {
            country: 44,
            number: "20".into(),
        },
        touches: 2,
    };
    let counter = Counter {
        count: 7,
        touches: 1,
    };
    let json = |bytes: serde_json::Result<Vec<u8>>| bytes.expect("a seed state serialises");
    vec![
        (Counter::NAME, json(serde_json::to_vec(&counter))),
        (Todos::NAME, json(serde_json::to_vec(&todos))),
        (Profile::NAME, json(serde_json::to_vec(&profile))),
    ]
}

/// Stores `shards` for [`TOKEN`] as one commit of event 1 (version 1), through the store's lease.
async fn store(engine: &Engine<Arc<MemoryStore>>, shards: &[(&str, Vec<u8>)]) {
    let (_, lease) = engine
        .store()
        .acquire(TOKEN, "", &[])
        .await
        .expect("the memory store's lock is free");
    let commit = Commit {
        changed: shards
            .iter()
            .map(|(name, bytes)| ((*name).to_owned(), bytes.clone()))
            .collect(),
        tab: String::new(),
        seq: Some(1),
        version: 1,
        stored_bytes: shards.iter().map(|(_, b)| b.len() as u64).sum(),
        then: None,
        replaces_then: false,
        closes_stream: false,
        frame: "{}".into(),
    };
    lease
        .commit(commit)
        .await
        .expect("the memory store commits");
}

/// The stored bytes of `names` for [`TOKEN`].
async fn stored(engine: &Engine<Arc<MemoryStore>>, names: &[&str]) -> Vec<Option<Arc<[u8]>>> {
    let loaded = engine.store().snapshot(TOKEN, "", names).await;
    loaded.expect("the memory store reads").shards
}

/// A fresh hydrate of [`TOKEN`]: it must succeed.
async fn hydrate(engine: &Engine<Arc<MemoryStore>>) -> Hydration {
    let hydration = engine.hydrate(TOKEN, "").await;
    hydration.unwrap_or_else(|f| panic!("the hydrate failed: {f:?}"))
}

/// `value` as JSON.
fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("a frame serialises")
}

/// Whether two JSON values are equal, but for non-integral numbers, which may differ in their
/// last bits: serde_json (without its `float_roundtrip` feature) may read a float back a unit in
/// the last place off.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            match (x.as_f64(), y.as_f64()) {
                // Finite floats of one sign are ordered as their bits: at most two apart.
                (Some(x), Some(y)) => {
                    x == y
                        || (x.is_sign_negative() == y.is_sign_negative()
                            && x.to_bits().abs_diff(y.to_bits()) <= 2)
                }
                _ => false,
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => same_map(x, y),
        _ => a == b,
    }
}

/// [`same`] for objects.
fn same_map(a: &Map<String, Value>, b: &Map<String, Value>) -> bool {
    a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
}
