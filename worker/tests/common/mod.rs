//! What the worker's integration tests share: a counter state written by hand (the macros live
//! downstream of this crate).

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use refract_core::actions::toast;
use refract_core::{
    BoxFuture, Emitter, EventContext, EventError, EventSpec, Handlers, IntoVar, State,
    StateRegistry, decode_args,
};
use serde_json::{Map, Value, json};

/// A hand-written state (the macros live downstream): `n` is a var, `secret` a backend var.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Counter {
    /// A var.
    pub n: i64,
    /// A backend var.
    pub secret: i64,
}

impl State for Counter {
    const NAME: &'static str = "counter";
    fn frontend_vars(&self) -> Result<Map<String, Value>, serde_json::Error> {
        Ok(Map::from_iter([("n".to_owned(), json!(self.n))]))
    }
}

impl Handlers for Counter {
    const HANDLERS: &'static [&'static str] = &[
        "add",
        "fail",
        "touch_secret",
        "panic",
        "chain",
        "forever",
        "dangling",
        "dangling_callback",
        "expression",
        "notify",
        "export",
        "stream",
        "stream_fail",
        "move_to_other",
        "move_then_fail",
        "ask_own",
        "leak_guard",
        "stream_slowly",
    ];
    fn computed_vars(&self, vars: &mut Map<String, Value>) -> Result<(), serde_json::Error> {
        vars.insert("double".into(), json!(self.n * 2));
        Ok(())
    }
    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        args: Value,
        _cx: &'a EventContext,
        emit: Emitter<'a>,
    ) -> BoxFuture<'a, Result<Vec<EventSpec>, EventError>> {
        Box::pin(async move {
            #[derive(serde::Deserialize)]
            struct Add {
                by: i64,
            }
            let add = |by: i64| EventSpec::new("counter.add").arg("by", by.into_var());
            match method {
                "add" => {
                    self.n += decode_args::<Add>("counter", method, args)?.by;
                    Ok(vec![])
                }
                "fail" => {
                    self.n = 99;
                    Err(EventError::HandlerFailed("nope".into()))
                }
                "touch_secret" => {
                    self.secret += 1;
                    Ok(vec![])
                }
                "panic" => panic!("boom"),
                "chain" => {
                    let by = decode_args::<Add>("counter", method, args)?.by;
                    Ok(vec![add(by), toast::success(format!("chained {by}"))])
                }
                "forever" => {
                    self.n += 1;
                    Ok(vec![EventSpec::new("counter.forever")])
                }
                "dangling" => {
                    self.n += 1;
                    Ok(vec![EventSpec::new("counter.nope")])
                }
                "dangling_callback" => {
                    let call_nope =
                        |v: refract_core::Var<i64>| EventSpec::new("counter.nope").arg("v", v);
                    Ok(vec![refract_core::actions::call_script_then(
                        "1", call_nope,
                    )])
                }
                "notify" => Ok(vec![toast::success("done")]),
                "stream" => {
                    let steps = decode_args::<Add>("counter", method, args)?.by;
                    for _ in 0..steps {
                        self.n += 1;
                        emit.flush(self)
                            .await
                            .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
                    }
                    self.n += 100;
                    Ok(vec![])
                }
                "move_to_other" | "move_then_fail" => {
                    let by = decode_args::<Add>("counter", method, args)?.by;
                    let failed = |e: refract_core::StateAccessError| {
                        EventError::HandlerFailed(e.to_string())
                    };
                    let mut other = emit.states().get::<Other>().await.map_err(failed)?;
                    other.m += by;
                    self.n -= by;
                    if method == "move_then_fail" {
                        return Err(EventError::HandlerFailed(
                            "changed both, then failed".into(),
                        ));
                    }
                    drop(other);
                    // Once its guard is dropped, it can be had again (held, it is `InUse`).
                    let _again = emit.states().get::<Other>().await.map_err(failed)?;
                    Ok(vec![])
                }
                "stream_slowly" => {
                    self.n += 1;
                    emit.flush(self)
                        .await
                        .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
                    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                    self.n += 1;
                    Ok(vec![toast::info("streamed")])
                }
                "leak_guard" => {
                    let failed = |e: refract_core::StateAccessError| {
                        EventError::HandlerFailed(e.to_string())
                    };
                    let other = emit.states().get::<Other>().await.map_err(failed)?;
                    self.n += 1;
                    emit.flush(self)
                        .await
                        .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
                    // A guard that outlives its handler (moved into a task, or forgotten).
                    std::mem::forget(other);
                    Ok(vec![])
                }
                "ask_own" => {
                    let err = emit.states().get::<Counter>().await.err();
                    Err(EventError::HandlerFailed(
                        err.map(|e| e.to_string()).unwrap_or_default(),
                    ))
                }
                "stream_fail" => {
                    self.n += 1;
                    emit.flush(self)
                        .await
                        .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
                    emit.flush(self)
                        .await
                        .map_err(|e| EventError::HandlerFailed(e.to_string()))?;
                    self.n += 1000;
                    Err(EventError::HandlerFailed("broke after a flush".into()))
                }
                "export" => Ok(vec![
                    refract_core::actions::download("n.txt", self.n.to_string()),
                    add(1),
                ]),
                "expression" => {
                    self.n += 1;
                    Ok(vec![add(0).arg("by", refract_core::Var::<i64>::raw("x"))])
                }
                _ => Err(EventError::UnknownHandler(method.into())),
            }
        })
    }
}

/// Another state of the same token, which `counter.move_to_other` changes with its own.
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Other {
    /// A var.
    pub m: i64,
}

impl State for Other {
    const NAME: &'static str = "other";
    fn frontend_vars(&self) -> Result<Map<String, Value>, serde_json::Error> {
        Ok(Map::from_iter([("m".to_owned(), json!(self.m))]))
    }
}

impl Handlers for Other {
    const HANDLERS: &'static [&'static str] = &[];
    /// `unlucky`: panics when `m` is 13 (the app's code failing while its state is committed).
    fn computed_vars(&self, vars: &mut Map<String, Value>) -> Result<(), serde_json::Error> {
        assert!(self.m != 13, "unlucky");
        vars.insert("unlucky".into(), json!(false));
        Ok(())
    }
    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        _args: Value,
        _cx: &'a EventContext,
        _emit: Emitter<'a>,
    ) -> BoxFuture<'a, Result<Vec<EventSpec>, EventError>> {
        Box::pin(async move { Err(EventError::UnknownHandler(method.into())) })
    }
}

/// An app of the states [`Counter`] (`counter`) and [`Other`] (`other`); `counter`'s handlers whose handlers are `add {by}`, `fail` (changes
/// `n`, then fails), `touch_secret` (changes the backend var), `panic`, and, returning
/// follow-ups: `chain {by}` (`add {by}` then a success toast), `forever` (adds one and returns
/// itself), `dangling` (returns a handler that does not exist), `dangling_callback` (a script
/// whose callback does not exist), `notify` (a toast only), `export` (a download of `n`, then
/// `add {by: 1}`), `stream {by}` (adds one and flushes, `by` times, then adds 100),
/// `stream_fail` (adds one, flushes twice, adds 1000 and fails) and `expression` (returns an
/// argument that is a JavaScript expression, not a value).
pub fn states() -> StateRegistry {
    let mut states = StateRegistry::default();
    states.register::<Counter>();
    states.register::<Other>();
    states
}
