"""`drover-worker`: joins a farm with nothing but its URL and a worker token, as `drover worker`."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import sys
from datetime import datetime, timezone
from urllib.parse import urlsplit
from typing import Optional, Sequence

from .errors import RpcError
from .identity import IdentityError, default_state_dir
from .shell_task import load_shell_tasks
from .task_modules import load_task_module
from .worker import Worker

TOKEN_ON_COMMAND_LINE = (
    "A token on the command line can be read by every user of this machine (ps, /proc): give it "
    "with --token-file FILE or the DROVER_TOKEN environment variable."
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drover-worker",
        description="Runs Python task types for a Drover farm. Each option may also come from "
        "the environment: DROVER_ and its name in capitals (DROVER_SERVER, DROVER_TOKEN...).",
    )
    p.add_argument(
        "--server",
        help="the server's URL (default http://127.0.0.1:7400); or several, comma-separated: the "
        "replicas of one farm, the next used when one goes away",
    )
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--token-file", help="a file whose first line is the worker token")
    p.add_argument(
        "--name",
        help="the same name is the same worker (default: the host name plus a suffix kept in the "
        "state directory, one for each worker running at once)",
    )
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where the worker keeps its identity, its default name and its secret "
        "(default $XDG_STATE_HOME/drover, else ~/.local/state/drover)",
    )
    p.add_argument("--slots", help="tasks run at once, 1 to 1024 (default 1)")
    p.add_argument(
        "--drain-seconds",
        metavar="S",
        help="on SIGINT or SIGTERM, how long running tasks may take to finish before they are "
        "stopped and given back to the farm, uncharged (default 10)",
    )
    p.add_argument("--tags", help="tags this worker offers, comma-separated")
    p.add_argument(
        "--tasks",
        action="append",
        default=[],
        metavar="FILE",
        help="a Python file of @task functions; repeatable",
    )
    p.add_argument("--shell-tasks", metavar="FILE", help="a JSON array of shell task templates")
    p.add_argument(
        "--ca-file", metavar="FILE", help="a certificate authority to trust besides the system's (PEM)"
    )
    return p


def _setting(args: argparse.Namespace, key: str, env: dict) -> Optional[str]:
    """A flag, else `DROVER_<KEY>` from the environment (empty counts as unset)."""
    value = getattr(args, key.replace("-", "_"))
    if value is not None:
        return value
    return env.get("DROVER_" + key.upper().replace("-", "_")) or None


def read_token_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            token = f.readline().strip()
    except OSError as error:
        raise SystemExit(f"Cannot read the token file {path}: {error.strerror}")
    if len(token) < 8:
        raise SystemExit(
            f"The token file {path} does not start with a token "
            "(at least 8 characters on its first line)."
        )
    return token


def ssl_context_for(ca_file: Optional[str]) -> Optional[ssl.SSLContext]:
    """The system's authorities, and the file's besides: a private authority or a self-signed
    certificate works, and a public certificate keeps working."""
    if ca_file is None:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


def main(argv: Optional[Sequence[str]] = None, env: Optional[dict] = None) -> int:
    args = parser().parse_args(argv)
    env = dict(os.environ if env is None else env)
    if args.token is not None:
        print(TOKEN_ON_COMMAND_LINE, file=sys.stderr)
        return 2
    token_file = _setting(args, "token-file", env)
    token = read_token_file(token_file) if token_file else env.get("DROVER_TOKEN") or None
    if not token:
        print(
            "A worker needs the farm's worker token: give --token-file FILE or set DROVER_TOKEN.",
            file=sys.stderr,
        )
        return 2
    servers = _servers(_setting(args, "server", env) or "http://127.0.0.1:7400")
    if servers is None:
        print(
            "--server takes a server URL such as http://farm:7400 (or farm:7400), or several, "
            "comma-separated.",
            file=sys.stderr,
        )
        return 2
    name = _setting(args, "name", env)
    state_dir = _setting(args, "state-dir", env) or default_state_dir(env)
    slots_text = _setting(args, "slots", env) or "1"
    if not slots_text.isdigit() or not 1 <= int(slots_text) <= 1024:
        print(f"--slots is a whole number from 1 to 1024, not {slots_text}.", file=sys.stderr)
        return 2
    slots = int(slots_text)
    drain_text = _setting(args, "drain-seconds", env) or "10"
    try:
        drain_s = float(drain_text)
    except ValueError:
        drain_s = -1.0
    if not 0 <= drain_s <= 86_400:
        print(f"--drain-seconds is a number of seconds from 0 to 86400, not {drain_text}.", file=sys.stderr)
        return 2
    tags = [t for t in (_setting(args, "tags", env) or "").split(",") if t]
    tasks = []
    try:
        for path in args.tasks or [p for p in (env.get("DROVER_TASKS") or "").split(",") if p]:
            tasks.extend(load_task_module(path))
        shell_file = _setting(args, "shell-tasks", env)
        if shell_file:
            tasks.extend(load_shell_tasks(shell_file))
    except (OSError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    if not tasks:
        print("This worker would run no task type: give --tasks FILE or --shell-tasks FILE.", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        # Its log lines carry its name: a default one is known once taken, before it connects.
        stamp = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        print(f"{stamp} {worker.name}: {line}", flush=True)

    worker = Worker(
        servers,
        token,
        tasks,
        name=name,
        tags=tags,
        slots=slots,
        ssl_context=ssl_context_for(_setting(args, "ca-file", env)),
        on_log=log,
        state_dir=state_dir,
    )
    try:
        return asyncio.run(_serve(worker, servers, slots, drain_s))
    except RpcError as error:
        print(f"The server refused this worker: {error}", file=sys.stderr)
        return 1
    except (IdentityError, OSError) as error:
        # Its identity is another live process's here, or the state directory cannot be written.
        print(error, file=sys.stderr)
        return 1


def _servers(text: str) -> Optional[list[str]]:
    """`farm:7400,https://b:7401` -> the URLs (host:port means http://host:port); None if bad."""
    servers: list[str] = []
    for one in (part.strip() for part in text.split(",")):
        url = one if "://" in one else f"http://{one}"
        parts = urlsplit(url)
        if not one or parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        if url not in servers:
            servers.append(url)
    return servers


async def _serve(worker: Worker, servers: list[str], slots: int, drain_s: float) -> int:
    record = await worker.start()
    rest = [url for url in servers if url != worker.server_url]
    others = f"; moves to {', '.join(rest)} should it go away" if rest else ""
    print(
        f"worker {record['name']} ({record['id']}) joined {worker.server_url} with {slots} slot(s){others}",
        flush=True,
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    await worker.stop(drain_s)
    return 0
