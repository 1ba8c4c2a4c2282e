"""Shell lines a person can paste: a curl reproduction without raw control bytes.

A hostile or fuzzed request body can hold ESC, BEL or NUL; inside a plain ``'...'`` they reach the
terminal raw (moving the cursor, ringing the bell, making ``grep`` call the log binary) and do not
survive a copy and paste. Such words are written in bash's ANSI-C quoting, ``$'\\x1b...'``, which
sends exactly the same bytes.
"""

from __future__ import annotations

import re
import shlex

KEY_VARIABLE = "$OPENAI_API_KEY"


# C0 controls but TAB, DEL and the C1 controls: one regex search instead of a loop over every
# character (a curl line is built for every exchange a verdict cites)
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def ansi_c_quote(text: str) -> str:
    out = []
    for c in text:
        code = ord(c)
        if c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif code < 32 or code == 127:
            out.append(f"\\x{code:02x}")
        elif 127 < code < 160:
            out.append(f"\\u{code:04x}")
        else:
            out.append(c)
    return "$'" + "".join(out) + "'"


def quote(word: str) -> str:
    """One shell word: shlex's quoting, ANSI-C quoting when it holds control characters, and
    double quotes where the key variable must expand."""
    if KEY_VARIABLE in word and not has_control(word):
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`") + '"'
    return ansi_c_quote(word) if has_control(word) else shlex.quote(word)


def safe_command(line: str) -> str:
    """``line`` (a command written with shlex-style quoting) re-quoted without raw control bytes.
    Lines without control characters are returned unchanged."""
    if not has_control(line):
        return line
    try:
        words = shlex.split(line, posix=True)
    except ValueError:  # not a well-formed command: at least make it printable
        return "".join(c if not has_control(c) else f"\\x{ord(c):02x}" for c in line)
    return " ".join(w if w == "curl" else quote(w) for w in words)
