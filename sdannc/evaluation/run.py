"""The evaluation's run: check everything, plan the shards, resume what a folder already holds, run the
rest on the cluster a few shards ahead of the writer, write each shard as it comes, then the merged results.

Nothing is counted twice: a shard is one task whose result is written once, under its index, and the
merge reads the shard files in input order; a task whose worker was lost is run again by Dask.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import SdanncError
from ..fileio import MANIFEST, array_bytes, check_output_folder, json_bytes, save_all
from ..version import __version__
from . import plan as P
from .summary import concatenate, render, summarize

OUTPUTS, SUMMARY, PAGE, TIMING = "outputs.npy", "summary.json", "index.html", "timing.json"
AHEAD = 2  # tasks in flight per worker: enough to keep each one busy, few inputs held in memory


@dataclass
class Job:
    image: object  # ChipImage
    image_name: str
    x: np.ndarray
    input_name: str
    labels: np.ndarray | None
    reference: bytes | None
    reference_name: str | None
    reference_info: dict | None
    engine: str
    threads: int | None
    shard_size: int
    simulate: Callable  # sdannc.simulate: what each worker runs a shard with


@dataclass
class EvalResult:
    outputs: np.ndarray
    summary: dict
    timing: dict


def check_labels(labels: np.ndarray, name: str, samples: int) -> np.ndarray:
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise SdanncError(f"labels {name}: shape {tuple(labels.shape)}, dtype {labels.dtype}: give one integer "
                          "class per sample (a 1-D integer array)")
    if len(labels) != samples:
        raise SdanncError(f"labels {name}: {len(labels)} labels for {samples} input samples: give one per sample")
    return labels


def _prepare(out: Path, manifest: dict, force: bool) -> bool:
    """Make out ready for this run; True when it resumes an earlier one (same manifest)."""
    found = P.read_manifest(out)
    if found is not None and found == manifest:
        (out / P.SHARDS).mkdir(exist_ok=True)
        P.remove_stale(out)
        return True
    if found is not None and not force:
        raise SdanncError(f"{out}: holds an evaluation of other inputs ({', '.join(P.differences(found, manifest))} "
                          "differ): pass --force to start over, or choose another folder")
    if out.exists():
        shutil.rmtree(out)  # check_output_folder allowed it: empty, or replaced with --force
    (out / P.SHARDS).mkdir(parents=True)
    P.write_atomic(out / MANIFEST, json_bytes(manifest))
    return False


def evaluate(job: Job, out: Path, *, workers: int | None, scheduler: str | None, force: bool,
             inputs: dict, progress: Callable[[int, int], None] | None) -> EvalResult:
    from .cluster import cluster

    check_output_folder(out, P.FORMAT, force, inputs)
    from ..image.store import image_files

    digests = {"image": P.files_digest(image_files(job.image)), "input": P.array_digest(job.x),
               "labels": P.array_digest(job.labels) if job.labels is not None else None,
               "reference": P.files_digest({"model.onnx": job.reference}) if job.reference is not None else None}
    plan = P.Plan(len(job.x), job.shard_size)
    manifest = P.manifest(plan, digests, job.engine, __version__)
    run = P.run_digest(manifest)
    started = time.monotonic()
    with cluster(workers, scheduler) as client:  # a bad address fails here, before the folder is touched
        resumed = _prepare(out, manifest, force)
        records: dict[int, dict] = {}
        todo = []
        for index in range(plan.shards):
            a, b = plan.bounds(index)
            record = P.read_shard(out, index, run, (a, b), P.array_digest(job.x[a:b])) if resumed else None
            if record is not None:
                records[index] = record
            else:
                todo.append(index)
        if progress is not None:
            progress(len(records), plan.shards)
        if todo:
            _run_shards(client, job, out, plan, run, todo, records, progress)
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
    wall = time.monotonic() - started
    ordered = [records[i] for i in range(plan.shards)]
    outputs = concatenate(ordered)
    info = {"image": job.image_name, "input": job.input_name, "engine": job.engine, "shards": plan.shards,
            "shard_size": plan.shard_size, "reference_info": job.reference_info or {}}
    summary = summarize(ordered, info, job.image.target)
    run_samples = sum(plan.bounds(i)[1] - plan.bounds(i)[0] for i in todo)
    timing = {"wall_s": wall, "workers": n_workers, "scheduler": scheduler, "shards_run": len(todo),
              "shards_resumed": plan.shards - len(todo), "samples_run": run_samples,
              "samples_per_s": run_samples / wall if wall and run_samples else None}
    save_all({out / OUTPUTS: array_bytes(outputs), out / SUMMARY: json_bytes(summary),
              out / PAGE: render(summary).encode(), out / TIMING: json_bytes(timing)})
    return EvalResult(outputs, summary, timing)


def _run_shards(client, job: Job, out: Path, plan: P.Plan, run: str, todo: list[int], records: dict,
                progress) -> None:
    from distributed import as_completed

    from .work import Loader, run_shard

    client.register_plugin(Loader(run, job.image, job.image_name, job.reference, job.reference_name))
    workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
    pending = list(reversed(todo))
    index_of = {}

    def submit():
        index = pending.pop()
        a, b = plan.bounds(index)
        labels = job.labels[a:b] if job.labels is not None else None
        future = client.submit(run_shard, job.simulate, run, job.x[a:b], labels, job.engine, job.threads,
                               key=f"sdannc-eval-{run[:12]}-{index}", pure=False, retries=0)
        index_of[future.key] = index
        return future

    stream = as_completed([submit() for _ in range(min(len(pending), AHEAD * workers))])
    for future in stream:
        index = index_of.pop(future.key)
        result = _result(future, index)
        a, b = plan.bounds(index)
        x_digest = P.array_digest(job.x[a:b])
        data = P.shard_bytes(run, index, (a, b), x_digest, result)
        P.write_atomic(P.shard_path(out, index), data)
        records[index] = P.read_shard(out, index, run, (a, b), x_digest)
        future.release()
        if pending:
            stream.add(submit())
        if progress is not None:
            progress(len(records), plan.shards)


def _result(future, index: int) -> dict:
    from distributed import KilledWorker

    try:
        return future.result()
    except SdanncError:
        raise
    except KilledWorker as exc:
        raise SdanncError(f"shard {index}: its workers died again and again ({exc}): "
                          "each may lack the memory the image needs; give fewer workers") from None
