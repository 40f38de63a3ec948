"""Damage to a chip image folder: files deleted, truncated, flipped or replaced on disk (the manifest's
checksums catch these), and edits made *with* the checksums brought up to date, as a tool that rewrites
an image would make them, so that the loader's own checks are what stands in the way.

The seed image is a dict relative path -> bytes; `damage_image` returns the damaged dict, or a marker
for a folder that is not there at all. manifest.json is deleted, replaced whole, damaged byte by byte
(its own checksum, manifest_sha256, names it), or has a top-level key changed and is sealed again
(store.manifest_bytes), so that the loader's checks of each field are what stands in the way.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
from hypothesis import strategies as st

from sdannc.image.store import manifest_bytes

from fuzz_mutations import (BIG, array_damage, byte_damage, damage_array, damage_bytes, damage_yaml, edit_tree,
                            odd_value, tree_edit, yaml_damage)

INDEX = st.integers(0, BIG)
MANIFEST = "manifest.json"
CHECKED = ("target.yaml", "network.json", "io.npz")  # with cores/*.npz: the files the manifest lists
MANIFEST_KEYS = ("format", "format_version", "tool", "target", "files", "manifest_sha256")


def image_damage():
    return st.one_of(
        st.tuples(st.just("delete"), INDEX),  # any file, manifest.json and report.json included
        st.tuples(st.just("bytes"), INDEX, byte_damage()),  # any file, manifest.json included
        st.tuples(st.just("folder_for_file"), INDEX),
        st.tuples(st.just("extra_file"), st.sampled_from(("cores/x09_y09.npz", "notes.txt", ".hidden"))),
        st.tuples(st.just("delete_cores"),),
        st.tuples(st.just("empty_folder"),),
        st.tuples(st.just("file_not_folder"),),
        st.tuples(st.just("manifest"), st.one_of(
            st.tuples(st.just("key"), st.sampled_from(MANIFEST_KEYS),
                      st.one_of(st.just(("delete",)), odd_value().map(lambda v: ("set", v)))),
            byte_damage().map(lambda b: ("replace", b)))),
    )


def rehashed_damage():
    """Edits that keep every checksum valid."""
    return st.one_of(
        st.tuples(st.just("network.json"), st.lists(tree_edit(), min_size=1, max_size=3)),
        st.tuples(st.just("target.yaml"), yaml_damage()),
        st.tuples(st.just("npz"), INDEX, INDEX, st.one_of(
            array_damage((4, 4)).map(lambda a: ("replace", a)),
            st.tuples(st.just("values"), odd_value()),
            st.just(("drop",)), st.just(("add",)))),
        st.tuples(st.just("bytes"), INDEX, byte_damage()),
    )


def report_damage():
    """report.json (not under the manifest: `sdannc report` reads it beside the image)."""
    return st.one_of(
        st.tuples(st.just("edits"), st.lists(tree_edit(), min_size=1, max_size=3)),
        st.tuples(st.just("bytes"), byte_damage()),
    )


def _pick(items, index):
    return items[index % len(items)]


def damage_image(files: dict[str, bytes], plan) -> dict[str, bytes] | str:
    """The damaged folder as path -> bytes (None: a folder), or "absent" / "file" for the image path."""
    files = dict(files)
    names = sorted(files)
    kind = plan[0]
    if kind == "delete":
        del files[_pick(names, plan[1])]
    elif kind == "bytes":
        name = _pick(names, plan[1])
        files[name] = damage_bytes(files[name], plan[2])
    elif kind == "folder_for_file":
        files[_pick(names, plan[1])] = None
    elif kind == "extra_file":
        files[plan[1]] = b"not part of the image\n"
    elif kind == "delete_cores":
        files = {n: d for n, d in files.items() if not n.startswith("cores/")}
    elif kind == "empty_folder":
        files = {}
    elif kind == "file_not_folder":
        return "file"
    elif kind == "manifest":
        if plan[1][0] == "replace":
            files[MANIFEST] = damage_bytes(b"", plan[1][1])  # random bytes or an empty file
        else:
            _, key, change = plan[1]
            manifest = json.loads(files[MANIFEST])
            if change[0] == "delete":
                del manifest[key]
            else:
                manifest[key] = change[1]
            files[MANIFEST] = manifest_bytes(manifest)
    return files


def _rehash(files: dict[str, bytes], name: str) -> None:
    manifest = json.loads(files[MANIFEST])
    manifest["files"][name] = hashlib.sha256(files[name]).hexdigest()
    files[MANIFEST] = manifest_bytes(manifest)


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _edit_npz(data: bytes, plan, which: int) -> bytes:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    name = _pick(sorted(arrays), which)
    how = plan[0]
    if how == "drop":
        del arrays[name]
    elif how == "add":
        arrays["unexpected"] = np.arange(3)
    elif how == "values":
        value = plan[1]
        try:
            arrays[name] = np.full(arrays[name].shape, value, dtype=arrays[name].dtype)
        except (TypeError, ValueError, OverflowError):  # a value the dtype cannot hold: an array of it instead
            arrays[name] = np.array(value, dtype=object)
    else:
        payload = damage_array(arrays[name], plan[1])
        try:
            arrays[name] = np.load(io.BytesIO(payload), allow_pickle=True)
        except Exception:  # noqa: BLE001 - damaged bytes that are no array at all go in as raw bytes
            return _npz_with_raw(arrays, name, payload)
        if not isinstance(arrays[name], np.ndarray):  # an .npz inside an .npz: keep its first array
            inner = arrays[name]
            arrays[name] = inner[inner.files[0]] if inner.files else np.zeros(0)
            inner.close()
    return _npz(arrays)


def _npz_with_raw(arrays: dict[str, np.ndarray], name: str, payload: bytes) -> bytes:
    """An archive whose member `name.npy` holds the given bytes, whatever they are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=True) if key != name else member.write(payload)
            archive.writestr(f"{key}.npy", member.getvalue())
    return buffer.getvalue()


def rehash_damage(files: dict[str, bytes], plan) -> dict[str, bytes]:
    files = dict(files)
    kind = plan[0]
    if kind == "network.json":
        tree = json.loads(files[kind])
        for edit in plan[1]:
            tree = edit_tree(tree, edit)
        files[kind] = json.dumps(tree).encode()
        name = kind
    elif kind == "target.yaml":
        import yaml

        files[kind] = damage_yaml(yaml.safe_load(files[kind]), plan[1])
        name = kind
    elif kind == "npz":
        name = _pick(sorted(n for n in files if n.endswith(".npz")), plan[1])
        files[name] = _edit_npz(files[name], plan[3], plan[2])
    else:
        name = _pick(sorted(n for n in files if n in CHECKED or n.startswith("cores/")), plan[1])
        files[name] = damage_bytes(files[name], plan[2])
    _rehash(files, name)
    return files


def damage_report(files: dict[str, bytes], plan) -> dict[str, bytes]:
    files = dict(files)
    if plan[0] == "bytes":
        files["report.json"] = damage_bytes(files["report.json"], plan[1])
    else:
        tree = json.loads(files["report.json"])
        for edit in plan[1]:
            tree = edit_tree(tree, edit)
        files["report.json"] = json.dumps(tree).encode()
    return files


def write_folder(root, files: dict[str, bytes] | str) -> None:
    """Put the (damaged) image at root: a folder of files, a plain file, or nothing."""
    if files == "file":
        root.write_bytes(b"an image is a folder\n")
        return
    root.mkdir()
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(data)
