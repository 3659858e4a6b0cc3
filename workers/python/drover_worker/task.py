"""Task types as decorated functions, and what a running task may do besides computing."""

from __future__ import annotations

import asyncio
import inspect
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Optional, Union

from .params import Param, json_schema, validate


class Cancelled(Exception):
    """Raised by `check_cancelled()` once the task was stopped: cancelled, timed out or lost."""


@dataclass(frozen=True)
class TaskDefinition:
    """A task type this worker runs: its name, its params' declaration and its handler."""

    name: str
    params: Mapping[str, Param]
    handler: Callable[..., Any]
    validator: Optional[Callable[[Any], dict[str, Any]]] = None
    """Checks over the declaration's own, such as a shell template's rule on leading dashes."""

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)

    def params_schema(self) -> dict[str, Any]:
        return json_schema(self.params)

    def check(self, params: Any) -> dict[str, Any]:
        """The params the handler gets, or ParamsError naming each one at fault."""
        return self.validator(params) if self.validator else validate(self.params, params)

    async def run(self, ctx: "TaskContext", params: dict[str, Any]) -> Any:
        """Runs the handler: a coroutine on the worker's loop, a plain function in a thread.

        A plain function is how CPU-bound work stays off the loop, so heartbeats keep going.
        """
        if self.is_async:
            return await self.handler(ctx, **params)
        return await _in_thread(self.handler, ThreadContext(ctx), **params)


def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
    """Runs a function in a daemon thread of its own, its outcome delivered to the loop.

    Not the loop's default executor: the interpreter waits for those threads at exit, so a
    handler that never looks at `cancelled` could keep a stopping worker alive past its deadline.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def deliver(settle: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            settle(value)

    def target() -> None:
        try:
            result = function(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the awaiting coroutine
            outcome: tuple[Callable[[Any], None], Any] = (future.set_exception, error)
        else:
            outcome = (future.set_result, result)
        try:
            loop.call_soon_threadsafe(deliver, *outcome)
        except RuntimeError:
            pass  # The loop closed: the worker has stopped and nobody waits for this any more.

    threading.Thread(target=target, name=f"drover-task-{function.__name__}", daemon=True).start()
    return future


def task(name: str, params: Optional[Mapping[str, Param]] = None):
    """Declares a task type: the function runs each task, its params checked first.

    The function gets the task's context and its params as keyword arguments, defaults filled
    in. A coroutine function runs on the worker's event loop; a plain function runs in a thread
    and gets a context whose `artifact` blocks. What it returns (JSON) is the task's result.

    Example:

        @task("greet", params={"name": Param(str, default="world")})
        async def greet(ctx, name):
            ctx.progress(0.5, "I'm about to say hello")
            await ctx.artifact("greeting.txt", f"hi {name}!")
            return f"hi {name}!"
    """
    declared = dict(params or {})
    for key, value in declared.items():
        if not isinstance(value, Param):
            raise TypeError(f"param {key} of {name} must be declared with Param(...)")

    def decorate(handler: Callable[..., Any]) -> TaskDefinition:
        return TaskDefinition(name=name, params=declared, handler=handler)

    return decorate


Data = Union[bytes, bytearray, memoryview, str]


class TaskContext:
    """What a task handler running on the event loop may do: report, log, store files, stop."""

    def __init__(
        self,
        *,
        task_id: str,
        job_id: str,
        attempt: int,
        stopped: asyncio.Event,
        progress: Callable[[Optional[float], Optional[str]], None],
        log: Callable[[str], None],
        artifact: Callable[[str, bytes, Optional[str]], Awaitable[dict]],
    ):
        self.task_id = task_id
        self.job_id = job_id
        self.attempt = attempt
        self.stopped = stopped
        self._progress = progress
        self._log = log
        self._artifact = artifact

    def progress(self, fraction: Optional[float] = None, message: Optional[str] = None) -> None:
        """0..1 and a message for people; coalesced, so calling it often is cheap."""
        if fraction is not None:
            fraction = min(1.0, max(0.0, float(fraction)))
        self._progress(fraction, message)

    def log(self, line: str) -> None:
        """A line for the task's log."""
        self._log(str(line))

    async def artifact(self, name: str, data: Data, content_type: Optional[str] = None) -> dict:
        """Stores a file this attempt produced, uploaded with its sha256; returns its record.

        Sent again while the server is unreachable and the lease may hold; raises if the server
        refuses it (lease gone, too large, name already used in this attempt).
        """
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if content_type is None and isinstance(data, str):
            content_type = "text/plain; charset=utf-8"
        return await self._artifact(name, body, content_type)

    @property
    def cancelled(self) -> bool:
        """True once the task was stopped: cancelled, timed out or its lease lost."""
        return self.stopped.is_set()

    def check_cancelled(self) -> None:
        """Raises Cancelled once the task was stopped: call it between steps of long work."""
        if self.stopped.is_set():
            raise Cancelled("the task was stopped")


class ThreadContext:
    """The context a plain-function handler gets in its thread: the same, with a blocking upload."""

    def __init__(self, ctx: TaskContext):
        self._ctx = ctx
        self._loop = asyncio.get_running_loop()
        self.task_id = ctx.task_id
        self.job_id = ctx.job_id
        self.attempt = ctx.attempt

    def progress(self, fraction: Optional[float] = None, message: Optional[str] = None) -> None:
        self._loop.call_soon_threadsafe(self._ctx.progress, fraction, message)

    def log(self, line: str) -> None:
        self._loop.call_soon_threadsafe(self._ctx.log, line)

    def artifact(self, name: str, data: Data, content_type: Optional[str] = None) -> dict:
        future = asyncio.run_coroutine_threadsafe(self._ctx.artifact(name, data, content_type), self._loop)
        return future.result()

    @property
    def cancelled(self) -> bool:
        return self._ctx.cancelled

    def check_cancelled(self) -> None:
        self._ctx.check_cancelled()
