"""Spike sparsification (SDANN 3.3): round-off truncation (RoT) and discarding low-order spikes (DRLO).

Both act on a layer's output codes, so they cut the spikes the layer sends and the synaptic
operations those spikes cause downstream:
  RoT k:  a' = round(a / 2^k) * 2^k, ties up: the k low-order spikes are rounded into the next bit.
  DRLO p: a' = floor(a / 2^p) * 2^p: spikes of bit positions below p are dropped.
With both, RoT comes first (the paper's fig. 10: 83 -> RoT 2 -> 84 -> DRLO 3 -> 80).

As the STEM neuron computes it, once per sample after its clamp to [low, high]:
  a' = max(min(a + add, high) & mask, low)
with add = 2^(k-1) (0 without RoT) and mask clearing the bits below max(k, p). The cap at `high`
keeps a rounded-up code inside 8 bits (and inside a fused Clip), the final max keeps it above the
clamp's floor. Which layers can sparsify and which the config sparsifies: passes/sparsify.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import SdanncError
from .ir.codes import CODE_BITS, CODE_MAX

METHODS = ("rot", "drlo")


@dataclass(frozen=True)
class Setting:
    rot: int = 0  # RoT factor k (0: off)
    drlo: int = 0  # DRLO position p (0: off)

    @property
    def active(self) -> bool:
        return bool(self.rot or self.drlo)

    @property
    def add(self) -> int:
        return (1 << (self.rot - 1)) if self.rot else 0

    @property
    def mask(self) -> int:
        return CODE_MAX & ~((1 << max(self.rot, self.drlo)) - 1)

    @classmethod
    def of(cls, attrs: dict) -> "Setting":
        """The setting a node's attrs carry (none without a `sparsify` attr)."""
        return cls(**attrs.get("sparsify", {}))

    def as_dict(self) -> dict:
        return {m: getattr(self, m) for m in METHODS if getattr(self, m)}

    def __str__(self) -> str:
        return ", ".join(f"{m} {v}" for m, v in self.as_dict().items()) or "none"


NONE = Setting()


def apply(codes: np.ndarray, setting: Setting, clamp) -> np.ndarray:
    """The codes a sparsified layer emits (the neuron program's arithmetic)."""
    if not setting.active:
        return codes
    low, high = clamp
    return np.maximum(np.minimum(codes + setting.add, high) & setting.mask, low)


def emitted_codes(values: np.ndarray, attrs: dict) -> np.ndarray:
    """What a STEM or Add neuron sends: its result clamped, then sparsified as its attrs say."""
    clamp = attrs["clamp"]
    return apply(np.clip(values, *clamp), Setting.of(attrs), clamp)


def parse_setting(value, where: str) -> Setting:
    """`{rot: k}`, `{drlo: p}`, both, or `none` / null (sparsification off)."""
    if value is None or value == "none":
        return NONE
    if not isinstance(value, dict) or not value or set(value) - set(METHODS):
        raise SdanncError(f"{where}: expected {{rot: K}}, {{drlo: P}}, both, or none; got {value!r}")
    fields = {}
    for method, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount < CODE_BITS:
            raise SdanncError(f"{where}: {method} must be an integer from 0 to {CODE_BITS - 1}, got {amount!r}")
        fields[method] = amount
    return Setting(**fields)


@dataclass
class Plan:
    """What the compile config asks: a default for every hidden layer, and per-layer settings; and
    (its `tiling:` key, config.py) the most neurons a tile of a layer may hold, by layer name; and
    (its `integration:` key) the 16-bit integration scheme when the compiler is not to choose; and
    (its `coding:` key) the spike coding, one of config.CODINGS."""

    default: Setting = NONE
    layers: dict[str, Setting] | None = None
    tiling: dict[str, int] | None = None
    integration: str | None = None
    coding: str = "stem"  # config.DEFAULT_CODING (config imports this module, not the reverse)

    def to_config(self) -> dict:
        """The `sparsify:` section that reproduces this plan."""
        section = {"default": self.default.as_dict() or "none"} if self.default.active else {}
        section.update({name: s.as_dict() or "none" for name, s in (self.layers or {}).items()})
        return section


def parse_plan(section, where: str) -> Plan:
    if section is None:
        return Plan()
    if not isinstance(section, dict):
        raise SdanncError(f"{where}: 'sparsify' must be a mapping of layer names (or 'default') to settings")
    layers = {str(name): parse_setting(value, f"{where}: sparsify.{name}") for name, value in section.items()
              if name != "default"}
    return Plan(parse_setting(section.get("default"), f"{where}: sparsify.default"), layers)
