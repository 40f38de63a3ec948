"""Checksums of every chip image the tests' and the bench's models compile to: proof that a change
which should not change what the compiler emits does not.

    python bench/image_checksums.py OUT.json [--repo DIR] [--work DIR] [--only TEXT]
    python bench/image_checksums.py --compare BEFORE.json AFTER.json

Compiles every model family of tests/models.py in every variant (QDQ / QOperator, per tensor / per
channel, uint8 / int8) for darwin3 and darwin3-wide, each without and with a RoT / DRLO config and
without and with --calib; the example model; VGG-11 32x32 and ResNet-18 64x64 of bench/models.py
for darwin3 and bench/targets/darwin3-longroutes.yaml, the same four ways; and the hand-built images
of tests/handbuilt.py. OUT.json holds one sha256 per file of each image folder (manifest.json,
report.json, every core file), or the error a compile ended with.

`--repo DIR` runs the sdannc, tests/ and bench/ of another checkout (e.g. a `git worktree` of the
commit before a change) with this script; `--work DIR` keeps the quantized models there and reuses
them, so that two runs compile the very same ONNX files; `--only TEXT` keeps the cases whose name
contains TEXT. `--compare` prints the cases that differ and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = ("darwin3", "darwin3-wide")
SPARSIFY_CONFIG = "sparsify:\n  default: {rot: 2, drlo: 3}\n"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="where the checksums go (JSON)")
    parser.add_argument("--repo", type=Path, default=HERE.parent, help="the checkout whose sdannc compiles")
    parser.add_argument("--work", type=Path, help="a folder for the quantized models, reused when present")
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    return parser.parse_args()


def _module(name: str, path: Path):
    """tests/models.py and bench/models.py are both `models`: loaded by path under names of their own."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def folder_checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _save_npy(path: Path, array) -> Path:
    import numpy as np

    if not path.exists():
        np.save(path, np.asarray(array, dtype=np.float32))
    return path


def onnx_cases(repo: Path, work: Path):
    """(name, model path, calibration .npy, targets) of every model to compile."""
    tests_models = _module("sdannc_test_models", repo / "tests" / "models.py")
    for family in tests_models.FLOAT_MODELS:
        model = tests_models.float_model(family)
        calib = _save_npy(work / f"{family}_calib.npy", tests_models.calib_set(model))
        for variant in tests_models.variants():
            name = f"{family}/{tests_models.variant_id(variant)}"
            path = work / f"{family}-{tests_models.variant_id(variant)}.onnx"
            if not path.exists():
                quantized = tests_models.quantize(model, None, *variant, out_dir=work / "quantize",
                                                  **tests_models.QUANTIZE_OPTIONS.get(family, {}))
                quantized.replace(path)
            yield name, path, calib, TARGETS
    example = {}
    for name in ("digits_mlp_q.onnx", "digits_calib.npy"):  # copied: report.json names the model's path
        example[name] = work / name
        if not example[name].exists():
            shutil.copyfile(repo / "examples" / name, example[name])
    yield "example/digits_mlp", example["digits_mlp_q.onnx"], example["digits_calib.npy"], TARGETS
    bench_models = _module("sdannc_bench_models", repo / "bench" / "models.py")
    for family in ("vgg11", "resnet18"):
        path, x = bench_models.quantized(getattr(bench_models, family)(), work / "bench")
        calib = _save_npy(work / f"{family}_calib.npy", x)
        yield f"bench/{family}", path, calib, ("darwin3", str(repo / "bench" / "targets" / "darwin3-longroutes.yaml"))


def handbuilt_images(repo: Path):
    """The hand-built images of tests/handbuilt.py, as the bench and the tests build them."""
    import numpy as np
    from sdannc.target import load_target

    try:  # tests/handbuilt.py (tests/ is on the path); sdannc/handbuilt.py in a checkout before it moved
        from handbuilt import conv_stem_network, dense_stem_network, random_stem_conv, random_stem_layer
    except ImportError:
        from sdannc.handbuilt import conv_stem_network, dense_stem_network, random_stem_conv, random_stem_layer

    for target_name in TARGETS:
        target = load_target(target_name)
        rng = np.random.default_rng(3)
        layers = [random_stem_layer(rng, 24, 16), random_stem_layer(rng, 16, 6)]
        yield f"handbuilt/dense/{target_name}", dense_stem_network(target, layers, per_core=5)
        yield f"handbuilt/conv/{target_name}", conv_stem_network(target, random_stem_conv(rng, 3, 5), 6, 7)


def compute(args: argparse.Namespace) -> dict:
    repo = args.repo.resolve()
    for sub in ("", "tests", "bench"):  # the checkout's sdannc first, and its test and bench helpers
        sys.path.insert(0, str(repo / sub))
    import sdannc
    from sdannc.compiler import compile_model
    from sdannc.errors import SdanncError
    from sdannc.image import write_image

    if not Path(sdannc.__file__).resolve().is_relative_to(repo):
        raise SystemExit(f"sdannc came from {sdannc.__file__}, not from {repo}")
    work = (args.work or Path(tempfile.mkdtemp(prefix="sdannc-checksums-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)
    config = work / "sparsify.yaml"
    config.write_text(SPARSIFY_CONFIG)
    results, start = {}, time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sdannc-images-") as scratch:
        out = Path(scratch) / "image"
        for name, path, calib, targets in onnx_cases(repo, work):
            for target in targets:
                for sparsify in (False, True):
                    for with_calib in (False, True):
                        case = (f"{name}/{Path(target).stem}/{'rot2drlo3' if sparsify else 'plain'}/"
                                f"{'calib' if with_calib else 'nocalib'}")
                        if args.only not in case:
                            continue
                        try:  # the model named relative to --work: report.json records its path
                            compile_model(path.relative_to(work), target, out, force=True,
                                          calib_path=calib.relative_to(work) if with_calib else None,
                                          config_path=config if sparsify else None)
                            results[case] = folder_checksums(out)
                        except SdanncError as exc:
                            results[case] = {"error": str(exc)}
                        print(f"{time.perf_counter() - start:7.1f} s  {case}", flush=True)
        for case, image in handbuilt_images(repo):
            if args.only in case:
                write_image(image, out, force=True)
                results[case] = folder_checksums(out)
    return {"repo": str(repo), "images": sum("error" not in r for r in results.values()),
            "errors": sum("error" in r for r in results.values()), "cases": results}


def compare(before_path: Path, after_path: Path) -> int:
    before, after = (json.loads(p.read_text())["cases"] for p in (before_path, after_path))
    differ = sorted(c for c in set(before) | set(after) if before.get(c) != after.get(c))
    for case in differ:
        old, new = before.get(case, {}), after.get(case, {})
        files = sorted(f for f in set(old) | set(new) if old.get(f) != new.get(f))
        print(f"differs: {case}: {', '.join(files) if old and new else 'only in one'}")
    files = sum(len(c) for c in before.values())
    print(f"{len(before)} cases ({files} files) before, {len(after)} after: "
          + (f"{len(differ)} differ" if differ else "identical"))
    return 1 if differ else 0


def main() -> None:
    args = _arguments()
    if args.compare:
        raise SystemExit(compare(*args.compare))
    if args.out is None:
        raise SystemExit("give OUT.json (or --compare BEFORE AFTER)")
    result = compute(args)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"{result['images']} images, {result['errors']} compile errors: {args.out}")


if __name__ == "__main__":
    main()
