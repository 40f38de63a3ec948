"""What `sdannc verify` prints: made from the same dict it writes as JSON, so the two cannot disagree."""

from __future__ import annotations

from pathlib import Path

HEAD = ("layer", "op", "onnx tensor", "elements", "differ", "max steps", "rms/std", "golden == sim")


def percent(fraction: float) -> str:
    return f"{100 * fraction:.3g}%"


def _cells(row: dict) -> tuple:
    compared = row["differ"] is not None
    rms = row["rms_over_std"]
    return (row["layer"], row["op"], row["tensor"] or "-", row["elements"],
            f"{row['differ']} ({percent(row['differ_fraction'])})" if compared else "-",
            row["max_steps"] if compared else "-",
            f"{rms:.4f}" if rms is not None else "-",
            "yes" if not row["golden_differ"] else f"NO ({row['golden_differ']} differ)")


def table(rows: list[dict]) -> list[str]:
    body = [tuple(str(c) for c in _cells(row)) for row in rows]
    widths = [max(len(r[i]) for r in [HEAD] + body) for i in range(len(HEAD))]

    def line(cells) -> str:  # names left-aligned, figures right-aligned
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(HEAD), line(["-" * w for w in widths])] + [line(r) for r in body]


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def _facts(row: dict) -> str:
    """What the compiler did to the layer that onnxruntime does not do."""
    facts = []
    if row["sparsify"]:
        facts.append("it is sparsified (" + ", ".join(f"{k} {v}" for k, v in row["sparsify"].items()) + ")")
    if row["acc_shift"]:
        facts.append(f"scaled integration shifts its sums right by {row['acc_shift']} bits")
    return "".join(f"; {f}" for f in facts)


def verdict(report: dict) -> list[str]:
    """The closing lines: a compiler bug, the first mismatch, or all within the bound."""
    rows, lines = report["layers"], []
    broken = [r for r in rows if r["golden_differ"]]
    if broken:
        first = broken[0]
        lines.append(f"COMPILER BUG: the simulator differs from the golden model in {len(broken)} layer(s), first in "
                     f"layer {first['layer']} ({first['golden_differ']} of {first['elements']} elements): please "
                     f"report it with this model and input")
    first = next((r for r in rows if r["layer"] == report["first_mismatch"]), None) if report["first_mismatch"] else None
    compared = sum(r["differ"] is not None for r in rows)
    if first is not None:
        lines.append(f"first mismatch: layer {first['layer']} (tensor {first['tensor']}): "
                     f"{percent(first['differ_fraction'])} of {first['elements']} elements differ, by up to "
                     f"{_steps(first['max_steps'])}{_facts(first)}")
    elif compared:
        lines.append(f"all {compared} layers with an onnxruntime tensor are within the bound")
    else:
        lines.append("no layer stands for an ONNX tensor: nothing to compare with onnxruntime")
    return lines


def summary_lines(report: dict) -> list[str]:
    b = report["bound"]
    lines = [f"{Path(report['model']).name} on {report['target']}: {report['samples']} samples of "
             f"{Path(report['input']).name}, every layer's codes against onnxruntime, mode {report['reference']['mode']}"]
    lines += [f"note: {n}" for n in report["reference"]["notes"] + ([report["saturation"]] if report["saturation"] else [])]
    lines += table(report["layers"])
    lines.append(f"bound: at most {percent(b['max_frac'])} of a layer's elements differ, by at most "
                 f"{_steps(b['max_steps'])}")
    return lines + verdict(report)
