"""Who a worker process is: its name, and the secret that proves it is that worker coming back.

The same state directory, files and rules as the TypeScript worker (`@drover/worker`'s
`claimIdentity`), so that workers of both runtimes on one machine share one state directory:
two of them started without a name get two names, and a name held by a live process of either
runtime is refused to the other.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import os
import re
import socket
from typing import Callable, Mapping, Optional

MAX_DEFAULT_SLOTS = 1024
"""The most workers without a name one machine runs at once from one state directory."""

_MAX_SAFE_INTEGER = 2**53 - 1


class IdentityError(Exception):
    """No identity can be taken: the name is held by a live process here, or every slot is."""


class WorkerIdentity:
    """A worker's name and instance secret, kept in `file`, held by this process until
    `release()` (called by itself when the process exits)."""

    def __init__(self, name: str, instance: str, file: str, lock_file: str):
        self.name = name
        self.instance = instance
        """Sent in `workers.hello`; the same for this worker across its restarts on this machine."""
        self.file = file
        self._lock_file = lock_file
        self._released = False
        atexit.register(self.release)

    def release(self) -> None:
        """Lets another process take this identity."""
        if self._released:
            return
        self._released = True
        atexit.unregister(self.release)
        if _holder_of(self._lock_file) == os.getpid():
            _remove(self._lock_file)


def default_state_dir(env: Optional[Mapping[str, str]] = None) -> str:
    """Where workers keep their identities: `DROVER_STATE_DIR`, else `$XDG_STATE_HOME/drover`,
    else `~/.local/state/drover`."""
    env = os.environ if env is None else env
    if env.get("DROVER_STATE_DIR"):
        return env["DROVER_STATE_DIR"]
    base = env.get("XDG_STATE_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "drover")


def claim_identity(
    state_dir: str, server: str, name: Optional[str] = None, host: Optional[str] = None
) -> WorkerIdentity:
    """Takes an identity for this process from the state directory, one per live process.

    With a `name`, the identity is that name's on that server (the farm's URL): a second live
    process on this machine asking for it is refused here, before it could fight the first over
    the name on the server (another farm's worker of the same name is another worker). Without
    one, it is the first free default identity: the host's name plus a suffix made once and kept,
    so a worker restarted keeps its name (and its history on the farm), and two workers started
    side by side get two names.

    Each identity is a small JSON file (name and instance secret, readable by its owner only) and
    a lock file holding the pid of the process that has it; a lock whose process is gone is stale.
    """
    directory = os.path.join(state_dir, "workers")
    _make_dirs(directory)
    if name is not None:
        farm = hashlib.sha256(server.encode("utf-8")).hexdigest()[:12]
        key = f"{name}@{farm}"
        holder = _lock(directory, key)
        if holder is not None:
            raise IdentityError(
                f"Another worker on this machine runs as {name} (pid {holder}): give this one "
                "another --name, or stop that one first."
            )
        return _identity_of(directory, key, lambda: name)
    label = host_label(host if host is not None else socket.gethostname())
    for slot in range(1, MAX_DEFAULT_SLOTS + 1):
        key = f"default-{slot}"
        if _lock(directory, key) is not None:
            continue
        return _identity_of(directory, key, lambda: f"{label}-{os.urandom(2).hex()}")
    raise IdentityError(
        f"Every one of {MAX_DEFAULT_SLOTS} worker identities in {directory} is in use."
    )


def host_label(host: str) -> str:
    """The host's name as the start of a worker name: its allowed characters, short enough."""
    # One dash per UTF-16 code unit, as the TypeScript worker counts them.
    label = re.sub(
        r"[^A-Za-z0-9._:-]", lambda m: "-" * (2 if ord(m.group()) > 0xFFFF else 1), host
    )
    label = re.sub(r"^[^A-Za-z0-9]+", "", label)[:58]
    return label or "worker"


def _identity_of(directory: str, key: str, new_name: Callable[[], str]) -> WorkerIdentity:
    """The identity kept under `key` (made now if new), for the process that holds its lock."""
    file = os.path.join(directory, f"{key}.json")
    kept: dict = {}
    try:
        with open(file, encoding="utf-8") as f:
            loaded = json.load(f)
        if isinstance(loaded, dict):
            kept = loaded
    except (OSError, ValueError):
        # Missing or unreadable: a new identity is made below.
        pass
    name = kept.get("name")
    if not (isinstance(name, str) and name != ""):
        name = new_name()
    instance = kept.get("instance")
    if not (isinstance(instance, str) and len(instance) >= 16):
        instance = base64.urlsafe_b64encode(os.urandom(24)).decode("ascii").rstrip("=")
    if kept.get("name") != name or kept.get("instance") != instance:
        kept_now = {"name": name, "instance": instance}
        text = json.dumps(kept_now, separators=(",", ":"), ensure_ascii=False)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return WorkerIdentity(name, instance, file, os.path.join(directory, f"{key}.pid"))


def _lock(directory: str, key: str) -> Optional[int]:
    """Takes `key`'s lock for this process. Returns None once taken, or the pid of the live
    process that holds it."""
    file = os.path.join(directory, f"{key}.pid")
    for _ in range(2):
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(str(os.getpid()))
            return None
        holder = _holder_of(file)
        if holder is not None and _is_alive(holder):
            return holder
        # Left by a process that is gone: take it over.
        _remove(file)
    holder = _holder_of(file)
    return holder if holder is not None else -1


def _holder_of(lock_file: str) -> Optional[int]:
    """The pid a lock file holds (read as JavaScript's parseInt reads it), if any."""
    try:
        with open(lock_file, encoding="utf-8") as f:
            text = f.read()
    except (OSError, ValueError):
        return None
    match = re.match(r"\s*([+-]?\d+)", text)
    if match is None:
        return None
    pid = int(match.group(1))
    return pid if 0 < pid <= _MAX_SAFE_INTEGER else None


def _is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
        return True
    except PermissionError:
        # EPERM: it exists, as another user's.
        return True
    except (OSError, OverflowError):
        return False


def _make_dirs(directory: str) -> None:
    """Makes the directory and its missing parents, each readable by its owner only."""
    missing = []
    path = os.path.abspath(directory)
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not os.path.isdir(path):
                raise


def _remove(file: str) -> None:
    try:
        os.unlink(file)
    except FileNotFoundError:
        pass
