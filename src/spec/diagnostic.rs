//! Errors in a spec: each names its file, line and column, shows the line with
//! a caret under the offending text, and says how to fix it.
//!
//! Rendering is `annotate-snippets`, rustc's own renderer, in plain text at a
//! fixed width (stable for snapshot tests); paths are shown as given or
//! relative to the spec, never absolute.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use annotate_snippets::renderer::{DEFAULT_ERROR_STYLE, Style};
use annotate_snippets::{
    AnnotationKind, Element, Group, Level, Origin, Renderer, Snippet, normalize_untrusted_str,
};

use super::model::Loc;

/// One place in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The file, as given or relative to the spec's directory joined to it.
    pub file: PathBuf,
    pub loc: Loc,
    /// A short text next to the caret, if any.
    pub text: Option<String>,
}

/// One error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// Where it is.
    pub at: Label,
    /// Other places that matter (e.g. the first declaration of a duplicate).
    pub notes: Vec<(String, Label)>,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &Path, loc: Loc, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            at: Label {
                file: file.to_path_buf(),
                loc,
                text: None,
            },
            notes: Vec::new(),
            hint: None,
        }
    }

    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn label(mut self, text: impl Into<String>) -> Self {
        self.at.text = Some(text.into());
        self
    }

    #[must_use]
    pub fn note(mut self, message: impl Into<String>, file: &Path, loc: Loc) -> Self {
        self.notes.push((
            message.into(),
            Label {
                file: file.to_path_buf(),
                loc,
                text: None,
            },
        ));
        self
    }

    /// File, line, column.
    pub fn file(&self) -> &Path {
        &self.at.file
    }
    pub fn line(&self) -> u32 {
        self.at.loc.line
    }
    pub fn column(&self) -> u32 {
        self.at.loc.column
    }
}

/// Every error found in a spec and the files it reads.
#[derive(Debug, Clone)]
pub struct SpecErrors {
    /// Sorted: the spec file first, then other files by path; by line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of each file, for snippets.
    sources: BTreeMap<PathBuf, Arc<str>>,
    /// The spec file, which sorts first.
    spec_path: PathBuf,
}

impl SpecErrors {
    pub(crate) fn new(
        spec_path: &Path,
        mut diagnostics: Vec<Diagnostic>,
        sources: BTreeMap<PathBuf, Arc<str>>,
    ) -> Self {
        diagnostics.sort_by(|a, b| {
            let key = |d: &Diagnostic| {
                (
                    d.at.file != spec_path,
                    d.at.file.clone(),
                    d.at.loc.line,
                    d.at.loc.column,
                )
            };
            key(a).cmp(&key(b)).then_with(|| a.message.cmp(&b.message))
        });
        diagnostics.dedup();
        Self {
            diagnostics,
            sources,
            spec_path: spec_path.to_path_buf(),
        }
    }

    pub fn len(&self) -> usize {
        self.diagnostics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty()
    }

