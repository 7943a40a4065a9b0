"""The `lineinfile` plugin's pure logic: one line ensured in (or removed
from) a file's text, with no host and no bindings, so it is unit-tested
on the build machine's Python (test_lineedit.py)."""

import re
from dataclasses import dataclass
from typing import Optional


@dataclass
class Edit:
    """What an edit did: the new text and a phrase for the summary."""

    text: str
    what: str


def ensure(text: str, line: str, regexp: Optional[str], present: bool) -> Optional[Edit]:
    """The text with `line` in it (or, not `present`, without the lines
    `regexp` matches, else without `line`); None when it already is so.

    Present: the last line `regexp` matches is replaced by `line`; without
    a match (or without `regexp`) `line` is appended, unless it is there."""
    pattern = re.compile(regexp) if regexp is not None else None
    lines = text.splitlines(keepends=True)
    if present:
        return _present(lines, line, pattern)
    return _absent(lines, line, pattern)


def _matches(raw: str, line: str, pattern: Optional[re.Pattern]) -> bool:
    body = raw.rstrip("\r\n")
    return pattern.search(body) is not None if pattern else body == line


def _present(lines: list, line: str, pattern: Optional[re.Pattern]) -> Optional[Edit]:
    hits = [i for i, raw in enumerate(lines) if _matches(raw, line, pattern)]
    if hits:
        i = hits[-1]
        if lines[i].rstrip("\r\n") == line:
            return None
        ending = lines[i][len(lines[i].rstrip("\r\n")):] or "\n"
        lines[i] = line + ending
        return Edit("".join(lines), f"line {i + 1} replaced")
    if pattern is not None and any(raw.rstrip("\r\n") == line for raw in lines):
        return None
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.append(line + "\n")
    return Edit("".join(lines), f"line {len(lines)} added")


def _absent(lines: list, line: str, pattern: Optional[re.Pattern]) -> Optional[Edit]:
    kept = [raw for raw in lines if not _matches(raw, line, pattern)]
    removed = len(lines) - len(kept)
    if removed == 0:
        return None
    noun = "line" if removed == 1 else "lines"
    return Edit("".join(kept), f"{removed} {noun} removed")
