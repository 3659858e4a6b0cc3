"""The PNG encoder, read back with a decoder written here from the specification."""

import struct
import unittest
import zlib

from drover_worker.png import encode_rgb


def decode(png: bytes):
    """(width, height, rgb) of an 8-bit RGB PNG whose rows use filter 0; checks every CRC."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    at, idat, header = 8, b"", None
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, data = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", png[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + data) & 0xFFFFFFFF, f"bad CRC in {kind}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        at += 12 + length
    width, height, depth, colour, _, _, _ = header
    assert (depth, colour) == (8, 2), "not 8-bit RGB"
    raw = zlib.decompress(idat)
    stride = width * 3 + 1
    assert all(raw[y * stride] == 0 for y in range(height)), "a row uses a filter"
    return width, height, b"".join(raw[y * stride + 1 : (y + 1) * stride] for y in range(height))


class PngTest(unittest.TestCase):
    def test_round_trips_pixels(self):
        rgb = bytes((i * 7) % 256 for i in range(5 * 7 * 3))
        self.assertEqual(decode(encode_rgb(5, 7, rgb)), (5, 7, rgb))

    def test_refuses_a_wrong_size(self):
        with self.assertRaises(ValueError):
            encode_rgb(2, 2, b"\0" * 11)
        with self.assertRaises(ValueError):
            encode_rgb(0, 1, b"")


if __name__ == "__main__":
    unittest.main()
