"""The command line: what it refuses before it connects anywhere."""

import contextlib
import io
import os
import shutil
import tempfile
import unittest

from drover_worker import cli
from drover_worker.cli import main
from drover_worker.identity import claim_identity

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "fractal.py")


def run(argv, env):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(argv, env)
    return code, stderr.getvalue()


class CliTest(unittest.TestCase):
    def test_refuses_a_token_on_the_command_line(self):
        code, err = run(["--token", "drover_secret", "--tasks", EXAMPLE], {})
        self.assertEqual(code, 2)
        self.assertIn("--token-file FILE or the DROVER_TOKEN", err)

    def test_needs_a_token(self):
        code, err = run(["--tasks", EXAMPLE], {})
        self.assertEqual(code, 2)
        self.assertIn("worker token", err)

    def test_needs_a_task_type(self):
        code, err = run([], {"DROVER_TOKEN": "drover_secret"})
        self.assertEqual(code, 2)
        self.assertIn("--tasks FILE", err)

    def test_refuses_slots_out_of_range(self):
        code, err = run(["--tasks", EXAMPLE, "--slots", "0"], {"DROVER_TOKEN": "drover_secret"})
        self.assertEqual(code, 2)
        self.assertIn("--slots", err)

    def test_refuses_a_drain_deadline_that_is_not_a_number_of_seconds(self):
        for value in ["-1", "soon", "nan"]:
            code, err = run(["--tasks", EXAMPLE, "--drain-seconds", value], {"DROVER_TOKEN": "drover_secret"})
            self.assertEqual(code, 2, value)
            self.assertIn("--drain-seconds", err)

    def test_names_a_task_file_that_does_not_load(self):
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write("raise RuntimeError('broken on purpose')\n")
        try:
            code, err = run(["--tasks", f.name], {"DROVER_TOKEN": "drover_secret"})
        finally:
            os.unlink(f.name)
        self.assertEqual(code, 2)
        self.assertIn(f.name, err)
        self.assertIn("broken on purpose", err)

    def test_names_a_task_file_that_defines_no_task_type(self):
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write("x = 1\n")
        try:
            code, err = run(["--tasks", f.name], {"DROVER_TOKEN": "drover_secret"})
        finally:
            os.unlink(f.name)
        self.assertEqual(code, 2)
        self.assertIn("defines no task types", err)

    def test_refuses_a_name_another_worker_here_holds_before_it_connects(self):
        state_dir = tempfile.mkdtemp(prefix="drover-cli-state-")
        # Nothing listens there: the refusal comes before any connection.
        server = "http://127.0.0.1:9"
        held = claim_identity(state_dir, server, name="gpu-1")
        try:
            code, err = run(
                ["--tasks", EXAMPLE, "--server", server, "--name", "gpu-1"],
                {"DROVER_TOKEN": "drover_secret", "DROVER_STATE_DIR": state_dir},
            )
        finally:
            held.release()
            shutil.rmtree(state_dir, ignore_errors=True)
        self.assertEqual(code, 1)
        self.assertIn(f"Another worker on this machine runs as gpu-1 (pid {os.getpid()})", err)


if __name__ == "__main__":
    unittest.main()


class ServersTest(unittest.TestCase):
    def test_refuses_a_list_of_servers_with_a_bad_or_empty_entry(self):
        for servers in ("farm:7400,,other:7400", "farm:7400,ftp://other", ","):
            code, err = run(["--tasks", EXAMPLE, "--server", servers], {"DROVER_TOKEN": "drover_secret"})
            self.assertEqual(code, 2, servers)
            self.assertIn("--server takes a server URL", err)

    def test_takes_host_port_and_urls_comma_separated(self):
        self.assertEqual(
            cli._servers("farm:7400, https://other:7401,farm:7400"),
            ["http://farm:7400", "https://other:7401"],
        )
