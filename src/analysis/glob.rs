//! IAM-style wildcards: `*` any run of characters, `?` one character.

/// Whether `pattern` matches `text`, ASCII case-insensitively when `fold`
/// (action names are case-insensitive; resources are not).
pub fn matches(pattern: &str, text: &str, fold: bool) -> bool {
    let eq = |p: char, t: char| {
        if fold {
            p.eq_ignore_ascii_case(&t)
        } else {
            p == t
        }
    };
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether everything `inner` matches, `outer` matches too. Sound, not
/// complete: `inner`'s wildcards are taken as literal characters that only
/// `outer`'s `*` may absorb.
pub fn covers(outer: &str, inner: &str, fold: bool) -> bool {
    if inner.contains('?') || (inner.contains('*') && outer.contains('?')) {
        return outer.chars().all(|c| c == '*') && !outer.is_empty();
    }
    matches(outer, inner, fold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_and_question_marks_match_like_iam() {
        assert!(matches("iot:*", "iot:Publish", false));
        assert!(matches("iot:*Shadow", "iot:GetThingShadow", false));
        assert!(matches("iot:Get?hingShadow", "iot:GetThingShadow", false));
        assert!(!matches("iot:Get*", "iot:Publish", false));
        assert!(matches("IOT:publish", "iot:Publish", true));
        assert!(!matches("IOT:publish", "iot:Publish", false));
        assert!(matches("a/*/c", "a/b/x/c", false));
    }

    #[test]
    fn covering_takes_the_inner_wildcards_literally() {
        assert!(covers("a/*", "a/b/*", false));
        assert!(covers("*", "a?", false));
        assert!(!covers("a?", "a*", false));
        assert!(!covers("a/b", "a/*", false));
    }
}
