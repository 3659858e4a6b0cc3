"""Unit tests of the pure parts: params, the PNG encoder, shell templates."""
