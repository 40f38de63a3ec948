"""`sdannc sim`'s run of a checked batch (sdannc.simulate calls it), and the lines it prints."""

from __future__ import annotations

from typing import Callable

from .report import build_report
from .simulator import Simulator


def run_batch(sim: Simulator, x, name: str, lanes: int = 1,
              progress: Callable[[int, int], None] | None = None, threads: int | None = None):
    """The checked batch's run and its report (the dict `sdannc sim --report` writes)."""
    result = sim.run(x, lanes=lanes, name=name, progress=progress, threads=threads)
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
        f"{e['per_sample_pj'] / 1e3:,.2f} nJ in synaptic ops ({e['per_sample_all_pj'] / 1e3:,.2f} nJ with "
        f"instructions and network, fill and drain shared out)",
        f"whole run, with pipeline fill and drain: {spikes['total']:,} spikes, {sops['total']:,} synaptic ops "
        f"({sops['fill_drain']:,} in fill and drain), {e['total_pj'] / 1e6:,.4f} uJ",
        f"busiest core {report['busiest_core']['core']} ({report['busiest_core']['cycles']} cycles)  "
        f"busiest link {report['busiest_link']['link']} ({report['busiest_link']['flits']} flits)",
    ]
