"""botocore's ``pattern`` constraints, which are Java regular expressions, in Python.

AWS checks a member's pattern with java.util.regex, and the whole value must
match: the IoT reference gives thingName the pattern ``[a-zA-Z0-9:_-]+`` and
AWS refuses "my thing" (IoT API Reference, CreateThing,
https://docs.aws.amazon.com/iot/latest/apireference/API_CreateThing.html:
"Pattern: [a-zA-Z0-9:_-]+"), and refused the attribute name ``"state"``
(with its quotes) against ``[a-zA-Z0-9_.,@/:#-]+``
(https://github.com/aws/aws-sdk-java/issues/666). So each pattern is used with
``fullmatch``.

Where Java and Python read a pattern differently, it is translated
(java.util.regex.Pattern,
https://docs.oracle.com/javase/8/docs/api/java/util/regex/Pattern.html):

- ``\\w \\d \\s \\b`` are ASCII-only in Java ("Predefined character classes",
  without UNICODE_CHARACTER_CLASS): the pattern is compiled with re.ASCII.
- ``\\p{Lower}``, ``\\p{Graph}``, ``\\p{Cntrl}`` ... are "POSIX character
  classes (US-ASCII only)": their ASCII ranges.
- ``\\p{L}``, ``\\p{IsL}``, ``\\p{Lu}`` ... are Unicode general categories:
  ranges built from Python's unicodedata.
- ``.`` excludes every Java line terminator ("\\n", "\\r", "\\u0085",
  "\\u2028", "\\u2029"), not only "\\n".
- ``\\z`` is Python's ``\\Z``; ``\\e`` is ESC.
- In a class, a ``-`` right after a predefined class (``[\\w-\\/.]``, in an
  SSM / KMS role-ARN pattern) is a literal hyphen for Java, which cannot make a
  range from a class; Python refuses it, so it is escaped.

Anything else Java-only (class unions ``[a[b]]``, intersections ``&&``,
``\\P`` inside a class, ``\\Q``, ``\\h``, ``\\v``, ``\\R``, ``\\G``, ``\\x{...}``)
raises UnsupportedPattern; the test suite checks that every pattern of the
models validation.py uses (IoT, ACM PCA, Secrets Manager, SSM, KMS) translates.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from functools import lru_cache

# "POSIX character classes (US-ASCII only)" of java.util.regex.Pattern.
_POSIX = {
    "Lower": r"a-z", "Upper": r"A-Z", "ASCII": r"\x00-\x7f", "Alpha": r"a-zA-Z",
    "Digit": r"0-9", "Alnum": r"a-zA-Z0-9", "Punct": r"!-/:-@\[-`{-~",
    "Graph": r"!-~", "Print": r"\x20-\x7e", "Blank": r" \t", "Cntrl": r"\x00-\x1f\x7f",
    "XDigit": r"0-9a-fA-F", "Space": r" \t\n\x0b\f\r",
}
_LINE_TERMINATORS = r"\n\r\u0085\u2028\u2029"
_UNSUPPORTED_ESCAPES = set("hHvVRGQEXK")


class UnsupportedPattern(ValueError):
    pass


@lru_cache(maxsize=1)
def _category_ranges() -> dict[str, list[tuple[int, int]]]:
    """General category ("Lu") -> [(first, last) code point] over all of Unicode."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    category = unicodedata.category
    prev, start = category("\0"), 0
    for cp in range(1, 0x110000):
        c = category(chr(cp))
        if c != prev:
            ranges.setdefault(prev, []).append((start, cp - 1))
            prev, start = c, cp
    ranges.setdefault(prev, []).append((start, 0x10FFFF))
    return ranges


def _escape(cp: int) -> str:
    return f"\\U{cp:08x}"


@lru_cache(maxsize=None)
def _class_body(name: str) -> str:
    """The inside of a Python character class for Java's \\p{name}."""
    if name in _POSIX:
        return _POSIX[name]
    category = name[2:] if name.startswith("Is") else name
    ranges = _category_ranges()
    picked = sorted(r for c, rs in ranges.items() if c.startswith(category) for r in rs) \
        if len(category) in (1, 2) and category[:1].isupper() else []
    if not picked:
        raise UnsupportedPattern(f"unknown Java character class \\p{{{name}}}")
    return "".join(_escape(a) if a == b else f"{_escape(a)}-{_escape(b)}" for a, b in picked)


def _property(pattern: str, i: int) -> tuple[str, int]:
    """The name of the \\p property whose letter is at pattern[i], and the index after it."""
    if i + 1 < len(pattern) and pattern[i + 1] == "{":
        end = pattern.find("}", i + 2)
        if end < 0:
            raise UnsupportedPattern("unterminated \\p{")
        return pattern[i + 2:end], end + 1
    return pattern[i + 1:i + 2], i + 2


_CLASS_ESCAPES = set("wWdDsS")


def translate(pattern: str) -> str:
    """The Python spelling (for re.ASCII) of a Java regular expression."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if in_class and ch == "-" and i >= 2 and pattern[i - 2] == "\\" \
                and pattern[i - 1] in _CLASS_ESCAPES and pattern[i + 1:i + 2] != "]":
            out.append("\\-")  # no range can start at a class: a literal "-"
            i += 1
            continue
        if ch == "\\":
            nxt = pattern[i + 1:i + 2]
            if nxt in ("p", "P"):
                name, i = _property(pattern, i + 1)
                body = _class_body(name)
                if in_class and nxt == "P":
                    raise UnsupportedPattern("\\P inside a character class")
                out.append(body if in_class else f"[{'^' if nxt == 'P' else ''}{body}]")
                continue
            if nxt in _UNSUPPORTED_ESCAPES or (nxt == "x" and pattern[i + 2:i + 3] == "{"):
                raise UnsupportedPattern(f"Java escape \\{nxt}")
            out.append({"z": r"\Z", "e": r"\x1b"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if in_class:
            if ch == "[" or pattern.startswith("&&", i):
                raise UnsupportedPattern("nested character class or intersection")
            if ch == "]" and out[-1] not in ("[", "[^"):
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            negated = pattern[i + 1:i + 2] == "^"
            out.append("[^" if negated else "[")
            i += 2 if negated else 1
            continue
        elif ch == ".":
            out.append(f"[^{_LINE_TERMINATORS}]")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


@lru_cache(maxsize=None)
def compile_java(pattern: str) -> re.Pattern:
    """Compile a botocore pattern; use it with fullmatch (AWS matches the whole value)."""
    with warnings.catch_warnings():
        # a FutureWarning ("possible nested set") means Python reads it differently
        warnings.simplefilter("error")
        try:
            return re.compile(translate(pattern), re.ASCII)
        except (re.error, FutureWarning) as e:
            raise UnsupportedPattern(f"{pattern!r}: {e}") from e
