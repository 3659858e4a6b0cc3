"""Runs one shell task: the expanded argv without a shell, in a process group of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from .template import ShellTemplate

INHERITED_ENV = ("PATH", "HOME", "LANG")
"""What a command inherits from the worker's environment; the rest of it stays private."""

MAX_LINE_BYTES = 64 * 1024
KILL_WAIT_S = 5.0
POLL_S = 0.05


@dataclass
class ShellResult:
    exit_code: Optional[int]
    """None when a signal ended the command."""
    signal: Optional[int]
    timed_out: bool
    cancelled: bool
    duration_ms: int
    files: list[tuple[str, str, int]] = field(default_factory=list)
    """Every regular file left in the output directory: (name, path, size), sorted by name."""


class ShellStartError(RuntimeError):
    """The program could not be started: missing, not executable, or its directory is missing."""


async def run_shell(
    template: ShellTemplate,
    params: object,
    out_dir: str,
    stop: asyncio.Event,
    on_line: Callable[[str, str], None],
    env: Optional[dict[str, str]] = None,
) -> ShellResult:
    """Runs the command to its end, whatever its exit code.

    On timeout or `stop` the whole group gets SIGTERM, then SIGKILL after the template's grace;
    once the command exits, whatever it left running in its group is stopped the same way, so
    nothing of a task outlives it. Raises ParamsError before anything starts if the params are
    wrong, ShellStartError if the program cannot be started.
    """
    out_dir = os.path.abspath(out_dir)
    program, *args = template.expand(params, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    cwd = template.cwd or out_dir
    if not os.path.isdir(cwd):
        raise ShellStartError(f'Cannot start "{program}": its working directory {cwd} does not exist.')
    if stop.is_set():
        return ShellResult(None, None, False, True, 0, list_files(out_dir))
    child_env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    child_env.update(template.env)
    child_env.update(env or {})
    started = time.monotonic()
    try:
        process = await asyncio.create_subprocess_exec(
            program,
            *args,
            cwd=cwd,
            env=child_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own process group, so that everything it starts can be stopped with it.
            start_new_session=True,
            limit=MAX_LINE_BYTES,
        )
    except FileNotFoundError as error:
        raise ShellStartError(f'Cannot start "{program}": there is no such program.') from error
    except PermissionError as error:
        raise ShellStartError(f'Cannot start "{program}": permission denied.') from error
    pgid = process.pid
    readers = [
        asyncio.ensure_future(_read_lines(process.stdout, "stdout", on_line)),
        asyncio.ensure_future(_read_lines(process.stderr, "stderr", on_line)),
    ]
    waiting = asyncio.ensure_future(process.wait())
    stopping = asyncio.ensure_future(stop.wait())
    timeout = None if template.timeout_ms is None else template.timeout_ms / 1000
    done, _ = await asyncio.wait({waiting, stopping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    cause = None if waiting in done else ("cancel" if stopping in done else "timeout")
    stopping.cancel()
    # On a stop, and after a normal exit for what the command left running in its group.
    await stop_group(pgid, template.grace_ms / 1000)
    await waiting
    duration_ms = round((time.monotonic() - started) * 1000)
    # Only a process that left the group can still hold the pipes: it must not hold the task.
    await asyncio.wait(readers, timeout=1.0)
    for reader in readers:
        reader.cancel()
    code = process.returncode
    return ShellResult(
        exit_code=code if code is not None and code >= 0 else None,
        signal=-code if code is not None and code < 0 else None,
        timed_out=cause == "timeout",
        cancelled=cause == "cancel",
        duration_ms=duration_ms,
        files=list_files(out_dir),
    )


async def _read_lines(stream, name: str, on_line: Callable[[str, str], None]) -> None:
    while True:
        try:
            line = await stream.readline()
        except ValueError:
            # A line longer than the limit arrives in pieces rather than growing without bound.
            line = await stream.read(MAX_LINE_BYTES)
        if not line:
            return
        on_line(name, line.rstrip(b"\n").rstrip(b"\r").decode("utf-8", "replace"))


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group can still run: zombies, waiting to be reaped, do not count."""
    if not _signal_group(pgid, 0):
        return False
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split(" ")
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


async def _wait_gone(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if not _group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)


async def stop_group(pgid: int, grace_s: float) -> None:
    """SIGTERM to every process of the group, then SIGKILL to whatever is left after the grace."""
    if not _group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    # A stopped process (SIGSTOP, ^Z) would hold SIGTERM until continued.
    _signal_group(pgid, signal.SIGCONT)
    if await _wait_gone(pgid, grace_s):
        return
    _signal_group(pgid, signal.SIGKILL)
    await _wait_gone(pgid, KILL_WAIT_S)


def list_files(root: str) -> list[tuple[str, str, int]]:
    """The regular files under root, by name; symbolic links neither listed nor followed.

    A command could otherwise publish any file the worker can read (`ln -s /etc/shadow out/x`).
    """
    found: list[tuple[str, str, int]] = []

    def walk(directory: str, prefix: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path, f"{prefix}{entry.name}/")
            elif entry.is_file(follow_symlinks=False):
                found.append((prefix + entry.name, entry.path, entry.stat(follow_symlinks=False).st_size))

    walk(root, "")
    return sorted(found)
