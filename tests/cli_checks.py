"""Checks shared by the command-line tests: what a user error must look like."""


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
