"""The seed of the demo data and one independent random stream per generator."""

from __future__ import annotations

import zlib

import numpy as np

DEFAULT_SEED = 20261123


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per stream, so one layer's draws never shift another's."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])
