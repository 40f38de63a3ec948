"""The comparison as the terminal shows it: one line per coding (`sdannc compare`, `make demo`)."""

from __future__ import annotations

from .measure import MEASURED

HEAD = ("coding", "spikes/sample", "SOPs/sample", "ticks/sample", "ticks between", "energy nJ/sample",
        "latency us", "accuracy %", "equal to onnxruntime")


def _row(r: dict) -> tuple:
    if r["status"] != MEASURED:
        return (r["coding"], f"refused: {r['message']}")
    t, e, a = r["totals"], r["energy_per_sample_pj"], r["agreement"]
    return (r["coding"], f"{t['spikes_per_sample']:,.0f}", f"{t['sops_per_sample']:,.0f}",
            str(r["timing"]["ticks_per_sample"]), str(r["timing"]["ticks_between_samples"]),
            f"{e['chip_simulated'] / 1e3:,.2f}", f"{r['timing']['latency_us']:,.1f}",
            "-" if r["accuracy"] is None else f"{r['accuracy']:.2f}", f"{a['elements_equal']:.2%}")


def summary_table(d: dict) -> str:
    """The codings' figures as an aligned table, and what they were measured on."""
    rows = [_row(r) for r in d["results"]]
    full = [HEAD] + [r for r in rows if len(r) == len(HEAD)]
    widths = [max(len(row[i]) for row in full) for i in range(len(HEAD))]

    def line(row) -> str:
        if len(row) != len(HEAD):  # a refused coding: its message after the name
            return f"{row[0].ljust(widths[0])}  {row[1]}"
        return "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths)))

    ref = d["reference"]
    accuracy = "" if ref["accuracy"] is None else f"; onnxruntime's accuracy {ref['accuracy']:.2f} %"
    lines = [line(HEAD), line(["-" * w for w in widths])] + [line(r) for r in rows]
    lines.append(f"{d['samples']} samples of {d['input']} on {d['target']}; outputs compared with onnxruntime "
                 f"({ref['mode']}){accuracy}")
    if ref["note"]:
        lines.append(f"note: {ref['note']}")
    return "\n".join(lines)
