"""The image's I/O maps: which dendrites each input element feeds (from the link table), and
which neuron holds each output element."""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..image import ImageBuilder
from .addresses import INPUT
from .links import LinkTable


def map_inputs(builder: ImageBuilder, links: LinkTable) -> None:
    """Each input element's (core, dendrite, carried index) targets, in table order."""
    feed = np.flatnonzero(links.src_core == INPUT)
    feed = links.select(feed[np.argsort(links.index_of[links.source[feed]], kind="stable")])  # by element, each in table order
    element = feed.src_index
    starts = np.flatnonzero(np.concatenate([[True], element[1:] != element[:-1]])) if element.size else element
    ends = np.concatenate([starts[1:], [element.size]]).astype(np.int64)
    for start, end in zip(starts.tolist(), ends.tolist()):
        builder.map_input(int(element[start]), zip(feed.dest[start:end].tolist(), feed.dendrite[start:end].tolist(),
                                                    feed.carried[start:end].tolist()))


def map_outputs(builder: ImageBuilder, out_core: np.ndarray, out_index: np.ndarray) -> None:
    """Each output element's (core, neuron), given the graph output's addresses."""
    if (out_core == INPUT).any():
        raise SdanncError("the model's output is its input unchanged: nothing to compile")
    for element, (c, i) in enumerate(zip(out_core.tolist(), out_index.tolist())):
        builder.map_output(element, c, i)
