"""The compile config file (`--config sdannc.yaml`): what a user sets beyond the command line.

    sparsify:                 # SDANN 3.3 spike sparsification, see docs/sparsification.md
      default: {rot: 1}       # every STEM layer but the output layer
      conv2: {drlo: 2}        # per layer, by the names the compile summary prints
      fc1: none
    tiling:                   # the most neurons one core (tile) of a layer holds; the backend's own
      fc1: {neurons: 256}     # choice is the most that fit; smaller tiles take more cores, but each
                              # needs less dendrite memory (a little core instead of a big one)

    integration: horner       # the paper's shift-and-add in every layer whose sums are scaled, for
                              # comparison; weighted: no integration exact (as before it); exact:
                              # exact even where its tables add cores; without the key the
                              # compiler chooses per layer (docs/exactness.md, "16-bit integration")

    coding: ttfs              # the spike coding: stem (the default), ttfs or rate (docs/codings.md);
                              # --coding on the command line overrides it

`sdannc tune` writes such a file (its sparsify key).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import yaml

from .errors import SdanncError
from .ir.codes import CODINGS
from .sparsify import Plan, parse_plan

KEYS = ("sparsify", "tiling", "integration", "coding")
# auto: the compiler's choice per layer; weighted: no "exact" (as before it); exact: "exact" wherever
# it fits, even where its tables take more cores (per-channel layers on small maps)
INTEGRATIONS = ("auto", "horner", "weighted", "exact")
DEFAULT_CODING = CODINGS[0]  # stem: SDANN's bit-serial code (ir/codes.py holds the one list)


def load_config(path: str | os.PathLike | None) -> Plan:
    """The sparsification plan of a config file (an empty plan without one)."""
    if path is None:
        return Plan()
    path = Path(path)
    if not path.is_file():
        raise SdanncError(f"config {path}: not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SdanncError(f"config {path}: malformed YAML ({' '.join(str(exc).split())})") from None
    return parse_config(raw, f"config {path}")


def parse_config(raw, where: str) -> Plan:
    """The plan of a config file's content (YAML's mapping, or the Python API's dict); `where` names it."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise SdanncError(f"{where}: expected a mapping with keys {', '.join(KEYS)}")
    unknown = sorted(set(map(str, raw)) - set(KEYS))
    if unknown:
        raise SdanncError(f"{where}: unknown key '{unknown[0]}'; known keys: {', '.join(KEYS)}")
    plan = parse_plan(raw.get("sparsify"), where)
    tiling = parse_tiling(raw.get("tiling"), where)
    if tiling:
        plan = dataclasses.replace(plan, tiling=tiling)
    integration = raw.get("integration", "auto")
    if integration not in INTEGRATIONS:
        raise SdanncError(f"{where}: integration: {integration!r}: expected one of {', '.join(INTEGRATIONS)}")
    plan = dataclasses.replace(plan, integration=integration) if integration != "auto" else plan
    if "coding" in raw:
        plan = dataclasses.replace(plan, coding=check_coding(raw["coding"], where))
    return plan


def check_coding(coding, where: str) -> str:
    """A spike coding's name (ir/codes.CODINGS), or a one-line error naming where it came from."""
    if not isinstance(coding, str) or coding not in CODINGS:
        raise SdanncError(f"{where}: coding {coding!r}: unknown; expected one of {', '.join(CODINGS)}")
    return coding


def parse_tiling(section, where: str) -> dict[str, int] | None:
    """`tiling: {LAYER: {neurons: N}}`: N a positive integer, per layer by the compile summary's names."""
    if section is None:
        return None
    if not isinstance(section, dict):
        raise SdanncError(f"{where}: 'tiling' must be a mapping of layer names to {{neurons: N}}")
    sizes = {}
    for name, value in section.items():
        neurons = value.get("neurons") if isinstance(value, dict) and set(value) == {"neurons"} else None
        if isinstance(neurons, bool) or not isinstance(neurons, int) or neurons < 1:
            raise SdanncError(f"{where}: tiling.{name} must be {{neurons: N}} with N a positive integer, "
                              f"got {value!r}")
        sizes[str(name)] = neurons
    return sizes


def config_text(plan: Plan, header: str = "") -> str:
    section = {"sparsify": plan.to_config()}
    if plan.tiling:
        section["tiling"] = {name: {"neurons": n} for name, n in plan.tiling.items()}
    if plan.integration:
        section["integration"] = plan.integration
    if plan.coding != DEFAULT_CODING:
        section["coding"] = plan.coding
    body = yaml.safe_dump(section, sort_keys=False, default_flow_style=None)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body
