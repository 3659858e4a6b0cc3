"""An operator's shell task template, checked as `docs/shell-templates.md` describes.

The same JSON a TypeScript worker takes with `--shell-tasks` is taken here, with the same checks,
so an operator writes one template file for both runtimes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..params import Param, ParamsError, validate
from .placeholders import PARAM_NAME, PlaceholderError, parse_element

OUT_DIR = "outDir"
"""The built-in placeholder: the directory whose files become the task's artifacts."""

MAX_GRACE_MS = 600_000
MAX_TIMEOUT_MS = 7 * 24 * 3600 * 1000
TASK_TYPE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

_TEMPLATE_KEYS = {"name", "argv", "params", "env", "cwd", "timeoutMs", "graceMs"}
_SPEC_KEYS = {
    "string": {"type", "pattern", "enum", "allowLeadingDash", "default"},
    "integer": {"type", "min", "max", "allowLeadingDash", "default"},
    "number": {"type", "min", "max", "allowLeadingDash", "default"},
    "boolean": {"type", "default"},
}
_PY_TYPES = {"string": str, "integer": int, "number": float, "boolean": bool}
LEADING_DASH = (
    'starts with "-", which the program could read as an option; a template param takes such '
    'values only with "allowLeadingDash": true'
)


class TemplateError(ValueError):
    """A template the worker must not start with: says which field is wrong."""


@dataclass(frozen=True)
class ShellTemplate:
    name: str
    argv: list[str]
    params: dict[str, Param]
    leading_dash: dict[str, bool] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Optional[str] = None
    timeout_ms: Optional[int] = None
    grace_ms: int = 5000

    def check_params(self, params: Any) -> dict[str, Any]:
        """The validated params, or ParamsError naming each one at fault."""
        values = validate(self.params, params)
        issues = []
        for name, value in values.items():
            param = self.params[name]
            if isinstance(value, str) and "\0" in value:
                issues.append((name, "must not contain NUL characters: argv cannot carry them"))
                continue
            if self.leading_dash.get(name) or (param.choices and value in param.choices):
                continue
            if _starts_with_dash(value):
                issues.append((name, LEADING_DASH))
        if issues:
            raise ParamsError(issues)
        return values

    def expand(self, params: Any, out_dir: str) -> list[str]:
        """The command line for one task: every placeholder replaced, each value one literal."""
        values = self.check_params(params)
        argv = []
        for element in self.argv:
            text = ""
            for kind, value in parse_element(element):
                if kind == "literal":
                    text += value
                elif value == OUT_DIR:
                    text += out_dir
                else:
                    text += _text(values[value])
            argv.append(text)
        return argv


