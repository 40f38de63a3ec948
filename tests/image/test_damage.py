"""The loader refuses damaged images and images beyond the target's limits, in one line naming the fault.

Two families:
- damage on disk (manifest, checksums, files): the image folder from the `small_image` fixture, edited;
- limit violations with valid checksums: the in-memory image, mutated, then given to check_image,
  to write_image (which must write nothing) and, written without checks, to read_image.

The small image: layer 1 (20 -> 12) on cores x01_y00, x02_y00, x03_y00 (5, 5, 2 neurons, 20 dendrites
each), layer 2 (12 -> 5) on core x04_y00 (5 neurons, 12 dendrites). x01 is a big core, x02 a little one.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sdannc.errors import SdanncError
from sdannc.image import read_image, write_image
from sdannc.image.checks import check_image
from sdannc.image.model import ChipImage
from sdannc.image.store import BOARD_FORMAT_VERSION, FORMAT_VERSION, image_files, image_manifest, manifest_bytes
from sdannc.target import load_target


def error_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message and message.strip() == message, repr(message)
    return message


def assert_mentions(message: str, *fragments: str) -> None:
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


# ---- damage on disk ---------------------------------------------------------------------------


def manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def set_manifest(root: Path, data: dict) -> None:
    """An edited manifest, sealed again with its own checksum: the edit, not the seal, is under test."""
    (root / "manifest.json").write_bytes(manifest_bytes(data))


def rehash(root: Path, name: str) -> None:
    """Make the manifest agree with the file as it is now (damage that keeps checksums valid)."""
    m = manifest(root)
    m["files"][name] = hashlib.sha256((root / name).read_bytes()).hexdigest()
    set_manifest(root, m)


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def remove_manifest(root):
    (root / "manifest.json").unlink()


def manifest_not_json(root):
    (root / "manifest.json").write_text('{"format": "sdannc-image", "files": ')


def manifest_not_an_object(root):
    (root / "manifest.json").write_text('["sdannc-image", 1]')


def foreign_format(root):
    m = manifest(root)
    m["format"] = "something-else"
    set_manifest(root, m)


def wrong_version(root):
    m = manifest(root)
    m["format_version"] = BOARD_FORMAT_VERSION + 1
    set_manifest(root, m)


def chip_image_as_a_board_version(root):
    """Version 3 is a board's: a chip's image (target.yaml a chip) claiming it is refused."""
    m = manifest(root)
    m["format_version"] = BOARD_FORMAT_VERSION
    set_manifest(root, m)


def version_1_image(root):
    """An image written before manifests checked themselves: no manifest_sha256, version 1."""
    m = manifest(root)
    del m["manifest_sha256"]
    m.update(format_version=1, tool="sdannc 0.1.0")
    (root / "manifest.json").write_text(json.dumps(m))


def manifest_edited_by_hand(root):
    m = manifest(root)
    m["files"]["io.npz"] = m["files"]["network.json"]  # valid JSON, a plausible checksum, not sealed again
    (root / "manifest.json").write_text(json.dumps(m, indent=1, sort_keys=True) + "\n")


def manifest_checksum_removed(root):
    m = manifest(root)
    del m["manifest_sha256"]
    (root / "manifest.json").write_text(json.dumps(m))


def no_file_list(root):
    m = manifest(root)
    del m["files"]
    set_manifest(root, m)


def flipped_core_byte(root):
    flip_byte(root / "cores/x02_y00.npz")


def truncated_core(root):
    path = root / "cores/x03_y00.npz"
    path.write_bytes(path.read_bytes()[:-100])


def missing_core(root):
    (root / "cores/x04_y00.npz").unlink()


def flipped_network_byte(root):
    flip_byte(root / "network.json")


def edited_target_yaml(root):
    # A value changed by hand, checksum not updated.
    path = root / "target.yaml"
    path.write_text(path.read_text().replace("program_words: 128", "program_words: 256"))


def extra_file_in_manifest(root):
    (root / "cores/x09_y09.npz").write_bytes((root / "cores/x01_y00.npz").read_bytes())
    rehash(root, "cores/x09_y09.npz")


def file_not_in_manifest(root):
    m = manifest(root)
    del m["files"]["io.npz"]
    set_manifest(root, m)


def manifest_target_differs(root):
    m = manifest(root)
    m["target"] = "darwin3-wide"
    set_manifest(root, m)


def target_yaml_renamed(root):
    path = root / "target.yaml"
    path.write_text(path.read_text().replace("name: darwin3\n", "name: darwin4\n"))
    rehash(root, "target.yaml")


def target_yaml_bad_key(root):
    path = root / "target.yaml"
    path.write_text(path.read_text().replace("  width: 24", "  widht: 24"))
    rehash(root, "target.yaml")


def _rewrite_core(root: Path, name: str, change) -> None:
    with np.load(root / name) as archive:
        arrays = {k: archive[k] for k in archive.files}
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (root / name).write_bytes(buffer.getvalue())
    rehash(root, name)


def core_array_missing(root):
    _rewrite_core(root, "cores/x01_y00.npz", lambda a: a.pop("weights"))


def core_state_float(root):
    _rewrite_core(root, "cores/x02_y00.npz", lambda a: a.update(state=a["state"].astype(np.float64)))


def core_state_wrong_shape(root):
    _rewrite_core(root, "cores/x03_y00.npz", lambda a: a.update(state=a["state"][:, :5]))


def network_core_without_file(root):
    path = root / "network.json"
    net = json.loads(path.read_text())
    del net["cores"][1]["file"]
    path.write_text(json.dumps(net))
    rehash(root, "network.json")


# found by the fuzzer (tests/fuzz, docs/robustness.md): each was a traceback before


def core_member_not_npy(root):
    """An archive member without the .npy header: numpy hands it back as raw bytes."""
    name = "cores/x01_y00.npz"
    with np.load(root / name) as archive:
        arrays = {k: archive[k] for k in archive.files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array)
            archive.writestr(f"{key}.npy", member.getvalue() if key != "dendrites" else b"no header")
    (root / name).write_bytes(buffer.getvalue())
    rehash(root, name)


def core_unknown_compression(root):
    """Compression method 99 in every header: zipfile has no decompressor for it."""
    name = "cores/x02_y00.npz"
    data = bytearray((root / name).read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset:at + offset + 2] = (99).to_bytes(2, "little")
            at = data.find(signature, at + 1)
    (root / name).write_bytes(bytes(data))
    rehash(root, name)


def _edit_network(root, change) -> None:
    path = root / "network.json"
    net = json.loads(path.read_text())
    change(net)
    path.write_text(json.dumps(net))
    rehash(root, "network.json")


def decode_without_zero_point(root):
    _edit_network(root, lambda net: net["output"].update(decode={"kind": "dequantize", "scale": 0.1, "dtype": "uint8"}))


def decode_dtype_not_a_name(root):
    _edit_network(root, lambda net: net["output"].update(
        decode={"kind": "dequantize", "scale": 0.1, "zero_point": 0, "dtype": {"uint8": 1}}))


def input_shape_not_integers(root):
    _edit_network(root, lambda net: net["input"].update(shape=[[20]]))


def meta_not_a_mapping(root):
    _edit_network(root, lambda net: net.update(meta=5))


def _schedule(key, value):
    def damage(root):
        _edit_network(root, lambda net: net["schedule"].update({key: value}))
    damage.__name__ = f"schedule_{key}_{value}"
    return damage


def stage_deeper_than_the_cores(root):
    """Stage 10^30 was an OverflowError in the simulator; 50 ran, with every window empty."""
    _edit_network(root, lambda net: net["cores"][0].update(stage=50))


DAMAGE = [
    # (damage, what the message must name)
    # the small image: 4 cores, bits 8, output_offset 15; these ran for hours (or overflowed)
    (_schedule("sample_interval", 10 ** 7), ["network.json", "sample_interval 10000000", "latency (23 ticks)"]),
    (_schedule("output_offset", 10 ** 7), ["network.json", "output_offset 10000000", "4 cores of 8-tick stages"]),
    (stage_deeper_than_the_cores, ["network.json", "stage 50 is deeper than the image's 4 cores"]),
    (core_member_not_npy, ["cores/x01_y00.npz", "'dendrites'", "not a numpy array"]),
    (core_unknown_compression, ["cores/x02_y00.npz", "unreadable", "compression"]),
    (decode_without_zero_point, ["network.json", "output decoding", "zero point"]),
    (decode_dtype_not_a_name, ["network.json", "output decoding", "dtype uint8|int8"]),
    (input_shape_not_integers, ["network.json", "input shape [[20]]", "positive integers"]),
    (meta_not_a_mapping, ["network.json", "'meta'"]),
    (remove_manifest, ["manifest.json", "missing"]),
    (manifest_not_json, ["manifest.json", "damaged", "not valid JSON"]),
    (manifest_not_an_object, ["manifest.json", "not an sdannc-image"]),
    (foreign_format, ["manifest.json", "'something-else'"]),
    (wrong_version, ["manifest.json", f"format version {BOARD_FORMAT_VERSION + 1}", f"reads versions {FORMAT_VERSION}"]),
    (chip_image_as_a_board_version, ["manifest.json", f"format version {BOARD_FORMAT_VERSION} does not match "
                                                      "target.yaml (a chip)"]),
    (version_1_image, ["manifest.json", "format version 1", "sdannc 0.1.0", f"reads versions {FORMAT_VERSION}",
                       "recompile"]),
    (manifest_edited_by_hand, ["manifest.json", "damaged", "own checksum"]),
    (manifest_checksum_removed, ["manifest.json", "damaged", "manifest_sha256", "missing"]),
    (no_file_list, ["manifest.json", "no file list"]),
    (flipped_core_byte, ["cores/x02_y00.npz", "checksum mismatch"]),
    (truncated_core, ["cores/x03_y00.npz", "checksum mismatch"]),
    (missing_core, ["cores/x04_y00.npz", "missing"]),
    (flipped_network_byte, ["network.json", "checksum mismatch"]),
    (edited_target_yaml, ["target.yaml", "checksum mismatch"]),
    (extra_file_in_manifest, ["cores/x09_y09.npz", "not part of network.json"]),
    (file_not_in_manifest, ["io.npz", "not listed in manifest.json"]),
    (manifest_target_differs, ["manifest.json", "'darwin3-wide'", "'darwin3'"]),
    (target_yaml_renamed, ["manifest.json", "'darwin3'", "'darwin4'"]),
    (target_yaml_bad_key, ["target.yaml", "mesh.widht", "unknown key"]),
    (core_array_missing, ["cores/x01_y00.npz", "'weights'", "missing"]),
    (core_state_float, ["cores/x02_y00.npz", "'state'", "not integer"]),
    (core_state_wrong_shape, ["cores/x03_y00.npz", "'state'", "shape"]),
    (network_core_without_file, ["network.json", "'file'", "missing"]),
]


def test_undamaged_image_loads(small_image):
    """The baseline of every damage test below: before the damage, the image is fine."""
    image = read_image(small_image.path)
    assert [c.name for c in image.cores] == ["x01_y00", "x02_y00", "x03_y00", "x04_y00"]


@pytest.mark.parametrize("damage, fragments", DAMAGE, ids=[d.__name__ for d, _ in DAMAGE])
def test_damaged_image_is_refused(small_image, damage, fragments):
    damage(small_image.path)
    with pytest.raises(SdanncError) as exc_info:
        read_image(small_image.path)
    message = error_line(exc_info)
    assert_mentions(message, str(small_image.path), *fragments)


# ---- a damaged manifest is the manifest's damage ----------------------------------------------------


def manifest_regions(text: str) -> dict[str, range]:
    """Byte positions of manifest.json by what they hold (the text is ASCII: characters are bytes)."""
    m = json.loads(text)

    def inside(quoted: str) -> range:
        start = text.index(quoted) + 1
        return range(start, start + len(quoted) - 2)

    version = text.index('"format_version": ') + len('"format_version": ')
    return {
        "a file's checksum": inside(f'"{m["files"]["cores/x02_y00.npz"]}"'),
        "a file name": inside('"cores/x03_y00.npz"'),
        "the format field": inside('"sdannc-image"'),
        "the format version": range(version, version + len(str(m["format_version"]))),
        "the target name": inside('"darwin3"'),
        "a key": inside('"format_version"'),
        "its own checksum": inside(f'"{m["manifest_sha256"]}"'),
    }


def assert_blames_the_manifest(root: Path, what: str) -> None:
    with pytest.raises(SdanncError) as exc_info:
        read_image(root)
    message = error_line(exc_info)
    assert message.startswith(f"image {root}: manifest.json: damaged ("), (what, message)


REGIONS = ["a file's checksum", "a file name", "the format field", "the format version", "the target name", "a key",
           "its own checksum"]


@pytest.mark.parametrize("mask", [0x01, 0x20, 0xFF], ids=lambda m: f"xor{m:02x}")
@pytest.mark.parametrize("region", REGIONS)
def test_flipped_manifest_byte_names_the_manifest(small_image, region, mask):
    """Before manifests checked themselves, a flipped byte in a file's checksum was reported as that
    file's damage; in a file name, as a file missing; in the format field, as a foreign folder."""
    path = small_image.path / "manifest.json"
    good = path.read_bytes()
    regions = manifest_regions(good.decode())
    assert list(regions) == REGIONS
    positions = regions[region]
    assert len(positions) > 0
    for i in positions:
        damaged = bytearray(good)
        damaged[i] ^= mask
        path.write_bytes(bytes(damaged))
        assert_blames_the_manifest(small_image.path, f"byte {i} ({chr(good[i])!r}) ^ {mask:#x}")
    path.write_bytes(good)
    read_image(small_image.path)  # the control: undamaged, the same image loads


