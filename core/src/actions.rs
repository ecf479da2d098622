//! Client actions: what a handler (or a trigger on the page) asks the browser to do besides
//! changing vars: go to another page, show a toast, set an input's value, focus or scroll to an
//! element, download a file, copy to the clipboard, log, alert, run a script and send its result
//! back, remove a cookie, clear local storage, reload, cancel an upload or forget the files chosen.
//!
//! Each builder returns an [`EventSpec`] named `_<action>`, so an action goes wherever an event
//! goes: in a trigger's chain (`button("Save").on_click([FormState::save(), toast::success("Saved")])`)
//! or among a handler's follow-ups (`return vec![Self::step(1), redirect("/done")]`). The browser
//! runtime runs an action when it reaches the head of the tab's queue, so it sees the vars of
//! every event before it. Arguments are values or vars (vars only on a page: a handler returns
//! values). `docs/events.md` describes each action.

use base64::Engine as _;
use serde_json::Value;

use crate::event::EventSpec;
use crate::var::{Dep, Expr, IntoVar, Var};

/// The names of the client actions the browser runtime runs. A follow-up named `_x` for any
/// other `x` is refused when a handler returns it.
pub const CLIENT_ACTIONS: &[&str] = &[
    "_redirect",
    "_toast",
    "_set_value",
    "_set_focus",
    "_scroll_to",
    "_download",
    "_set_clipboard",
    "_console_log",
    "_window_alert",
    "_call_script",
    "_remove_cookie",
    "_clear_local_storage",
    "_reload",
    "_cancel_upload",
    "_clear_selected_files",
];

fn action(name: &str) -> EventSpec {
    EventSpec::new(name)
}

fn value<T>(v: impl IntoVar<T>) -> Var<T> {
    v.into_var()
}

/// A literal argument.
fn literal<T: serde::Serialize>(v: T) -> Var<T> {
    Var::from_expr(Expr::literal(&v))
}

/// Navigates to `path`: a path of this app (`/done`, `/posts/7?tab=x`) without reloading the page
/// (the socket stays open), or any other URL (`https://…`) by loading it. The visit is added to
/// the browser's history.
pub fn redirect(path: impl IntoVar<String>) -> EventSpec {
    action("_redirect")
        .arg("path", value(path))
        .arg("replace", literal(false))
}

/// As [`redirect`], but the visit replaces the current entry of the browser's history (the back
/// button skips it): for a login guard's redirect, say.
pub fn redirect_replace(path: impl IntoVar<String>) -> EventSpec {
    action("_redirect")
        .arg("path", value(path))
        .arg("replace", literal(true))
}

/// An information toast with `message` (the pages show toasts with sonner). See [`toast`'s
/// module](mod@toast) for the other levels.
pub fn toast(message: impl IntoVar<String>) -> EventSpec {
    toast::info(message)
}

/// Toasts by level: `toast::success("Saved")`, `toast::error(..)`.
pub mod toast {
    use super::{EventSpec, IntoVar, action, literal, value};

    fn level(level: &str, message: impl IntoVar<String>) -> EventSpec {
        action("_toast")
            .arg("level", literal(level))
            .arg("message", value(message))
    }

    /// A neutral toast.
    pub fn info(message: impl IntoVar<String>) -> EventSpec {
        level("info", message)
    }

    /// A toast saying something worked.
    pub fn success(message: impl IntoVar<String>) -> EventSpec {
        level("success", message)
    }

    /// A toast warning the user.
    pub fn warning(message: impl IntoVar<String>) -> EventSpec {
        level("warning", message)
    }

    /// A toast saying something failed.
    pub fn error(message: impl IntoVar<String>) -> EventSpec {
        level("error", message)
    }
}

/// Sets the value of the form control whose `id` is `id` (an input, text area or select), as if
/// the user had typed it: its `on_change` trigger fires. `set_value("new-todo", "")` clears it.
pub fn set_value(id: &str, to: impl IntoVar<String>) -> EventSpec {
    action("_set_value")
        .arg("id", literal(id))
        .arg("value", value(to))
}

