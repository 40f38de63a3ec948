"""Targets: the built-in descriptions, `extends`, user files, and one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sdannc.errors import SdanncError
from sdannc.resources import data_dir
from sdannc.target import load_target

TARGETS = data_dir("targets")


def builtin_raw(name: str) -> dict:
    return yaml.safe_load((TARGETS / f"{name}.yaml").read_text())


def leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    """Flatten nested mappings to dotted keys (an empty mapping is a leaf of its own)."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def error_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message, repr(message)
    return message


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def darwin3_raw() -> dict:
    return builtin_raw("darwin3")


# ---- built-in targets ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in TARGETS.glob("*.yaml")))
def test_builtin_targets_load(name):
    target = load_target(name)
    assert target.name == name
    assert "extends" not in target.raw
    width, height = target.mesh["width"], target.mesh["height"]
    assert target.core_count() == width * height - 1
    assert not target.is_core(*target.controller)


def test_darwin3_values_from_its_file(darwin3_raw):
    target = load_target("darwin3")
    assert target.raw == darwin3_raw
    assert target.controller == (0, 0)
    assert target.clock_hz == darwin3_raw["clock_mhz"] * 1e6
    assert target.is_core(1, 0) and target.is_core(23, 23)
    assert not target.is_core(24, 0) and not target.is_core(0, -1)
    # big_core_rule {column_modulus: 4, below: 2}: columns 0, 1, 4, 5, ... are big
    assert [target.is_big_core(x) for x in range(8)] == [True, True, False, False] * 2
    assert target.dendrite_memory_words(1) == darwin3_raw["core"]["dendrite_memory_words"]["big"]
    assert target.dendrite_memory_words(2) == darwin3_raw["core"]["dendrite_memory_words"]["little"]


def test_darwin3_wide_inherits_all_but_its_overrides(darwin3_raw):
    wide_file = builtin_raw("darwin3-wide")
    assert wide_file.pop("extends") == "darwin3"
    overridden = leaves(wide_file)
    assert "arith.register_bits" in overridden and "name" in overridden

    wide = leaves(load_target("darwin3-wide").raw)
    base = leaves(darwin3_raw)
    assert set(wide) == set(base)
    for key in base:
        expected = overridden[key] if key in overridden else base[key]
        assert wide[key] == expected, key
    assert wide["arith.register_bits"] == 32 and base["arith.register_bits"] == 16
    # Everything but the overridden keys is inherited: there is something to inherit.
    assert len(set(base) - set(overridden)) > 30


def test_wide_and_narrow_differ():
    assert load_target("darwin3").raw != load_target("darwin3-wide").raw


# ---- user files -----------------------------------------------------------------------------------


def test_user_file_by_path(tmp_path, darwin3_raw):
    darwin3_raw["name"] = "mychip"
    darwin3_raw["mesh"]["width"] = 8
    darwin3_raw["core"]["neurons"] = 1024
    path = write_yaml(tmp_path / "mychip.yaml", darwin3_raw)
    target = load_target(str(path))
    assert target.name == "mychip"
    assert target.mesh["width"] == 8 and target.core["neurons"] == 1024
    assert target.core_count() == 8 * 24 - 1
    assert target.source == str(path)


