"""ResNet-18 and VGG-16 at 224 x 224 on a built-in board: compile time and peak memory, then one
sample simulated with simulator == golden (outputs and counters, `==`). Part of `make bench`.

    .venv/bin/python bench/board224.py [MODEL ...] [--boards darwin3-4x4,darwin3-wafer] [--limit-gb G] [--json OUT]

MODEL is a function of bench/models.py (default: resnet18_224 vgg16_224; `vgg16:SIZE` and
`resnet18:SIZE` as in bench/compile_scaling.py), quantized once by onnxruntime (2 calibration
samples, cached in bench/out/models). Each runs in a process of its own, stopped when its resident
memory passes --limit-gb (default 14: the machine is shared): `sdannc compile` as the library runs
it (no --calib: the link loads are the fan-out estimate, as in bench/compile_scaling.py), for the first board of --boards that the compiler does not refuse (the compiler then uses as
few of its chips as the network needs), the image written to a temporary folder; then the image
read back, one sample (a calibration input) simulated, and its output codes and per-layer counters
(spikes by bit, SOPs inside the sample's window) compared with `==` to the golden model's
(sdannc/activity.py: the golden model predicts the counters exactly).

The compile and the simulation run in two processes (the second reads the image the first wrote),
so that neither holds the other's memory. Prints one JSON line per model: the board and chips used,
cores, compile wall and CPU seconds, the compile's peak memory (ru_maxrss), the simulation's
seconds and its process's peak (sim_peak_mb), and the verdicts.
"""

from __future__ import annotations

import json
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compile_scaling  # noqa: E402  (the models, their quantization and the memory watchdog)

DEFAULT = ["resnet18_224", "vgg16_224"]
BOARDS = "darwin3-4x4,darwin3-wafer"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _compile(spec: str, model: str, boards: str, out: str) -> None:
    """A child: compile for the first board that takes the model; write the image, the synapse
    counts (for the golden model's counters) and the row into `out`."""
    from sdannc.backend.synapses import synapse_counts
    from sdannc.compiler import compile_in_memory
    from sdannc.errors import SdanncError
    from sdannc.fileio import json_bytes
    from sdannc.image import write_image
    from sdannc.target import load_target

    row: dict = {"model": spec}
    start, cpu = time.perf_counter(), time.process_time()
    refused = []
    for name in boards.split(","):
        try:
            compiled = compile_in_memory(model, load_target(name))  # as `sdannc compile` without --calib
            break
        except SdanncError as error:  # does not fit: the next, larger board
            refused.append(f"{name}: {error}")
    else:
        print(json.dumps({**row, "error": "; ".join(refused)}), flush=True)
        return
    report = compiled.report
    write_image(compiled.image, Path(out) / "image", extra={"report.json": json_bytes(report)})
    row.update(board=name, refused=refused, chips=report["board"]["chips_used"], cores=report["cores_used"],
               neurons=report["neurons"], compile_s=round(time.perf_counter() - start, 1),
               compile_cpu_s=round(time.process_time() - cpu, 1), compile_peak_mb=round(_peak_mb()),
               worst_chip_link=report["board"]["worst_chip_link"])
    with open(Path(out) / "synapses.pkl", "wb") as f:
        pickle.dump(synapse_counts(compiled.graph, compiled.layers), f)
    print(f"  {spec}: compiled for {name} ({row['chips']} chips, {row['cores']} cores) in {row['compile_s']} s, "
          f"peak {row['compile_peak_mb']} MB", file=sys.stderr, flush=True)
    print(json.dumps(row), flush=True)


def _simulate(spec: str, model: str, out: str) -> None:
    """A child of its own (the compile's memory is not held): read the image back, simulate one
    sample, compare outputs and counters with the golden model's (the model lowered again, as
    `sdannc sim`'s checks do)."""
    from sdannc.activity import run_golden_activity, simulated_activity
    from sdannc.compiler import lower
    from sdannc.image import read_image
    from sdannc.sim import Simulator

    calib = np.load(str(model).replace("_q.onnx", "_calib.npy"))
    image = read_image(Path(out) / "image")
    with open(Path(out) / "synapses.pkl", "rb") as f:
        synapses = pickle.load(f)
    graph = lower(model, image.target, None)
    x = calib[:1]
    row: dict = {}
    start = time.perf_counter()
    sim = Simulator(image)
    result = sim.run(x)
    row["sim_s"] = round(time.perf_counter() - start, 1)
    expected, golden = run_golden_activity(graph, x, image.target.arith, synapses)
    measured = simulated_activity(sim, result.counters)
    row["outputs_equal"] = bool(np.array_equal(result.codes, expected.reshape(len(x), -1)))
    row["counters_equal"] = bool(golden.keys() == measured.keys() and all(
        np.array_equal(golden[k].spikes_by_bit, measured[k].spikes_by_bit) and golden[k].sops == measured[k].sops
        for k in golden))
    row["sops"] = sum(a.sops for a in measured.values())
    row["ticks"] = int(np.asarray(result.counters.tick_cycles).shape[0])
    row["sim_peak_mb"] = round(_peak_mb())
    print(json.dumps(row), flush=True)


def _run(command: list[str], limit_mb: float, spec: str) -> dict:
    code, out, seconds = compile_scaling._watched(command, limit_mb)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if code == 0 and lines else {"model": spec, "error": out.strip()[-300:] or
                                                              f"exit code {code}", "seconds": round(seconds, 1)}


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--compile"]:
        _compile(*args[1:5])
        return
    if args[:1] == ["--simulate"]:
        _simulate(*args[1:4])
        return

    boards = compile_scaling.take_option(args, "--boards", BOARDS)
    limit_mb = float(compile_scaling.take_option(args, "--limit-gb", 14)) * 1024
    json_out = compile_scaling.take_option(args, "--json", None)
    rows = []
    for spec in args or DEFAULT:
        path = compile_scaling.prepare(spec)
        with tempfile.TemporaryDirectory() as out:
            row = _run([sys.executable, __file__, "--compile", spec, path, boards, out], limit_mb, spec)
            if "error" not in row:
                sim = _run([sys.executable, __file__, "--simulate", spec, path, out], limit_mb, spec)
                row.update({k: v for k, v in sim.items() if k != "model"})
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'model':<14} {'board':<14} {'chips':>5} {'cores':>6} {'compile s':>9} {'peak MB':>8} {'sim s':>7} "
          f"{'sim == golden':>14}")
    for r in rows:
        if "error" in r or "sim_s" not in r:
            print(f"{r['model']:<14} error: {r.get('error', 'no simulation')}")
            continue
        verdict = "yes" if r["outputs_equal"] and r["counters_equal"] else "NO"
        print(f"{r['model']:<14} {r['board']:<14} {r['chips']:>5} {r['cores']:>6} {r['compile_s']:>9.1f} "
              f"{r['compile_peak_mb']:>8,} {r['sim_s']:>7.1f} {verdict:>14}")
    if json_out:
        Path(json_out).write_text(json.dumps(rows, indent=1) + "\n")
    if any("error" in r or not (r.get("outputs_equal") and r.get("counters_equal")) for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
