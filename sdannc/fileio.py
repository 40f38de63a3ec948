"""Reading the user's arrays and writing results without ever leaving a half-written file, and
without ever replacing a folder that is not ours to replace."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .errors import SdanncError


NPY_MAGIC = b"\x93NUMPY"


def load_array(path: str | os.PathLike, what: str = "input") -> np.ndarray:
    """A .npy file as an array; a missing or unreadable file is a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise SdanncError(f"{what} {path}: not found")
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic != NPY_MAGIC and not magic.startswith(b"PK"):  # numpy would take any other file for a pickle
        raise SdanncError(f"{what} {path}: not a .npy file (it does not start with numpy's header): "
                          "save the batch with numpy.save")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - numpy raises many kinds on a damaged header (even TokenError)
        raise SdanncError(f"{what} {path}: not a readable .npy array ({exc})") from None
    if not isinstance(loaded, np.ndarray):  # an .npz archive loads as a lazy NpzFile
        loaded.close()
        raise SdanncError(f"{what} {path}: an .npz archive, not a .npy array: save the batch with numpy.save")
    return loaded


def load_batch(path: str | os.PathLike, what: str = "input") -> np.ndarray:
    """A batch of samples (first axis) from a .npy file: the one check of every command that reads inputs.

    `sim --input`, `run --input`, `report --input`, `compile --calib`, `tune --calib` and
    `quantize --calib` all read their batch here. Refused in one line naming `what` and the file:
    whatever `load_array` refuses, a 0-d array (no batch axis), an empty batch (no samples),
    complex values, and NaN or infinite values (how many of each, and the first one's index).
    Shape and dtype are left to the caller: what fits depends on the model or image.
    """
    return check_batch_values(load_array(path, what), f"{what} {path}")


def as_batch(x, what: str = "input") -> tuple[np.ndarray, str]:
    """A batch given as a .npy path or as an array in memory (the Python API's), checked as load_batch
    checks a file, and the name messages give it (the path, or "<array>")."""
    if isinstance(x, np.ndarray):
        return check_batch_values(x, f"{what} <array>"), "<array>"
    return load_batch(x, what), str(x)


def check_batch_values(x: np.ndarray, label: str) -> np.ndarray:
    """load_batch's checks on an array already in memory (the Python API's batches); `label` names it
    in the message ("input x.npy"). Returns x."""
    if x.ndim == 0:
        raise SdanncError(f"{label}: shape (): one value, not a batch: the first axis must be the samples")
    if x.shape[0] == 0:
        raise SdanncError(f"{label}: shape {tuple(x.shape)}: an empty batch: give at least one sample")
    if np.iscomplexobj(x):
        raise SdanncError(f"{label}: dtype {x.dtype}: complex values: give real numbers")
    if np.issubdtype(x.dtype, np.floating):
        _check_finite(x, label)
    return x


def _check_finite(x: np.ndarray, label: str) -> None:
    finite = np.isfinite(x)  # these tests never warn, unlike arithmetic on NaN
    if finite.all():
        return
    counts = {"NaN": int(np.isnan(x).sum()), "+inf": int(np.isposinf(x).sum()), "-inf": int(np.isneginf(x).sum())}
    kinds = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    first = tuple(int(i) for i in np.unravel_index(int(np.argmin(finite)), x.shape))
    bad = x.size - int(finite.sum())
    values = "1 value is not a finite number" if bad == 1 else f"{bad} values are not finite numbers"
    raise SdanncError(f"{label}: {values} ({kinds}), the first at index {first}: replace them before running")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def usual_permissions(path: str | os.PathLike, directory: bool = False) -> None:
    """Temporary files and folders are private (0600/0700); what we hand the user is not."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def save_all(files: dict) -> None:
    """Write every (path -> bytes) or nothing: all go to temporary files first, then are renamed.

    An existing file is replaced (pipelines rerun into the same names); an existing folder is refused."""
    for path in files:
        if Path(path).is_dir():
            raise SdanncError(f"{path}: is a folder, not a file: give a file name")
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


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksums(files: dict[str, bytes]) -> dict[str, str]:
    """(relative name -> sha256) of a folder's files, in name order, as manifests list them."""
    return {name: sha256(data) for name, data in sorted(files.items())}


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    save_all({path: array_bytes(array)})


# ---- output folders ---------------------------------------------------------------------------


MANIFEST = "manifest.json"  # every folder sdannc writes has one; its "format" says which writer's it is
IMAGE_FORMAT = "sdannc-image"  # sdannc compile (docs/image-format.md)
REPORT_FORMAT = "sdannc-report"  # sdannc report
EVAL_FORMAT = "sdannc-eval"  # sdannc eval (a resumable result folder)
COMPARISON_FORMAT = "sdannc-comparison"  # sdannc compare


