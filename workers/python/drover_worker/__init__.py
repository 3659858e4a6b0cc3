"""Drover's worker for Python: task types as decorated functions, run for a Drover farm.

    from drover_worker import Param, task

    @task("greet", params={"name": Param(str, default="world")})
    async def greet(ctx, name):
        ctx.progress(0.5, "I'm about to say hello")
        return f"hi {name}!"

Run it with `python3 -m drover_worker --server URL --token-file FILE --tasks greet.py`.
"""

from .errors import Disconnected, RpcError
from .identity import IdentityError, WorkerIdentity, claim_identity, default_state_dir
from .params import Param, ParamsError
from .shell_task import load_shell_tasks, shell_task
from .task import Cancelled, TaskContext, TaskDefinition, ThreadContext, task
from .worker import Worker

__all__ = [
    "Cancelled",
    "Disconnected",
    "IdentityError",
    "Param",
    "ParamsError",
    "RpcError",
    "TaskContext",
    "TaskDefinition",
    "ThreadContext",
    "Worker",
    "WorkerIdentity",
    "claim_identity",
    "default_state_dir",
    "load_shell_tasks",
    "shell_task",
    "task",
]
