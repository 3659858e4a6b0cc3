"""The worker's connection given several servers: it moves on to the next when one goes away."""

import asyncio
import socket
import unittest

import websockets

from drover_worker.connection import Connection


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def replica():
    """A server that takes WebSockets on /ws and answers nothing: enough to be connected to."""

    async def handler(ws, *_path):
        await ws.wait_closed()

    port = free_port()
    server = await websockets.serve(handler, "127.0.0.1", port)
    return f"http://127.0.0.1:{port}", server


class ConnectionFailoverTest(unittest.TestCase):
    def test_moves_to_the_next_server_when_its_own_goes_away_and_round_the_list(self):
        async def scenario():
            dead = f"http://127.0.0.1:{free_port()}"
            a_url, a = await replica()
            b_url, b = await replica()
            opened = []
            closed = []

            async def on_open():
                opened.append(connection.url)

            connection = Connection(
                [dead, a_url, b_url],
                on_open=on_open,
                on_notification=lambda method, params: None,
                on_close=lambda was_ready, error, closing: closed.append((connection.url, was_ready)),
                initial_backoff_s=0.02,
            )
            runner = asyncio.ensure_future(connection.run())
            await asyncio.wait_for(connection.wait_ready(), 10)
            self.assertEqual(connection.url, a_url, "past the one that does not answer")
            a.close()
            await a.wait_closed()
            for _ in range(500):
                if connection.ready and connection.url == b_url:
                    break
                await asyncio.sleep(0.01)
            self.assertTrue(connection.ready)
            self.assertEqual(opened, [a_url, b_url])
            self.assertIn((a_url, True), closed, "the loss of a told, naming it")
            self.assertEqual(connection.servers_from_current, [b_url, dead, a_url])
            await connection.close()
            await asyncio.wait_for(runner, 10)
            b.close()
            await b.wait_closed()

        asyncio.run(scenario())

    def test_needs_a_server(self):
        with self.assertRaises(ValueError):
            Connection([], on_open=None, on_notification=None, on_close=None)


if __name__ == "__main__":
    unittest.main()
