"""How the compiler's time and memory grow with the network: `make bench-scaling` (too slow for `make bench`).

    python bench/compile_scaling.py [MODEL ...] [-t TARGET] [--limit-gb G] [--json OUT]

MODEL is `resnet18:SIZE` or `vgg16:SIZE` (bench/models.py's ResNet-18 or VGG-16 at SIZE x SIZE,
1000 classes) or a function
of bench/models.py (`vgg16_224`, `resnet18_224`, ...); by default the ResNet-18 family at 64, 128 and
224, then VGG-16 at 224. TARGET defaults to bench/targets/darwin3-large.yaml (darwin3's cores on a
128 x 128 mesh: these networks need several chips). Each model is quantized once by onnxruntime with
2 calibration samples and cached in bench/out/models (VGG-16: about 80 s and 6 GB the first time);
then the whole `sdannc compile` (ONNX load, passes, backend steps, report, image writing) runs in a
process of its own, whose peak resident memory (ru_maxrss) is the compile's alone, and which the
parent stops when its resident memory passes --limit-gb (default 14: the machine is shared; the
child is also the first the kernel's out-of-memory killer takes).

Prints, per model, the wall and CPU seconds and the peak memory of the whole compile and when each
stage ended (each pass and backend step, the report, the image written; also on stderr as they
happen), the synapses (of every layer's cores: every weight applied to every input it sees,
backend/synapses.py), and at the end the slope of time and peak memory against synapses over the
ResNet-18 family (least squares), as JSON lines and a table.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FAMILY = ["resnet18:64", "resnet18:128", "resnet18:224"]
DEFAULT = FAMILY + ["vgg16_224"]
TARGET = str(HERE / "targets" / "darwin3-large.yaml")


def _rss_mb() -> float:
    """This process's resident memory now (ru_maxrss is the peak)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _model(spec: str):
    sys.path.insert(0, str(HERE))
    import models as bench_models  # bench/models.py

    if spec.startswith("resnet18:"):
        return bench_models.resnet18(int(spec.split(":")[1]), 1000)
    if spec.startswith("vgg16:"):
        return bench_models.vgg16(int(spec.split(":")[1]))
    return getattr(bench_models, spec)()


def _prepare(spec: str) -> None:
    """A child: quantize (once) and print the quantized model's path."""
    sys.path.insert(0, str(HERE))
    import models as bench_models

    path, _ = bench_models.quantized(_model(spec), HERE / "out" / "models", samples=2)
    print(path)


def prepare(spec: str) -> str:
    """The quantized model's path, quantizing it (once) in a process of its own."""
    return subprocess.run([sys.executable, __file__, "--prepare", spec], check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]


def _compile_alone(spec: str, model: str, target_name: str) -> None:
    """A child: the whole compile as `sdannc compile` runs it (compiler.compile_model), stage by stage."""
    from sdannc.backend.synapses import layer_synapses
    from sdannc.compiler import compile_in_memory, compile_inputs
    from sdannc.fileio import json_bytes
    from sdannc.image import write_image

    stages, start, cpu = [], time.perf_counter(), time.process_time()

    def mark(name: str, _state=None) -> None:
        stages.append({"stage": name, "end_s": round(time.perf_counter() - start, 2),
                       "cpu_s": round(time.process_time() - cpu, 2), "rss_mb": round(_rss_mb()),
                       "peak_mb": round(_peak_mb())})
        print(f"  {spec}: {name} done at {stages[-1]['end_s']} s ({stages[-1]['cpu_s']} s CPU), "
              f"{stages[-1]['rss_mb']} MB resident", file=sys.stderr, flush=True)  # seen even if the run is stopped

    target, plan, calib = compile_inputs(target_name)
    mark("target")
    compiled = compile_in_memory(model, target, calib, observe=mark, plan=plan)
    image, report = compiled.image, compiled.report
    mark("report")
    with tempfile.TemporaryDirectory() as out:
        write_image(image, Path(out) / "image", extra={"report.json": json_bytes(report)})
        mark("write image")
        image_mb = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file()) / 2 ** 20
    row = {"model": spec, "target": Path(target_name).stem, "seconds": round(time.perf_counter() - start, 2),
           "cpu_seconds": round(time.process_time() - cpu, 2),
           "peak_mb": round(_peak_mb()), "cores": report["cores_used"], "neurons": report["neurons"],
           "synapses": int(sum(layer_synapses(layer) for layer in compiled.layers.values())),
           "macs": int(sum(layer["macs"] for layer in report["layers"])), "image_mb": round(image_mb, 1),
           "stages": stages}
    print(json.dumps(row), flush=True)


def _watched(command: list[str], limit_mb: float) -> tuple[int, str, float]:
    """Run a child, stopping it if its resident memory passes limit_mb; (exit code, stdout, seconds)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        child = subprocess.Popen(command, stdout=out)
        try:  # on a shared machine short of memory, the kernel stops this compile before anyone else's
            Path(f"/proc/{child.pid}/oom_score_adj").write_text("1000")
        except OSError:
            pass
        while child.poll() is None:
            try:
                with open(f"/proc/{child.pid}/statm") as f:
                    rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
            except (OSError, IndexError, ValueError):
                rss = 0
            if rss > limit_mb:
                child.kill()
                child.wait()
                return -9, f"stopped: resident memory {rss:.0f} MB passed {limit_mb:.0f} MB", time.perf_counter() - start
            time.sleep(0.2)
        out.seek(0)
        return child.returncode, out.read(), time.perf_counter() - start


def slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line y = a + b x: (a, b)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def take_option(args: list[str], name: str, default):
    """The value after `name` in args (removed from them with it), or default."""
    if name in args:
        i = args.index(name)
        value = args[i + 1]
        del args[i:i + 2]
        return value
    return default


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--child"]:
        _compile_alone(*args[1:4])
        return
    if args[:1] == ["--prepare"]:
        _prepare(args[1])
        return

    target = take_option(args, "-t", TARGET)
    limit_mb = float(take_option(args, "--limit-gb", 14)) * 1024
    json_out = take_option(args, "--json", None)
    specs = args or DEFAULT
    rows = []
    for spec in specs:
        path = prepare(spec)
        code, out, seconds = _watched([sys.executable, __file__, "--child", spec, path, target], limit_mb)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        row = json.loads(lines[-1]) if code == 0 and lines else {"model": spec, "error": out.strip()[-300:] or
                                                                 f"exit code {code}", "seconds": round(seconds, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'model':<14} {'synapses':>14} {'neurons':>11} {'cores':>6} {'seconds':>8} {'CPU s':>8} {'peak MB':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['model']:<14} error after {r['seconds']} s: {r['error']}")
            continue
        print(f"{r['model']:<14} {r['synapses']:>14,} {r['neurons']:>11,} {r['cores']:>6} {r['seconds']:>8.1f} "
              f"{r['cpu_seconds']:>8.1f} {r['peak_mb']:>8,}")
    family = [r for r in rows if r["model"] in FAMILY and "error" not in r]
    summary = {}
    if len(family) >= 2:
        xs = [r["synapses"] / 1e9 for r in family]
        for key, unit in (("seconds", "s"), ("cpu_seconds", "s"), ("peak_mb", "MB")):
            a, b = slope(xs, [r[key] for r in family])
            summary[key] = {"intercept": round(a, 2), "per_g_synapses": round(b, 2)}
            print(f"ResNet-18 family: {key} = {a:.1f} {unit} + {b:.1f} {unit} per G synapses")
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps({"rows": rows, "slope": summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
