//! Errors in a spec: each names its file, line and column, shows the line with
//! a caret under the offending text, and says how to fix it.
//!
//! The rendering follows miette's/rustc's layout but is written here, so the
//! text is stable for snapshot tests and carries no absolute paths.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anstyle::{AnsiColor, Style};

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
    pub fn render(&self, color: bool) -> String {
        let styles = Styles::new(color);
        let mut out = String::new();
        for d in &self.diagnostics {
            self.render_one(&mut out, d, &styles);
            out.push('\n');
        }
        let files: Vec<String> = self.files().iter().map(|f| display_path(f)).collect();
        let count = self.diagnostics.len();
        let _ = write!(
            out,
            "{}{} {} in {}{}",
            styles.error.render(),
            count,
            if count == 1 { "error" } else { "errors" },
            files.join(", "),
            styles.error.render_reset(),
        );
        out
    }

    fn render_one(&self, out: &mut String, d: &Diagnostic, s: &Styles) {
        let width = std::iter::once(&d.at)
            .chain(d.notes.iter().map(|(_, label)| label))
            .map(|label| label.loc.line.to_string().len())
            .max()
            .unwrap_or(1);
        let _ = writeln!(
            out,
            "{}error{}: {}{}{}",
            s.error.render(),
            s.error.render_reset(),
            s.bold.render(),
            d.message,
            s.bold.render_reset()
        );
        self.render_label(out, &d.at, width, s, s.error);
        for (message, label) in &d.notes {
            let _ = writeln!(
                out,
                "{}note{}: {message}",
                s.note.render(),
                s.note.render_reset()
            );
            self.render_label(out, label, width, s, s.note);
        }
        if let Some(hint) = &d.hint {
            let _ = writeln!(
                out,
                "{}help{}: {hint}",
                s.help.render(),
                s.help.render_reset()
            );
        }
    }

    fn render_label(
        &self,
        out: &mut String,
        label: &Label,
        width: usize,
        s: &Styles,
        caret: Style,
    ) {
        let pad = " ".repeat(width);
        let file = display_path(&label.file);
        let loc = label.loc;
        if !loc.is_known() {
            let _ = writeln!(
                out,
                "{pad}{}-->{} {file}",
                s.gutter.render(),
                s.gutter.render_reset()
            );
            return;
        }
        let _ = writeln!(
            out,
            "{pad}{}-->{} {file}:{}:{}",
            s.gutter.render(),
            s.gutter.render_reset(),
            loc.line,
            loc.column
        );
        let Some(line_text) = self
            .sources
            .get(&label.file)
            .and_then(|text| text.lines().nth(loc.line as usize - 1))
        else {
            return;
        };
        let line_text: String = line_text
            .trim_end_matches('\r')
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        let (line_text, column) = clip_line(&line_text, loc.column as usize);
        let line_chars = line_text.chars().count();
        let start = column.saturating_sub(1).min(line_chars);
        let len = (loc.len as usize)
            .min(line_chars.saturating_sub(start))
            .max(1);
        let g = |text: &str| format!("{}{text}{}", s.gutter.render(), s.gutter.render_reset());
        let _ = writeln!(out, "{pad} {}", g("|"));
        let _ = writeln!(
            out,
            "{} {} {}",
            g(&format!("{:>width$}", loc.line)),
            g("|"),
            line_text
        );
        let label_text = label
            .text
            .as_deref()
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{pad} {} {}{}{}{}{}",
            g("|"),
            " ".repeat(start),
            caret.render(),
            "^".repeat(len),
            label_text,
            caret.render_reset()
        );
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for SpecErrors {}

/// The most characters of a source line a snippet shows.
pub const MAX_SNIPPET_CHARS: usize = 120;

/// `line` cut to [`MAX_SNIPPET_CHARS`] around `column` (1-based), with `…`
/// where it was cut, and the column in the cut line. A file that is one long
/// line (minified JSON, or a file that should never have been read) is
/// never echoed whole.
fn clip_line(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= MAX_SNIPPET_CHARS {
        return (line.to_owned(), column);
    }
    let keep = MAX_SNIPPET_CHARS - 2;
    let at = column.saturating_sub(1).min(chars.len());
    let from = at.saturating_sub(keep / 2).min(chars.len() - keep);
    let to = from + keep;
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.extend(&chars[from..to]);
    if to < chars.len() {
        out.push('…');
    }
    let shift = usize::from(from > 0);
    (out, column + shift - from)
}

/// A path for people: forward slashes, no leading `./`.
pub fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

struct Styles {
    error: Style,
    note: Style,
    help: Style,
    gutter: Style,
    bold: Style,
}

impl Styles {
    fn new(color: bool) -> Self {
        if !color {
            return Self {
                error: Style::new(),
                note: Style::new(),
                help: Style::new(),
                gutter: Style::new(),
                bold: Style::new(),
            };
        }
        Self {
            error: Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
            note: Style::new().bold().fg_color(Some(AnsiColor::Green.into())),
            help: Style::new().bold().fg_color(Some(AnsiColor::Cyan.into())),
            gutter: Style::new().bold().fg_color(Some(AnsiColor::Blue.into())),
            bold: Style::new().bold(),
        }
    }
}

#[cfg(test)]
mod clip_tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let short = "a".repeat(MAX_SNIPPET_CHARS);
        assert_eq!(clip_line(&short, 5), (short.clone(), 5));
        let long = format!("{}X{}", "a".repeat(5000), "b".repeat(5000));
        let (cut, column) = clip_line(&long, 5001);
        assert!(cut.chars().count() <= MAX_SNIPPET_CHARS, "{}", cut.len());
        assert!(cut.starts_with('…') && cut.ends_with('…'));
        assert_eq!(cut.chars().nth(column - 1), Some('X'));
        let (head, column) = clip_line(&long, 1);
        assert!(head.starts_with('a') && head.ends_with('…'));
        assert_eq!(column, 1);
    }
}
