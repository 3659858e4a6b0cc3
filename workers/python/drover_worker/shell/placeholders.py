"""Placeholders in a template's argv: `{name}` for a param, `{{` and `}}` for literal braces."""

from __future__ import annotations

import re
from typing import Union

PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

Literal = tuple[str, str]  # ("literal", text)
Placeholder = tuple[str, str]  # ("placeholder", name)
Segment = Union[Literal, Placeholder]


class PlaceholderError(ValueError):
    """An argv element with a brace that is neither a placeholder nor doubled."""


def parse_element(element: str) -> list[Segment]:
    """Splits one argv element into literal text and placeholders.

    Any brace that is not part of `{name}`, `{{` or `}}` is an error rather than literal text, so
    that a mistyped placeholder (`{ width}`, `{width`) fails when the template is loaded instead
    of reaching the program verbatim.
    """
    segments: list[Segment] = []
    literal = ""
    i = 0
    while i < len(element):
        ch = element[i]
        pair = element[i : i + 2]
        if pair == "{{":
            literal += "{"
            i += 2
        elif pair == "}}":
            literal += "}"
            i += 2
        elif ch == "{":
            close = element.find("}", i + 1)
            name = "" if close == -1 else element[i + 1 : close]
            if not PARAM_NAME.fullmatch(name):
                raise PlaceholderError(
                    f'"{element}" has a "{{" at {i} that does not start a {{name}} placeholder; '
                    'write "{{" for a literal "{"'
                )
            if literal:
                segments.append(("literal", literal))
            literal = ""
            segments.append(("placeholder", name))
            i = close + 1
        elif ch == "}":
            raise PlaceholderError(
                f'"{element}" has an unmatched "}}" at {i}; write "}}}}" for a literal "}}"'
            )
        else:
            literal += ch
            i += 1
    if literal or not segments:
        segments.append(("literal", literal))
    return segments
