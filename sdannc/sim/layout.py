"""What the stepper needs to know of a simulator: the image, the target, the network and where
every core's neurons sit in the global numbering. The simulator builds it; the stepper only reads
it, so neither module imports the other both ways."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..image.model import ChipImage
from ..target import Target
from .executor import ProgramRunner
from .network import Network


@dataclass(frozen=True, eq=False)
class Layout:
    image: ChipImage
    target: Target
    network: Network
    n_neurons: int
    core_base: np.ndarray  # [cores] each image core's first global neuron
    output_global: np.ndarray  # [outputs] the global neuron of each output


@dataclass
class RunnerBlock:
    """One program's runner and where its cores sit: neurons lo..hi of the global numbering."""

    runner: ProgramRunner
    lo: int
    hi: int
    members: np.ndarray  # image core indices, by level
    levels: np.ndarray  # level of each member
    bounds: np.ndarray  # runner-local first neuron of each member, and the end
