"""The layering contracts of pyproject.toml hold (docs/architecture.md, *Layers*)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from broadcaster.settings import PROJECT_ROOT


def test_the_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
