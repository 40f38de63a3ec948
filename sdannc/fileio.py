"""Reading the user's arrays and writing results without ever leaving a half-written file."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .errors import SdanncError


def load_array(path: str | os.PathLike, what: str = "input") -> np.ndarray:
    """A .npy file as an array; a missing or unreadable file is a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise SdanncError(f"{what} {path}: not found")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - numpy raises many kinds on a damaged header (even TokenError)
        raise SdanncError(f"{what} {path}: not a readable .npy array ({exc})") from None
    if not isinstance(loaded, np.ndarray):  # an .npz archive loads as a lazy NpzFile
        loaded.close()
        raise SdanncError(f"{what} {path}: an .npz archive, not a .npy array: save the batch with numpy.save")
    return loaded


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_permissions(path: str | os.PathLike, directory: bool = False) -> None:
    """Temporary files and folders are private (0600/0700); what we hand the user is not."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def save_all(files: dict) -> None:
    """Write every (path -> bytes) or nothing: all go to temporary files first, then are renamed."""
    staged = []
    try:
        for path, data in files.items():
            path = Path(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            except OSError as exc:
                raise SdanncError(f"{path}: cannot write ({exc.strerror or exc})") from None
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        for tmp, path in staged:
            usual_permissions(tmp)
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise


def array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def json_bytes(obj, sort_keys: bool = False) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=sort_keys) + "\n").encode()


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    save_all({path: array_bytes(array)})


def write_folder(files: dict[str, bytes], out_dir: str | os.PathLike) -> None:
    """Write a folder of (relative name -> bytes) atomically: out_dir is replaced whole, or left as it was."""
    out = Path(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise SdanncError(f"{out}: cannot write ({exc.strerror or exc})") from None
    try:
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "previous")
        usual_permissions(staging, directory=True)
        try:
            os.replace(staging, out)
        except BaseException:
            if old is not None:
                os.replace(old / "previous", out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
