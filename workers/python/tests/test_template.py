"""Shell templates: parsing, param checks and argv expansion, as docs/shell-templates.md says."""

import asyncio
import json
import os
import tempfile
import unittest

from drover_worker import ParamsError
from drover_worker.shell import TemplateError, parse_template, run_shell

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..")

RENDER = {
    "name": "render.frame",
    "argv": ["blender", "-b", "/scenes/{scene}.blend", "-o", "{outDir}/f", "-f", "{frame}", "{{x}}"],
    "params": {
        "scene": {"type": "string", "pattern": "[a-z0-9_]+"},
        "frame": {"type": "integer", "min": 1, "default": 1},
        "offset": {"type": "number", "allowLeadingDash": True, "default": -0.5},
    },
}


class ExpandTest(unittest.TestCase):
    def test_replaces_placeholders_each_value_literal(self):
        template = parse_template(RENDER)
        self.assertEqual(
            template.expand({"scene": "s12", "frame": 7}, "/tmp/out"),
            ["blender", "-b", "/scenes/s12.blend", "-o", "/tmp/out/f", "-f", "7", "{x}"],
        )

    def test_refuses_values_outside_the_spec(self):
        template = parse_template(RENDER)
        cases = [
            ({"scene": "../etc"}, "scene", "must match [a-z0-9_]+"),
            ({"scene": "s", "frame": 0}, "frame", "must be at least 1"),
            ({"scene": "s", "other": 1}, "other", None),
            ({}, "scene", "is required"),
        ]
        for params, key, message in cases:
            with self.subTest(params=params):
                with self.assertRaises(ParamsError) as caught:
                    template.expand(params, "/tmp/out")
                self.assertEqual(caught.exception.issues[0][0], key)
                if message:
                    self.assertEqual(caught.exception.issues[0][1], message)

    def test_refuses_a_leading_dash_unless_allowed(self):
        template = parse_template(
            {
                "name": "t",
                "argv": ["echo", "{a}", "{n}", "--", "{b}", "{e}"],
                "params": {
                    "a": {"type": "string", "default": "x"},
                    "n": {"type": "integer", "default": 1},
                    "b": {"type": "string", "allowLeadingDash": True, "default": "-b"},
                    "e": {"type": "string", "enum": ["-v", "-q"], "default": "-v"},
                },
            }
        )
        self.assertEqual(template.expand({}, "/o"), ["echo", "x", "1", "--", "-b", "-v"])
        for params in ({"a": "--output=/etc/passwd"}, {"n": -1}):
            with self.subTest(params=params), self.assertRaises(ParamsError) as caught:
                template.expand(params, "/o")
            self.assertIn("allowLeadingDash", str(caught.exception))
        with self.assertRaises(ParamsError):
            template.expand({"a": "x\0y"}, "/o")

    def test_writes_values_as_the_typescript_worker_does(self):
        template = parse_template(
            {
                "name": "t",
                "argv": ["echo", "{f}", "{b}"],
                "params": {"f": {"type": "number"}, "b": {"type": "boolean"}},
            }
        )
        self.assertEqual(template.expand({"f": 2.0, "b": True}, "/o"), ["echo", "2", "true"])
        self.assertEqual(template.expand({"f": 2.5, "b": False}, "/o"), ["echo", "2.5", "false"])


class ParseTest(unittest.TestCase):
    def test_takes_the_examples_template(self):
        with open(os.path.join(ROOT, "examples/fractal/shell-tasks.json")) as f:
            (raw,) = json.load(f)
        template = parse_template(raw)
        self.assertEqual(template.name, "demo.shell")
        self.assertEqual(template.grace_ms, 2000)

    def test_refuses_mistakes_an_operator_makes(self):
        cases = [
            ({**RENDER, "argv": ["{scene}"]}, "argv.0"),
            ({**RENDER, "argv": ["x", "{ scene}"]}, "argv.1"),
            ({**RENDER, "argv": ["x", "{scene"]}, "argv.1"),
            ({**RENDER, "argv": ["x", "a}b"]}, "argv.1"),
            ({**RENDER, "argv": ["x", "{nope}"]}, "argv.1"),
            ({**RENDER, "argv": []}, "argv"),
            ({**RENDER, "timout": 5}, "timout"),
            ({**RENDER, "params": {"s": {"type": "string", "patern": "x"}}}, "params.s.patern"),
            ({**RENDER, "params": {"outDir": {"type": "string"}}}, "params.outDir"),
            ({**RENDER, "params": {"s": {"type": "integer", "min": 2, "max": 1}}}, "params.s"),
            ({**RENDER, "params": {"s": {"type": "string", "default": "-x"}}}, "params.s.default"),
            ({**RENDER, "cwd": "relative"}, "cwd"),
            ({**RENDER, "graceMs": -1}, "graceMs"),
            ({**RENDER, "name": "no spaces"}, "name"),
        ]
        for raw, where in cases:
            with self.subTest(where=where), self.assertRaises(TemplateError) as caught:
                parse_template(raw)
            self.assertTrue(str(caught.exception).startswith(where), str(caught.exception))


class RunTest(unittest.TestCase):
    def test_runs_without_a_shell_and_lists_its_files(self):
        template = parse_template(
            {
                "name": "t",
                "argv": [
                    "sh",
                    "-c",
                    'echo "$0"; echo oops >&2; echo "$0" > "$1/out/m.txt"',
                    "{m}",
                    "{outDir}",
                ],
                "params": {"m": {"type": "string"}},
            }
        )
        lines = []
        with tempfile.TemporaryDirectory() as out:
            os.makedirs(os.path.join(out, "out"))
            os.symlink("/etc/passwd", os.path.join(out, "link"))
            on_line = lambda stream, line: lines.append((stream, line))  # noqa: E731
            result = asyncio.run(run_shell(template, {"m": "a; rm -rf /"}, out, asyncio.Event(), on_line))
        self.assertEqual(result.exit_code, 0)
        self.assertIn(("stdout", "a; rm -rf /"), lines)
        self.assertIn(("stderr", "oops"), lines)
        self.assertEqual([name for name, _, _ in result.files], ["out/m.txt"])

    def test_a_stop_ends_the_whole_group(self):
        template = parse_template(
            {"name": "t", "argv": ["sh", "-c", "sleep 30 & sleep 30"], "graceMs": 100}
        )

        async def stopped_soon():
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.3, stop.set)
            return await run_shell(template, {}, tempfile.mkdtemp(), stop, lambda s, l: None)

        result = asyncio.run(asyncio.wait_for(stopped_soon(), 10))
        self.assertTrue(result.cancelled)
        self.assertLess(result.duration_ms, 5000)


if __name__ == "__main__":
    unittest.main()
