//! Where an unclosed `[`, `{` or quote began.
//!
//! The YAML parser reports where it noticed a problem, which for a bracket or
//! quote left open is often lines later, at text that is itself fine. This
//! scanner reads the source by YAML's rules for what opens and closes: flow
//! collections, quoted scalars (with their escapes), comments and block
//! scalars (whose text is never syntax). It is not a parser: it only tracks
//! what is open, which is all the report needs.

use crate::spec::model::Loc;

/// A `[`, `{`, `"` or `'` and where it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Opened {
    pub what: char,
    pub at: Loc,
}

/// A construct never closed, and the wrong bracket that came instead, if any
/// (`]` for a `{`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unclosed {
    pub opened: Opened,
    pub wrong_closer: Option<Opened>,
}

/// The innermost `[`, `{` or quote that is open at `noticed` (1-based line
/// and column, where the parser stopped) and still open at the end of `text`.
/// One that closes later is not the culprit, so it is not named.
pub(super) fn unclosed_at(text: &str, noticed: (u32, u32)) -> Option<Unclosed> {
    let mut scanner = Scanner::default();
    let mut open_then: Option<Vec<Opened>> = None;
    for (index, line) in text.split('\n').enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        scanner.line(line.trim_end_matches('\r'), number, noticed, &mut open_then);
        if open_then.is_none() && noticed.0 <= number {
            open_then = Some(scanner.open());
        }
    }
    let open_at_end = scanner.open();
    open_then
        .unwrap_or_else(|| open_at_end.clone())
        .into_iter()
        .rev()
        .find(|opened| open_at_end.contains(opened))
        .map(|opened| Unclosed {
            opened,
            wrong_closer: scanner
                .wrong_closers
                .iter()
                .find(|(open, _)| *open == opened)
                .map(|&(_, closer)| closer),
        })
}

/// Flow collections' opening and closing brackets.
const BRACKETS: [(char, char); 2] = [('[', ']'), ('{', '}')];

#[derive(Default)]
struct Scanner {
    /// Open flow collections, outermost first.
    flows: Vec<Opened>,
    /// A closing bracket that did not match the open collection (`]` for `{`).
    wrong_closers: Vec<(Opened, Opened)>,
    /// An open quoted scalar, which may run over several lines.
    quote: Option<Opened>,
    /// In a quoted scalar, the last character was `\` (double) or `'` (single).
    pending: bool,
    /// Inside a block scalar (`|` or `>`) of a line indented this much.
    block_scalar: Option<usize>,
    /// The next character may start a node (so `[`, `{` or a quote opens one).
    node_start: bool,
    /// Inside an anchor or tag (`&a`, `!t`), which a node may follow.
    in_property: bool,
}

/// A character's neighbours on its line (a space at either end), and the
/// line's indentation.
#[derive(Clone, Copy)]
struct Around {
    prev: char,
    next: char,
    indent: usize,
}

/// What a character did to the rest of its line.
enum Next {
    Go,
    /// A comment or a block scalar's header: the rest of the line is not syntax.
    SkipLine,
}

impl Scanner {
    /// What is open, outermost first (a quote is innermost).
    fn open(&self) -> Vec<Opened> {
        self.flows.iter().copied().chain(self.quote).collect()
    }

    fn line(
        &mut self,
        line: &str,
        number: u32,
        noticed: (u32, u32),
        open_then: &mut Option<Vec<Opened>>,
    ) {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(parent) = self.block_scalar {
            if line.trim().is_empty() || indent > parent {
                return;
            }
            self.block_scalar = None;
        }
        if self.flows.is_empty() && self.quote.is_none() {
            self.node_start = true;
        }
        self.in_property = false;
        let chars: Vec<char> = line.chars().collect();
        for (index, &c) in chars.iter().enumerate() {
            let column = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let around = Around {
                prev: index.checked_sub(1).map_or(' ', |i| chars[i]),
                next: chars.get(index + 1).copied().unwrap_or(' '),
                indent,
            };
            let at = Loc {
                line: number,
                column,
                len: 1,
            };
            let step = self.char(c, around, at);
            if open_then.is_none() && (number, column) >= noticed {
                *open_then = Some(self.open());
            }
            if matches!(step, Next::SkipLine) {
                break;
            }
        }
        // A `'` at the end of a line closes its scalar: a line break is not `'`.
        if self.pending && self.quote.is_some_and(|q| q.what == '\'') {
            self.pending = false;
            self.quote = None;
        }
    }

    fn char(&mut self, c: char, around: Around, at: Loc) -> Next {
        if self.quote.is_some() && self.quoted(c) {
            return Next::Go;
        }
        if c == ' ' || c == '\t' {
            self.in_property = false;
            return Next::Go;
        }
        if self.in_property {
            return Next::Go;
        }
        if c == '#' && (around.prev == ' ' || around.prev == '\t') {
            return Next::SkipLine;
        }
        if self.node_start && (c == '"' || c == '\'') {
            self.quote = Some(Opened { what: c, at });
            self.node_start = false;
            return Next::Go;
        }
        if self.node_start && (c == '&' || c == '!') {
            self.in_property = true;
            return Next::Go;
        }
        if self.flows.is_empty() {
            return self.in_block(c, around, at);
        }
        self.in_flow(c, at);
        Next::Go
    }

