"""`sdannc eval`: a set of inputs sharded over Dask workers gives the outputs and counters of one
simulation of the whole set, byte-identical result files with 1 or 2 workers, after a lost worker,
and after an interrupted run resumed; a changed input is never mixed into an earlier run.

The files compared are every file of the result folder but timing.json (the host's wall time).
The small hand-built image (conftest) keeps each cluster's work to a fraction of a second; starting
a local cluster costs a few seconds of each test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sdannc
from cli_checks import assert_user_error, invoke, tree
from conftest import build_small_image, small_layers
from models import ort_run
from sdannc.errors import SdanncError
from sdannc.evaluation import cluster as cluster_module
from sdannc.image import write_image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES, SHARD = 22, 4  # 6 shards, the last one short
TIMING = "timing.json"


@pytest.fixture
def data(tmp_path):
    image = tmp_path / "image"
    write_image(build_small_image(small_layers()), image)
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, size=(SAMPLES, 20)).astype(np.uint8)
    labels = rng.integers(0, 5, size=SAMPLES).astype(np.int64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    return image, tmp_path / "x.npy", tmp_path / "y.npy"


def results(out: Path) -> dict[str, bytes | None]:
    files = tree(out)
    files.pop(TIMING)
    return files


def run(data, out, **options):
    image, x, y = data
    return sdannc.evaluate(image, x, out, labels=y, shard_size=SHARD, **options)


@pytest.fixture
def baseline(data, tmp_path):
    """One worker's run, the one every other run must equal."""
    result = run(data, tmp_path / "one", workers=1)
    return result, results(tmp_path / "one")


def test_two_workers_give_the_files_of_one_and_the_counts_of_one_whole_simulation(data, baseline, tmp_path):
    result, files = baseline
    two = run(data, tmp_path / "two", workers=2)
    assert results(tmp_path / "two") == files
    assert two.timing["workers"] == 2 and two.timing["shards_run"] == 6
    # the shards merged: what one simulation of the whole set gives, outputs and integer counters
    image, x, y = data
    whole = sdannc.simulate(image, x)
    assert np.array_equal(np.load(tmp_path / "two" / "outputs.npy"), whole.outputs)
    s = json.loads((tmp_path / "two" / "summary.json").read_bytes())
    assert s["samples"] == SAMPLES and s["shards"] == 6
    assert [(r["layer"], r["spikes_by_bit"], r["sops"]) for r in s["layers"]] == \
        [(name, row["spikes_by_bit"], row["sops"]) for name, row in whole.report["layers"].items()]
    assert s["totals"]["spikes"]["in_sample_windows"] == whole.report["spikes"]["in_sample_windows"]
    assert s["totals"]["sops"]["in_sample_windows"] == whole.report["synaptic_ops"]["in_sample_windows"]
    assert s["per_sample"]["sops"] == whole.report["synaptic_ops"]["per_sample"]
    labels = np.load(y)
    assert s["accuracy"]["correct"] == int((whole.outputs.argmax(axis=1) == labels).sum())
    # each shard ran as a stream of its own: the totals add every shard's own pipeline fill and drain
    shards = [sdannc.simulate(image, np.load(x)[a:a + SHARD]).report for a in range(0, SAMPLES, SHARD)]
    assert s["totals"]["sops"]["total"] == sum(r["synaptic_ops"]["total"] for r in shards)
    assert s["chip"]["cycles"] == sum(r["cycles"] for r in shards)


def test_a_lost_worker_s_shards_are_run_again_and_nothing_is_counted_twice(data, baseline, tmp_path):
    from distributed import Client, LocalCluster

    _, files = baseline
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=50) as local:
        # the workers' pids, then no client of the test's own beside eval's: two clients in one
        # process may share futures' events across their event loops (a flaky RuntimeError)
        with Client(local) as client:
            pids = list(client.run(os.getpid).values())

        def kill_a_busy_worker(done, total):
            if done == 1 and not killed:  # both workers hold shards then (two in flight each): one is lost
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        result = run(data, tmp_path / "lost", scheduler=local.scheduler_address, progress=kill_a_busy_worker)
        assert killed
    assert results(tmp_path / "lost") == files
    assert result.timing["shards_run"] == 6


class Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes_and_runs_only_the_shards_not_done(data, baseline, tmp_path):
    _, files = baseline
    out = tmp_path / "resumed"

    def stop_after_two(done, total):
        if done >= 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        run(data, out, workers=1, progress=stop_after_two)
    done = sorted(p.name for p in (out / "shards").iterdir())
    assert 2 <= len(done) < 6 and not (out / "outputs.npy").exists()
    # a temporary file of a shard being written when the run died, and a damaged shard file: never read
    (out / "shards" / ".000005.json.x.tmp").write_bytes(b"{")
    damaged = out / "shards" / done[0]
    damaged.write_bytes(damaged.read_bytes()[:-40])
    resumed = run(data, out, workers=1)
    assert resumed.timing["shards_resumed"] == len(done) - 1
    assert resumed.timing["shards_run"] == 6 - len(done) + 1
    assert results(out) == files