def test_every_single_byte_flip_of_the_manifest_names_the_manifest(small_image):
    """Whitespace, quotes, colons, digits and letters alike: no flipped bit is blamed on another file."""
    path = small_image.path / "manifest.json"
    good = path.read_bytes()
    for i in range(len(good)):
        damaged = bytearray(good)
        damaged[i] ^= 0x01
        path.write_bytes(bytes(damaged))
        assert_blames_the_manifest(small_image.path, f"byte {i} ({chr(good[i])!r})")


def test_missing_folder(tmp_path):
    with pytest.raises(SdanncError) as exc_info:
        read_image(tmp_path / "nowhere")
    assert_mentions(error_line(exc_info), str(tmp_path / "nowhere"), "not found")


def test_a_file_is_not_an_image(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY")
    with pytest.raises(SdanncError) as exc_info:
        read_image(tmp_path / "x.npy")
    assert_mentions(error_line(exc_info), "x.npy", "not found")


def test_image_built_for_another_target(small_image):
    with pytest.raises(SdanncError) as exc_info:
        read_image(small_image.path, expect_target=load_target("darwin3-wide"))
    assert_mentions(error_line(exc_info), str(small_image.path), "built for target 'darwin3'", "'darwin3-wide'")
    # The right target is accepted, also when it comes from a file with the same content.
    assert read_image(small_image.path, expect_target=load_target("darwin3")).target.name == "darwin3"


# ---- limits, with valid checksums ---------------------------------------------------------------


def shift_layer2(image: ChipImage, x: int) -> None:
    """Move core x04_y00 (layer 2) to column x, keeping layer 1's axons pointing at it."""
    dx = x - image.cores[3].x
    image.cores[3].x = x
    for core in image.cores[:3]:
        core.axon_targets[:, 0] += dx


def program_too_long(image):
    image.cores[0].program = np.concatenate([image.cores[0].program] * 5)[:129]  # 5 x 27 words, all decodable


def program_jumps_past_end(image):
    image.cores[1].program = image.cores[1].program[:6].copy()  # ends in "JC NFLAG, emit" (emit = word 21)


def program_empty(image):
    image.cores[2].program = np.zeros(0, dtype=np.uint16)


def too_many_neurons(image):
    core = image.cores[3]
    core.state = np.concatenate([core.state, np.zeros((4097 - core.n_neurons, core.state.shape[1]), np.int64)])
    core.axon_ptr = np.zeros((4097, 2), dtype=np.int64)


def too_many_config_registers(image):
    image.cores[1].config = np.arange(33, dtype=np.int64)


def lookup_memory_too_long(image):  # (darwin3: 16384 words, docs/isa.md)
    image.cores[1].lut = np.arange(16385, dtype=np.int64) % 1000


def lookup_memory_beyond_register(image):
    image.cores[2].lut = np.full(256, 40000, dtype=np.int64)


def lut_without_lookup_memory(image):
    from sdannc.isa import Instr, load_isa
    isa = load_isa()
    words = image.cores[3].program.copy()
    words[0] = isa.encode(Instr.of("LUT", rs=6, rt=0))
    image.cores[3].program = words


def state_beyond_register(image):
    image.cores[2].state[1, 4] = 40000  # a bias that needs more than 16 bits


def config_beyond_register(image):
    image.cores[0].config[1] = -40000


def axon_16_hops(image):
    shift_layer2(image, 17)  # x01 -> x17 is 16 hops


def axon_to_empty_position(image):
    image.cores[1].axon_targets[:, 1] = 1  # one row down: no core there


def axon_missing_dendrite(image):
    image.cores[1].axon_targets[-1, 2] = 12  # layer 2 has dendrites 0..11


def axon_pointer_past_table(image):
    image.cores[0].axon_ptr[4] = [image.cores[0].axon_targets.shape[0] - 1, 3]


def weight_too_big(image):
    image.cores[2].weights[3] = 200


def weight_too_small(image):
    image.cores[3].weights[0] = -129


def absolute_id_outside_core(image):
    image.cores[3].ids[0] = 5  # core x04_y00 has neurons 0..4


def unknown_dendrite_kind(image):
    image.cores[0].dendrites[3, 0] = 7


def dendrite_list_past_end(image):
    image.cores[0].dendrites[0, 2] = image.cores[0].ids.size + 1


def core_on_controller(image):
    image.cores[0].x = 0


def core_outside_mesh(image):
    image.cores[0].y = 24


def two_cores_one_position(image):
    image.cores[2].x = 2


def huge_dendrites(image, core_index: int, length: int = 30000) -> None:
    core = image.cores[core_index]
    core.ids = np.zeros(length, dtype=np.int64)  # neuron 0, legal
    core.weights = np.zeros(length, dtype=np.int64)
    core.dendrites = np.tile(np.array([[0, 0, length, 0]], dtype=np.int64), (core.n_dendrites, 1))


def dendrite_memory_little(image):
    huge_dendrites(image, 1)


def axon_memory(image):
    core = image.cores[0]
    per_neuron = 4000  # 5 neurons x 4000 distinct entries > 16384 words
    rows = []
    for n in range(core.n_neurons):
        rows += [(3, 0, n, n)] * per_neuron  # distinct list per neuron (dendrite n on x04_y00)
        core.axon_ptr[n] = (n * per_neuron, per_neuron)
    core.axon_targets = np.asarray(rows, dtype=np.int64)


def axon_carried_index_too_wide(image):
    image.cores[0].axon_targets[0, 3] = 4096  # a 12-bit index field


def output_neuron_missing(image):
    image.io.output_neuron[-1] = 5  # the last output core, x04_y00, has 5 neurons


def input_dendrite_missing(image):
    image.io.input_dendrite[0] = 20  # layer 1 cores have 20 dendrites


def input_map_short(image):
    image.io.input_ptr = image.io.input_ptr[:-1]


LIMITS = [
    # (mutation, core named in the message, what else it must name)
    (program_too_long, "core x01_y00", ["program has 129 words", "limit 128"]),
    (program_jumps_past_end, "core x02_y00", ["program word 5", "jump to 21", "6 words"]),
    (program_empty, "core x03_y00", ["program is empty"]),
    (too_many_neurons, "core x04_y00", ["4097 neurons", "limit 4096"]),
    (too_many_config_registers, "core x02_y00", ["33 configuration registers", "limit 32"]),
    (lookup_memory_too_long, "core x02_y00", ["lookup memory of 16385 words", "limit 16384"]),
    (lookup_memory_beyond_register, "core x03_y00", ["lookup memory", "16-bit", "40000"]),
    (lut_without_lookup_memory, "core x04_y00", ["program word 0", "LUT", "no lookup memory"]),
    (state_beyond_register, "core x03_y00", ["state", "16-bit", "40000"]),
    (config_beyond_register, "core x01_y00", ["configuration register", "16-bit", "-40000"]),
    (axon_16_hops, "core x01_y00", ["(+16, +0)", "15 hops"]),
    (axon_to_empty_position, "core x02_y00", ["(+2, +1)", "(4, 1)", "no core"]),
    (axon_missing_dendrite, "core x02_y00", ["dendrite 12", "does not exist", "x04_y00"]),
    (axon_pointer_past_table, "core x01_y00", ["axon table", "beyond"]),
    (weight_too_big, "core x03_y00", ["weight (8-bit)", "200", "-128..127"]),
    (weight_too_small, "core x04_y00", ["weight (8-bit)", "-129"]),
    (absolute_id_outside_core, "core x04_y00", ["neuron id", "value 5", "0..4"]),
    (unknown_dendrite_kind, "core x01_y00", ["dendrite kind"]),
    (dendrite_list_past_end, "core x01_y00", ["dendrite table", "beyond"]),
    (core_on_controller, "core x00_y00", ["(0, 0)", "controller"]),
    (core_outside_mesh, "core x01_y24", ["(1, 24)", "24x24"]),
    (two_cores_one_position, "network.json", ["two cores"]),
    (dendrite_memory_little, "core x02_y00", ["dendrite memory", "little", "8192"]),
    (axon_memory, "core x01_y00", ["axon memory", "20005 words", "16384"]),
    (axon_carried_index_too_wide, "core x01_y00", ["carried index", "4096"]),
    (output_neuron_missing, "network.json", ["output neuron", "5"]),
    (input_dendrite_missing, "network.json", ["input dendrite", "20"]),
    (input_map_short, "network.json", ["input_ptr"]),
]
LIMIT_IDS = [m.__name__ for m, _, _ in LIMITS]


def write_unchecked(image: ChipImage, root: Path) -> None:
    """The image's files as write_image lays them out, with a valid manifest, but no check."""
    files = image_files(image)
    files["manifest.json"] = image_manifest(image, files)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


def test_unmutated_image_passes_every_route(small_chip, tmp_path):
    check_image(small_chip, "here")
    write_unchecked(small_chip, tmp_path / "raw")
    read_image(tmp_path / "raw")
    write_image(small_chip, tmp_path / "checked")
    assert (tmp_path / "checked" / "manifest.json").is_file()


@pytest.mark.parametrize("mutate, where, fragments", LIMITS, ids=LIMIT_IDS)
def test_check_image_names_core_and_resource(small_chip, mutate, where, fragments):
    mutate(small_chip)
    with pytest.raises(SdanncError) as exc_info:
        check_image(small_chip, "IMG")
    message = error_line(exc_info)
    assert message.startswith(f"image IMG: {where}: "), message
    assert_mentions(message, *fragments)


@pytest.mark.parametrize("mutate, where, fragments", LIMITS, ids=LIMIT_IDS)
def test_write_image_refuses_and_writes_nothing(small_chip, tmp_path, mutate, where, fragments):
    mutate(small_chip)
    out = tmp_path / "out"
    with pytest.raises(SdanncError) as exc_info:
        write_image(small_chip, out)
    assert_mentions(error_line(exc_info), str(out), where, *fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mutate, where, fragments", LIMITS, ids=LIMIT_IDS)
def test_read_image_refuses_valid_checksums_beyond_limits(small_chip, tmp_path, mutate, where, fragments):
    mutate(small_chip)
    root = tmp_path / "raw"
    write_unchecked(small_chip, root)
    with pytest.raises(SdanncError) as exc_info:
        read_image(root)
    message = error_line(exc_info)
    assert message.startswith(f"image {root}: {where}: "), message
    assert_mentions(message, *fragments)


def test_hop_limit_is_inclusive(small_chip):
    shift_layer2(small_chip, 16)  # x01 -> x16: exactly 15 hops, allowed
    check_image(small_chip, "IMG")
    shift_layer2(small_chip, 17)
    with pytest.raises(SdanncError, match=r"core x01_y00: axon target \(\+16, \+0\)"):
        check_image(small_chip, "IMG")


def test_neuron_limit_is_inclusive(small_chip):
    core = small_chip.cores[3]
    core.state = np.concatenate([core.state, np.zeros((4096 - core.n_neurons, core.state.shape[1]), np.int64)])
    core.axon_ptr = np.zeros((4096, 2), dtype=np.int64)
    check_image(small_chip, "IMG")


def test_program_limit_is_inclusive(small_chip):
    program = small_chip.cores[0].program
    small_chip.cores[0].program = np.concatenate([program] * 5)[-128:]  # 128 words, ends in END
    check_image(small_chip, "IMG")


def test_weight_limits_are_inclusive(small_chip):
    small_chip.cores[2].weights[3] = 127
    small_chip.cores[3].weights[0] = -128
    check_image(small_chip, "IMG")


def test_dendrite_memory_depends_on_the_core_kind(small_chip):
    """The same tables fit a big core (x01) and not a little one (x02); the count follows the docs' formula."""
    target = small_chip.target
    big_image = copy.deepcopy(small_chip)
    huge_dendrites(big_image, 0)
    check_image(big_image, "IMG")

    huge_dendrites(small_chip, 1)
    core = small_chip.cores[1]
    w = target.core["memory_word_bits"]
    needed = (core.n_dendrites * target.tables["dendrite_header_words"]
              + math.ceil(30000 * target.tables["id_entry_bits"] / w)
              + math.ceil(30000 * target.arith["weight_bits"] / w))
    assert needed > target.core["dendrite_memory_words"]["little"]
    with pytest.raises(SdanncError) as exc_info:
        check_image(small_chip, "IMG")
    assert_mentions(error_line(exc_info), "core x02_y00", f"needs {needed} words", "little core has 8192")


def test_shared_lists_are_counted_once(small_chip):
    """Identical lists are stored once, so many dendrites pointing at one big list still fit a little core."""
    huge_dendrites(small_chip, 1, length=8000)  # one list: 20 + 2667 + 1334 words < 8192
    check_image(small_chip, "IMG")
