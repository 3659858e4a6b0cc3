"""Shell-command task types: an operator's templates, the same as `drover worker --shell-tasks`."""

from .template import ShellTemplate, TemplateError, parse_template
from .run import ShellResult, run_shell

__all__ = ["ShellTemplate", "TemplateError", "parse_template", "ShellResult", "run_shell"]
