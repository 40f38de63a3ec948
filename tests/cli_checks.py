"""Checks shared by the command-line tests: what a user error must look like."""

from types import SimpleNamespace


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