def test_user_file_extends_a_builtin(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text("extends: darwin3\nname: small\nmesh:\n  width: 4\n  height: 3\n")
    target = load_target(str(path))
    assert (target.name, target.mesh["width"], target.mesh["height"]) == ("small", 4, 3)
    assert target.mesh["max_hops_per_axis"] == 15  # a sibling of the overridden keys, inherited
    assert target.core == load_target("darwin3").core


def test_user_file_extends_a_sibling_file(tmp_path, darwin3_raw):
    darwin3_raw["name"] = "base"
    darwin3_raw["clock_mhz"] = 100
    write_yaml(tmp_path / "base.yaml", darwin3_raw)
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nname: child\narith:\n  weight_bits: 4\n")
    target = load_target(str(tmp_path / "child.yaml"))
    assert (target.name, target.raw["clock_mhz"], target.arith["weight_bits"]) == ("child", 100, 4)
    assert target.arith["register_bits"] == darwin3_raw["arith"]["register_bits"]


# ---- errors ------------------------------------------------------------------------------------------


def test_unknown_builtin_lists_the_builtins():
    with pytest.raises(SdanncError) as exc_info:
        load_target("darwin9")
    message = error_line(exc_info)
    assert "'darwin9'" in message
    for name in ("darwin3", "darwin3-wide"):
        assert name in message


def test_missing_file(tmp_path):
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(tmp_path / "nothere.yaml"))
    message = error_line(exc_info)
    assert "nothere.yaml" in message and "not found" in message


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nmesh:\n  width: 24\n  height: [24\ncore: {}\n")
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    message = error_line(exc_info)
    assert str(path) in message and "malformed YAML" in message
    assert "line 5" in message  # where the parser gave up on the open flow sequence


def test_malformed_yaml_line_number_follows_the_fault(tmp_path):
    lines = ["name: x"] * 1 + [f"k{i}: {i}" for i in range(9)] + ["bad: : :", "more: 1"]
    path = tmp_path / "bad.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    assert "line 11" in error_line(exc_info)


def test_top_level_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    message = error_line(exc_info)
    assert str(path) in message and "mapping" in message


def _drop(raw, dotted):
    *parents, last = dotted.split(".")
    for p in parents:
        raw = raw[p]
    del raw[last]


def _set(raw, dotted, value):
    *parents, last = dotted.split(".")
    for p in parents:
        raw = raw[p]
    raw[last] = value


@pytest.mark.parametrize("key", ["mesh.width", "core.dendrite_memory_words.little", "clock_mhz", "noc"])
def test_missing_key(tmp_path, darwin3_raw, key):
    _drop(darwin3_raw, key)
    path = write_yaml(tmp_path / "t.yaml", darwin3_raw)
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    message = error_line(exc_info)
    assert str(path) in message and f"'{key}'" in message and "missing" in message


@pytest.mark.parametrize("key", ["mesh.widht", "core.nerons", "colour"])
def test_unknown_key(tmp_path, darwin3_raw, key):
    _set(darwin3_raw, key, 24)
    path = write_yaml(tmp_path / "t.yaml", darwin3_raw)
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    message = error_line(exc_info)
    assert str(path) in message and f"'{key}'" in message and "unknown key" in message


def test_typo_in_an_override_is_caught(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("extends: darwin3\nname: t\nmesh:\n  widht: 8\n")
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    assert "'mesh.widht'" in error_line(exc_info)


@pytest.mark.parametrize("key, value, expected", [
    ("core.neurons", "many", "'many'"),
    ("core.neurons", -1, "-1"),
    ("core.neurons", 4.5, "4.5"),
    ("core.neurons", True, "True"),
    ("clock_mhz", "fast", "'fast'"),
    ("name", 3, "3"),
    ("mesh.controller", [0], "list of 2"),
    ("mesh.controller", [0, "a"], "'a'"),
    ("mesh", 24, "mapping"),
])
def test_wrong_type(tmp_path, darwin3_raw, key, value, expected):
    _set(darwin3_raw, key, value)
    path = write_yaml(tmp_path / "t.yaml", darwin3_raw)
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    message = error_line(exc_info)
    assert str(path) in message and f"'{key}'" in message and expected in message


def test_float_clock_is_accepted(tmp_path, darwin3_raw):
    darwin3_raw["clock_mhz"] = 333.5
    assert load_target(str(write_yaml(tmp_path / "t.yaml", darwin3_raw))).clock_hz == 333.5e6


def test_circular_extends(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(tmp_path / "a.yaml"))
    message = error_line(exc_info)
    assert "'extends'" in message and "circular" in message


def test_extends_itself(tmp_path):
    (tmp_path / "self.yaml").write_text("extends: self.yaml\nname: self\n")
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(tmp_path / "self.yaml"))
    assert "circular" in error_line(exc_info)


def test_extends_unknown(tmp_path):
    (tmp_path / "c.yaml").write_text("extends: nosuch\nname: c\n")
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(tmp_path / "c.yaml"))
    assert "'nosuch'" in error_line(exc_info)


