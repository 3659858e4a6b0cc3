"""JSON-RPC 2.0 over one WebSocket to the server, reconnecting for as long as it is open."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import ssl
from typing import Any, Awaitable, Callable, Optional, Sequence, Union
from urllib.parse import urlsplit, urlunsplit

import websockets

from .errors import Disconnected, RpcError, is_final_refusal

MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def socket_url(server_url: str) -> str:
    """`http://farm:7400` -> `ws://farm:7400/ws`; https gives wss."""
    parts = urlsplit(server_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, "/ws", "", ""))


class Connection:
    """One WebSocket to the server, opened again after every loss.

    Given several servers (replicas of one farm), it connects to the first, and after each loss,
    or a connection that could not be opened or greeted, moves on to the next, round the list.
    Reconnects with exponential back-off, grown once per round of the list, and ±20% jitter, so
    that workers cut off together do not all come back in the same instant. Only a greeting that
    went through resets the back-off: a server that accepts the socket but refuses the worker must
    not be hammered.
    """

    def __init__(
        self,
        url: Union[str, Sequence[str]],
        on_open: Callable[[], Awaitable[None]],
        on_notification: Callable[[str, Any], None],
        on_close: Callable[[bool, Optional[BaseException], bool], None],
        ssl_context: Optional[ssl.SSLContext] = None,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
        call_timeout_s: float = 30.0,
    ):
        self._servers = [url] if isinstance(url, str) else list(url)
        if not self._servers:
            raise ValueError("a connection needs at least one server URL")
        self._at = 0
        self._on_open = on_open
        self._on_notification = on_notification
        self._on_close = on_close
        self._ssl = ssl_context
        self._initial = initial_backoff_s
        self._max = max_backoff_s
        self._timeout = call_timeout_s
        self._ws = None
        self._ready = False
        self._closed = False
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._ready_event = asyncio.Event()
        self.fatal: Optional[RpcError] = None

    @property
    def url(self) -> str:
        """The server connected to, or the one tried next (or just lost) while there is none."""
        return self._servers[self._at]

    @property
    def servers_from_current(self) -> list[str]:
        """The servers, starting with the one connected to (or tried next), then the others."""
        return self._servers[self._at :] + self._servers[: self._at]

    @property
    def ready(self) -> bool:
        """True between a greeting that went through and the next disconnect."""
        return self._ready

    async def wait_ready(self) -> None:
        await self._ready_event.wait()

    async def run(self) -> None:
        """Connects, and again after each loss, until close() or a refused greeting."""
        attempt = 0
        while not self._closed:
            error: Optional[BaseException] = None
            was_ready = False
            try:
                # ssl only when given: a wss:// URL otherwise gets the system's default context.
                options = {"ssl": self._ssl} if self._ssl is not None else {}
                async with websockets.connect(
                    socket_url(self.url), max_size=MAX_MESSAGE_BYTES, open_timeout=10, **options
                ) as ws:
                    self._ws = ws
                    reader = asyncio.ensure_future(self._read(ws))
                    try:
                        await self._on_open()
                        attempt = 0
                        self._ready = was_ready = True
                        self._ready_event.set()
                        await reader
                    except RpcError as refused:
                        error = refused
                        if is_final_refusal(refused):
                            self.fatal = refused
                            self._closed = True
                    finally:
                        reader.cancel()
            except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as failure:
                error = failure
            except Exception as failure:  # noqa: BLE001 - a worker keeps trying to get back
                error = failure
            finally:
                self._ws = None
                self._ready = False
                self._ready_event.clear()
                self._fail_pending()
            self._on_close(was_ready, error, self._closed)
            if self._closed:
                break
            # Every server is as good as another: the one just lost is tried again only after the
            # others, and the back-off grows once per round of them.
            rounds = attempt // len(self._servers)
            base = min(self._max, self._initial * 2**rounds)
            attempt += 1
            self._at = (self._at + 1) % len(self._servers)
            await asyncio.sleep(base * (0.8 + random.random() * 0.4))
        self._ready_event.set()

    async def call(self, method: str, params: Any, before_ready: bool = False) -> Any:
        """Calls a method; `before_ready` lets the greeting's own calls through."""
        ws = self._ws
        if ws is None or (not self._ready and not before_ready):
            raise Disconnected("Not connected to the server.")
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            # NaN and the infinities are not JSON: refused here rather than breaking the socket.
            message = json.dumps(
                {"jsonrpc": "2.0", "method": method, "params": params, "id": request_id}, allow_nan=False
            )
            await ws.send(message)
            return await asyncio.wait_for(future, self._timeout)
        except asyncio.TimeoutError:
            # An answer that does not come means a connection that is gone: start again.
            await ws.close()
            raise Disconnected(f"{method} got no answer in {self._timeout} s.") from None
        except websockets.exceptions.ConnectionClosed as error:
            raise Disconnected("The connection to the server closed.") from error
        finally:
            self._pending.pop(request_id, None)

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def _read(self, ws) -> None:
        try:
            async for text in ws:
                self._receive(text)
        except websockets.exceptions.ConnectionClosed:
            pass
        self._fail_pending()

    def _receive(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if isinstance(message.get("method"), str):
            self._on_notification(message["method"], message.get("params"))
            return
        future = self._pending.pop(message.get("id"), None) if isinstance(message.get("id"), int) else None
        if future is None or future.done():
            return
        if isinstance(message.get("error"), dict):
            future.set_exception(RpcError.from_wire(message["error"]))
        else:
            future.set_result(message.get("result"))

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(Disconnected("The connection to the server closed."))
        self._pending.clear()
