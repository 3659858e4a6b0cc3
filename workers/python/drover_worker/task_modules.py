"""The task types a Python file defines, for `--tasks FILE`."""

from __future__ import annotations

import importlib.util
import os
import sys

from .task import TaskDefinition


def load_task_module(path: str) -> list[TaskDefinition]:
    """Every task type the file defines at its top level (what `@task` returned).

    The file's folder goes on the import path first, so that it may import its neighbours. A file
    that does not load, or defines none, is refused with a message naming it.
    """
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = "drover_tasks_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"The task module {path} is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ValueError(f"The task module {path} did not load: {error}") from error
    found: list[TaskDefinition] = []
    for value in vars(module).values():
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, TaskDefinition) and item not in found:
                found.append(item)
    if not found:
        raise ValueError(
            f"The task module {path} defines no task types: decorate a function with "
            '@task("name", params={...}).'
        )
    return found
