"""Shared by the command-line tests: running the CLI in-process, and what a user error must look like."""

from pathlib import Path
from types import SimpleNamespace

from click.testing import CliRunner

from sdannc.cli import main


def new_runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def invoke(*args):
    """`sdannc ARGS...` in-process (arguments may be paths); stdout and stderr kept apart."""
    return new_runner().invoke(main, [str(a) for a in args])


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under root, hidden ones included (relative path -> bytes, folders None)."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def assert_ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)


def assert_user_error(result, *fragments: str) -> str:
    """Exit code 2, one line on stderr starting `sdannc: error:`, no traceback, every fragment in it."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)  # not an uncaught exception
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.endswith("\n")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sdannc: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def progress_lines(result, command: str) -> list[str]:
    """Stderr of a command that worked, where stderr is not a terminal (as in CliRunner): nothing but
    its plain progress lines, each `sdannc: <command>: ...`; returns them."""
    lines = result.stderr.splitlines()
    for line in lines:
        assert line.startswith(f"sdannc: {command}: "), result.stderr
    return lines


def assert_user_error_after_progress(result, command: str, *fragments: str) -> str:
    """A user error that can only arise once the work has begun (a placement or memory limit): the
    command's progress lines may come first, then the error, as assert_user_error wants it, last."""
    lines = result.stderr.splitlines(keepends=True)
    progress_lines(SimpleNamespace(stderr="".join(lines[:-1])), command)
    return assert_user_error(SimpleNamespace(exit_code=result.exit_code, exception=result.exception,
                                             stdout=result.stdout, stderr="".join(lines[-1:])), *fragments)
