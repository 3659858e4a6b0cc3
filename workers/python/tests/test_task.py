"""Task definitions: handlers on the loop and in threads, their context, cooperative cancel."""

import asyncio
import unittest

from drover_worker import Cancelled, Param, ParamsError, TaskContext, task


def context(stopped, seen):
    async def artifact(name, body, content_type):
        seen.append(("artifact", name, body, content_type))
        return {"name": name}

    return TaskContext(
        task_id="7",
        job_id="j",
        attempt=1,
        stopped=stopped,
        progress=lambda fraction, message: seen.append(("progress", fraction, message)),
        log=lambda line: seen.append(("log", line)),
        artifact=artifact,
    )


@task("sum.plain", params={"a": Param(int), "b": Param(int, default=2)})
def plain(ctx, a, b):
    ctx.progress(2, "clamped to 1")
    ctx.log(f"adding {a} and {b}")
    ctx.artifact("sum.txt", str(a + b))
    return a + b


@task("sum.async", params={"a": Param(int)})
async def coroutine(ctx, a):
    await ctx.artifact("a.bin", b"\x00")
    return a


@task("until.cancelled")
def until_cancelled(ctx):
    while True:
        ctx.check_cancelled()


class TaskTest(unittest.TestCase):
    def test_a_plain_function_runs_in_a_thread_with_a_blocking_context(self):
        seen = []

        async def main():
            return await plain.run(context(asyncio.Event(), seen), plain.check({"a": 1}))

        self.assertEqual(asyncio.run(main()), 3)
        self.assertEqual(
            seen,
            [
                ("progress", 1.0, "clamped to 1"),
                ("log", "adding 1 and 2"),
                ("artifact", "sum.txt", b"3", "text/plain; charset=utf-8"),
            ],
        )

    def test_a_coroutine_runs_on_the_loop(self):
        seen = []

        async def main():
            return await coroutine.run(context(asyncio.Event(), seen), {"a": 5})

        self.assertEqual(asyncio.run(main()), 5)
        self.assertEqual(seen, [("artifact", "a.bin", b"\x00", None)])

    def test_check_cancelled_raises_once_stopped(self):
        async def main():
            stopped = asyncio.Event()
            asyncio.get_running_loop().call_later(0.05, stopped.set)
            await until_cancelled.run(context(stopped, []), {})

        with self.assertRaises(Cancelled):
            asyncio.run(asyncio.wait_for(main(), 5))

    def test_params_are_checked_against_the_declaration(self):
        with self.assertRaises(ParamsError) as caught:
            plain.check({"a": 1, "c": 3})
        self.assertEqual(caught.exception.issues[0][0], "c")
        self.assertEqual(plain.params_schema()["required"], ["a"])

    def test_params_must_be_declared_with_param(self):
        with self.assertRaises(TypeError):
            task("bad", params={"a": int})


if __name__ == "__main__":
    unittest.main()
