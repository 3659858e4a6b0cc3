"""A PNG encoder for 8-bit RGB images, from the standard library alone (zlib and struct)."""

from __future__ import annotations

import struct
import zlib

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RGB = 2


def encode_rgb(width: int, height: int, rgb: bytes) -> bytes:
    """The PNG file of an image given as RGB bytes, 3 a pixel, rows from the top.

    Each row is written with filter 0 (none): the images a task renders are compressed well
    enough by zlib alone, and the encoder stays short enough to trust.
    """
    if width < 1 or height < 1:
        raise ValueError("a PNG is at least 1x1 pixels")
    stride = width * 3
    if len(rgb) != stride * height:
        raise ValueError(f"{width}x{height} RGB takes {stride * height} bytes, not {len(rgb)}")
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        raw += rgb[y * stride : (y + 1) * stride]
    header = struct.pack(">IIBBBBB", width, height, 8, _RGB, 0, 0, 0)
    return b"".join(
        [
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(bytes(raw), 6)),
            _chunk(b"IEND", b""),
        ]
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
