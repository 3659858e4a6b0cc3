"""Artifact uploads over plain HTTP, each with the sha256 the server checks before storing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import mimetypes
import random
import ssl
import urllib.error
import urllib.request
from typing import Optional, Sequence, Union
from urllib.parse import quote, urljoin

from .errors import RpcError
from .task import Cancelled

UPLOAD_PATH = "/artifacts/upload"
SHA256_HEADER = "X-Drover-Sha256"
# Statuses that say the credential is refused or the name taken: the same again cannot help.
_REFUSED = {401, 403, 409}
_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "log": "text/plain; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "png": "image/png",
}


def content_type_of(name: str) -> str:
    """A content type from the name's extension, as the TypeScript worker picks it."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name.rsplit("/", 1)[-1] else ""
    return _TYPES.get(extension) or mimetypes.types_map.get(f".{extension}") or "application/octet-stream"


async def upload_artifact(
    server_url: Union[str, Sequence[str]],
    lease: dict,
    name: str,
    body: bytes,
    content_type: Optional[str],
    stopped: asyncio.Event,
    ssl_context: Optional[ssl.SSLContext] = None,
    initial_backoff_s: float = 0.2,
    max_backoff_s: float = 10.0,
) -> dict:
    """Uploads one file of an attempt; resolves to its artifact record once stored.

    The credential is the attempt's lease, worth as much as the lease. While the server cannot be
    reached (or answers that later may work) it sends again with back-off, until the attempt is
    stopped; a refusal ends it with the server's RpcError. Given several servers (replicas sharing
    their artifact store), each try after a failure goes to the next: the same bytes under the
    same name are stored once, so a try whose answer was lost is safe to repeat on another.
    """
    sha256 = hashlib.sha256(body).hexdigest()
    servers = [server_url] if isinstance(server_url, str) else list(server_url)
    urls = [urljoin(server, UPLOAD_PATH) + "?name=" + quote(name, safe="") for server in servers]
    headers = {
        "Authorization": f"Bearer {lease['attemptId']}.{lease['token']}",
        "Content-Type": content_type or content_type_of(name),
        SHA256_HEADER: sha256,
    }
    attempt = 0
    while True:
        if stopped.is_set():
            raise Cancelled(f"the task was stopped before {name} was stored")
        try:
            return await asyncio.to_thread(_put, urls[attempt % len(urls)], headers, body, ssl_context)
        except RpcError as error:
            if not error.retryable:
                raise
        rounds = attempt // len(urls)
        wait = min(max_backoff_s, initial_backoff_s * 2**rounds) * (0.8 + random.random() * 0.4)
        attempt += 1
        try:
            await asyncio.wait_for(stopped.wait(), wait)
        except asyncio.TimeoutError:
            pass


def _put(url: str, headers: dict, body: bytes, ssl_context: Optional[ssl.SSLContext]) -> dict:
    request = urllib.request.Request(url, data=body, headers=headers, method="PUT")
    # Straight to the server, as the WebSocket goes: no proxy from the environment in between.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=ssl_context)
    )
    try:
        with opener.open(request, timeout=300) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise _error_of(error.code, error.read().decode("utf-8", "replace")) from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        # Unreachable, or the connection broke: the lease may still hold.
        raise RpcError("DROVER_E_INTERNAL", f"Uploading failed: {error}", retryable=True) from error


def _error_of(status: int, text: str) -> RpcError:
    try:
        error = json.loads(text)["error"]
        code, message = str(error["code"]), str(error["message"])
        retryable = bool(error.get("retryable", False))
    except (ValueError, KeyError, TypeError):
        code, message, retryable = None, f"The upload got HTTP {status}: {text[:200]}", None
    if status in _REFUSED:
        return RpcError(code if code and not retryable else "DROVER_E_STALE_LEASE", message)
    if code is not None:
        return RpcError(code, message, retryable=bool(retryable))
    # Not a Drover server's answer (a proxy's): worth another try only for a server's trouble.
    later = status >= 500 or status in (408, 429)
    return RpcError("DROVER_E_INTERNAL" if later else "DROVER_E_INVALID_PARAMS", message, retryable=later)
