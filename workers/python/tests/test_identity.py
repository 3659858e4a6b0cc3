"""A worker's identity from its state directory: a default name per live process that survives
restarts, and a named one that a second process on the machine cannot take; the same files as
the TypeScript worker's."""

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

from drover_worker.identity import IdentityError, claim_identity, default_state_dir, host_label

SERVER = "http://farm.example:7400"


class IdentityTest(unittest.TestCase):
    def setUp(self):
        self.state_dir = tempfile.mkdtemp(prefix="drover-identity-")
        self.addCleanup(shutil.rmtree, self.state_dir, ignore_errors=True)

    def claim(self, **options):
        identity = claim_identity(self.state_dir, options.pop("server", SERVER), **options)
        self.addCleanup(identity.release)
        return identity

    def test_two_default_claims_differ_and_a_released_one_comes_back(self):
        first = self.claim(host="render01")
        second = self.claim(host="render01")
        self.assertRegex(first.name, r"^render01-[0-9a-f]{4}$")
        self.assertRegex(second.name, r"^render01-[0-9a-f]{4}$")
        self.assertNotEqual(first.name, second.name)
        self.assertNotEqual(first.instance, second.instance)
        self.assertEqual(stat.S_IMODE(os.stat(first.file).st_mode), 0o600)

        first.release()
        again = self.claim(host="render01")
        self.assertEqual((again.name, again.instance), (first.name, first.instance))

    def test_keeps_the_typescript_workers_files(self):
        identity = self.claim(host="render01")
        workers = os.path.join(self.state_dir, "workers")
        self.assertEqual(stat.S_IMODE(os.stat(workers).st_mode), 0o700)
        self.assertEqual(identity.file, os.path.join(workers, "default-1.json"))
        with open(identity.file, encoding="utf-8") as f:
            text = f.read()
        kept = {"name": identity.name, "instance": identity.instance}
        self.assertEqual(text, json.dumps(kept, separators=(",", ":")) + "\n")
        self.assertEqual(len(identity.instance), 32)
        lock = os.path.join(workers, "default-1.pid")
        with open(lock, encoding="utf-8") as f:
            self.assertEqual(f.read(), str(os.getpid()))
        self.assertEqual(stat.S_IMODE(os.stat(lock).st_mode), 0o600)
        identity.release()
        self.assertFalse(os.path.exists(lock), "released: the lock is gone, the identity kept")
        self.assertTrue(os.path.exists(identity.file))

        named = self.claim(name="gpu-1")
        farm = hashlib.sha256(SERVER.encode()).hexdigest()[:12]
        self.assertEqual(named.file, os.path.join(workers, f"gpu-1@{farm}.json"))
        self.assertTrue(os.path.exists(os.path.join(workers, f"gpu-1@{farm}.pid")))

    def test_takes_an_identity_the_typescript_worker_made(self):
        workers = os.path.join(self.state_dir, "workers")
        os.makedirs(workers)
        with open(os.path.join(workers, "default-1.json"), "w", encoding="utf-8") as f:
            f.write('{"name":"render01-3fa2","instance":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}\n')
        identity = self.claim(host="elsewhere")
        self.assertEqual(identity.name, "render01-3fa2")
        self.assertEqual(identity.instance, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

    def test_refuses_a_name_a_live_process_here_holds_for_the_same_farm(self):
        held = self.claim(name="gpu-1")
        refused = r"Another worker on this machine runs as gpu-1 \(pid \d+\): give this one another --name"
        with self.assertRaisesRegex(IdentityError, refused):
            claim_identity(self.state_dir, SERVER, name="gpu-1")
        # Another farm's gpu-1 is another worker.
        elsewhere = self.claim(name="gpu-1", server="http://other:7400")
        self.assertNotEqual(elsewhere.instance, held.instance)
        elsewhere.release()
        held.release()
        back = self.claim(name="gpu-1")
        self.assertEqual(back.instance, held.instance, "the same worker restarted proves itself")

    def test_refuses_a_name_another_users_process_holds(self):
        held = self.claim(name="shared")
        held.release()
        # pid 1 is alive: the caller may signal it (root) or not (EPERM); either way it is held.
        with open(held.file[: -len(".json")] + ".pid", "w", encoding="utf-8") as f:
            f.write("1")
        with self.assertRaisesRegex(IdentityError, r"runs as shared \(pid 1\)"):
            claim_identity(self.state_dir, SERVER, name="shared")

    def test_takes_over_what_a_process_that_is_gone_left_locked(self):
        held = self.claim(name="crashed")
        lock = held.file[: -len(".json")] + ".pid"
        # A pid that was alive and is gone now: as a worker killed with SIGKILL leaves it.
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        with open(lock, "w", encoding="utf-8") as f:
            f.write(gone.stdout.strip())
        back = self.claim(name="crashed")
        self.assertEqual(back.instance, held.instance)
        with open(lock, encoding="utf-8") as f:
            self.assertEqual(f.read(), str(os.getpid()))

    def test_the_default_state_dir(self):
        self.assertEqual(default_state_dir({"DROVER_STATE_DIR": "/s", "HOME": "/h"}), "/s")
        self.assertEqual(default_state_dir({"XDG_STATE_HOME": "/x", "HOME": "/h"}), "/x/drover")
        self.assertEqual(default_state_dir({"HOME": "/h"}), "/h/.local/state/drover")
        # Empty is unset.
        self.assertEqual(default_state_dir({"DROVER_STATE_DIR": "", "HOME": "/h"}), "/h/.local/state/drover")

    def test_the_host_label(self):
        self.assertEqual(host_label("render01.example.org"), "render01.example.org")
        self.assertEqual(host_label("my host/1"), "my-host-1")
        self.assertEqual(host_label("-_.leading"), "leading")
        self.assertEqual(host_label("é"), "worker")
        self.assertEqual(host_label("a" * 70), "a" * 58)
        self.assertEqual(host_label("a\U0001F600b"), "a--b", "one dash per UTF-16 code unit")


if __name__ == "__main__":
    unittest.main()
