"""How every fuzz case is run and judged: the real CLI in-process, in a fresh folder of its own.

A case writes its (malformed) inputs into a new folder, runs one `sdannc` command there and then holds
it to the one property the fuzz module promises: either the command succeeds and its outputs pass the
case's own sanity check, or it refuses the input as a user error (exit code 2, one `sdannc: error:`
line on stderr, no traceback, no uncaught exception) and the folder is exactly as it was before: no
output, no staging file or folder left behind, no input touched. Either way nothing else reaches the
user's terminal: no Python warning, no log record at WARNING or above, no native write to fd 2.

`COUNTS` counts the cases actually run, per category, so that the module can assert how many it threw.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable

from hypothesis import HealthCheck, settings

from cli_checks import assert_user_error_after_progress, new_runner
from sdannc.cli import main

COUNTS: Counter = Counter()
OUTCOMES: Counter = Counter()  # (category, "accepted" | "refused") -> cases, for docs/robustness.md


def fuzz_settings(max_examples: int):
    """Reproducible in CI (derandomize: the same cases every run), no per-case deadline."""
    return settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def user_error_line(result, command: str) -> str:
    """What a refused input looks like on stderr: one `sdannc: error:` line, last, after nothing but the
    command's own progress lines (which start only once its inputs were read and checked)."""
    return assert_user_error_after_progress(result, command)


def snapshot(root: Path) -> dict[str, str | None]:
    """Every path under root, hidden ones included: a file's SHA-256, None for a folder."""
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _logged():
    """What the command logs at WARNING or above: the command line (no handler configured) prints it
    on stderr, while under pytest it would vanish into the log capture."""
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.records
    finally:
        root.removeHandler(handler)


@contextlib.contextmanager
def _fd2():
    """What native code (onnxruntime's C++ log) writes to file descriptor 2 itself, past sys.stderr
    and so past CliRunner: collected here, non-empty bytes only."""
    written: list[bytes] = []
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield written
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            written.extend(data for data in [capture.read()] if data)


def _explain(result) -> str:
    text = f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    if result.exc_info and not isinstance(result.exception, SystemExit):
        text += "\n" + "".join(traceback.format_exception(*result.exc_info))
    return text


class Case:
    """One fuzz case: a fresh folder under `root`, removed again when the case ends."""

    def __init__(self, root: Path, category: str) -> None:
        self.category = category
        self.dir = Path(tempfile.mkdtemp(dir=root, prefix="case-"))

    def __enter__(self) -> "Case":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name: str) -> Path:
        return self.dir / name

    def write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def check(self, args: list, outputs: list[str], ok: Callable[[], None]):
        """Run `sdannc *args` and judge it; `outputs` are the names (in this folder) the command may
        create, `ok()` checks them after a success. Returns the CliRunner result."""
        COUNTS[self.category] += 1
        before = snapshot(self.dir)
        with warnings.catch_warnings(record=True) as caught, _logged() as logged, _fd2() as native:
            warnings.simplefilter("always")  # a warning is more lines on the user's stderr
            result = new_runner().invoke(main, [str(a) for a in args])
        after = snapshot(self.dir)
        assert "Traceback" not in result.stdout + result.stderr, _explain(result)
        assert not caught, [str(w.message) for w in caught]
        assert not logged, [r.getMessage()[:200] for r in logged]
        assert not native, native[0][:300]
        OUTCOMES[self.category, "accepted" if result.exit_code == 0 else "refused"] += 1
        if result.exit_code == 0:
            made = set(after) - set(before)
            stray = sorted(n for n in made if not any(n == o or n.startswith(o + "/") for o in outputs))
            assert not stray, ("left behind besides the outputs", stray)
            assert {k: v for k, v in after.items() if k in before} == before, "an input was changed"
            ok()
        else:
            assert isinstance(result.exception, SystemExit), _explain(result)
            user_error_line(result, str(args[0]))
            assert after == before, ("a refused command changed its folder", set(after) ^ set(before))
        return result