/// Moves the keyboard focus to the element whose `id` is `id`.
pub fn set_focus(id: &str) -> EventSpec {
    action("_set_focus").arg("id", literal(id))
}

/// Scrolls the element whose `id` is `id` into view (smoothly).
pub fn scroll_to(id: &str) -> EventSpec {
    action("_scroll_to").arg("id", literal(id))
}

/// Saves a file named `filename` whose content is the text `data` (UTF-8).
pub fn download(filename: &str, data: impl IntoVar<String>) -> EventSpec {
    action("_download")
        .arg("filename", literal(filename))
        .arg("data", value(data))
}

/// Saves a file named `filename` holding `bytes` (sent base64-encoded: a third larger on the
/// socket; for big files prefer [`download_url`]).
pub fn download_bytes(filename: &str, bytes: &[u8]) -> EventSpec {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    action("_download")
        .arg("filename", literal(filename))
        .arg("base64", literal(encoded))
}

/// Saves the file at `url` (of this site, or one that allows it) under the name `filename`.
pub fn download_url(url: impl IntoVar<String>, filename: &str) -> EventSpec {
    action("_download")
        .arg("filename", literal(filename))
        .arg("url", value(url))
}

/// Copies `text` to the clipboard (browsers allow it after a user's click on the page).
pub fn set_clipboard(text: impl IntoVar<String>) -> EventSpec {
    action("_set_clipboard").arg("text", value(text))
}

/// Writes `message` to the browser's console.
pub fn console_log(message: impl IntoVar<String>) -> EventSpec {
    action("_console_log").arg("message", value(message))
}

/// Shows `message` in the browser's alert dialog.
pub fn window_alert(message: impl IntoVar<String>) -> EventSpec {
    action("_window_alert").arg("message", value(message))
}

/// Runs the JavaScript `js` in the page (a statement or an expression; its value is ignored). The
/// page's Content-Security-Policy must allow it: see `App::allow_call_script`.
pub fn call_script(js: &str) -> EventSpec {
    action("_call_script")
        .arg("js", literal(js))
        .arg("callback", literal(Value::Null))
}

/// The JavaScript name the result of a script stands for while a callback is built; never
/// evaluated (the runtime puts the result in its place).
const RESULT: &str = "__refract_script_result";

