"""Where the ISA and target descriptions live, in a source checkout and in an installed wheel."""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The folder `isa` or `targets`: packaged copy first (wheel), then the repository root (editable)."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"sdannc installation is missing its '{name}' folder (looked in {_PACKAGE_DIR})")
