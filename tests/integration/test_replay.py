"""`broadcaster replay`: sequences of official telegrams through normalize and route, for towns
spread across Japan (tests/golden/replay/tenants), compared with reviewed golden tables.

A change to parsing, tenancy, the rules, merging or the texts shows up here as a diff of what
each town would be told. To accept a new output after reading it:

    BROADCASTER_UPDATE_GOLDEN=1 pytest tests/integration/test_replay.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from broadcaster.cli.root import main
from broadcaster.replay import render, replay, sequence
from broadcaster.settings import PROJECT_ROOT, Settings, load_settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "replay"
TENANTS = GOLDEN / "tenants"
UPDATE = os.environ.get("BROADCASTER_UPDATE_GOLDEN") == "1"
SAMPLES = PROJECT_ROOT / "samples" / "jma"

# Sequences of official samples (corpus jma/official_samples), by file-name prefix, in order.
CORPUS_SEQUENCES = {
    # 2011-03-11: 大津波警報 on the Pacific, 津波注意報 reaching 石川県, then every one lifted.
    "tohoku_2011": "32-39_11_",
    # A drill (訓練): 和歌山県南方沖, 大津波警報, 沖合の津波観測 (VTSE52), lifted to 津波予報.
    "nankai_drill": "32-39_12_",
    # A drill: 津波注意報 for 伊豆諸島 and Tokyo Bay, then lifted.
    "tokyo_drill": "32-39_13_",
    # 2015-11-14 薩摩半島西方沖: 津波注意報 for the south-west islands, then lifted.
    "satsuma_2015": "38-39_02_",
}

# The project's 石川県 warning samples in both orders of the formats (docs/r06.md): the
# level-based レベル３大雨警報 and the older 大雨警報 of one change, 土砂災害警戒情報, and the
# older format's lift of everything.
R06_SEQUENCES = {
    "r06_older_format_first": [
        "08_vpww54_ooame_h27.xml",
        "07_vpww55_ooame_r06.xml",
        "11_vxww50_dosha.xml",
        "09_vpww54_all_lifted.xml",
    ],
    "r06_level_based_first": [
        "07_vpww55_ooame_r06.xml",
        "08_vpww54_ooame_h27.xml",
        "11_vxww50_dosha.xml",
        "09_vpww54_all_lifted.xml",
    ],
}


def _settings() -> Settings:
    return load_settings(None, tenants_dir=TENANTS)


def _check(case: str, got: str) -> None:
    path = GOLDEN / f"{case}.txt"
    if UPDATE:
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with BROADCASTER_UPDATE_GOLDEN=1 and review it"
    want = path.read_text(encoding="utf-8")
    if got != want:
        diff = "\n".join(
            difflib.unified_diff(want.splitlines(), got.splitlines(), "golden", "now", lineterm="", n=2)
        )
        pytest.fail(f"{case} changed (BROADCASTER_UPDATE_GOLDEN=1 accepts it):\n{diff[:8000]}")


def test_the_test_towns_are_spread_across_japan() -> None:
    names = {t.name for t in _settings().tenants.values()}
    assert {
        "穴水町",
        "輪島市",
        "加賀市",
        "金沢市",
        "占冠村",
        "八丈町",
        "石垣市",
        "網走市",
        "高知市",
        "富士市",
    } <= names


@pytest.mark.parametrize("case", sorted(CORPUS_SEQUENCES))
async def test_corpus_sequence(case: str, corpus: Path) -> None:
    files = sorted((corpus / "jma" / "official_samples").glob(CORPUS_SEQUENCES[case] + "*.xml"))
    assert files, case
    settings = _settings()
    steps = await replay(settings, files)
    got = render(steps, {t.id: t.name for t in settings.tenants.values()})
    _check(case, got)


async def test_project_noto_sequence() -> None:
    """The project's own 2024 Noto telegrams: 震度速報, 大津波警報, 震源・震度, 津波情報, 取消, 訂正."""
    files = sorted(SAMPLES.glob("0[1-6]_*.xml"))
    settings = _settings()
    steps = await replay(settings, files)
    _check("noto_2024_samples", render(steps, {t.id: t.name for t in settings.tenants.values()}))


@pytest.mark.parametrize("case", sorted(R06_SEQUENCES))
async def test_r06_sequence(case: str) -> None:
    settings = _settings()
    steps = await replay(settings, [SAMPLES / name for name in R06_SEQUENCES[case]])
    _check(case, render(steps, {t.id: t.name for t in settings.tenants.values()}))


def test_command_reads_a_folder_in_name_order_and_goes_on_after_a_refusal(tmp_path: Path) -> None:
    seq = tmp_path / "seq"
    seq.mkdir()
    (seq / "02_tsunami.xml").write_bytes((SAMPLES / "02_vtse41_otsunami_keiho.xml").read_bytes())
    (seq / "01_garbled.xml").write_bytes(b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><broken')
    (seq / "03_cancel.xml").write_bytes((SAMPLES / "05_vtse41_torikeshi.xml").read_bytes())
    (seq / "notes.md").write_text("not a telegram", encoding="utf-8")
    assert [p.name for p in sequence([seq])] == ["01_garbled.xml", "02_tsunami.xml", "03_cancel.xml"]
    result = CliRunner().invoke(main, ["replay", str(seq), "--tenants", str(TENANTS)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("== 01_garbled.xml") < out.index("== 02_tsunami.xml") < out.index("== 03_cancel.xml")
    assert "refused: malformed_xml" in out
    # The cancel follows the warning to every town that got it, on every channel it went.
    warning, cancel = out.split("== 03_cancel.xml")
    assert "穴水町 (anamizu-machi)" in cancel and "Cancel" in cancel
    assert "網走市" not in warning and "網走市" not in cancel


def test_preview_renders_a_tsunami_as_the_town_hears_it() -> None:
    result = CliRunner().invoke(
        main,
        [
            "preview",
            str(SAMPLES / "02_vtse41_otsunami_keiho.xml"),
            "--tenant",
            "kaga-shi",
            "--channel",
            "line",
            "--lang",
            "ja",
            "--full",
        ],
        env={"BROADCASTER_TENANTS_DIR": str(TENANTS)},
    )
    assert result.exit_code in (0, 1), result.output
    assert "【加賀市】津波警報\n石川県加賀：津波警報（３ｍ" in result.output


async def test_a_cancel_tells_each_town_what_it_was_told() -> None:
    # The 取消 of a telegram with 大津波警報 on the Noto coast and 津波警報 on the Kaga coast: each
    # town hears that its own warning is cancelled, at the severity it was warned with.
    settings = _settings()
    warning, cancel = await replay(
        settings, [SAMPLES / "02_vtse41_otsunami_keiho.xml", SAMPLES / "05_vtse41_torikeshi.xml"]
    )
    told = {(c.tenant, c.channel): c.severity for c in warning.carried}
    cancelled = {(c.tenant, c.channel): c for c in cancel.carried}
    assert set(cancelled) == set(told)
    for key, c in cancelled.items():
        assert c.severity == told[key], key
    assert "「大津波警報」は取り消されました" in cancelled[("anamizu-machi", "line")].line
    assert "「津波警報」は取り消されました" in cancelled[("kaga-shi", "line")].line
