"""A worker process's runtime, speaking the same protocol as the TypeScript worker."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import ssl
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Sequence, Union

from .artifacts import upload_artifact
from .connection import Connection
from .errors import Disconnected, RpcError
from .host_stats import HostSampler
from .identity import claim_identity, default_state_dir
from .params import ParamsError
from .reporter import Reporter
from .task import TaskContext, TaskDefinition


@dataclass
class _Running:
    lease: dict
    stopped: asyncio.Event
    done: asyncio.Future
    reason: str = ""
    leaving: bool = False
    """Stopped because this worker is shutting down: given back, not failed."""


LEAVING_REASON = "The worker shut down before the task finished; it runs again elsewhere."
UNSTARTED_REASON = "The worker was shutting down when the task reached it."


class Worker:
    """Says hello, keeps its leases with heartbeats, runs what the server assigns, reports
    progress, logs and outcomes, obeys stop, and reconnects when the server goes away,
    re-attaching the tasks still running. Stopped, it leaves in order: the server assigns it
    nothing more, and what it cannot finish by the deadline it gives back uncharged.

    Without a `name`, it takes the first free default identity in `state_dir` (default:
    `DROVER_STATE_DIR`, else `$XDG_STATE_HOME/drover`, else `~/.local/state/drover`): the host's
    name plus a suffix kept there, different for each worker running at once on the host and
    the same after a restart. With a `name` and a `state_dir`, that name's instance secret is kept
    there, and a second live process on the machine asking for the name is refused; with a `name`
    and no `state_dir`, the secret is new for each process. The secret goes in `workers.hello`:
    the server lets a connected name be taken only by the same worker coming back.

    Example:

        worker = Worker("http://127.0.0.1:7400", token, [greet], name="py-1")
        await worker.start()
    """

    def __init__(
        self,
        server_url: Union[str, Sequence[str]],
        token: str,
        tasks: Sequence[TaskDefinition],
        name: Optional[str] = None,
        host: Optional[str] = None,
        tags: Sequence[str] = (),
        slots: int = 1,
        ssl_context: Optional[ssl.SSLContext] = None,
        on_log: Callable[[str], None] = lambda line: None,
        state_dir: Optional[str] = None,
    ):
        # One URL, or the replicas of one farm, tried in this order.
        self._servers = [server_url] if isinstance(server_url, str) else list(server_url)
        if not self._servers:
            raise ValueError("a worker needs at least one server URL")
        self._token = token
        self._tasks = {t.name: t for t in tasks}
        if len(self._tasks) != len(tasks):
            raise ValueError("two task types of one name: each name may be given once")
        self._host = host or socket.gethostname()
        self._wanted_name = name or None
        self._state_dir = state_dir
        # The name said in hello and its secret; from the state directory once started, if kept
        # there.
        self._name = name or self._host
        self._instance = base64.urlsafe_b64encode(os.urandom(24)).decode("ascii").rstrip("=")
        self._release: Callable[[], None] = lambda: None
        self._tags = list(tags)
        self._slots = slots
        self._ssl = ssl_context
        self._log = on_log
        self._running: dict[str, _Running] = {}
        self._sampler = HostSampler()
        self._heartbeat: Optional[asyncio.Task] = None
        self._connection: Optional[Connection] = None
        self._reporter: Optional[Reporter] = None
        self._runner: Optional[asyncio.Task] = None
        self._unreachable: Optional[str] = None
        self._leaving = False
        self.record: Optional[dict] = None

    @property
    def server_url(self) -> str:
        """The server this worker is connected to, or the one it tries next while it has none."""
        return self._connection.url if self._connection is not None else self._servers[0]

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def name(self) -> str:
        """The name it says hello with: its default identity's once started, without a name."""
        return self._name

    async def start(self) -> dict:
        """Connects and returns once the server has registered this worker (its record).

        Raises `IdentityError` when its identity is held by another live process here, and
        `RpcError` when the server refuses it for good (its token, or a name another worker
        holds)."""
        if self._wanted_name is None or self._state_dir is not None:
            identity = claim_identity(
                self._state_dir if self._state_dir is not None else default_state_dir(),
                # The same servers in any order are the same farm, as the TypeScript worker
                # keys them; one URL keeps the key it always had.
                ",".join(sorted(self._servers)),
                name=self._wanted_name,
                host=self._host,
            )
            self._name, self._instance = identity.name, identity.instance
            self._release = identity.release
        try:
            return await self._connect()
        except BaseException:
            self._release()
            raise

    async def _connect(self) -> dict:
        self._connection = Connection(
            self._servers,
            on_open=self._hello,
            on_notification=self._notified,
            on_close=self._closed,
            ssl_context=self._ssl,
        )
        self._reporter = Reporter(
            self._connection,
            lambda refused: self._stop(refused, "the server refused a report: the lease is gone"),
            lambda error: self._log(f"a report could not be delivered and was dropped: {error}"),
        )
        self._reporter.start()
        self._runner = asyncio.ensure_future(self._connection.run())
        await self._connection.wait_ready()
        if self._connection.fatal is not None:
            raise self._connection.fatal
        assert self.record is not None
        return self.record

    async def stop(self, deadline_s: float = 10.0) -> None:
        """Stops in an orderly way: tells the server to assign nothing more (what it assigns
        meanwhile is given back unstarted), waits up to the deadline for running tasks to finish
        and their reports to be sent, then stops the rest and gives them back, and disconnects.
        A task given back is not charged an attempt: it runs again elsewhere as if this worker
        had never taken it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        self._leaving = True
        await self._announce_leaving()
        if self._running:
            self._log(
                f"stopping: waiting up to {round(deadline_s)} s for {len(self._running)} running task(s)"
            )
            await asyncio.wait(
                [r.done for r in self._running.values()], timeout=max(0.0, deadline - loop.time())
            )
        else:
            self._log("stopping: nothing running")
        for attempt_id, running in self._running.items():
            if running.stopped.is_set():
                continue
            self._log(f"stopping attempt {attempt_id}: the worker is shutting down; it is given back")
            running.reason = "the worker is shutting down"
            running.leaving = True
            running.stopped.set()
        # The handlers that were stopped report (a release) as they return; wait a little for them.
        grace = max(loop.time() + 1.0, deadline)
        if self._running:
            await asyncio.wait(
                [r.done for r in self._running.values()], timeout=max(0.0, grace - loop.time())
            )
        assert self._reporter is not None and self._connection is not None
        while self._reporter.pending_finals > 0 and loop.time() < grace:
            await self._reporter.flush()
            await asyncio.sleep(0.02)
        if self._heartbeat:
            self._heartbeat.cancel()
        self._reporter.close()
        await self._connection.close()
        if self._runner:
            await asyncio.wait([self._runner], timeout=2)
        self._release()

    async def _announce_leaving(self) -> None:
        """Tells the server this worker is leaving; it may be away (then it assigns nothing
        anyway, and hears it once this worker is back)."""
        assert self._connection is not None
        if not self._connection.ready:
            return
        try:
            await self._connection.call("workers.leaving", {})
        except (Disconnected, RpcError) as error:
            self._log(f"could not tell the server this worker is leaving: {error}")

    async def _announce_leaving_once_ready(self) -> None:
        assert self._connection is not None
        await self._connection.wait_ready()
        await self._announce_leaving()

    def _params_schemas(self) -> dict[str, Any]:
        return {name: definition.params_schema() for name, definition in self._tasks.items()}

    async def _hello(self) -> None:
        assert self._connection is not None
        # What still runs from before a disconnect, on whichever server this is: any replica
        # renews the leases that hold, and says which are gone.
        held = [r.lease for r in self._running.values()]
        result = await self._connection.call(
            "workers.hello",
            {
                "name": self._name,
                "host": self._host,
                "instance": self._instance,
                "tags": self._tags,
                "taskTypes": list(self._tasks),
                "paramsSchemas": self._params_schemas(),
                "slots": self._slots,
                "token": self._token,
                "held": held,
            },
            before_ready=True,
        )
        self.record = result["worker"]
        self._stop(result.get("stale", []), "the lease was lost while the server was away")
        if self._heartbeat:
            self._heartbeat.cancel()
        self._heartbeat = asyncio.ensure_future(self._beat_every(result["heartbeatMs"] / 1000))
        worker = result["worker"]
        where = f" at {self._connection.url}" if len(self._servers) > 1 else ""
        kept = len(held) - len(result.get("stale", []))
        reattached = f"; re-attached {kept} of {len(held)} running task(s)" if held else ""
        self._log(f"registered as {worker['name']} ({worker['id']}), {worker['state']}{where}{reattached}")
        # Back after a disconnect in the middle of a shutdown: still leaving.
        if self._leaving:
            asyncio.ensure_future(self._announce_leaving_once_ready())

    async def _beat_every(self, interval_s: float) -> None:
        # Reports queued while the server was away go first; then a first heartbeat, so the farm
        # sees this host's load at once rather than a heartbeat later.
        await asyncio.sleep(0)
        assert self._reporter is not None
        await self._reporter.flush()
        while True:
            await self._beat()
            await asyncio.sleep(interval_s)

    async def _beat(self) -> None:
        assert self._connection is not None
        try:
            result = await self._connection.call(
                "workers.heartbeat",
                {"stats": self._sampler.sample(), "held": [r.lease for r in self._running.values()]},
            )
            self._stop(result.get("stale", []), "the lease is no longer current")
        except (Disconnected, RpcError):
            # The connection reconnects; the next heartbeat tries again.
            pass

    def _closed(self, was_ready: bool, error: Optional[BaseException], closing: bool) -> None:
        if self._heartbeat:
            self._heartbeat.cancel()
        if self._connection is not None and self._connection.fatal is not None:
            self._log(f"the server refused this worker: {self._connection.fatal}")
            return
        if closing:
            return
        url = self._connection.url if self._connection is not None else self._servers[0]
        if was_ready:
            self._unreachable = None
            if len(self._servers) > 1:
                self._log(f"disconnected from {url}; reconnecting, to the next server first")
            else:
                self._log("disconnected from the server; reconnecting")
            return
        # Said once per cause, not at every attempt.
        why = f"{url} ({error if error else 'the connection closed before the greeting'})"
        if why != self._unreachable:
            self._unreachable = why
            self._log(f"cannot reach {why}; trying again")

    def _notified(self, method: str, params: Any) -> None:
        params = params if isinstance(params, dict) else {}
        if method == "tasks.assign":
            for assignment in params.get("assignments", []):
                self._run(assignment)
        elif method == "tasks.stop":
            self._stop(params.get("attemptIds", []), str(params.get("reason", "stopped by the server")))
        elif method == "workers.state":
            if self.record is not None:
                self.record = {**self.record, "state": params.get("state")}
            self._log(f"the server set this worker {params.get('state')}")

    def _stop(self, attempt_ids: Sequence[str], reason: str) -> None:
        for attempt_id in attempt_ids:
            running = self._running.get(attempt_id)
            if running and not running.stopped.is_set():
                self._log(f"stopping attempt {attempt_id}: {reason}")
                running.reason = reason
                running.stopped.set()

    def _run(self, assignment: dict) -> None:
        attempt_id = assignment["attemptId"]
        lease = {"attemptId": attempt_id, "token": assignment["token"]}
        if self._leaving:
            # Sent before the server heard this worker is leaving: given back, never started.
            assert self._reporter is not None
            self._reporter.finish(lease, {"kind": "release", "reason": UNSTARTED_REASON})
            self._log(f"gave back task {assignment['task']['id']}: this worker is shutting down")
            return
        stopped = asyncio.Event()
        done = asyncio.ensure_future(self._execute(assignment, lease, stopped))
        self._running[attempt_id] = _Running(lease, stopped, done)
        done.add_done_callback(lambda _: self._running.pop(attempt_id, None))

    async def _execute(self, a: dict, lease: dict, stopped: asyncio.Event) -> None:
        assert self._reporter is not None
        reporter = self._reporter
        task = a["task"]
        definition = self._tasks.get(task["taskType"])
        if definition is None:
            message = f"This worker has no task type {task['taskType']}."
            reporter.finish(lease, {"kind": "fail", "error": {"message": message}, "retry": True})
            return
        reporter.started(lease)
        self._log(f"running {task['taskType']} task {task['id']} (attempt {task['attempt']})")
        try:
            params = definition.check(task.get("params") or {})
        except ParamsError as error:
            error_body = {"message": f"Invalid params: {error}"}
            reporter.finish(lease, {"kind": "fail", "error": error_body, "retry": False})
            return
        ctx = TaskContext(
            task_id=task["id"],
            job_id=task["jobId"],
            attempt=task["attempt"],
            stopped=stopped,
            progress=lambda fraction, message: reporter.progress(lease, fraction, message),
            log=lambda line: reporter.log(lease, {"at": _now(), "stream": "log", "line": line[: 64 * 1024]}),
            # The server connected to first; the others if it cannot be reached.
            artifact=lambda name, body, content_type: upload_artifact(
                self._connection.servers_from_current if self._connection else self._servers,
                lease,
                name,
                body,
                content_type,
                stopped,
                self._ssl,
            ),
        )
        try:
            result = await definition.run(ctx, params)
            if stopped.is_set():
                raise RuntimeError("stopped")
            # A result the server cannot store (not JSON, NaN) fails here, with the reason.
            json.dumps(result, allow_nan=False)
            reporter.finish(lease, {"kind": "complete", "result": result})
            self._log(f"task {task['id']} succeeded")
        except Exception as error:  # noqa: BLE001 - whatever a handler raises fails its task
            running = self._running.get(lease["attemptId"])
            if stopped.is_set() and running is not None and running.leaving:
                reporter.finish(lease, {"kind": "release", "reason": LEAVING_REASON})
                self._log(f"task {task['id']} given back unfinished: this worker is shutting down")
                return
            if stopped.is_set():
                reason = running.reason if running else "the task was stopped"
                failure = {"message": f"Stopped: {reason}", "code": "DROVER_E_CANCELLED"}
            else:
                failure = {"message": str(error) or type(error).__name__, "stack": traceback.format_exc()}
            reporter.finish(lease, {"kind": "fail", "error": failure, "retry": True})
            self._log(f"task {task['id']} failed: {failure['message']}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
