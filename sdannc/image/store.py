"""Write a chip image to a folder and read it back, with a manifest of checksums.

Layout (docs/image-format.md): manifest.json, target.yaml, network.json, io.npz, cores/xXX_yYY.npz.
Writing is atomic (a temporary folder renamed into place) and deterministic (same image, same bytes).
Reading checks the manifest's own checksum first, so that damage to the manifest is not blamed on a
file it lists, then every file's checksum before it trusts the file, then the image against the target.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import yaml

from ..version import __version__
from ..errors import SdanncError
from ..fileio import IMAGE_FORMAT, MANIFEST, checksums, json_bytes, sha256, write_folder
from ..target import Target, target_from_dict
from .checks import check_image
from ..ir.codec import check_input_spec, check_output_spec
from ..ir.codes import CODINGS, STEM_CODING, WINDOW_TICKS
from .model import ChipImage, CoreImage, IoMap, Schedule

FORMAT = IMAGE_FORMAT
FORMAT_VERSION = 2  # 2: the manifest carries its own checksum (version 1 did not)
BOARD_FORMAT_VERSION = 3  # 3: several chips of a board (cores carry their chip); one chip's image stays 2
READ_VERSIONS = (FORMAT_VERSION, BOARD_FORMAT_VERSION)
SELF_CHECKSUM = "manifest_sha256"
_CORE_ARRAYS = ("program", "config", "state", "axon_ptr", "axon_targets", "dendrites", "ids", "weights")
_OPTIONAL_CORE_ARRAYS = ("lut",)  # written only where not empty (a core without a lookup memory has none)
_IO_ARRAYS = ("input_ptr", "input_core", "input_dendrite", "input_index", "output_core", "output_neuron")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that the same image gives the same bytes


def _compact(array: np.ndarray) -> np.ndarray:
    """The smallest signed integer type that holds the values (uint16 programs stay as they are)."""
    if array.dtype == np.uint16 or array.size == 0:
        return array
    lo, hi = int(array.min()), int(array.max())
    for dtype in (np.int8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return array.astype(dtype)
    return array.astype(np.int64)


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(_compact(np.asarray(array))), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE), member.getvalue())
    return buffer.getvalue()


def _network_json(image: ChipImage) -> dict:
    s = image.schedule
    schedule = {"bits": s.bits, "sample_interval": s.sample_interval, "output_offset": s.output_offset}
    if s.coding != STEM_CODING:  # written only when it is not the default: stem images stay as they were
        schedule["coding"] = s.coding
    return {
        "schedule": schedule,
        "input": {"shape": list(image.io.input_shape), "encode": image.io.input_encode},
        "output": {"shape": list(image.io.output_shape), "decode": image.io.output_decode},
        "cores": [{"x": c.x, "y": c.y, "file": f"cores/{c.name}.npz", "neurons": c.n_neurons, "stage": c.stage,
                   "layer": c.layer, **_chip_key(image, c)} for c in image.cores],
        "meta": image.meta,
    }


def _chip_key(image: ChipImage, core: CoreImage) -> dict:
    """On a board: the chip that holds the core (x, y are board positions)."""
    return {"chip": list(image.target.chip_of(core.x, core.y))} if image.target.is_board else {}


def image_files(image: ChipImage) -> dict[str, bytes]:
    """Every file of the image but the manifest, as bytes."""
    files = {
        "target.yaml": yaml.safe_dump(image.target.raw, sort_keys=False).encode(),
        "network.json": json_bytes(_network_json(image), sort_keys=True),
        "io.npz": _npz_bytes({name: getattr(image.io, name) for name in _IO_ARRAYS}),
    }
    for core in image.cores:
        arrays = {name: getattr(core, name) for name in _CORE_ARRAYS}
        arrays.update({name: getattr(core, name) for name in _OPTIONAL_CORE_ARRAYS if getattr(core, name).size})
        files[f"cores/{core.name}.npz"] = _npz_bytes(arrays)
    return files


def _manifest_body(manifest: dict) -> bytes:
    """What the manifest's own checksum covers: every key but that one, as the writer lays it out."""
    return json_bytes({k: v for k, v in manifest.items() if k != SELF_CHECKSUM}, sort_keys=True)


