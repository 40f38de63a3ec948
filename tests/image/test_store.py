"""write_image / read_image: round trip, same bytes every time, atomic, replaces an old image."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from sdannc.errors import SdanncError
from handbuilt import dense_stem_network, random_stem_layer
from sdannc.image import read_image, write_image
from sdannc.image.model import ChipImage
from sdannc.target import load_target

CORE_ARRAYS = ("program", "config", "state", "axon_ptr", "axon_targets", "dendrites", "ids", "weights")
IO_ARRAYS = ("input_ptr", "input_core", "input_dendrite", "input_index", "output_core", "output_neuron")


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def leftovers(parent: Path, out_name: str) -> list[str]:
    """Anything in parent that looks like a staging folder for out_name."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{out_name}"))


def assert_same_image(a: ChipImage, b: ChipImage) -> None:
    assert a.target.raw == b.target.raw
    assert a.schedule == b.schedule
    assert a.meta == b.meta
    assert [(c.x, c.y) for c in a.cores] == [(c.x, c.y) for c in b.cores]
    for ca, cb in zip(a.cores, b.cores):
        for name in CORE_ARRAYS:
            va, vb = getattr(ca, name), getattr(cb, name)
            assert va.shape == vb.shape, (ca.name, name)
            assert np.array_equal(va, vb), (ca.name, name)
        assert cb.program.dtype == np.uint16
    assert a.io.input_shape == b.io.input_shape and a.io.output_shape == b.io.output_shape
    assert a.io.input_encode == b.io.input_encode and a.io.output_decode == b.io.output_decode
    for name in IO_ARRAYS:
        assert np.array_equal(getattr(a.io, name), getattr(b.io, name)), name


def test_round_trip(small_chip, tmp_path):
    write_image(small_chip, tmp_path / "img")
    back = read_image(tmp_path / "img")
    assert len(back.cores) == len(small_chip.cores) == 4
    assert_same_image(small_chip, back)


def test_round_trip_keeps_negative_and_wide_values(tmp_path):
    """Values that need int16/int32 on disk (compacted types) come back unchanged."""
    target = load_target("darwin3-wide")  # 32-bit registers: state up to 2^31 - 1
    rng = np.random.default_rng(7)
    image = dense_stem_network(target, [random_stem_layer(rng, 6, 3), random_stem_layer(rng, 3, 2)], per_core=3)
    image.cores[0].state[0, 6] = -(2**31)
    image.cores[0].state[1, 7] = 2**31 - 1
    image.cores[1].state[0, 6] = -300
    image.meta = {"layers": ["fc1", "fc2"], "note": "round trip"}
    write_image(image, tmp_path / "img")
    back = read_image(tmp_path / "img")
    assert_same_image(image, back)
    assert back.cores[0].state[0, 6] == -(2**31) and back.cores[0].state[1, 7] == 2**31 - 1


def test_manifest_lists_every_file_with_its_sha256(small_chip, tmp_path):
    write_image(small_chip, tmp_path / "img")
    files = files_of(tmp_path / "img")
    manifest = json.loads(files.pop("manifest.json"))
    assert manifest["format"] == "sdannc-image" and manifest["format_version"] == 2
    assert manifest["target"] == "darwin3"
    # docs/image-format.md: its own checksum covers every other key, as json.dumps(indent=1, sort_keys=True) + "\n"
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    own = hashlib.sha256((json.dumps(body, indent=1, sort_keys=True) + "\n").encode()).hexdigest()
    assert manifest["manifest_sha256"] == own
    assert manifest["files"] == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    expected = {"target.yaml", "network.json", "io.npz"} | {f"cores/{c.name}.npz" for c in small_chip.cores}
    assert set(files) == expected


def build(seed: int = 11) -> ChipImage:
    rng = np.random.default_rng(seed)
    layers = [random_stem_layer(rng, 10, 7), random_stem_layer(rng, 7, 3)]
    return dense_stem_network(load_target("darwin3"), layers, per_core=4)


def test_same_image_gives_same_bytes(tmp_path):
    # Two separately built (equal) images, written to two folders: every file byte-identical.
    a = tmp_path / "a" / "img"
    b = tmp_path / "b" / "img"
    write_image(build(), a)
    write_image(build(), b)
    fa, fb = files_of(a), files_of(b)
    assert set(fa) == set(fb)
    for name in fa:
        assert fa[name] == fb[name], name
    # And a rewrite in place gives the same bytes again.
    write_image(build(), a)
    assert files_of(a) == fb


def test_different_images_give_different_bytes(small_chip, tmp_path):
    """The determinism test above would pass for a writer that ignored its input: guard against that."""
    write_image(small_chip, tmp_path / "a")
    small_chip.cores[1].weights[0] += 1
    write_image(small_chip, tmp_path / "b")
    fa, fb = files_of(tmp_path / "a"), files_of(tmp_path / "b")
    changed = sorted(name for name in fa if fa[name] != fb[name])
    assert changed == ["cores/x02_y00.npz", "manifest.json"]


def bad_image(image: ChipImage) -> ChipImage:
    image.cores[2].weights[0] = 1000  # beyond 8-bit weights: check_image refuses it
    return image


def test_failed_write_leaves_nothing(small_chip, tmp_path):
    out = tmp_path / "img"
    with pytest.raises(SdanncError, match="x03_y00"):
        write_image(bad_image(small_chip), out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_image(small_chip, tmp_path):
    out = tmp_path / "img"
    write_image(small_chip, out)
    before = files_of(out)
    with pytest.raises(SdanncError):
        write_image(bad_image(small_chip), out)
    assert files_of(out) == before
    assert leftovers(tmp_path, "img") == []
    read_image(out)  # still a valid image


def test_error_while_writing_removes_the_staging_folder(small_chip, tmp_path, monkeypatch):
    """A failure half-way through writing the files (disk full, say) leaves no partial image."""
    out = tmp_path / "img"
    real_write = Path.write_bytes
    calls = []

    def failing_write(self, data):
        calls.append(self)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    with pytest.raises(OSError):
        write_image(small_chip, out)
    monkeypatch.undo()
    assert len(calls) == 3  # the failure did happen mid-way, after two files were written
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_rewrite_replaces_existing_folder(tmp_path):
    out = tmp_path / "img"
    target = load_target("darwin3")
    rng = np.random.default_rng(3)
    big = dense_stem_network(target, [random_stem_layer(rng, 8, 9), random_stem_layer(rng, 9, 4)], per_core=3)
    small = dense_stem_network(target, [random_stem_layer(rng, 5, 2)], per_core=2)
    write_image(big, out)
    assert len(list((out / "cores").iterdir())) == 5  # 9 outputs in 3s, 4 outputs in 3s
    (out / "stray.txt").write_text("left over from before")
    write_image(small, out)
    assert sorted(files_of(out)) == ["cores/x01_y00.npz", "io.npz", "manifest.json", "network.json", "target.yaml"]
    assert_same_image(small, read_image(out))
    assert leftovers(tmp_path, "img") == []
