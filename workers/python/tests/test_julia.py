"""The fractal example's renderer: the recipe's escape index and palette, as PNGs that decode."""

import os
import sys
import unittest

from .test_png import decode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
from julia import PALETTE, escape_index, render_julia  # noqa: E402


class JuliaTest(unittest.TestCase):
    def test_colours_are_the_recipes_palette(self):
        self.assertEqual(PALETTE[0], bytes((0, 0, 0)))
        self.assertEqual(PALETTE[9], bytes((32, 144, 72)))
        self.assertEqual(PALETTE[31], bytes((224, 240, 248)))

    def test_escape_index_as_the_recipe_leaves_it(self):
        self.assertEqual(escape_index(3, 0, 0, 0, 50), 0)  # outside the disc from the start
        self.assertEqual(escape_index(0, 0, 0, 0, 50), 49)  # never escapes: the last index
        self.assertEqual(escape_index(0, 0, 1, 0, 50), 3)  # z = 0, 1, 2, 5: |5| > 2 at i = 3

    def test_renders_a_png_of_the_size_and_palette(self):
        width, height, rgb = decode(render_julia(40, 30, 64, -1.6, 1.6, -1.2, 1.2, -0.8, 0.156))
        self.assertEqual((width, height), (40, 30))
        colours = {rgb[i : i + 3] for i in range(0, len(rgb), 3)}
        self.assertTrue(colours <= set(PALETTE))
        self.assertGreater(len(colours), 4)

    def test_refuses_an_empty_window(self):
        with self.assertRaises(ValueError):
            render_julia(4, 4, 8, 1, 1, -1, 1, 0, 0)


if __name__ == "__main__":
    unittest.main()
