"""A worker leaving in order: what it cannot finish, or never started, it gives back."""

import asyncio
import time
import unittest

from drover_worker import task
from drover_worker.worker import LEAVING_REASON, UNSTARTED_REASON, Worker


@task("until.cancelled")
def until_cancelled(ctx):
    while True:
        ctx.check_cancelled()
        time.sleep(0.01)


class FakeReporter:
    def __init__(self):
        self.started_leases = []
        self.finals = []

    def started(self, lease):
        self.started_leases.append(lease)

    def progress(self, lease, progress, message):
        pass

    def log(self, lease, line):
        pass

    def finish(self, lease, final):
        self.finals.append({**lease, **final})

    @property
    def pending_finals(self):
        return 0

    async def flush(self):
        pass

    def close(self):
        pass


class FakeConnection:
    ready = False

    async def close(self):
        pass


def assignment(attempt_id):
    task_record = {"id": f"task-{attempt_id}", "jobId": "j", "taskType": "until.cancelled", "attempt": 1}
    return {"attemptId": attempt_id, "token": "t", "task": {**task_record, "params": {}}}


def worker():
    w = Worker("http://127.0.0.1:9", "drover_secret", [until_cancelled], name="w")
    w._reporter = FakeReporter()
    w._connection = FakeConnection()
    return w


class LeavingTest(unittest.TestCase):
    def test_gives_back_a_running_task_at_the_deadline_and_what_arrives_meanwhile_unstarted(self):
        async def main():
            w = worker()
            w._run(assignment("a1"))
            await asyncio.sleep(0.05)
            stopping = asyncio.ensure_future(w.stop(0.2))
            await asyncio.sleep(0.05)
            # Assigned before the server heard this worker is leaving.
            w._run(assignment("a2"))
            await stopping
            return w

        w = asyncio.run(main())
        self.assertEqual([lease["attemptId"] for lease in w._reporter.started_leases], ["a1"])
        self.assertEqual(
            w._reporter.finals,
            [
                {"attemptId": "a2", "token": "t", "kind": "release", "reason": UNSTARTED_REASON},
                {"attemptId": "a1", "token": "t", "kind": "release", "reason": LEAVING_REASON},
            ],
        )
        self.assertEqual(w.running, 0)

    def test_a_task_stopped_by_the_server_still_fails_as_stopped(self):
        async def main():
            w = worker()
            w._run(assignment("a1"))
            await asyncio.sleep(0.05)
            w._stop(["a1"], "cancelled by a user")
            await asyncio.sleep(0.1)
            await w.stop(0.2)
            return w

        w = asyncio.run(main())
        [final] = w._reporter.finals
        self.assertEqual(final["kind"], "fail")
        self.assertEqual(final["error"]["code"], "DROVER_E_CANCELLED")


if __name__ == "__main__":
    unittest.main()
