"""The fractal example's renderer as a Python task type: `--tasks workers/python/examples/fractal.py`."""

from __future__ import annotations

import hashlib
import time

from drover_worker import Param, task
from julia import render_julia

_COORDINATE = Param(float, min=-1e6, max=1e6)


@task(
    "fractal.julia-py",
    params={
        "width": Param(int, min=1, max=4096),
        "height": Param(int, min=1, max=4096),
        "iterations": Param(int, min=1, max=10_000),
        "xa": _COORDINATE,
        "xb": _COORDINATE,
        "ya": _COORDINATE,
        "yb": _COORDINATE,
        "cr": _COORDINATE,
        "ci": _COORDINATE,
    },
)
def julia(ctx, width, height, iterations, xa, xb, ya, yb, cr, ci):
    """Renders one Julia set to a PNG and stores it, as the TypeScript `fractal.julia` does.

    A plain function: the worker runs it in a thread, so its heartbeats never wait on the render.
    Between rows it reports progress and stops if the task was cancelled.
    """
    ctx.progress(0, f"rendering {width}x{height}, {iterations} iterations")
    started = time.monotonic()

    def on_row(y: int) -> None:
        ctx.check_cancelled()
        if y % 16 == 0:
            ctx.progress(0.9 * y / height)

    png = render_julia(width, height, iterations, xa, xb, ya, yb, cr, ci, on_row)
    duration_ms = round((time.monotonic() - started) * 1000, 3)
    sha256 = hashlib.sha256(png).hexdigest()
    ctx.progress(0.9, "storing the image")
    ctx.artifact(f"julia-{ctx.task_id}.png", png, "image/png")
    ctx.log(f"rendered {width}x{height} in {duration_ms} ms, sha256 {sha256}")
    return {"sha256": sha256, "durationMs": duration_ms, "width": width, "height": height}
