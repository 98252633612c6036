//! Spec errors as GitHub Actions workflow commands, one line each:
//! `::error file=F,line=L,col=C,endLine=L,endColumn=E,title=fleetcert::message`.
//! The runner turns them into annotations on the pull request's files.
//!
//! Escaping follows GitHub's own toolkit, `escapeData` and `escapeProperty` in
//! <https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts>:
//! `%` `\r` `\n` as `%25` `%0D` `%0A` everywhere, and in properties also `:`
//! `,` as `%3A` `%2C`. Columns are inclusive ("endColumn defaults to
//! startColumn", `AnnotationProperties` in packages/core/src/core.ts).

use std::path::{Component, Path, PathBuf};

use super::diagnostic::{Diagnostic, SpecErrors, display_path};

/// One workflow command per error. `cwd` is where the paths in the errors
/// are relative to; `workspace` the repository's root (`GITHUB_WORKSPACE`),
/// which GitHub wants the `file` property relative to.
pub fn github(errors: &SpecErrors, cwd: &Path, workspace: &Path) -> String {
    errors
        .diagnostics
        .iter()
        .map(|d| format!("{}\n", command(d, cwd, workspace)))
        .collect()
}

fn command(d: &Diagnostic, cwd: &Path, workspace: &Path) -> String {
    let file = repository_path(d.file(), cwd, workspace);
    let mut properties = vec![("file", file)];
    let loc = d.at.loc;
    if loc.is_known() {
        properties.push(("line", loc.line.to_string()));
        properties.push(("col", loc.column.to_string()));
        properties.push(("endLine", loc.line.to_string()));
        let end = loc.column + loc.len.max(1) - 1;
        properties.push(("endColumn", end.to_string()));
    }
    properties.push(("title", "fleetcert".to_owned()));
    let properties: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect();
    let mut message = d.message.clone();
    if let Some(hint) = &d.hint {
        message.push_str("\nhelp: ");
        message.push_str(hint);
    }
    format!(
        "::error {}::{}",
        properties.join(","),
        escape_data(&message)
    )
}

/// A policy finding as a workflow command on the policy's file: `::warning`,
/// or `::error` when strict mode refuses it. IoT policy findings name a
/// statement, not a line, so the annotation is on the file.
pub fn policy_finding(
    error: bool,
    file: &Path,
    policy: &str,
    finding: &crate::analysis::Finding,
    cwd: &Path,
    workspace: &Path,
) -> String {
    let properties = [
        ("file", repository_path(file, cwd, workspace)),
        ("title", format!("fleetcert {}", finding.code)),
    ];
    let properties: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect();
    let message = format!(
        "policy {policy}, statement {} ({}): {}",
        finding.statement, finding.severity, finding.message
    );
    format!(
        "::{} {}::{}\n",
        if error { "error" } else { "warning" },
        properties.join(","),
        escape_data(&message)
    )
}

/// `file` relative to `workspace` (both made absolute and free of `.` and
/// `..` first), forward slashes; as given when it lies outside.
fn repository_path(file: &Path, cwd: &Path, workspace: &Path) -> String {
    let absolute = normalize(&cwd.join(file));
    match absolute.strip_prefix(normalize(&cwd.join(workspace))) {
        Ok(inside) => display_path(inside),
        Err(_) => display_path(file),
    }
}

/// `.` and `..` resolved by the path's text (no symlinks are followed).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// toolkit's `escapeData`: a command's message.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// toolkit's `escapeProperty`: a property's value.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::Loc;

    #[test]
    fn escapes_as_the_toolkit_does() {
        assert_eq!(escape_data("100% a\r\nb: c, d"), "100%25 a%0D%0Ab: c, d");
        assert_eq!(
            escape_property("100% a\r\nb: c, d"),
            "100%25 a%0D%0Ab%3A c%2C d"
        );
        // `%` first, so an escape is never escaped twice.
        assert_eq!(escape_property("%3A"), "%253A");
    }

    #[test]
    fn one_command_per_error_with_its_place() {
        let loc = Loc {
            line: 4,
            column: 7,
            len: 3,
        };
        let d =
            Diagnostic::new(Path::new("infra/../fleet.yaml"), loc, "bad, very").hint("fix it: now");
        let line = command(&d, Path::new("/ws/sub"), Path::new("/ws"));
        assert_eq!(
            line,
            "::error file=sub/fleet.yaml,line=4,col=7,endLine=4,endColumn=9,title=fleetcert\
             ::bad, very%0Ahelp: fix it: now"
        );
        let nowhere = Diagnostic::new(Path::new("/etc/x,y"), Loc::default(), "m");
        assert_eq!(
            command(&nowhere, Path::new("/ws"), Path::new("/ws")),
            "::error file=/etc/x%2Cy,title=fleetcert::m"
        );
    }
}