/// Runs the JavaScript `js` in the page and calls back a handler with its value as JSON (a
/// promise is awaited first): `call_script_then("window.innerWidth", LayoutState::got_width)`
/// runs `got_width(width)` with the page's width. The callback is a handler's builder, or a
/// closure giving the value to one of its parameters (`|w| LayoutState::resized(w, 2)`); it runs
/// next, before any other queued event.
pub fn call_script_then<V>(js: &str, callback: impl FnOnce(Var<V>) -> EventSpec) -> EventSpec {
    let spec = callback(Var::raw(RESULT));
    let result = spec.args.iter().find(|(_, e)| e.js == RESULT);
    let args: Vec<String> = spec
        .args
        .iter()
        .filter(|(_, e)| e.js != RESULT)
        .map(|(name, e)| format!("{}: {}", json(name), e.js))
        .collect();
    let js_object = format!(
        "{{\"handler\": {}, \"args\": {{{}}}, \"result\": {}}}",
        json(&spec.handler),
        args.join(", "),
        result.map_or_else(|| "null".to_owned(), |(name, _)| json(name)),
    );
    let deps = spec
        .args
        .iter()
        .flat_map(|(_, e)| e.deps.iter().cloned())
        .filter(|d| !matches!(d, Dep::Local(l) if l == RESULT))
        .collect();
    action("_call_script").arg("js", literal(js)).arg(
        "callback",
        Var::<Value>::from_expr(Expr {
            js: js_object,
            deps,
        }),
    )
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Removes the cookie `name` (of path `/`) from the browser.
pub fn remove_cookie(name: &str) -> EventSpec {
    action("_remove_cookie").arg("name", literal(name))
}

/// Clears this site's local storage in the browser.
pub fn clear_local_storage() -> EventSpec {
    action("_clear_local_storage")
}

/// Reloads the page (the tab keeps its token and state).
pub fn reload() -> EventSpec {
    action("_reload")
}

/// Stops the uploads of the upload zone `id` in progress (see `refract::upload`): no event is
/// sent for them, and the zone's progress goes back to 0. The files still streaming are
/// deleted by the server as their transfers stop; those that had arrived before the cancel
/// stay on the server, unused, until the sweep deletes them (`--upload-ttl-secs`, 1 h by
/// default).
pub fn cancel_upload(id: &str) -> EventSpec {
    action("_cancel_upload").arg("id", literal(id))
}

/// Forgets the files chosen in the upload zone `id` (its `selected_files` becomes empty).
pub fn clear_selected_files(id: &str) -> EventSpec {
    action("_clear_selected_files").arg("id", literal(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn got_width(width: impl IntoVar<u32>) -> EventSpec {
        EventSpec::new("layout_state.got_width").arg("width", width.into_var())
    }

    fn resized(width: impl IntoVar<u32>, scale: impl IntoVar<u32>) -> EventSpec {
        EventSpec::new("layout_state.resized")
            .arg("width", width.into_var())
            .arg("scale", scale.into_var())
    }

    fn args(spec: &EventSpec) -> Value {
        Value::Object(spec.to_follow_up().unwrap().args)
    }

    #[test]
    fn every_builder_names_a_known_action_with_value_arguments() {
        let all = [
            redirect("/done"),
            redirect_replace("/login"),
            toast("hi"),
            toast::success("ok"),
            toast::warning("hm"),
            toast::error("no"),
            set_value("todo", ""),
            set_focus("todo"),
            scroll_to("end"),
            download("a.txt", "text"),
            download_bytes("a.bin", &[0, 255]),
            download_url("/report.csv", "report.csv"),
            set_clipboard("copied"),
            console_log("log"),
            window_alert("alert"),
            call_script("1"),
            call_script_then("window.innerWidth", got_width),
            remove_cookie("session"),
            clear_local_storage(),
            reload(),
            cancel_upload("photos"),
            clear_selected_files("photos"),
        ];
        for spec in &all {
            assert!(spec.is_action());
            assert!(CLIENT_ACTIONS.contains(&spec.handler.as_str()), "{spec:?}");
            spec.to_follow_up().unwrap();
        }
        let named: std::collections::BTreeSet<&str> =
            all.iter().map(|s| s.handler.as_str()).collect();
        assert_eq!(
            named.len(),
            CLIENT_ACTIONS.len(),
            "each action has a builder"
        );
    }

    #[test]
    fn arguments_are_the_protocols() {
        assert_eq!(
            args(&redirect_replace("/x")),
            json!({"path": "/x", "replace": true})
        );
        assert_eq!(
            args(&toast::error("boom")),
            json!({"level": "error", "message": "boom"})
        );
        assert_eq!(
            args(&download_bytes("b", &[0, 1, 2, 255])),
            json!({"filename": "b", "base64": "AAEC/w=="})
        );
    }

    #[test]
    fn a_script_callback_names_the_parameter_that_takes_the_result() {
        assert_eq!(
            args(&call_script_then("window.innerWidth", got_width)),
            json!({"js": "window.innerWidth", "callback": {
                "handler": "layout_state.got_width", "args": {}, "result": "width"}})
        );
        assert_eq!(
            args(&call_script_then("innerWidth", |w| resized(w, 2))),
            json!({"js": "innerWidth", "callback": {
                "handler": "layout_state.resized", "args": {"scale": 2}, "result": "width"}})
        );
        assert_eq!(
            args(&call_script("x()")),
            json!({"js": "x()", "callback": null})
        );
        // On a page the other arguments may be vars: the callback then reads them.
        let on_page = call_script_then("innerWidth", |w| {
            resized(w, Var::state_var("layout_state", "scale"))
        });
        let callback = &on_page.args[1].1;
        assert!(callback.reads_state());
        assert!(
            callback.js.contains("layout_state$scale"),
            "{}",
            callback.js
        );
    }
}
