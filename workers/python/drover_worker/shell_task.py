"""A shell template as a task type like any other, run as `drover worker --shell-tasks` runs it."""

from __future__ import annotations

import json
import shutil
import tempfile
from typing import Any

from .shell.run import run_shell
from .shell.template import ShellTemplate, TemplateError, parse_template
from .task import Cancelled, TaskContext, TaskDefinition


def shell_task(template: ShellTemplate) -> TaskDefinition:
    """The task type of a template: params checked by its spec and passed as argv, never through
    a shell; stdout and stderr become log lines; exit code 0 is success; the files left in
    `{outDir}` become the task's artifacts."""

    async def run(ctx: TaskContext, **params: Any) -> dict:
        out_dir = tempfile.mkdtemp(prefix=f"drover-{template.name}-")
        try:
            result = await run_shell(
                template,
                params,
                out_dir,
                ctx.stopped,
                lambda stream, line: ctx.log(f"[stderr] {line}" if stream == "stderr" else line),
                env={
                    "DROVER_TASK_ID": ctx.task_id,
                    "DROVER_JOB_ID": ctx.job_id,
                    "DROVER_ATTEMPT": str(ctx.attempt),
                },
            )
            if result.cancelled:
                raise Cancelled("The command was stopped.")
            if result.timed_out:
                raise RuntimeError(f"The command ran longer than {template.timeout_ms} ms and was stopped.")
            if result.exit_code != 0:
                how = result.exit_code if result.exit_code is not None else f"signal {result.signal}"
                raise RuntimeError(f"{template.argv[0]} exited with {how}.")
            for name, path, _ in result.files:
                ctx.check_cancelled()
                with open(path, "rb") as f:
                    await ctx.artifact(name, f.read())
            return {
                "exitCode": result.exit_code,
                "durationMs": result.duration_ms,
                "files": [{"name": name, "size": size} for name, _, size in result.files],
            }
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)

    return TaskDefinition(
        name=template.name, params=template.params, handler=run, validator=template.check_params
    )


def load_shell_tasks(path: str) -> list[TaskDefinition]:
    """The templates of a JSON file, each checked before the worker starts."""
    with open(path, encoding="utf-8") as f:
        templates = json.load(f)
    if not isinstance(templates, list):
        raise ValueError(f"{path} must hold a JSON array of shell task templates.")
    tasks = []
    for i, raw in enumerate(templates):
        try:
            tasks.append(shell_task(parse_template(raw)))
        except TemplateError as error:
            raise ValueError(f"Shell task template {i} in {path} is invalid: {error}") from error
    return tasks
