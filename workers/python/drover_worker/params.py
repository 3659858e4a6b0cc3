"""A task type's params, declared in its decorator and checked before the task runs.

A small schema of our own rather than a validation library: the worker's only dependency is
Debian's python3-websockets, so that `apt-get install python3-websockets` is all a machine needs.
The same declaration gives the JSON Schema the worker sends in `workers.hello`, with which the
server refuses a bad submission before it is stored.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}
_MISSING = object()


class ParamsError(ValueError):
    """Params that do not match their declaration; `issues` holds each `(path, message)`."""

    def __init__(self, issues: Sequence[tuple[str, str]]):
        self.issues = list(issues)
        super().__init__("; ".join(f"{path}: {message}" for path, message in self.issues))


@dataclass(frozen=True)
class Param:
    """One param: its type (`str`, `int`, `float` or `bool`) and the values it allows.

    A param without a default is required. `min` and `max` bound numbers (inclusive); `pattern`
    must match a whole string; `choices` lists the only values allowed.

    Example: `Param(int, min=1, max=4096, default=320)`.
    """

    type: type
    default: Any = _MISSING
    min: Optional[float] = None
    max: Optional[float] = None
    pattern: Optional[str] = None
    choices: Optional[Sequence[Any]] = None
    description: Optional[str] = None

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise TypeError(f"a param's type is str, int, float or bool, not {self.type!r}")
        if self.pattern is not None:
            re.compile(self.pattern)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("max must not be below min")
        if self.has_default:
            problem = self.problem(self.default)
            if problem:
                raise ValueError(f"the default {self.default!r} is not allowed: {problem}")

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    def problem(self, value: Any) -> Optional[str]:
        """What is wrong with a value, or None when it is allowed."""
        kind = _TYPES[self.type]
        # bool is an int in Python, and JSON has no int/float distinction beyond the value.
        if kind == "boolean" and not isinstance(value, bool):
            return "must be a boolean"
        if kind == "string" and not isinstance(value, str):
            return "must be a string"
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "must be an integer"
            if isinstance(value, float) and not value.is_integer():
                return "must be an integer"
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "must be a number"
            if not math.isfinite(value):
                return "must be a finite number"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(repr(c) for c in self.choices)}"
        if self.min is not None and value < self.min:
            return f"must be at least {self.min}"
        if self.max is not None and value > self.max:
            return f"must be at most {self.max}"
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            return f"must match {self.pattern}"
        return None

    def convert(self, value: Any) -> Any:
        """The value as the handler gets it: `3.0` for an integer param becomes `3`."""
        if _TYPES[self.type] == "integer":
            return int(value)
        if _TYPES[self.type] == "number":
            return float(value)
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": _TYPES[self.type]}
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.min is not None:
            schema["minimum"] = self.min
        if self.max is not None:
            schema["maximum"] = self.max
        if self.pattern is not None:
            schema["pattern"] = f"^(?:{self.pattern})$"
        if self.has_default:
            schema["default"] = self.default
        if self.description:
            schema["description"] = self.description
        return schema


def validate(declared: Mapping[str, Param], params: Any) -> dict[str, Any]:
    """The params a handler gets: checked against their declaration, defaults filled in.

    Raises ParamsError listing every fault: a missing param, a wrong type, a value out of range,
    and any key the declaration does not name (a misspelt `widht` must fail, not be ignored).
    """
    if not isinstance(params, Mapping):
        raise ParamsError([("params", "must be an object")])
    issues: list[tuple[str, str]] = []
    for key in params:
        if key not in declared:
            issues.append((str(key), f'is not a param of this task type (it takes {_names(declared)})'))
    values: dict[str, Any] = {}
    for name, param in declared.items():
        if name not in params:
            if param.has_default:
                values[name] = param.default
            else:
                issues.append((name, "is required"))
            continue
        problem = param.problem(params[name])
        if problem:
            issues.append((name, problem))
        else:
            values[name] = param.convert(params[name])
    if issues:
        raise ParamsError(issues)
    return values


def json_schema(declared: Mapping[str, Param]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the params, as the server checks submissions with it."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {name: param.json_schema() for name, param in declared.items()},
        "required": [name for name, param in declared.items() if not param.has_default],
        "additionalProperties": False,
    }


def _names(declared: Mapping[str, Param]) -> str:
    return ", ".join(declared) if declared else "none"
