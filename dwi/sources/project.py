"""`dwi init DIR`: a new project folder, the way `dbt init` makes one: raw/ with a manifest, warehouse/,
exports/ and a README, from the templates in dwi/reference/project/."""

from __future__ import annotations

import shutil
from pathlib import Path

from dwi.config import REFERENCE_DIR
from dwi.errors import DwiError

TEMPLATES = REFERENCE_DIR / "project"


def init(directory: Path) -> list[Path]:
    """Create the project in `directory` (new or empty); returns the files written."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise DwiError(f"{directory}: exists and is not an empty folder; choose a new folder for the project")
    try:
        for folder in ("raw", "warehouse", "exports"):
            (directory / folder).mkdir(parents=True, exist_ok=True)
        written = [
            shutil.copyfile(TEMPLATES / "manifest.yaml", directory / "raw" / "manifest.yaml"),
            shutil.copyfile(TEMPLATES / "README.md", directory / "README.md"),
            shutil.copyfile(TEMPLATES / "gitignore", directory / ".gitignore"),
        ]
    except OSError as exc:
        raise DwiError(f"cannot create the project in {directory}: {exc.strerror or exc}") from None
    return [Path(p) for p in written]
