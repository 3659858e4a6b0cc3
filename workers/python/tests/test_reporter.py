"""The reporter: batched, coalesced, kept while disconnected and sent once the server is back."""

import asyncio
import unittest

from drover_worker.errors import Disconnected, RpcError
from drover_worker.reporter import Reporter

LEASE = {"attemptId": "1", "token": "t"}


class FakeConnection:
    def __init__(self):
        self.ready = False
        self.calls = []
        self.refuse = []
        self.fail_with = None
        # Errors raised once each, by method: the connection dropping on that call, a refusal.
        self.fail_on = {}

    async def call(self, method, params):
        if not self.ready:
            raise Disconnected("Not connected to the server.")
        if self.fail_with:
            raise self.fail_with
        if method in self.fail_on:
            raise self.fail_on.pop(method)
        self.calls.append((method, params))
        return {"refused": self.refuse}


class ReporterTest(unittest.TestCase):
    def run_with(self, scenario):
        async def main():
            connection = FakeConnection()
            refused, dropped = [], []
            reporter = Reporter(connection, refused.extend, dropped.append, interval_s=3600)
            await scenario(connection, reporter)
            return connection, refused, dropped

        return asyncio.run(main())

    def test_keeps_reports_while_disconnected_and_sends_them_in_order_after(self):
        async def scenario(connection, reporter):
            reporter.started(LEASE)
            reporter.progress(LEASE, 0.2, "a")
            reporter.progress(LEASE, 0.5, None)
            reporter.log(LEASE, {"at": "t", "stream": "log", "line": "one"})
            reporter.log(LEASE, {"at": "t", "stream": "log", "line": "two"})
            await reporter.flush()
            self.assertEqual(connection.calls, [])
            connection.ready = True
            await reporter.flush()
            reporter.finish(LEASE, {"kind": "complete", "result": 42})
            await reporter.flush()

        connection, _, _ = self.run_with(scenario)
        methods = [method for method, _ in connection.calls]
        self.assertEqual(methods, ["tasks.started", "tasks.progress", "tasks.log", "tasks.complete"])
        # Progress coalesced to the latest, the message kept from before.
        self.assertEqual(
            connection.calls[1][1]["reports"], [{**LEASE, "progress": 0.5, "message": "a"}]
        )
        self.assertEqual([l["line"] for l in connection.calls[2][1]["batches"][0]["lines"]], ["one", "two"])
        self.assertEqual(connection.calls[3][1]["reports"], [{**LEASE, "result": 42}])

    def test_an_outcome_stays_queued_through_a_retryable_error(self):
        async def scenario(connection, reporter):
            connection.ready = True
            connection.fail_with = RpcError("DROVER_E_INTERNAL", "later", retryable=True)
            reporter.finish(LEASE, {"kind": "fail", "error": {"message": "x"}, "retry": True})
            await reporter.flush()
            self.assertEqual(reporter.pending_finals, 1)
            connection.fail_with = None
            await reporter.flush()
            self.assertEqual(reporter.pending_finals, 0)

        connection, _, dropped = self.run_with(scenario)
        self.assertEqual([m for m, _ in connection.calls], ["tasks.fail"])
        self.assertEqual(dropped, [])

    def test_keeps_the_lines_of_a_flush_that_drops_on_an_earlier_call_and_sends_them_before_the_result(self):
        other = {"attemptId": "2", "token": "u"}
        for first in ("tasks.started", "tasks.progress"):
            with self.subTest(first=first):

                async def scenario(connection, reporter, first=first):
                    connection.ready = True
                    if first == "tasks.started":
                        reporter.started(other)
                    else:
                        reporter.progress(LEASE, 0.5, None)
                    reporter.log(LEASE, {"at": "t", "stream": "log", "line": "the last line"})
                    reporter.finish(LEASE, {"kind": "complete", "result": "done"})
                    connection.fail_on[first] = Disconnected("The connection to the server was lost.")
                    await reporter.flush()
                    self.assertEqual(connection.calls, [])
                    await reporter.flush()

                connection, _, dropped = self.run_with(scenario)
                self.assertEqual([m for m, _ in connection.calls], [first, "tasks.log", "tasks.complete"])
                self.assertEqual(
                    [l["line"] for l in connection.calls[1][1]["batches"][0]["lines"]], ["the last line"]
                )
                self.assertEqual(dropped, [])

    def test_drops_only_the_lines_the_server_refuses_for_good(self):
        other = {"attemptId": "2", "token": "u"}

        async def scenario(connection, reporter):
            connection.ready = True
            connection.fail_on["tasks.log"] = RpcError("DROVER_E_INVALID_PARAMS", "no")
            reporter.log(LEASE, {"at": "t", "stream": "log", "line": "refused"})
            reporter.log(other, {"at": "t", "stream": "log", "line": "kept"})
            reporter.finish(LEASE, {"kind": "complete", "result": 1})
            reporter.finish(other, {"kind": "complete", "result": 2})
            await reporter.flush()
            await reporter.flush()

        connection, _, dropped = self.run_with(scenario)
        self.assertEqual([m for m, _ in connection.calls], ["tasks.log", "tasks.complete"])
        self.assertEqual([l["line"] for l in connection.calls[0][1]["batches"][0]["lines"]], ["kept"])
        self.assertEqual(len(connection.calls[1][1]["reports"]), 2)
        self.assertEqual(len(dropped), 1)

    def test_refused_reports_are_told_and_never_sent_again(self):
        async def scenario(connection, reporter):
            connection.ready = True
            connection.refuse = ["1"]
            reporter.finish(LEASE, {"kind": "complete", "result": None})
            await reporter.flush()
            await reporter.flush()

        connection, refused, _ = self.run_with(scenario)
        self.assertEqual(refused, ["1"])
        self.assertEqual(len(connection.calls), 1)

    def test_a_report_the_server_will_never_take_is_dropped(self):
        async def scenario(connection, reporter):
            connection.ready = True
            connection.fail_with = RpcError("DROVER_E_INVALID_PARAMS", "no")
            reporter.progress(LEASE, 0.1, None)
            await reporter.flush()
            connection.fail_with = None
            await reporter.flush()

        connection, _, dropped = self.run_with(scenario)
        self.assertEqual(len(dropped), 1)
        self.assertEqual(connection.calls, [])

    def test_releases_go_in_one_call_after_the_other_outcomes_each_with_its_reason(self):
        other = {"attemptId": "2", "token": "u"}
        third = {"attemptId": "3", "token": "v"}

        async def scenario(connection, reporter):
            connection.ready = True
            reporter.log(LEASE, {"at": "t", "stream": "log", "line": "row 1"})
            reporter.finish(LEASE, {"kind": "release", "reason": "shut down"})
            reporter.finish(other, {"kind": "complete", "result": 1})
            reporter.finish(third, {"kind": "release", "reason": "never started"})
            self.assertEqual(reporter.pending_finals, 3)
            # Outcomes of one turn of the loop go together.
            await asyncio.sleep(0.05)
            self.assertEqual(reporter.pending_finals, 0)

        connection, _, _ = self.run_with(scenario)
        self.assertEqual(
            [m for m, _ in connection.calls], ["tasks.log", "tasks.complete", "tasks.release"]
        )
        self.assertEqual(
            connection.calls[2][1]["reports"],
            [{**LEASE, "reason": "shut down"}, {"attemptId": "3", "token": "v", "reason": "never started"}],
        )

    def test_a_release_is_kept_while_disconnected_and_sent_after(self):
        async def scenario(connection, reporter):
            reporter.started(LEASE)
            reporter.finish(LEASE, {"kind": "release", "reason": "shut down"})
            await reporter.flush()
            self.assertEqual(reporter.pending_finals, 1)
            connection.ready = True
            connection.fail_with = RpcError("DROVER_E_INTERNAL", "later", retryable=True)
            await reporter.flush()
            self.assertEqual(reporter.pending_finals, 1)
            connection.fail_with = None
            await reporter.flush()
            self.assertEqual(reporter.pending_finals, 0)

        connection, _, dropped = self.run_with(scenario)
        # The release says the attempt was taken: its start alone is not sent.
        self.assertEqual(connection.calls, [("tasks.release", {"reports": [{**LEASE, "reason": "shut down"}]})])
        self.assertEqual(dropped, [])

    def test_a_refused_release_is_told_and_not_sent_again(self):
        async def scenario(connection, reporter):
            connection.ready = True
            connection.refuse = ["1"]
            reporter.finish(LEASE, {"kind": "release", "reason": "shut down"})
            await reporter.flush()
            await reporter.flush()

        connection, refused, _ = self.run_with(scenario)
        self.assertEqual(refused, ["1"])
        self.assertEqual([m for m, _ in connection.calls], ["tasks.release"])


if __name__ == "__main__":
    unittest.main()
