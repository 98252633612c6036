//! Errors from YAML, JSON and the file system, in words for people.

use std::path::Path;

use crate::spec::diagnostic::{Diagnostic, display_path};
use crate::spec::model::Loc;

use super::unclosed::{Opened, Unclosed, unclosed_at};

/// A YAML error as a diagnostic, in words for people.
pub(super) fn yaml_error(path: &Path, text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let loc = error
        .location()
        .map(|l| Loc {
            line: u32::try_from(l.line()).unwrap_or(0),
            column: u32::try_from(l.column()).unwrap_or(0),
            len: u32::try_from(l.span().len()).unwrap_or(0),
        })
        .unwrap_or_default();
    let raw = error.without_snippet().to_string();
    let message = strip_position(&raw, " at line ");
    let file = display_path(path);
    if text.trim().is_empty()
        || (message.starts_with("unexpected end of input")
            && text
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')))
    {
        return Diagnostic::new(path, Loc::default(), format!("`{file}` is empty"))
            .hint("a fleet spec starts with `version: 1`, `fleet:` and `ca:`; see examples/minimal/fleet.yaml");
    }
    let (message, hint) = explain_yaml(&message);
    // The parser may quote the text it choked on; a line of it is enough.
    let message = clip_message(&message);
    let hint = hint.or_else(|| {
        Some(if message.starts_with("while parsing") || message.contains("did not find expected") {
            "YAML syntax: check the indentation, quotes and brackets on this line and the one before".to_owned()
        } else {
            "see schema/fleet.schema.json for the shape of each field".to_owned()
        })
    });
    if is_syntax_error(error)
        && let Some(unclosed) = unclosed_at(text, (loc.line, loc.column))
    {
        return never_closed(path, unclosed, &message, loc);
    }
    let diagnostic = Diagnostic::new(path, loc, message);
    match hint {
        Some(hint) => diagnostic.hint(hint),
        None => diagnostic,
    }
}

/// Whether the YAML parser itself failed (rather than a value not fitting
/// the spec's types), so an unclosed bracket or quote may be why.
fn is_syntax_error(error: &serde_saphyr::Error) -> bool {
    matches!(
        error.without_snippet(),
        serde_saphyr::Error::ExternalMessage { source, .. }
            if matches!(**source, serde_saphyr::ExternalMessageSource::Parser(_))
    )
}

/// A bracket or quote left open, named where it opened: the parser notices
/// only later, where the text stops making sense (`noticed`).
fn never_closed(path: &Path, unclosed: Unclosed, parser_said: &str, noticed: Loc) -> Diagnostic {
    let Opened { what, at } = unclosed.opened;
    let hint = match what {
        '[' => "close it with `]`, or write the list as indented `- ` lines",
        '"' => "close the string with `\"`; inside it, write a quote as `\\\"`",
        '\'' => "close the string with `'`; inside it, write a quote as `''`",
        _ => "close it with `}`, or write the mapping as indented `key: value` lines",
    };
    let mut diagnostic = Diagnostic::new(
        path,
        at,
        format!(
            "the `{what}` opened at {}:{} is never closed",
            at.line, at.column
        ),
    )
    .hint(hint);
    if let Some(closer) = unclosed.wrong_closer {
        let message = format!("this `{}` does not close it", closer.what);
        diagnostic = diagnostic.note(message, path, closer.at);
    }
    if (noticed.line, noticed.column) == (at.line, at.column) || !noticed.is_known() {
        return diagnostic;
    }
    diagnostic.note(
        format!(
            "the YAML parser noticed here: {}",
            clip_message(parser_said)
        ),
        path,
        noticed,
    )
}

/// Rewords serde/YAML messages and adds a hint where one helps.
fn explain_yaml(message: &str) -> (String, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected
            .trim_start_matches(',')
            .trim()
            .trim_start_matches("expected one of")
            .trim_start_matches("expected")
            .trim()
            .replace('`', "");
        let hint = if expected.is_empty() || expected == "there are no fields" {
            "this mapping takes no fields".to_owned()
        } else {
            format!("expected one of: {expected}")
        };
        return (format!("unknown field `{field}`"), Some(hint));
    }
    if message.starts_with("missing field") {
        return (
            message.to_owned(),
            Some("add the field; see schema/fleet.schema.json for the format".into()),
        );
    }
    if message.starts_with("cannot deserialize null into string") {
        return (
            "expected a value, found nothing".into(),
            Some("write a value after the colon, or remove the key".into()),
        );
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return (
            format!("duplicate key `{key}`"),
            Some("each key may appear once in a mapping".into()),
        );
    }
    if message.starts_with("invalid boolean") {
        return (
            "expected true or false".into(),
            Some("write `true` or `false`".into()),
        );
    }
    let wording = [
        ("expected sequence start", "expected a list"),
        ("expected mapping start", "expected a mapping"),
        ("expected string scalar", "expected a string"),
    ];
    for (from, to) in wording {
        if message.starts_with(from) {
            return (to.into(), None);
        }
    }
    (message.to_owned(), None)
}

/// The most characters of a parser's message shown.
const MAX_MESSAGE_CHARS: usize = 200;

/// `message` cut to [`MAX_MESSAGE_CHARS`] with `…`.
pub(super) fn clip_message(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.to_owned();
    }
    let mut cut: String = message.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// `message` without a trailing ` at line N, column M` (or `... column M`).
pub(super) fn strip_position(message: &str, marker: &str) -> String {
    match message.rfind(marker) {
        Some(at)
            if message[at + marker.len()..]
                .chars()
                .all(|c| c.is_ascii_digit() || " ,column".contains(c)) =>
        {
            message[..at].to_owned()
        }
        _ => message.to_owned(),
    }
}

/// An I/O error in words that do not depend on the platform.
pub(super) fn io_problem(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => "no such file".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::IsADirectory => "it is a directory".into(),
        kind => kind.to_string(),
    }
}