def manifest_bytes(manifest: dict) -> bytes:
    """manifest.json's bytes: the fields given, and the sha256 of those fields as written."""
    return json_bytes({**manifest, SELF_CHECKSUM: sha256(_manifest_body(manifest))}, sort_keys=True)


def image_manifest(image: ChipImage, files: dict[str, bytes]) -> bytes:
    return manifest_bytes({
        "format": FORMAT,
        "format_version": BOARD_FORMAT_VERSION if image.target.is_board else FORMAT_VERSION,
        "tool": f"sdannc {__version__}",
        "target": image.target.name,
        "files": checksums(files),
    })


def write_image(image: ChipImage, out_dir: str | os.PathLike, extra: dict[str, bytes] | None = None,
                force: bool = False) -> None:
    """Check the image, then write it to out_dir atomically.

    out_dir is replaced if it is empty or an image (a foreign folder only with `force`: see
    fileio.check_output_folder). `extra` files (the compile report) go into the same folder but
    not into the manifest.
    """
    check_image(image, str(out_dir))
    files = image_files(image)
    files[MANIFEST] = image_manifest(image, files)
    files.update(extra or {})
    write_folder(files, out_dir, FORMAT, force)


class _Reader:
    """Reads the files of one image folder, each checked against the manifest's checksum."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not root.is_dir():
            raise SdanncError(f"image {root}: not found (expected a folder written by 'sdannc compile')")
        manifest_path = root / MANIFEST
        if not manifest_path.is_file():
            raise SdanncError(f"image {root}: manifest.json missing: not an sdannc image")
        try:
            self.manifest = json.loads(manifest_path.read_bytes())
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.fail(MANIFEST, f"damaged (not valid JSON: {exc}): recompile the model") from None
        if not isinstance(self.manifest, dict):
            raise self.fail(MANIFEST, f"not an {FORMAT}")
        self._check_own_checksum()
        if self.manifest.get("format") != FORMAT:
            raise self.fail(MANIFEST, f"not an {FORMAT} (format {self.manifest.get('format')!r})")
        if self.manifest.get("format_version") not in READ_VERSIONS:
            raise self.fail(MANIFEST, f"format version {self.manifest.get('format_version')!r} (written by "
                                      f"{self.manifest.get('tool', 'an unknown tool')}), this sdannc reads versions "
                                      f"{FORMAT_VERSION} (a chip) and {BOARD_FORMAT_VERSION} (a board): recompile the model")
        if not isinstance(self.manifest.get("files"), dict):
            raise self.fail(MANIFEST, "no file list")

    def _check_own_checksum(self) -> None:
        """Before any field is believed: a byte changed anywhere in the manifest is the manifest's damage.

        A manifest without the key is damaged if it claims this version (older versions had none)."""
        stored = self.manifest.get(SELF_CHECKSUM)
        if stored is None:
            if self.manifest.get("format") == FORMAT and self.manifest.get("format_version") in READ_VERSIONS:
                raise self.fail(MANIFEST, f"damaged (its own checksum, {SELF_CHECKSUM}, is missing): "
                                          "recompile the model")
        elif stored != sha256(_manifest_body(self.manifest)):
            raise self.fail(MANIFEST, f"damaged (its content does not match its own checksum, {SELF_CHECKSUM}: "
                                      "a byte changed or the file was edited): recompile the model")

    def fail(self, name: str, what: str) -> SdanncError:
        return SdanncError(f"image {self.root}: {name}: {what}")

    def read(self, name: str) -> bytes:
        expected = self.manifest["files"].get(name)
        if expected is None:
            raise self.fail(name, "not listed in manifest.json")
        path = self.root / name
        if not path.is_file():
            raise self.fail(name, "missing")
        data = path.read_bytes()
        if sha256(data) != expected:
            raise self.fail(name, "checksum mismatch: the file is damaged, truncated or was edited; recompile")
        return data

    def _parse_json(self, name: str, data: bytes):
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.fail(name, f"not valid JSON ({exc})") from None

    def json(self, name: str):
        return self._parse_json(name, self.read(name))

    def arrays(self, name: str, names: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
        data = self.read(name)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                missing = [n for n in names if n not in archive.files]
                arrays = {n: archive[n] for n in names + optional if n not in missing and n in archive.files}
        except Exception as exc:  # noqa: BLE001 - zipfile and numpy raise many kinds on damaged bytes
            raise self.fail(name, f"unreadable ({type(exc).__name__}: {exc})") from None
        if missing:
            raise self.fail(name, f"array '{missing[0]}' missing")
        for n, array in arrays.items():
            if not isinstance(array, np.ndarray):  # a member without the .npy header reads as raw bytes
                raise self.fail(name, f"array '{n}' is not a numpy array")
        return arrays


def _int(array: np.ndarray, shape_cols: int | None, reader: _Reader, name: str, array_name: str) -> np.ndarray:
    if not np.issubdtype(array.dtype, np.integer):
        raise reader.fail(name, f"array '{array_name}' is not integer")
    if shape_cols is not None:
        if array.size == 0:
            array = array.reshape(0, shape_cols)
        if array.ndim != 2 or array.shape[1] != shape_cols:
            raise reader.fail(name, f"array '{array_name}' has shape {array.shape}, expected (n, {shape_cols})")
    elif array.ndim != 1:
        raise reader.fail(name, f"array '{array_name}' must be one-dimensional")
    return array.astype(np.int64)


def _read_core(reader: _Reader, entry: dict, state_fields: int) -> CoreImage:
    name = entry["file"]
    a = reader.arrays(name, _CORE_ARRAYS, _OPTIONAL_CORE_ARRAYS)
    program = a["program"]
    if program.dtype != np.uint16 or program.ndim != 1:
        raise reader.fail(name, "array 'program' must be uint16 words")
    return CoreImage(
        x=int(entry["x"]),
        y=int(entry["y"]),
        program=program,
        config=_int(a["config"], None, reader, name, "config"),
        state=_int(a["state"], state_fields, reader, name, "state"),
        axon_ptr=_int(a["axon_ptr"], 2, reader, name, "axon_ptr"),
        axon_targets=_int(a["axon_targets"], 4, reader, name, "axon_targets"),
        dendrites=_int(a["dendrites"], 4, reader, name, "dendrites"),
        ids=_int(a["ids"], None, reader, name, "ids"),
        weights=_int(a["weights"], None, reader, name, "weights"),
        lut=_int(a["lut"], None, reader, name, "lut") if "lut" in a else np.zeros(0, dtype=np.int64),
        stage=entry.get("stage", 0),
        layer=entry.get("layer", ""),
    )


def _field(reader: _Reader, obj: dict, key: str, kind, name: str = "network.json"):
    if not isinstance(obj, dict) or key not in obj:
        raise reader.fail(name, f"key '{key}' missing")
    value = obj[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise reader.fail(name, f"key '{key}' must be an integer")
    if kind is not int and not isinstance(value, kind):
        raise reader.fail(name, f"key '{key}' has the wrong type")
    return value


def _shape(reader: _Reader, obj: dict, what: str) -> tuple[int, ...]:
    shape = _field(reader, obj, "shape", list)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape):
        raise reader.fail("network.json", f"{what} shape {shape!r} is not a list of positive integers")
    return tuple(shape)


def check_built_for(target: Target, expected: Target, where: str) -> None:
    """Refuse an image (`where` names it) built for `target` when `expected` was asked for (`-t`)."""
    if expected.raw != target.raw and expected.chip_target().raw != target.raw:  # a board runs its chip's images
        raise SdanncError(
            f"image {where}: built for target '{target.name}', not '{expected.name}': "
            f"recompile with -t {expected.name} or drop -t"
        )


def read_image(path: str | os.PathLike, expect_target: Target | None = None) -> ChipImage:
    """Load and check an image; an image built for another target than `expect_target` is refused."""
    reader = _Reader(Path(path))
    try:
        raw_target = yaml.safe_load(reader.read("target.yaml"))
    except yaml.YAMLError as exc:
        raise reader.fail("target.yaml", f"malformed YAML ({exc})") from None
    target = target_from_dict(raw_target if isinstance(raw_target, dict) else {}, f"{path}/target.yaml")
    if target.name != reader.manifest.get("target"):
        raise reader.fail("manifest.json", f"says target '{reader.manifest.get('target')}' but target.yaml is '{target.name}'")
    if (reader.manifest["format_version"] == BOARD_FORMAT_VERSION) != target.is_board:
        raise reader.fail("manifest.json", f"format version {reader.manifest['format_version']} does not match "
                                           f"target.yaml ({'a board' if target.is_board else 'a chip'}): recompile")
    if expect_target is not None:
        check_built_for(target, expect_target, str(path))
    net = reader.json("network.json")
    sched = _field(reader, net, "schedule", dict)
    schedule = Schedule(
        bits=_field(reader, sched, "bits", int),
        sample_interval=_field(reader, sched, "sample_interval", int),
        output_offset=_field(reader, sched, "output_offset", int),
        coding=_field(reader, sched, "coding", str) if "coding" in sched else STEM_CODING,
    )
    if schedule.coding not in CODINGS:
        raise reader.fail("network.json", f"schedule coding '{schedule.coding}' is none of {', '.join(CODINGS)}")
    if schedule.coding != STEM_CODING and schedule.bits != WINDOW_TICKS[schedule.coding]:
        raise reader.fail("network.json", f"schedule: coding {schedule.coding} takes {WINDOW_TICKS[schedule.coding]} "
                                          f"ticks a value, bits says {schedule.bits}")
    inp, out = _field(reader, net, "input", dict), _field(reader, net, "output", dict)
    check_input_spec(_field(reader, inp, "encode", dict), f"image {path}: network.json: input encoding")
    check_output_spec(_field(reader, out, "decode", dict), f"image {path}: network.json: output decoding")
    entries = _field(reader, net, "cores", list)
    for entry in entries:
        for key in ("x", "y"):
            _field(reader, entry, key, int)
        _field(reader, entry, "file", str)
        if "stage" in entry and (_field(reader, entry, "stage", int) < 0):
            raise reader.fail("network.json", f"core {entry['file']}: stage must not be negative")
        if "layer" in entry:
            _field(reader, entry, "layer", str)
        if target.is_board and _field(reader, entry, "chip", list) != list(target.chip_of(entry["x"], entry["y"])):
            raise reader.fail("network.json", f"core {entry['file']}: chip {entry['chip']!r} does not hold board "
                                              f"position ({entry['x']}, {entry['y']})")
    listed = {e["file"] for e in entries} | {"target.yaml", "network.json", "io.npz"}
    extra = sorted(set(reader.manifest["files"]) - listed)
    if extra:
        raise reader.fail(extra[0], "listed in manifest.json but not part of network.json")
    cores = [_read_core(reader, e, target.core["state_fields"]) for e in entries]
    a = reader.arrays("io.npz", _IO_ARRAYS)
    io_map = IoMap(
        input_shape=_shape(reader, inp, "input"),
        input_encode=inp["encode"],
        output_shape=_shape(reader, out, "output"),
        output_decode=out["decode"],
        **{k: _int(a[k], None, reader, "io.npz", k) for k in _IO_ARRAYS},
    )
    image = ChipImage(target, cores, io_map, schedule, _field(reader, net, "meta", dict) if "meta" in net else {})
    check_image(image, str(path))
    return image