def parse_template(raw: Any) -> ShellTemplate:
    """A template from its JSON, or TemplateError saying what is wrong with it."""
    if not isinstance(raw, Mapping):
        raise TemplateError("a template is a JSON object")
    _no_unknown(raw, _TEMPLATE_KEYS, "")
    name = raw.get("name")
    if not isinstance(name, str) or not TASK_TYPE_NAME.fullmatch(name):
        raise TemplateError("name: a task type name is 1 to 64 letters, digits, '.', '_', ':' or '-'")
    argv = raw.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise TemplateError("argv: a list of strings, at least the program")
    if any("\0" in a for a in argv):
        raise TemplateError("argv: must not contain NUL characters")
    raw_params = raw.get("params", {})
    if not isinstance(raw_params, Mapping):
        raise TemplateError("params: an object of param specs by name")
    params: dict[str, Param] = {}
    leading_dash: dict[str, bool] = {}
    for pname, spec in raw_params.items():
        if not PARAM_NAME.fullmatch(pname):
            raise TemplateError(
                f"params.{pname}: a param name is a letter, then up to 63 letters, digits or '_'"
            )
        if pname == OUT_DIR:
            raise TemplateError(f'params.{pname}: "{OUT_DIR}" is built in; choose another name')
        params[pname], leading_dash[pname] = _param(pname, spec)
    for i, element in enumerate(argv):
        try:
            segments = parse_element(element)
        except PlaceholderError as error:
            raise TemplateError(f"argv.{i}: {error}") from error
        if i == 0 and element == "":
            raise TemplateError("argv.0: the program must not be empty")
        for kind, value in segments:
            if kind != "placeholder":
                continue
            if i == 0:
                # The program is the operator's choice alone; a client must never pick it.
                raise TemplateError(f"argv.0: the program cannot contain a placeholder ({{{value}}})")
            if value != OUT_DIR and value not in params:
                raise TemplateError(f"argv.{i}: {{{value}}} is neither a declared param nor {{{OUT_DIR}}}")
    env = raw.get("env", {})
    if not isinstance(env, Mapping) or not all(
        isinstance(k, str) and k and "=" not in k and "\0" not in k and isinstance(v, str) and "\0" not in v
        for k, v in env.items()
    ):
        raise TemplateError("env: an object of variable names (no '=' or NUL) to strings")
    cwd = raw.get("cwd")
    if cwd is not None and (not isinstance(cwd, str) or not os.path.isabs(cwd)):
        raise TemplateError("cwd: must be an absolute path")
    timeout_ms = raw.get("timeoutMs")
    if timeout_ms is not None and not _int_between(timeout_ms, 1, MAX_TIMEOUT_MS):
        raise TemplateError(f"timeoutMs: an integer from 1 to {MAX_TIMEOUT_MS}")
    grace_ms = raw.get("graceMs", 5000)
    if not _int_between(grace_ms, 0, MAX_GRACE_MS):
        raise TemplateError(f"graceMs: an integer from 0 to {MAX_GRACE_MS}")
    return ShellTemplate(
        name=name,
        argv=list(argv),
        params=params,
        leading_dash=leading_dash,
        env=dict(env),
        cwd=cwd,
        timeout_ms=timeout_ms,
        grace_ms=grace_ms,
    )


def _param(name: str, spec: Any) -> tuple[Param, bool]:
    where = f"params.{name}"
    if not isinstance(spec, Mapping) or spec.get("type") not in _SPEC_KEYS:
        raise TemplateError(f"{where}: a spec with type string, integer, number or boolean")
    _no_unknown(spec, _SPEC_KEYS[spec["type"]], f"{where}.")
    allow = spec.get("allowLeadingDash", False)
    if not isinstance(allow, bool):
        raise TemplateError(f"{where}.allowLeadingDash: true or false")
    kwargs: dict[str, Any] = {}
    if "default" in spec:
        kwargs["default"] = spec["default"]
    for key, target in (("min", "min"), ("max", "max"), ("pattern", "pattern"), ("enum", "choices")):
        if key in spec:
            kwargs[target] = spec[key]
    try:
        param = Param(_PY_TYPES[spec["type"]], **kwargs)
    except (TypeError, ValueError, re.error) as error:
        raise TemplateError(f"{where}: {error}") from error
    if param.choices is not None and param.pattern is not None:
        for i, choice in enumerate(param.choices):
            if not isinstance(choice, str) or re.fullmatch(param.pattern, choice) is None:
                raise TemplateError(f"{where}.enum.{i}: does not match the pattern")
    if param.has_default and not allow and not param.choices and _starts_with_dash(param.default):
        raise TemplateError(f"{where}.default: the default is not allowed: {LEADING_DASH}")
    return param, allow


def _no_unknown(raw: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
    # A misspelt key in an operator's config (`patern`) must fail, not be ignored.
    for key in raw:
        if key not in allowed:
            raise TemplateError(f"{prefix}{key}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _starts_with_dash(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value < 0
    return isinstance(value, str) and value.startswith("-")


def _int_between(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _text(value: Any) -> str:
    """A value as JavaScript's String() writes it, so argv matches the TypeScript worker's."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
