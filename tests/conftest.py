"""Shared fixtures: a small valid chip image (two dense STEM layers) and a CLI runner."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from click.testing import CliRunner

from cli_checks import new_runner
from handbuilt import StemLayer, dense_stem_network, random_stem_layer
from sdannc.image import ChipImage, write_image
from sdannc.target import load_target

SEED = 1234


class SmallImage(NamedTuple):
    path: Path  # the image folder
    x: np.ndarray  # an input batch for it, uint8 [4, 20]
    layers: list[StemLayer]
    image: ChipImage  # the in-memory image that was written


def small_layers(seed: int = SEED) -> list[StemLayer]:
    """20 -> 12 -> 5; with per_core=5 that is cores x01..x03 (layer 1) and x04 (layer 2) on row 0."""
    rng = np.random.default_rng(seed)
    return [random_stem_layer(rng, 20, 12), random_stem_layer(rng, 12, 5)]


def build_small_image(layers: list[StemLayer] | None = None, target: str = "darwin3") -> ChipImage:
    return dense_stem_network(load_target(target), layers or small_layers(), per_core=5)


@pytest.fixture
def small_chip() -> ChipImage:
    """The small image in memory only (a fresh one per test: tests may mutate it)."""
    return build_small_image()


@pytest.fixture
def small_image(tmp_path) -> SmallImage:
    """The small image written to tmp_path/image, with an input batch for it."""
    layers = small_layers()
    image = build_small_image(layers)
    path = tmp_path / "image"
    write_image(image, path)
    x = np.random.default_rng(SEED + 1).integers(0, 256, size=(4, 20)).astype(np.uint8)
    return SmallImage(path, x, layers, image)


@pytest.fixture
def runner() -> CliRunner:
    return new_runner()
