"""Param declarations: types, required, defaults, ranges, and unknown keys refused."""

import unittest

from drover_worker import Param, ParamsError
from drover_worker.params import json_schema, validate

DECLARED = {
    "width": Param(int, min=1, max=4096, default=320),
    "scale": Param(float, min=0.5),
    "name": Param(str, pattern="[a-z]+", default="moi"),
    "mode": Param(str, choices=["fast", "best"], default="fast"),
    "verbose": Param(bool, default=False),
}


class ValidateTest(unittest.TestCase):
    def test_fills_in_defaults(self):
        self.assertEqual(
            validate(DECLARED, {"scale": 2}),
            {"width": 320, "scale": 2.0, "name": "moi", "mode": "fast", "verbose": False},
        )

    def test_refuses_an_unknown_key_naming_it(self):
        with self.assertRaises(ParamsError) as caught:
            validate(DECLARED, {"scale": 1, "widht": 3})
        self.assertEqual(caught.exception.issues[0][0], "widht")
        self.assertIn("widht", str(caught.exception))
        self.assertIn("is not a param of this task type", str(caught.exception))

    def test_requires_params_without_defaults(self):
        with self.assertRaises(ParamsError) as caught:
            validate(DECLARED, {})
        self.assertEqual(caught.exception.issues, [("scale", "is required")])

    def test_checks_types_and_ranges(self):
        cases = [
            ({"scale": 1, "width": "3"}, "width", "must be an integer"),
            ({"scale": 1, "width": 2.5}, "width", "must be an integer"),
            ({"scale": 1, "width": True}, "width", "must be an integer"),
            ({"scale": 1, "width": 0}, "width", "must be at least 1"),
            ({"scale": 1, "width": 5000}, "width", "must be at most 4096"),
            ({"scale": 0.1}, "scale", "must be at least 0.5"),
            ({"scale": float("nan")}, "scale", "must be a finite number"),
            ({"scale": 1, "name": "Moi"}, "name", "must match [a-z]+"),
            ({"scale": 1, "mode": "slow"}, "mode", "must be one of 'fast', 'best'"),
            ({"scale": 1, "verbose": 1}, "verbose", "must be a boolean"),
        ]
        for params, key, message in cases:
            with self.subTest(params=params):
                with self.assertRaises(ParamsError) as caught:
                    validate(DECLARED, params)
                self.assertEqual(caught.exception.issues, [(key, message)])

    def test_lists_every_fault_at_once(self):
        with self.assertRaises(ParamsError) as caught:
            validate(DECLARED, {"width": 0, "extra": 1})
        self.assertEqual([key for key, _ in caught.exception.issues], ["extra", "width", "scale"])

    def test_an_integer_given_as_a_whole_float_arrives_as_an_int(self):
        self.assertIsInstance(validate(DECLARED, {"scale": 1, "width": 3.0})["width"], int)

    def test_refuses_params_that_are_not_an_object(self):
        with self.assertRaises(ParamsError):
            validate(DECLARED, [1, 2])

    def test_refuses_a_default_outside_its_own_limits(self):
        with self.assertRaises(ValueError):
            Param(int, min=1, default=0)
        with self.assertRaises(TypeError):
            Param(list)


class JsonSchemaTest(unittest.TestCase):
    def test_describes_the_params_for_the_server(self):
        schema = json_schema(DECLARED)
        self.assertEqual(schema["required"], ["scale"])
        self.assertFalse(schema["additionalProperties"])
        self.assertEqual(
            schema["properties"]["width"],
            {"type": "integer", "minimum": 1, "maximum": 4096, "default": 320},
        )
        self.assertEqual(schema["properties"]["name"]["pattern"], "^(?:[a-z]+)$")
        self.assertEqual(schema["properties"]["mode"]["enum"], ["fast", "best"])


if __name__ == "__main__":
    unittest.main()
