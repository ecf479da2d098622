//! The log lines of a process on stderr: text for people, colours only on a terminal, or one JSON
//! object a line for log collectors.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::registry::LookupSpan;

/// How a process writes its logs (`--log-format`, `REFRACT_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line an event, coloured only when stderr is a terminal (and `NO_COLOR`
    /// is unset).
    #[default]
    Text,
    /// One JSON object a line (`timestamp`, `level`, `fields`, `target`, `span`, `spans`), never
    /// coloured: for log collectors.
    Json,
}

/// A log format other than `text` or `json`.
#[derive(Debug, thiserror::Error)]
#[error("unknown log format `{0}`: use text or json")]
pub struct ParseLogFormatError(String);

impl FromStr for LogFormat {
    type Err = ParseLogFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            s if s.eq_ignore_ascii_case("text") => Ok(LogFormat::Text),
            s if s.eq_ignore_ascii_case("json") => Ok(LogFormat::Json),
            other => Err(ParseLogFormatError(other.to_owned())),
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Whether text logs on stderr get ANSI colours: only on a terminal, and not when `NO_COLOR` is
/// set (no-color.org), so container logs and files hold plain text.
pub(crate) fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The layer that writes logs in `format` to `writer`; text has ANSI colours when `ansi`.
pub(crate) fn layer<S, W>(
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Text => layer.with_ansi(ansi).boxed(),
        LogFormat::Json => layer.json().boxed(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What one warning inside an `event` span logs in `format`.
    fn logged(format: LogFormat, ansi: bool) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber =
            tracing_subscriber::registry().with(layer(format, ansi, move || writer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("event", handler = "counter.add", seq = 3_i64);
            let _entered = span.enter();
            tracing::warn!(code = "busy", "event failed");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn text_is_plain_unless_coloured() {
        let plain = logged(LogFormat::Text, false);
        assert!(plain.contains("event failed"), "{plain}");
        assert!(plain.contains("seq=3"), "{plain}");
        assert!(!plain.contains('\x1b'), "no escape codes: {plain:?}");
        let coloured = logged(LogFormat::Text, true);
        assert!(
            coloured.contains("\x1b["),
            "colours on a terminal: {coloured:?}"
        );
    }

    #[test]
    fn json_is_one_object_a_line_without_colours() {
        // Asked for colours, JSON still has none.
        let out = logged(LogFormat::Json, true);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["fields"]["message"], "event failed");
        assert_eq!(line["fields"]["code"], "busy");
        assert_eq!(line["span"]["name"], "event");
        assert_eq!(line["span"]["seq"], 3);
        assert!(!out.contains('\x1b'), "{out:?}");
    }

    #[test]
    fn formats_parse_by_name() {
        assert_eq!("text".parse::<LogFormat>().unwrap(), LogFormat::Text);
        assert_eq!("JSON".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!(LogFormat::default(), LogFormat::Text);
        let err = "xml".parse::<LogFormat>().unwrap_err();
        assert!(err.to_string().contains("text or json"), "{err}");
        for format in [LogFormat::Text, LogFormat::Json] {
            assert_eq!(format.to_string().parse::<LogFormat>().unwrap(), format);
        }
    }
}