    /// The files that have errors, the spec file first.
    pub fn files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = Vec::new();
        for d in &self.diagnostics {
            if !files.contains(&d.file()) {
                files.push(d.file());
            }
        }
        files.sort_by_key(|f| (*f != self.spec_path, f.to_path_buf()));
        files
    }

    /// The report for people; with `color`, ANSI styles.
    ///
    /// Each diagnostic is an `annotate-snippets` report (rustc's renderer) at a
    /// fixed width, so the text does not depend on the terminal.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        }
        .term_width(RENDER_WIDTH);
        let mut out = String::new();
        for d in &self.diagnostics {
            let _ = writeln!(out, "{}\n", renderer.render(&self.report(d)));
        }
        let files: Vec<String> = self.files().iter().map(|f| display_path(f)).collect();
        let count = self.diagnostics.len();
        let summary = if color {
            DEFAULT_ERROR_STYLE
        } else {
            Style::new()
        };
        let _ = write!(
            out,
            "{}{} {} in {}{}",
            summary.render(),
            count,
            if count == 1 { "error" } else { "errors" },
            files.join(", "),
            summary.render_reset(),
        );
        out
    }

    /// One diagnostic as groups: the error with its hint, then each note.
    fn report<'a>(&'a self, d: &'a Diagnostic) -> Vec<Group<'a>> {
        let mut error = Level::ERROR
            .primary_title(d.message.as_str())
            .element(self.place(&d.at));
        if let Some(hint) = &d.hint {
            error = error.element(Level::HELP.message(normalize_untrusted_str(hint)));
        }
        let notes = d.notes.iter().map(|(message, label)| {
            Level::NOTE
                .secondary_title(normalize_untrusted_str(message))
                .element(self.place(label))
        });
        std::iter::once(error).chain(notes).collect()
    }

    /// A label as the line it points into with a caret under its span, or as
    /// just its file (and position) where the line is not known.
    fn place<'a>(&'a self, label: &'a Label) -> Element<'a> {
        let file = display_path(&label.file);
        let loc = label.loc;
        if !loc.is_known() {
            return Origin::path(file).into();
        }
        let Some(line) = self
            .sources
            .get(&label.file)
            .and_then(|text| text.lines().nth(loc.line as usize - 1))
        else {
            return Origin::path(file)
                .line(loc.line as usize)
                .char_column(loc.column as usize)
                .into();
        };
        let line = line.trim_end_matches('\r');
        let span = char_span(line, loc.column as usize, loc.len as usize);
        let annotation = AnnotationKind::Primary
            .span(span)
            .label(label.text.as_deref());
        Snippet::source(line)
            .line_start(loc.line as usize)
            .path(file)
            .annotation(annotation)
            .into()
    }
}

/// The width reports are laid out for, whatever the terminal: snapshots and
/// CI logs read the same. Longer lines are cut around the caret.
pub const RENDER_WIDTH: usize = 120;

/// The byte range of `len` characters from `column` (1-based) in `line`,
/// within the line, at least one character where the line has one.
fn char_span(line: &str, column: usize, len: usize) -> std::ops::Range<usize> {
    let byte_at = |chars: usize| {
        line.char_indices()
            .nth(chars)
            .map_or(line.len(), |(at, _)| at)
    };
    let start = column.saturating_sub(1);
    let end = byte_at(start + len.max(1));
    byte_at(start)..end
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for SpecErrors {}

/// A path for people: forward slashes, no leading `./`.
pub fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

#[cfg(test)]
mod render_tests {
    use super::*;

    fn one_error(text: &str, loc: Loc) -> SpecErrors {
        let file = Path::new("fleet.yaml");
        let sources = BTreeMap::from([(file.to_path_buf(), Arc::from(text))]);
        let diagnostic = Diagnostic::new(file, loc, "bad").hint("fix it");
        SpecErrors::new(file, vec![diagnostic], sources)
    }

    #[test]
    fn a_long_line_is_cut_around_the_caret() {
        let long = format!("{}X{}", "a".repeat(5000), "b".repeat(5000));
        let loc = Loc {
            line: 1,
            column: 5001,
            len: 1,
        };
        let text = one_error(&long, loc).render(false);
        assert!(text.contains("--> fleet.yaml:1:5001"), "{text}");
        assert!(
            text.lines().all(|l| l.chars().count() <= RENDER_WIDTH),
            "{text}"
        );
        let line = text.lines().find(|l| l.contains('X')).unwrap();
        let caret = text.lines().find(|l| l.trim_end().ends_with('^')).unwrap();
        assert_eq!(line.find('X'), caret.find('^'), "{text}");
    }

    #[test]
    fn the_caret_spans_characters_not_bytes() {
        let loc = Loc {
            line: 1,
            column: 7,
            len: 3,
        };
        let text = one_error("name: ü-é bad", loc).render(false);
        assert!(
            text.contains("1 | name: ü-é bad\n  |       ^^^\n"),
            "{text}"
        );
    }

    #[test]
    fn color_follows_the_flag() {
        let errors = one_error(
            "name: x",
            Loc {
                line: 1,
                column: 7,
                len: 1,
            },
        );
        assert!(!errors.render(false).contains('\x1b'));
        assert!(errors.render(true).contains('\x1b'));
    }
}
