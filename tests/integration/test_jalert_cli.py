"""`broadcaster parse` tells every format apart; `broadcaster jalert-bridge` fails clearly when misconfigured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "broadcaster.cli", *args], capture_output=True, text=True, timeout=120, check=False)


def test_parse_handles_jma_lalert_cap_and_jalert_in_one_call(corpus: Path) -> None:
    files = [
        SAMPLES / "jma" / "02_vtse41_otsunami_keiho.xml",
        SAMPLES / "lalert" / "anamizu_evacuation_order.xml",
        corpus / "cap" / "examples" / "v1dot2_appendix_adot1.xml",
        SAMPLES / "jalert" / "01_missile_launch.txt",
        SAMPLES / "jalert" / "05_missile_fell_at_sea.json",
        SAMPLES / "jalert" / "07_eew_text_sjis.txt",
    ]
    result = cli("parse", *map(str, files))
    assert result.returncode == 0, result.stderr[-2000:]
    origins = [json.loads(line)["origin"] for line in result.stdout.splitlines()]
    assert origins[0] == "jma" and origins[-3:] == ["jalert", "jalert", "jalert"]
    assert {"lalert", "cap"} <= set(origins)


def test_parse_reports_a_refused_message_and_exits_1() -> None:
    result = cli("parse", str(SAMPLES / "jalert" / "bad_no_status.txt"))
    assert result.returncode == 1
    assert json.loads(result.stdout)["refused"] == "missing_status"


def test_the_bridge_refuses_to_start_without_what_it_needs(tmp_path: Path) -> None:
    missing = cli("jalert-bridge", "--settings", str(tmp_path / "nope.toml"))
    assert missing.returncode == 1 and "bridge settings not found" in missing.stderr
    config = tmp_path / "bridge.toml"
    config.write_text('endpoint = "ftp://x"\nkey_id = "rx"\nsecret = "short"\n', encoding="utf-8")
    bad = cli("jalert-bridge", "--settings", str(config))
    assert bad.returncode == 1
    assert "endpoint must be an http(s) URL" in bad.stderr
    config.write_text('endpoint = "https://x.example/ingest/jalert"\nkey_id = "rx"\nsecret_file = "k"\n', encoding="utf-8")
    idle = cli("jalert-bridge", "--settings", str(config))
    assert idle.returncode == 1 and "nothing to forward" in idle.stderr
    config.write_text('endpoint = "https://x.example/ingest/jalert"\nkey_id = "rx"\nsecret = "short"\nlisten = "127.0.0.1:0"\n', encoding="utf-8")
    weak = cli("jalert-bridge", "--settings", str(config))
    assert weak.returncode == 1 and "at least 32 bytes" in weak.stderr
