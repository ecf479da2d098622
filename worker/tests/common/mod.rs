//! What the worker's integration tests share: a counter state written by hand (the macros live
//! downstream of this crate).

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

use refract_core::{
    BoxFuture, EventContext, EventError, Handlers, State, StateRegistry, decode_args,
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
    const HANDLERS: &'static [&'static str] = &["add", "fail", "touch_secret", "panic"];
    fn computed_vars(&self, vars: &mut Map<String, Value>) -> Result<(), serde_json::Error> {
        vars.insert("double".into(), json!(self.n * 2));
        Ok(())
    }
    fn dispatch<'a>(
        &'a mut self,
        method: &'a str,
        args: Value,
        _cx: &'a EventContext,
    ) -> BoxFuture<'a, Result<(), EventError>> {
        Box::pin(async move {
            #[derive(serde::Deserialize)]
            struct Add {
                by: i64,
            }
            match method {
                "add" => {
                    self.n += decode_args::<Add>("counter", method, args)?.by;
                    Ok(())
                }
                "fail" => {
                    self.n = 99;
                    Err(EventError::HandlerFailed("nope".into()))
                }
                "touch_secret" => {
                    self.secret += 1;
                    Ok(())
                }
                "panic" => panic!("boom"),
                _ => Err(EventError::UnknownHandler(method.into())),
            }
        })
    }
}

/// An app of one state, [`Counter`] (`counter`), whose handlers are `add {by}`, `fail` (changes
/// `n`, then fails), `touch_secret` (changes the backend var) and `panic`.
pub fn states() -> StateRegistry {
    let mut states = StateRegistry::default();
    states.register::<Counter>();
    states
}
