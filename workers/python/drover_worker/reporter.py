"""Reports on running attempts, batched, and kept while the server is away."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

from .connection import Connection
from .errors import Disconnected, RpcError

MAX_LOG_LINES = 1000
MAX_LOG_BYTES = 1 << 20


class Reporter:
    """Sends what the running attempts report: every flush makes at most one call per kind.

    Progress is coalesced to the latest value per attempt; log lines keep their order. A report
    is identified by its attempt's lease (attempt id and token), which is what makes sending it
    twice harmless: the server takes it while that lease holds and refuses it otherwise. So what
    cannot be sent while the server is away stays queued and goes after the reconnect.
    """

    def __init__(
        self,
        connection: Connection,
        on_refused: Callable[[list[str]], None],
        on_undeliverable: Callable[[BaseException], None],
        interval_s: float = 0.1,
    ):
        self._connection = connection
        self._on_refused = on_refused
        self._on_undeliverable = on_undeliverable
        self._interval = interval_s
        self._started: dict[str, dict] = {}
        self._progress: dict[str, dict] = {}
        self._logs: dict[str, dict] = {}
        self._finals: dict[str, dict] = {}
        self._lock = asyncio.Lock()
        self._soon = False
        self._timer: Optional[asyncio.Task] = None

    def start(self) -> None:
        self._timer = asyncio.ensure_future(self._tick())

    def close(self) -> None:
        if self._timer:
            self._timer.cancel()

    def started(self, lease: dict) -> None:
        self._started[lease["attemptId"]] = dict(lease)

    def progress(self, lease: dict, progress: Optional[float], message: Optional[str]) -> None:
        previous = self._progress.get(lease["attemptId"], {})
        self._progress[lease["attemptId"]] = {
            **lease,
            "progress": progress if progress is not None else previous.get("progress"),
            "message": (message if message is not None else previous.get("message")),
        }

    def log(self, lease: dict, line: dict) -> None:
        batch = self._logs.setdefault(lease["attemptId"], {**lease, "lines": []})
        batch["lines"].append(line)

    def finish(self, lease: dict, final: dict) -> None:
        """The attempt's outcome: `{"kind": "complete", "result": ...}`, a failure
        (`{"kind": "fail", "error": ..., "retry": ...}`) or the attempt given back unfinished
        (`{"kind": "release", "reason": ...}`), which the server does not charge."""
        # The outcome says the attempt ran: a start not yet sent would be a write for nothing.
        self._started.pop(lease["attemptId"], None)
        self._finals[lease["attemptId"]] = {**lease, **final}
        # Outcomes go at once, yet with every other that ends in the same turn of the loop.
        if not self._soon:
            self._soon = True
            asyncio.get_running_loop().call_soon(self._flush_soon)

    @property
    def pending_finals(self) -> int:
        return len(self._finals)

    def _flush_soon(self) -> None:
        self._soon = False
        asyncio.ensure_future(self.flush())

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        """Sends what is queued, in order: started, progress, logs, outcomes (completed, failed,
        released); one flush at a time."""
        async with self._lock:
            if not self._connection.ready:
                return
            await self._send()

    async def _send(self) -> None:
        # What is queued now is what this flush sends; what is reported meanwhile waits, so an
        # outcome can never overtake progress or log lines of its attempt queued before it.
        started = list(self._started.values())
        progress = list(self._progress.values())
        # Log lines stay queued until the server has them, like every other report: each piece
        # leaves the front of its attempt's queue once answered, so whatever ends this flush early
        # leaves the rest queued, in order, ahead of lines logged since.
        logs = [{**batch, "lines": list(batch["lines"])} for batch in self._logs.values()]
        finals = list(self._finals.values())
        completes = [f for f in finals if f["kind"] == "complete"]
        failures = [f for f in finals if f["kind"] == "fail"]
        releases = [f for f in finals if f["kind"] == "release"]
        steps = [
            (self._started, started, "tasks.started", {"leases": [_lease(i) for i in started]}),
            (self._progress, progress, "tasks.progress", {"reports": [_progress(i) for i in progress]}),
            (None, logs, "tasks.log", None),
            (self._finals, completes, "tasks.complete", {"reports": [_complete(i) for i in completes]}),
            (self._finals, failures, "tasks.fail", {"reports": [_fail(i) for i in failures]}),
            (self._finals, releases, "tasks.release", {"reports": [_release(i) for i in releases]}),
        ]
        for queue, items, method, params in steps:
            try:
                if queue is None:
                    await self._send_logs(items)
                elif items:
                    await self._call(method, params)
                    _drop(queue, items)
            except Exception as error:  # noqa: BLE001 - one bad report must not stop the rest
                # Not acknowledged: stays queued for the next flush, in order.
                if isinstance(error, Disconnected) or (isinstance(error, RpcError) and error.retryable):
                    return
                # A report the server will never take must not block the ones behind it.
                self._on_undeliverable(error)
                if queue is not None:
                    _drop(queue, items)

    async def _send_logs(self, batches: list[dict]) -> None:
        """Log lines in pieces the server takes, in order. Each leaves the queue once the server
        answers it; one it refuses for good is dropped, and the others still go."""
        pieces: list[dict] = []
        for batch in batches:
            lines: list[dict] = []
            size = 0
            for line in batch["lines"]:
                if lines and (len(lines) >= MAX_LOG_LINES or size + len(line["line"]) > MAX_LOG_BYTES):
                    pieces.append({**_lease(batch), "lines": lines})
                    lines, size = [], 0
                lines.append(line)
                size += len(line["line"])
            if lines:
                pieces.append({**_lease(batch), "lines": lines})
        for piece in pieces:
            try:
                await self._call("tasks.log", {"batches": [piece]})
            except Exception as error:  # noqa: BLE001 - one refused piece must not stop the rest
                if isinstance(error, Disconnected) or (isinstance(error, RpcError) and error.retryable):
                    raise
                self._on_undeliverable(error)
            self._sent_logs(piece["attemptId"], len(piece["lines"]))

    def _sent_logs(self, attempt_id: str, count: int) -> None:
        """The first `count` lines queued for an attempt are with the server (or refused for
        good): they leave the queue. One flush runs at a time, so they are its oldest."""
        queued = self._logs.get(attempt_id)
        if queued is None:
            return
        del queued["lines"][:count]
        if not queued["lines"]:
            del self._logs[attempt_id]

    async def _call(self, method: str, params: Any) -> None:
        result = await self._connection.call(method, params)
        refused = (result or {}).get("refused", [])
        if refused:
            self._on_refused(refused)


def _lease(item: dict) -> dict:
    return {"attemptId": item["attemptId"], "token": item["token"]}


def _progress(item: dict) -> dict:
    return {**_lease(item), "progress": item["progress"], "message": item["message"]}


def _complete(item: dict) -> dict:
    return {**_lease(item), "result": item.get("result")}


def _fail(item: dict) -> dict:
    return {**_lease(item), "error": item["error"], "retry": item["retry"]}


def _release(item: dict) -> dict:
    return {**_lease(item), "reason": item["reason"]}


def _drop(queue: dict, items: list[dict]) -> None:
    """Only what was sent is removed: a newer report of the same attempt stays queued."""
    for item in items:
        if queue.get(item["attemptId"]) is item:
            del queue[item["attemptId"]]
