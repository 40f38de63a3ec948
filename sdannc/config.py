"""The compile config file (`--config sdannc.yaml`): what a user sets beyond the command line.

    sparsify:                 # SDANN 3.3 spike sparsification, see docs/sparsification.md
      default: {rot: 1}       # every STEM layer but the output layer
      conv2: {drlo: 2}        # per layer, by the names the compile summary prints
      fc1: none

`sdannc tune` writes such a file.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from .errors import SdanncError
from .sparsify import Plan, parse_plan

KEYS = ("sparsify",)


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
    return parse_plan(raw.get("sparsify"), where)


def config_text(plan: Plan, header: str = "") -> str:
    body = yaml.safe_dump({"sparsify": plan.to_config()}, sort_keys=False, default_flow_style=None)
    return "".join(f"# {line}\n" for line in header.splitlines()) + body
