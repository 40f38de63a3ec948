"""A result folder of `sdannc eval`: its manifest, its shards, and which shards are done.

The inputs are cut into shards of a fixed number of samples, the same whatever the number of workers,
so that every shard's run, and so every result file, is the same with 1 or N workers. The manifest
(manifest.json, format sdannc-eval) holds the checksums of the image, the inputs, the labels and the
reference model, the engine and the shard size: a rerun into the same folder resumes only when all of
them are the same. Each finished shard is one file, shards/NNNNNN.json, written to a temporary name and
renamed, so that a shard file is whole or absent; it repeats the run's checksum and the checksum of its
own inputs and outputs, and a rerun takes only the shard files that match them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fileio import EVAL_FORMAT, MANIFEST, json_bytes, sha256, usual_permissions

FORMAT = EVAL_FORMAT
FORMAT_VERSION = 1
SHARD_FORMAT = "sdannc-eval-shard"
SHARDS = "shards"
DEFAULT_SHARD_SIZE = 32
# What a manifest's checksums are of, as its messages name them.
WHAT = {"image": "the image", "input": "the input", "labels": "the labels", "reference": "the reference model",
        "engine": "the engine", "shard_size": "the shard size", "samples": "the number of samples",
        "sdannc": "the sdannc version", "format_version": "the folder's format"}


def array_digest(x: np.ndarray) -> str:
    """sha256 of an array's dtype, shape and values (not of how it was stored)."""
    h = hashlib.sha256(f"{x.dtype.str} {tuple(x.shape)}\n".encode())
    h.update(np.ascontiguousarray(x).tobytes())
    return h.hexdigest()


def files_digest(files: dict[str, bytes]) -> str:
    """sha256 of a folder's files (name -> bytes): of every name and every file's sha256."""
    return sha256(json.dumps({name: sha256(data) for name, data in sorted(files.items())}).encode())


@dataclass(frozen=True)
class Plan:
    samples: int
    shard_size: int

    @property
    def shards(self) -> int:
        return -(-self.samples // self.shard_size)

    def bounds(self, index: int) -> tuple[int, int]:
        start = index * self.shard_size
        return start, min(start + self.shard_size, self.samples)


def manifest(plan: Plan, digests: dict[str, str | None], engine: str, version: str) -> dict:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "sdannc": version, "engine": engine,
            "samples": plan.samples, "shard_size": plan.shard_size, **digests}


def run_digest(manifest: dict) -> str:
    """The run's identity, which every shard file repeats."""
    return sha256(json.dumps(manifest, sort_keys=True).encode())


def read_manifest(out: Path) -> dict | None:
    try:
        found = json.loads((out / MANIFEST).read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return found if isinstance(found, dict) and found.get("format") == FORMAT else None


def differences(found: dict, wanted: dict) -> list[str]:
    """What differs between a folder's manifest and this run's, as the message names it."""
    return [WHAT.get(key, key) for key in wanted if found.get(key) != wanted[key]]


def write_atomic(path: Path, data: bytes) -> None:
    """A file whole or not at all: written to a temporary name beside it, then renamed."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        usual_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shard_path(out: Path, index: int) -> Path:
    return out / SHARDS / f"{index:06d}.json"


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def shard_bytes(run: str, index: int, bounds: tuple[int, int], x_digest: str, result: dict) -> bytes:
    """A finished shard's file: what work.run_shard returned, with the checksums that tie it to the run."""
    outputs = _npy(result["outputs"])
    record = {"format": SHARD_FORMAT, "run": run, "index": index, "start": bounds[0], "stop": bounds[1],
              "input": x_digest, "outputs_npy": base64.b64encode(outputs).decode(), "outputs": sha256(outputs),
              "counters": result["counters"], "correct": result["correct"], "reference": result["reference"]}
    return json_bytes(record, sort_keys=True)


def read_shard(out: Path, index: int, run: str, bounds: tuple[int, int], x_digest: str) -> dict | None:
    """The shard's record with its outputs (an array), if its file is whole and of this run and these
    inputs; else None (the shard is run again)."""
    try:
        record = json.loads(shard_path(out, index).read_bytes())
        if (record.get("format"), record.get("run"), record.get("index"), record.get("start"), record.get("stop"),
                record.get("input")) != (SHARD_FORMAT, run, index, bounds[0], bounds[1], x_digest):
            return None
        outputs = base64.b64decode(record["outputs_npy"], validate=True)
        if sha256(outputs) != record["outputs"]:
            return None
        record["outputs"] = np.load(io.BytesIO(outputs), allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    if record["outputs"].shape[:1] != (bounds[1] - bounds[0],):
        return None
    return record


def remove_stale(out: Path) -> None:
    """Temporary files a killed run left behind: never a shard, so never read."""
    for tmp in (out / SHARDS).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