@pytest.mark.parametrize("controller", [[24, 0], [0, 24], [30, 30]])
def test_controller_outside_mesh(tmp_path, darwin3_raw, controller):
    darwin3_raw["mesh"]["controller"] = controller
    path = write_yaml(tmp_path / "t.yaml", darwin3_raw)
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    message = error_line(exc_info)
    assert str(path) in message and "'mesh.controller'" in message and "outside the 24x24 mesh" in message


def test_controller_in_the_last_corner_is_fine(tmp_path, darwin3_raw):
    darwin3_raw["mesh"]["controller"] = [23, 23]
    target = load_target(str(write_yaml(tmp_path / "t.yaml", darwin3_raw)))
    assert not target.is_core(23, 23) and target.is_core(0, 0)


@pytest.mark.parametrize("key, value", [
    ("core.neurons", 4097),  # more than 12-bit neuron indices reach
    ("arith.register_bits", 33),
    ("arith.dendrite_sum_bits", 8),  # narrower than the registers
    ("arith.weight_bits", 1),
    ("noc.routing", "yx"),
    ("core.state_fields", 3),
])
def test_inconsistent_values(tmp_path, darwin3_raw, key, value):
    _refused_with(tmp_path, darwin3_raw, key, value)


def _refused_with(tmp_path, raw: dict, key: str, value) -> str:
    """The target with `key` set to `value` is refused in one line naming the file and the key."""
    _set(raw, key, value)
    path = write_yaml(tmp_path / "t.yaml", raw)
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    message = error_line(exc_info)
    assert str(path) in message and f"'{key}'" in message
    return message


# ---- found by the fuzzer (tests/fuzz, docs/robustness.md): each was a traceback before ---------------


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(SdanncError) as exc_info:
        load_target(str(path))
    message = error_line(exc_info)
    assert str(path) in message and "not UTF-8" in message


@pytest.mark.parametrize("key, value", [
    ("mesh.width", 0),
    ("mesh.width", 4096),  # placement and the simulator would need gigabytes
    ("core.big_core_rule.column_modulus", 0),  # x % 0
    ("core.neuron_index_bits", 10 ** 30),  # 1 << bits
    ("core.memory_word_bits", 0),  # words = bits // 0
    ("core.state_fields", 2 ** 31),  # a state array per neuron of that width
    ("cycles.per_hop", 10 ** 30),  # beyond 64-bit cycle counters
    ("energy.pj_per_sop", float("nan")),
    ("energy.pj_per_sop", float("inf")),
    ("clock_mhz", 0),  # time = cycles / clock
])
def test_values_beyond_what_sdannc_can_compute_with(tmp_path, darwin3_raw, key, value):
    assert "from " in _refused_with(tmp_path, darwin3_raw, key, value)  # it gives the range


def test_bounds_are_inclusive(tmp_path, darwin3_raw):
    darwin3_raw["mesh"]["width"] = darwin3_raw["mesh"]["height"] = 256
    darwin3_raw["core"]["big_core_rule"]["column_modulus"] = 1
    assert load_target(str(write_yaml(tmp_path / "t.yaml", darwin3_raw))).core_count() == 256 * 256 - 1


def test_a_target_without_lut_words_has_no_lookup_memory(tmp_path):
    """core.lut_words came after targets and images were written: left out, it is 0 (no LUT)."""
    import yaml
    from sdannc.target import load_target, target_from_dict
    raw = yaml.safe_load((Path(__file__).parent.parent / "targets" / "darwin3.yaml").read_text())
    del raw["core"]["lut_words"]
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_target(str(path)).core["lut_words"] == 0
    assert target_from_dict(raw, "image").core["lut_words"] == 0
    assert "lut_words" not in raw["core"]  # the caller's dict is not changed
    assert load_target("darwin3").core["lut_words"] == 16384 and load_target("darwin3-wide").core["lut_words"] == 256
