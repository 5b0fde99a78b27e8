"""The session-wide check that no credential of the suite reaches any log output.

Hooks (imported into tests/conftest.py):

* every SecretStr / SecretBytes made during the run is remembered (tests/canaries.py), so a
  credential configured anywhere (settings, an adapter, the environment) is known without each
  test registering it;
* after each test, its captured output (stdout, stderr, log records) is searched;
* at the end of the session, so are the log files under the base temporary directory (the logs
  of the `broadcaster` processes the trials start, outbox files of what was "sent").

A finding fails the run (exit status 1) and names the test or file and what kind of secret it
was, never the secret itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic.types
import pytest

from tests.canaries import KNOWN, remember

LOG_SUFFIXES = (".log", ".out", ".err", ".jsonl")
MAX_FILE = 64 * 1024 * 1024
# Secrets shorter or plainer than this ("x", "p" * 40) would match innocent text: only the
# named canaries and real-looking secrets are searched for.
MIN_LEN = 12
MIN_DISTINCT = 6

findings: list[str] = []
stats = {"tests": 0, "files": 0, "bytes": 0}
_installed = False


def install() -> None:
    """Remember the value of every secret the run makes."""
    global _installed
    if _installed:
        return
    _installed = True
    original = pydantic.types._SecretBase.__init__

    def init(self: Any, secret_value: Any) -> None:
        value = secret_value.decode("utf-8", "replace") if isinstance(secret_value, bytes) else secret_value
        if isinstance(value, str) and len(value) >= MIN_LEN and len(set(value)) >= MIN_DISTINCT:
            remember(value, "a SecretStr")
        original(self, secret_value)

    pydantic.types._SecretBase.__init__ = init  # type: ignore[method-assign]


def _searchable() -> list[tuple[str, str]]:
    return [(v, what) for v, what in list(KNOWN.items()) if len(v) >= MIN_LEN and len(set(v)) >= MIN_DISTINCT]


def scan(text: str, where: str) -> list[str]:
    found = [f"{where}: {what}" for value, what in _searchable() if value in text]
    findings.extend(found)
    return found


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        stats["tests"] += 1
    for name, content in report.sections:
        if content:
            scan(content, f"{report.nodeid} ({name})")


def _log_files(base: Path) -> list[Path]:
    out = []
    for path in base.rglob("*"):
        name = path.name.lower()
        if path.is_file() and (name.endswith(LOG_SUFFIXES) or "stdout" in name or "stderr" in name):
            out.append(path)
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = factory.getbasetemp() if factory is not None else None
    if base is not None and Path(base).is_dir():
        for path in _log_files(Path(base)):
            try:
                if path.stat().st_size > MAX_FILE:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            stats["files"] += 1
            stats["bytes"] += len(data)
            scan(data.decode("utf-8", "replace"), str(path.relative_to(base)))
    if findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    tr = terminalreporter
    if findings:
        tr.section("secrets in log output", sep="=", red=True, bold=True)
        for f in sorted(set(findings)):
            tr.write_line(f"FAILED secret scan: {f}")
    else:
        tr.write_line(
            f"secret scan: {len(_searchable())} secrets, output of {stats['tests']} tests and "
            f"{stats['files']} log files ({stats['bytes'] // 1024} KiB): none found"
        )