def folder_format(folder: Path) -> str | None:
    """The `format` that folder/manifest.json declares (sdannc-image, sdannc-report), or None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return manifest.get("format") if isinstance(manifest, dict) else None


def _kind_name(kind: str) -> str:
    return "an " + kind.replace("-", " ")  # sdannc-image -> an sdannc image


def _never_replaced(where: Path) -> str | None:
    """Why the (resolved) folder is never replaced, not even with --force, or None."""
    if where == Path(where.anchor):
        return "is the filesystem root"
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the working folder was deleted under us: nothing of it to protect
        cwd = None
    if cwd is not None and cwd.is_relative_to(where):
        return "is the current folder" if cwd == where else f"holds the current folder {cwd}"
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError):  # no HOME and no password entry: no home folder to protect
        return None
    if home.is_relative_to(where):
        return "is your home folder" if home == where else f"holds your home folder {home}"
    return None


def check_output_folder(out_dir: str | os.PathLike, kind: str, force: bool = False,
                        inputs: dict[str, str | os.PathLike] | None = None) -> None:
    """May a writer of `kind` folders (the `format` of the manifest it writes) replace out_dir?

    Yes when out_dir does not exist, is empty, or is a folder of this kind (its manifest.json says
    so: the whole folder is then replaced); with `force`, also any other folder. Never, with or
    without force: a file, the filesystem root, the home folder, the current folder or one that
    holds any of these, or a folder that holds one of the command's `inputs` (label -> path; the
    label, such as MODEL or --calib, is how the message names it). Raises a one-line SdanncError.
    Commands call this before any work; `write_folder` calls it again (without inputs) at the end.
    """
    out = Path(out_dir)
    where = out.resolve()  # ".", "..", symlinks: the folder that would really be replaced
    never = _never_replaced(where)
    if never:
        raise SdanncError(f"{out}: {never}: choose another folder (--force does not replace it)")
    for label, path in (inputs or {}).items():
        if path is not None and Path(path).exists() and Path(path).resolve().is_relative_to(where):
            verb = "is" if Path(path).resolve() == where else "holds"
            raise SdanncError(f"{out}: {verb} {path}, which this command reads ({label}): choose another folder")
    if not out.exists():
        return
    if not out.is_dir():
        raise SdanncError(f"{out}: is a file, not a folder: choose a folder name")
    entries = sorted(os.listdir(out))
    if not entries or force or folder_format(out) == kind:
        return
    example = next((e for e in entries if e != MANIFEST), entries[0])
    example += "/" if (out / example).is_dir() else ""
    raise SdanncError(f"{out}: holds files that are not {_kind_name(kind)} (e.g. {example}): "
                      "choose another folder, or pass --force to replace it")


def write_folder(files: dict[str, bytes], out_dir: str | os.PathLike, kind: str, force: bool = False) -> None:
    """Write a folder of (relative name -> bytes) atomically: out_dir is replaced whole, or left as it was.

    `files` must hold a manifest.json whose `format` is `kind`, so that the next write recognises the
    folder as its own; out_dir is replaced only as `check_output_folder` allows.
    """
    if json.loads(files[MANIFEST]).get("format") != kind:
        raise ValueError(f"write_folder: the manifest does not declare format {kind!r}")
    check_output_folder(out_dir, kind, force)
    out = Path(os.path.abspath(out_dir))  # "a/.." names its real folder, for the temporary names
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise SdanncError(f"{out_dir}: cannot write ({exc.strerror or exc})") from None
    old = None
    try:
        for name, data in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        if out.exists() or out.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            try:
                os.replace(out, old / "previous")
            except OSError as exc:  # a mount point, a busy folder, no permission
                raise SdanncError(f"{out_dir}: cannot replace it ({exc.strerror or exc})") from None
        usual_permissions(staging, directory=True)
        try:
            os.replace(staging, out)
        except BaseException:
            if old is not None:
                os.replace(old / "previous", out)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not (old / "previous").exists():
            old.rmdir()  # empty: the old folder is back in its place (or never left it)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_writable(path: str | os.PathLike) -> None:
    """Refuse, before a long run, an output file that save_all could not write (a folder in its place,
    or a file where a folder of its path should be); creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise SdanncError(f"{path}: cannot write (it is a folder)")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise SdanncError(f"{path}: cannot write ({folder} is a file, not a folder)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SdanncError(f"{path}: cannot write (no permission in {folder})")
