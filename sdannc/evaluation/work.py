"""What a Dask worker runs: one shard of the inputs through the image, and what it counts.

The image (and the reference model, if any) reach each worker once, in a worker plugin (`Loader`),
which Dask also gives to every worker that joins later, a restarted one included; the shards' tasks
then name them by checksum. A task returns plain values: the client writes the shard's file.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from distributed import WorkerPlugin

from ..errors import SdanncError

_LOADED: dict[str, "Loaded"] = {}  # run checksum -> what the worker's Loader set up, in this worker process


def quiet() -> None:
    """No log record and no warning of a worker reaches the user's terminal: the client reports."""
    warnings.simplefilter("ignore")
    for name in ("distributed", "dask", "tornado", "asyncio", "numba"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class Loaded:
    def __init__(self, image, name: str, reference_model: bytes | None, reference_name: str | None) -> None:
        self.image, self.name = image, name
        self._simulators: dict = {}
        self.reference_model, self.reference_name = reference_model, reference_name
        self._reference = None

    def simulator(self, engine: str):
        """The image on `engine`, its connectivity built once per worker."""
        if engine not in self._simulators:
            from ..sim import simulator

            self._simulators[engine] = simulator(self.image, self.name, engine)
        return self._simulators[engine]

    def reference(self):
        """The project's onnxruntime reference (exact mode), made on first use, one thread."""
        if self._reference is None:
            import onnx

            from ..reference import reference

            model = onnx.load_from_string(self.reference_model)
            model.graph.name = model.graph.name or "model"
            self._reference = reference(model, threads=1)
        return self._reference


class Loader(WorkerPlugin):
    """Carries the image and the reference model to every worker, and keeps them there for the tasks."""

    def __init__(self, key: str, image, image_name: str, reference_model: bytes | None,
                 reference_name: str | None) -> None:
        self.key, self.image, self.image_name = key, image, image_name
        self.reference_model, self.reference_name = reference_model, reference_name
        self.name = f"sdannc-eval-{key[:16]}"

    def setup(self, worker) -> None:
        quiet()
        _LOADED[self.key] = Loaded(self.image, self.image_name, self.reference_model, self.reference_name)

    def teardown(self, worker) -> None:
        _LOADED.pop(self.key, None)


def top1(outputs: np.ndarray) -> np.ndarray:
    """Each sample's class: the index of its largest output (the first, on a tie)."""
    return np.argmax(outputs.reshape(len(outputs), -1), axis=1)


def counters(report: dict) -> dict:
    """The integers of a simulation report that add up over shards (sdannc/sim/report.py)."""
    spikes, sops = report["spikes"], report["synaptic_ops"]
    return {
        "samples": report["samples"], "ticks": report["ticks"], "cycles": report["cycles"],
        "instructions": report["instructions"], "flit_hops": report["noc"]["flit_hops"],
        "max_hops": report["noc"]["max_hops"],
        "spikes": {k: spikes[k] for k in ("in_sample_windows", "total", "fill_drain", "neurons", "inputs")},
        "sops": {k: sops[k] for k in ("in_sample_windows", "total", "fill_drain")},
        "spikes_per_core": {k: int(v) for k, v in spikes["per_core"].items()},
        "sops_per_core": sops["per_core"],
        "layers": report["layers"],
    }


def compare(outputs: np.ndarray, expected: np.ndarray, name: str) -> dict:
    """Agreement with the reference's outputs on a shard: integers, which add up over shards."""
    expected = np.asarray(expected)
    if expected.size != outputs.size:
        raise SdanncError(f"reference {name}: its output has shape {tuple(expected.shape)}, the image's "
                          f"{tuple(outputs.shape)}: give the model the image was compiled from")
    expected = expected.reshape(outputs.shape)
    equal = outputs == expected
    return {"top1_agree": int((top1(outputs) == top1(expected)).sum()),
            "equal_elements": int(equal.sum()), "elements": int(equal.size),
            "identical_samples": int(equal.reshape(len(outputs), -1).all(axis=1).sum())}


def run_shard(simulate, key: str, x: np.ndarray, labels: np.ndarray | None, engine: str,
              threads: int | None) -> dict:
    """One shard through the image on `engine`: its outputs, counters, correct count and agreement.
    `simulate` is sdannc.simulate, which the client hands over (the API imports this package, not
    the other way round)."""
    loaded = _LOADED.get(key)
    if loaded is None:  # the plugin runs on every worker before its tasks: this would be a bug
        raise RuntimeError(f"sdannc eval: this worker has no image {key[:16]} (its plugin did not run)")
    result = simulate(loaded.simulator(engine), x, threads=threads or 1)  # one thread: workers share the cores
    outputs = result.outputs
    return {
        "outputs": outputs,
        "counters": counters(result.report),
        "correct": int((top1(outputs) == labels).sum()) if labels is not None else None,
        "reference": (compare(outputs, loaded.reference().outputs(x), loaded.reference_name)
                      if loaded.reference_model is not None else None),
    }
