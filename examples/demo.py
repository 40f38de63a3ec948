"""`make demo`: compile the bundled quantized digits model, run it on the simulator, compare.

Runs the real command line, as a deployment pipeline would:
  sdannc compile examples/digits_mlp_q.onnx -t darwin3 -o build/demo
  sdannc sim build/demo --input examples/digits_input.npy --output build/demo/output.npy --report ...
then compares the simulator's outputs with onnxruntime running the same quantized model, writes
an activity report (sdannc report build/demo --input ... -o build/demo/report: open index.html),
and compares the spike codings the compiler has on the first COMPARED digits (sdannc compare ...
-o build/demo/compare, on darwin3-wide: a table of spikes, SOPs, ticks, energy and accuracy per coding, and a page).
(examples/build_example.py is the script that trains, exports and quantizes the model.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from sdannc.reference import default_session_disagreement, reference

EXAMPLES = Path(__file__).resolve().parent
MODEL = EXAMPLES / "digits_mlp_q.onnx"
INPUT = EXAMPLES / "digits_input.npy"
OUT = Path("build/demo")
COMPARED = 100  # digits for the coding comparison: a coding with long windows simulates many more ticks


def sdannc(*args: str) -> None:
    print("$ sdannc " + " ".join(args), flush=True)
    if subprocess.run([sys.executable, "-m", "sdannc", *args]).returncode:
        sys.exit(1)


def main() -> int:
    target = sys.argv[1] if len(sys.argv) > 1 else "darwin3"
    sdannc("compile", str(MODEL), "-t", target, "-o", str(OUT))
    sdannc("sim", str(OUT), "--input", str(INPUT), "--output", str(OUT / "output.npy"), "--report",
           str(OUT / "sim_report.json"))
    x = np.load(INPUT)
    labels = np.load(EXAMPLES / "digits_labels.npy")
    chip = np.load(OUT / "output.npy")
    onnxruntime = reference(MODEL)
    ref = onnxruntime.outputs(x)
    step = float(np.min(np.abs(np.diff(np.unique(ref))))) if np.unique(ref).size > 1 else 1.0
    differ = np.abs(chip - ref) > step / 2
    print(f"\nagreement with onnxruntime on {len(x)} held-out digits ({target}):")
    for line in (onnxruntime.note, default_session_disagreement(MODEL, x, ref)):
        if line:
            print(f"  note: {line}")
    print(f"  output elements equal: {1 - differ.mean():.2%} ({int(differ.sum())} of {differ.size} differ, "
          f"largest difference {np.abs(chip - ref).max() / step:.0f} quantization steps)")
    print(f"  top-1 agreement: {(chip.argmax(1) == ref.argmax(1)).mean():.2%}")
    print(f"  accuracy: chip {(chip.argmax(1) == labels).mean():.2%}, onnxruntime {(ref.argmax(1) == labels).mean():.2%}")
    print()
    sdannc("report", str(OUT), "--input", str(INPUT), "-o", str(OUT / "report"))
    # On darwin3-wide, as docs/codings.md's table: on darwin3 the three codings give the same codes
    # too (integration exact), at other cycle and energy costs (docs/codings.md, "16-bit registers").
    print(f"\nthe spike codings compared on the first {COMPARED} digits (darwin3-wide, as in docs/codings.md):")
    np.save(OUT / "compare_input.npy", x[:COMPARED])
    np.save(OUT / "compare_labels.npy", labels[:COMPARED])
    sdannc("compare", str(MODEL), "-t", "darwin3-wide", "--input", str(OUT / "compare_input.npy"), "--labels",
           str(OUT / "compare_labels.npy"), "-o", str(OUT / "compare"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
