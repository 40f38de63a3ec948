"""`sdannc sim`: load an image, run a batch through the simulator, write outputs and the report."""

from __future__ import annotations

from typing import Callable

from ..fileio import array_bytes, check_writable, json_bytes, load_batch, save_all
from ..image import read_image
from ..target import load_target
from .report import build_report
from .simulator import Simulator


def simulate(image_dir, input_path, output_path, report_path=None, target_name: str | None = None,
             lanes: int = 1, progress: Callable[[int, int], None] | None = None) -> dict:
    """Everything is checked before anything is written; outputs are written whole or not at all."""
    expected = load_target(target_name) if target_name else None
    image = read_image(image_dir, expect_target=expected)
    x = load_batch(input_path, "input")
    sim = Simulator(image, str(image_dir))
    sim.check_input(x, str(input_path))
    for path in (output_path, report_path):
        if path is not None:
            check_writable(path)
    result, report = run_batch(sim, x, str(input_path), lanes, progress)
    files = {output_path: array_bytes(result.outputs)}
    if report_path is not None:
        files[report_path] = json_bytes(report)
    save_all(files)
    return report


def run_batch(sim: Simulator, x, name: str, lanes: int = 1,
              progress: Callable[[int, int], None] | None = None):
    """The checked batch's run and its report (the dict `sdannc sim --report` writes)."""
    result = sim.run(x, lanes=lanes, name=name, progress=progress)
    return result, build_report(sim, result)


def summary_lines(report: dict) -> list[str]:
    """The few figures a person wants on the terminal; the JSON report has the rest. Per sample is
    each sample's own window, as `sdannc report` counts; the run's totals add the pipeline's fill
    and drain."""
    spikes, sops, e = report["spikes"], report["synaptic_ops"], report["energy"]
    return [
        f"samples {report['samples']}  ticks {report['ticks']} ({report['ticks_per_sample']} per sample, "
        f"a new sample every {report['ticks_between_samples']})",
        f"cycles {report['cycles']}  time {report['time_s'] * 1e3:.3f} ms at {report['clock_mhz']:.0f} MHz  "
        f"({report['time_per_sample_s'] * 1e6:.2f} us per sample over the run)",
        f"per sample, in its own window: {spikes['per_sample']:,.0f} spikes, {sops['per_sample']:,.0f} synaptic ops, "
        f"{e['per_sample_pj'] / 1e3:,.2f} nJ",
        f"whole run, with pipeline fill and drain: {spikes['total']:,} spikes, {sops['total']:,} synaptic ops "
        f"({sops['fill_drain']:,} in fill and drain), {e['total_pj'] / 1e6:,.4f} uJ",
        f"busiest core {report['busiest_core']['core']} ({report['busiest_core']['cycles']} cycles)  "
        f"busiest link {report['busiest_link']['link']} ({report['busiest_link']['flits']} flits)",
    ]
