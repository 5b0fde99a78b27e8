"""Preview: one alert on every channel and in every language, with lengths and splits."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from broadcaster.cli import main
from broadcaster.render.languages import SUPPORTED
from broadcaster.render.preview import PREVIEW_CHANNELS, preview
from tests.render_support import PUBLIC_URL, ROOT, made, renderer, sample


def test_a_row_per_channel_and_language_each_within_its_limit() -> None:
    alert = sample("jma/02_vtse41_otsunami_keiho.xml")
    rows = preview(alert, renderer(), tenant="anamizu", tenant_name="穴水町", public_url=PUBLIC_URL)
    assert len(rows) == len(PREVIEW_CHANNELS) * len(SUPPORTED)
    assert all(r.fits and r.fallback is None for r in rows)
    x_ja = next(r for r in rows if r.channel == "x" and r.language == "ja")
    assert x_ja.unit == "x" and x_ja.limit == 280 and x_ja.lengths[0] <= 280
    vi = next(r for r in rows if r.channel == "line" and r.language == "vi")
    assert vi.served == "vi" and vi.unreviewed, "machine drafts are flagged for the console"
    assert vi.flex is not None


def test_a_long_officer_text_shows_its_split_and_its_cut() -> None:
    alert = made("evacuation", level=4, description="川島地区では土砂災害の危険が高まっています。" * 60)
    rows = preview(alert, renderer(), tenant="anamizu", tenant_name="穴水町", public_url=PUBLIC_URL, channels=["x", "line", "app_push"], languages=["ja"])
    by = {r.channel: r for r in rows}
    assert by["line"].fits and len(by["line"].parts) == 1
    assert by["app_push"].fits
    assert all(r.fits for r in rows)
    assert by["x"].lengths and max(by["x"].lengths) <= 280


def test_the_command_prints_the_table_and_fails_on_a_broken_template(tmp_path: Path) -> None:
    runner = CliRunner()
    config = ROOT / "config" / "demo.toml"
    r = runner.invoke(main, ["-c", str(config), "preview", str(ROOT / "samples/jma/13_vtse41_kunren.xml"), "--channel", "x", "--channel", "line", "--lang", "ja", "--lang", "vi", "--full"])
    assert r.exit_code == 0, r.output
    assert "x          ja" in r.output and "【訓練】" in r.output
    r = runner.invoke(main, ["-c", str(config), "preview", str(ROOT / "samples/manual/evacuation_order.json"), "--tenant", "anamizu", "--channel", "sms", "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert {row["language"] for row in rows} == set(SUPPORTED)
    assert all(row["fits"] for row in rows)

    broken = tmp_path / "templates" / "x"
    broken.mkdir(parents=True)
    (broken / "default.ja.j2").write_text("{{ nonsense.field }}", encoding="utf-8")
    cfg = tmp_path / "b.toml"
    # Top-level keys go before the first [table]; paths in the demo config are relative to it.
    demo = config.read_text(encoding="utf-8")
    top = f'templates_dir = "{tmp_path / "templates"}"\nvar_dir = "{tmp_path / "var"}"\ntenants_dir = "{ROOT / "config" / "tenants"}"\n'
    cfg.write_text(top + demo[demo.index("[") :], encoding="utf-8")
    r = runner.invoke(main, ["-c", str(cfg), "preview", str(ROOT / "samples/jma/02_vtse41_otsunami_keiho.xml"), "--channel", "x", "--lang", "ja"])
    assert r.exit_code == 1 and "TEMPLATE FAILED" in r.output


def _preview(sample_file: str, tenant: str) -> Result:
    return CliRunner().invoke(
        main,
        ["preview", str(ROOT / "samples/jma" / sample_file), "--tenant", tenant, "--channel", "line", "--lang", "ja", "--full"],
        env={"BROADCASTER_TENANTS_DIR": str(ROOT / "config" / "tenants")},
    )


def test_preview_refuses_a_tenant_the_deployment_does_not_serve() -> None:
    r = _preview("07_vpww55_ooame_r06.xml", "nanao")
    assert r.exit_code == 1 and "unknown tenant 'nanao'; tenants: anamizu, noto, wajima" in r.output, r.output
    assert "【nanao】" not in r.output


def test_preview_shows_only_what_the_town_receives_as_route_and_replay_make_it() -> None:
    r = _preview("07_vpww55_ooame_r06.xml", "anamizu")
    assert r.exit_code == 0, r.output
    # The town's own gravest warning (level 3 here, level 4 next door) and nothing of other towns.
    assert "【穴水町】レベル３大雨警報\n状況：発表\n" in r.output
    assert "七尾市" not in r.output and "輪島市" not in r.output
    # 能登町 is not among the towns of this 土砂災害警戒情報: it receives nothing, and is told so.
    r = _preview("11_vxww50_dosha.xml", "noto")
    assert r.exit_code == 1 and "reaches no one in 能登町 (noto)" in r.output, r.output
    assert "【能登町】" not in r.output