def test_a_killed_client_process_resumes(data, baseline, tmp_path):
    """The client (the `sdannc eval` process) is killed after its first shard; the cluster lives on."""
    from distributed import Client, LocalCluster

    _, files = baseline
    image, x, y = data
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "sdannc", "eval", str(image), "--input", str(x), "--labels", str(y),
               "--shard-size", "1", "-o", str(out)]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": ":0"}, silence_logs=50) as local, Client(local):
        client = subprocess.Popen(command + ["--scheduler", local.scheduler_address], stderr=subprocess.PIPE,
                                  text=True, cwd=tmp_path)
        first = client.stderr.readline()
        client.kill()
        client.wait()
        client.stderr.close()
    assert first.startswith("sdannc: eval: "), first
    assert (out / "manifest.json").is_file() and not (out / "summary.json").exists()
    finished = len(list((out / "shards").glob("*.json")))
    assert 1 <= finished < SAMPLES
    resumed = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{finished} shards resumed" in resumed.stdout or finished == SAMPLES
    one = sdannc.evaluate(image, x, tmp_path / "one_by_one", labels=y, shard_size=1, workers=1)
    assert results(out) == results(tmp_path / "one_by_one")
    assert np.array_equal(one.outputs, np.load(tmp_path / "one" / "outputs.npy"))


def test_a_changed_input_refuses_to_resume_and_force_starts_over(data, baseline, tmp_path):
    image, x, y = data
    out = tmp_path / "one"
    before = tree(out)
    changed = np.load(x)
    changed[5] = 255 - changed[5]
    np.save(tmp_path / "x2.npy", changed)
    with pytest.raises(SdanncError, match=r"holds an evaluation of other inputs \(the input differ"):
        sdannc.evaluate(image, tmp_path / "x2.npy", out, labels=y, shard_size=SHARD, workers=1)
    assert tree(out) == before
    with pytest.raises(SdanncError, match=r"the shard size differ"):
        sdannc.evaluate(image, x, out, labels=y, shard_size=SHARD + 1, workers=1)
    fresh = sdannc.evaluate(image, tmp_path / "x2.npy", tmp_path / "fresh", labels=y, shard_size=SHARD, workers=1)
    forced = sdannc.evaluate(image, tmp_path / "x2.npy", out, labels=y, shard_size=SHARD, workers=1, force=True)
    assert forced.timing["shards_resumed"] == 0
    assert results(out) == results(tmp_path / "fresh")
    assert not np.array_equal(fresh.outputs, baseline[0].outputs)


def test_the_command_prints_progress_lines_only_and_its_summary(data, tmp_path):
    """Run as a user runs it, with two local workers: stderr holds our progress lines and nothing of Dask's."""
    image, x, y = data
    out = tmp_path / "cli"
    done = subprocess.run([sys.executable, "-m", "sdannc", "eval", str(image), "--input", str(x), "--labels", str(y),
                           "--workers", "2", "--shard-size", str(SHARD), "-o", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("sdannc: eval: ") for line in lines), done.stderr
    assert lines[-1] == "sdannc: eval: 100% (6/6 shards)"
    s = json.loads((out / "summary.json").read_bytes())
    assert f"{SAMPLES} samples in 6 shards: accuracy {100 * s['accuracy']['fraction']:.2f}%" in done.stdout
    page = (out / "index.html").read_text()
    for i, row in enumerate(s["layers"]):
        assert f'data-key="layers.{i}.sops_per_sample"' in page and row["layer"] in page


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The bundled digits MLP compiled, with 40 of its inputs and their labels."""
    where = tmp_path_factory.mktemp("digits")
    model = ROOT / "examples" / "digits_mlp_q.onnx"
    sdannc.compile(model).save(where / "image")
    np.save(where / "x.npy", np.load(ROOT / "examples" / "digits_input.npy")[:40])
    np.save(where / "y.npy", np.load(ROOT / "examples" / "digits_labels.npy")[:40])
    return where, model


def test_agreement_with_onnxruntime_counts_what_the_reference_gives(digits, tmp_path):
    where, model = digits
    result = sdannc.evaluate(where / "image", where / "x.npy", tmp_path / "out", labels=where / "y.npy",
                             reference=model, shard_size=16, workers=1)
    x, labels = np.load(where / "x.npy"), np.load(where / "y.npy")
    expected = ort_run(model, x)
    r = result.summary["reference"]
    assert r["mode"] == "exact" and r["elements"] == expected.size
    assert r["equal_elements"] == int((result.outputs == expected).sum())
    assert r["top1_agree"] == int((result.outputs.argmax(1) == expected.argmax(1)).sum())
    assert r["identical_samples"] == int((result.outputs == expected).all(axis=1).sum())
    assert result.summary["accuracy"]["correct"] == int((result.outputs.argmax(1) == labels).sum())


def test_bad_inputs_are_one_line_and_write_nothing(data, tmp_path, monkeypatch):
    image, x, y = data
    out = tmp_path / "never"
    np.save(tmp_path / "short.npy", np.load(y)[:-1])
    np.save(tmp_path / "wide.npy", np.zeros((3, 21), dtype=np.uint8))
    assert_user_error(invoke("eval", image, "--input", x, "--labels", tmp_path / "short.npy", "-o", out),
                      f"{SAMPLES - 1} labels for {SAMPLES} input samples")
    assert_user_error(invoke("eval", image, "--input", tmp_path / "wide.npy", "-o", out),
                      "shape (3, 21) does not match the image")
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT_S", 1)
    assert_user_error(invoke("eval", image, "--input", x, "--scheduler", "tcp://127.0.0.1:9", "-o", out),
                      "--scheduler tcp://127.0.0.1:9: cannot connect to a Dask scheduler")
    assert_user_error(invoke("eval", image, "--input", x, "--workers", "2", "--scheduler", "tcp://127.0.0.1:9",
                             "-o", out), "not both")
    assert_user_error(invoke("eval", image, "--input", x, "-o", image), "which this command reads (IMAGE_DIR)")
    assert not out.exists()
