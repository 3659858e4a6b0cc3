"""The fractal recipe's Julia renderer, ported from examples/fractal/src/julia.ts.

For each pixel (x, y) of a width x height image, z = zx + i*zy over [xa, xb] x [ya, yb] is
iterated as z = z*z + c until |z| > 2; the pixel's colour is (i % 8 * 32, i % 16 * 16, i % 32 * 8)
where i is the last iteration index. The same params give the same pixels as the TypeScript
renderer (the PNG bytes may differ: the encoders compress differently).
"""

from __future__ import annotations

from typing import Callable, Optional

from drover_worker.png import encode_rgb

# The colour depends on i only through i % 32, since 8 and 16 divide 32: one table of 32 entries.
PALETTE = [bytes(((i % 8) * 32, (i % 16) * 16, (i % 32) * 8)) for i in range(32)]


def escape_index(zr: float, zi: float, cr: float, ci: float, iterations: int) -> int:
    """The index at which z escapes |z| > 2: 0 if it starts outside, iterations - 1 if never."""
    x, y = zr, zi
    for i in range(iterations):
        x2, y2 = x * x, y * y
        # |z| > 2 compared squared: no square root in the hot loop.
        if x2 + y2 > 4:
            return i
        y = 2 * x * y + ci
        x = x2 - y2 + cr
    return iterations - 1


def julia_rgb(
    width: int,
    height: int,
    iterations: int,
    xa: float,
    xb: float,
    ya: float,
    yb: float,
    cr: float,
    ci: float,
    on_row: Optional[Callable[[int], None]] = None,
) -> bytes:
    """The pixels, RGB, 3 bytes a pixel, row 0 at ya. `on_row(y)` is called before each row:
    where a task reports progress and stops if it was cancelled."""
    rows = []
    for y in range(height):
        if on_row:
            on_row(y)
        zi = ya + (yb - ya) * y / height
        row = bytearray()
        for x in range(width):
            zr = xa + (xb - xa) * x / width
            row += PALETTE[escape_index(zr, zi, cr, ci, iterations) & 31]
        rows.append(bytes(row))
    return b"".join(rows)


def render_julia(width: int, height: int, iterations: int, xa, xb, ya, yb, cr, ci, on_row=None) -> bytes:
    """The Julia set as an RGB PNG file."""
    if not xa < xb:
        raise ValueError("xa must be less than xb")
    if not ya < yb:
        raise ValueError("ya must be less than yb")
    rgb = julia_rgb(width, height, iterations, xa, xb, ya, yb, cr, ci, on_row)
    return encode_rgb(width, height, rgb)
