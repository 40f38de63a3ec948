"""`make demo`: build a small STEM network image, run it on the simulator, check it against numpy.

The image is hand-built (sdannc.handbuilt): two dense STEM layers, 64 -> 32 -> 10, on the 16-bit
darwin3 target. The simulator is run through the real command line, as a pipeline would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from sdannc.handbuilt import dense_reference, dense_stem_network, random_stem_layer
from sdannc.image import write_image
from sdannc.target import load_target

OUT = Path("build/demo")


def main() -> int:
    rng = np.random.default_rng(2026)
    layers = [random_stem_layer(rng, 64, 32, weight_max=3), random_stem_layer(rng, 32, 10, weight_max=3)]
    image = dense_stem_network(load_target("darwin3"), layers, per_core=16)
    write_image(image, OUT / "image")
    x = rng.integers(0, 256, size=(16, 64)).astype(np.uint8)
    np.save(OUT / "input.npy", x)
    print(f"image: {OUT / 'image'} ({len(image.cores)} cores); input: {OUT / 'input.npy'} {x.shape}")
    command = [sys.executable, "-m", "sdannc", "sim", str(OUT / "image"), "--input", str(OUT / "input.npy"),
               "--output", str(OUT / "output.npy"), "--report", str(OUT / "report.json")]
    print("$ sdannc sim " + " ".join(command[4:]))
    if subprocess.run(command).returncode:
        return 1
    y = np.load(OUT / "output.npy")
    expected = dense_reference(layers, x)
    agree = int((y == expected).sum())
    print(f"agreement with the numpy integer reference: {agree}/{expected.size} outputs equal")
    report = json.loads((OUT / "report.json").read_text())
    print(f"synaptic ops per sample {report['synaptic_ops']['per_sample']:.0f}, "
          f"energy per sample {report['energy']['per_sample_pj'] / 1e3:.2f} nJ")
    return 0 if agree == expected.size else 1


if __name__ == "__main__":
    sys.exit(main())