    /// Whether `c` belongs to the open quoted scalar; `false` once the scalar
    /// closed before `c` (a single-quoted one closes on the `'` before it).
    fn quoted(&mut self, c: char) -> bool {
        let Some(quote) = self.quote else {
            return false;
        };
        if quote.what == '"' {
            if self.pending {
                self.pending = false;
            } else if c == '\\' {
                self.pending = true;
            } else if c == '"' {
                self.quote = None;
                self.node_start = false;
            }
            return true;
        }
        // In single quotes `''` is a quote; a lone `'` closes the scalar.
        if self.pending {
            self.pending = false;
            if c != '\'' {
                self.quote = None;
                self.node_start = false;
                return false;
            }
        } else if c == '\'' {
            self.pending = true;
        }
        true
    }

    fn in_flow(&mut self, c: char, at: Loc) {
        match c {
            '[' | '{' => {
                self.flows.push(Opened { what: c, at });
                self.node_start = true;
            }
            ']' | '}' => {
                let opener = BRACKETS.iter().find(|pair| pair.1 == c).map(|pair| pair.0);
                match self.flows.last() {
                    Some(open) if Some(open.what) == opener => {
                        self.flows.pop();
                    }
                    Some(&open) => self.wrong_closers.push((open, Opened { what: c, at })),
                    None => {}
                }
                self.node_start = false;
            }
            ',' | ':' | '?' => self.node_start = true,
            _ => self.node_start = false,
        }
    }

    fn in_block(&mut self, c: char, around: Around, at: Loc) -> Next {
        let indicator = around.next == ' ' || around.next == '\t';
        match c {
            c if self.node_start && BRACKETS.iter().any(|pair| pair.0 == c) => {
                self.in_flow(c, at);
            }
            '-' | '?' | ':' if indicator => self.node_start = true,
            '|' | '>' if self.node_start => {
                self.block_scalar = Some(around.indent);
                return Next::SkipLine;
            }
            _ => self.node_start = false,
        }
        Next::Go
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is unclosed, as "what line:column", or "none".
    fn opened(text: &str, noticed: (u32, u32)) -> String {
        unclosed_at(text, noticed).map_or("none".to_owned(), |u| describe(u.opened))
    }

    fn describe(opened: Opened) -> String {
        format!("{} {}:{}", opened.what, opened.at.line, opened.at.column)
    }

    #[test]
    fn an_unclosed_flow_mapping_is_found_where_it_opened() {
        let text = "devices:\n  - name: a\n    attributes: {line: A\n  - name: b\n";
        assert_eq!(opened(text, (4, 9)), "{ 3:17");
    }

    #[test]
    fn the_innermost_unclosed_bracket_is_named() {
        let text = "a: {b: [c, d}\n";
        assert_eq!(opened(text, (1, 13)), "[ 1:8");
        let text = "a: {b: [c, d]\nx: 1\n";
        assert_eq!(opened(text, (2, 2)), "{ 1:4");
    }

    #[test]
    fn a_wrong_closing_bracket_is_named_too() {
        let unclosed = unclosed_at("a: [{b: c]\n", (1, 5)).unwrap();
        assert_eq!(describe(unclosed.opened), "{ 1:5");
        assert_eq!(describe(unclosed.wrong_closer.unwrap()), "] 1:10");
    }

    #[test]
    fn a_construct_closed_later_is_not_named() {
        let text = "a: {b: c d: e}\n";
        assert_eq!(opened(text, (1, 10)), "none");
    }

    #[test]
    fn an_unclosed_quote_is_found() {
        let text = "a: \"x\nb: 'it''s'\n";
        assert_eq!(opened(text, (3, 1)), "\" 1:4");
        let text = "a: 'it''s\n";
        assert_eq!(opened(text, (2, 1)), "' 1:4");
        let text = "a: \"x\\\" y\n";
        assert_eq!(opened(text, (2, 1)), "\" 1:4");
    }

    #[test]
    fn brackets_in_comments_quotes_block_scalars_and_words_do_not_open() {
        let text = "a: x # [\nb: \"[{\"\nc: |\n  [ {\nd: it's [1]\ne: \"\\\"[\"\n";
        assert_eq!(opened(text, (7, 1)), "none");
    }

    #[test]
    fn a_comment_inside_brackets_closes_nothing() {
        let text = "a: [1, # ]\n  2\n";
        assert_eq!(opened(text, (3, 1)), "[ 1:4");
        let text = "a: [1, # it's\n  2]\n";
        assert_eq!(opened(text, (3, 1)), "none");
    }

    #[test]
    fn a_bracket_after_an_anchor_or_tag_opens() {
        assert_eq!(opened("a: &x [1\n", (2, 1)), "[ 1:7");
        assert_eq!(opened("a: !t {1\n", (2, 1)), "{ 1:7");
    }
}
