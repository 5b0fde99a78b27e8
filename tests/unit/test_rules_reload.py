"""Hot reload: edits take effect without a restart; a bad or half-written edit never does."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from broadcaster.errors import ConfigError
from broadcaster.model import Kind, Status
from broadcaster.rules.library import RuleLibrary
from broadcaster.settings import DEFAULT_CHANNELS
from tests.rules_helpers import write_rules
from tests.unit.test_rules_properties import _alert

DEFAULT = "  - name: 既定\n    default: true\n    channels: [website]\n"


def _rules(template: str, n: int = 1) -> str:
    body = "".join(
        f"  - name: r{i}\n    match: {{kind: notice}}\n    channels: [website]\n"
        f"    audience: officers:g{i}\n    template: {template}\n    continue: {str(i < n - 1).lower()}\n"
        for i in range(n)
    )
    # The default comes last, so that a file cut short anywhere is refused for lacking one.
    return "rules:\n" + body + DEFAULT


def _touch_later(path: Path) -> None:
    # Some file systems keep mtime in whole seconds; make each edit visibly newer.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _library(tmp_path: Path, text: str) -> tuple[RuleLibrary, Path]:
    path = write_rules(tmp_path / "town", text)
    return RuleLibrary(tmp_path, {"town": []}, DEFAULT_CHANNELS, settle_s=0.5), path


def _template(library: RuleLibrary) -> str:
    decisions = library.get("town").decide(_alert(Kind.NOTICE, Status.ACTUAL))
    return decisions[0].template


def test_an_edit_is_applied_once_the_file_has_settled(tmp_path: Path) -> None:
    library, path = _library(tmp_path, _rules("v1"))
    before = library.get("town")
    path.write_text(_rules("v2"), encoding="utf-8")
    _touch_later(path)
    assert library.check(at=100.0) == [], "first look: the file may still be being written"
    assert library.check(at=100.2) == [], "not settled yet"
    (event,) = library.check(at=100.6)
    assert event.ok and event.digest == library.get("town").digest != before.digest
    assert _template(library) == "v2"
    assert library.check(at=101.0) == [], "nothing more to do"


def test_an_invalid_edit_is_refused_and_the_last_good_set_stays(tmp_path: Path) -> None:
    library, path = _library(tmp_path, _rules("v1"))
    good = library.get("town")
    path.write_text(_rules("v2").replace("channels: [website]\n    audience", "channels: [pager]\n    audience"), encoding="utf-8")
    _touch_later(path)
    library.check(at=10.0)
    (event,) = library.check(at=11.0)
    assert not event.ok
    assert event.error is not None and f"{path}:2:" in event.error and "pager" in event.error
    assert event.digest == good.digest, "the event reports the set still in force"
    assert library.get("town") is good
    assert library.check(at=12.0) == [], "a refusal is reported once per edit"
    path.write_text(_rules("v3"), encoding="utf-8")
    _touch_later(path)
    library.check(at=20.0)
    (fixed,) = library.check(at=21.0)
    assert fixed.ok and fixed.error is None
    assert _template(library) == "v3"


def test_a_file_still_changing_is_not_read(tmp_path: Path) -> None:
    library, path = _library(tmp_path, _rules("v1"))
    text = _rules("v2", n=3)
    for cut, at in ((len(text) // 3, 1.0), (2 * len(text) // 3, 1.4), (len(text), 1.8)):
        path.write_text(text[:cut], encoding="utf-8")
        _touch_later(path)
        assert library.check(at=at) == [], "the file changed since the last look"
    assert _template(library) == "v1"
    (event,) = library.check(at=2.4)
    assert event.ok and _template(library) == "v2"


def test_a_new_tenant_folder_replaces_the_default_rules(tmp_path: Path) -> None:
    write_rules(tmp_path / "_default", _rules("default"))
    library = RuleLibrary(tmp_path, {"town": []}, DEFAULT_CHANNELS, settle_s=0.0)
    assert _template(library) == "default"
    write_rules(tmp_path / "town", _rules("own"))
    library.check(at=1.0)
    (event,) = library.check(at=2.0)
    assert event.ok and _template(library) == "own"


def test_invalid_rules_at_start_up_are_fatal(tmp_path: Path) -> None:
    write_rules(tmp_path / "town", "rules:\n  - name: a\n    channels: [website]\n")
    with pytest.raises(ConfigError, match="no default rule"):
        RuleLibrary(tmp_path, {"town": []}, DEFAULT_CHANNELS)


def test_no_alert_is_routed_with_a_half_loaded_rule_set(tmp_path: Path) -> None:
    """Edits land (written slowly, in pieces) while another thread routes alerts non-stop.

    Every version has twenty rules that all match, each naming its version as the template. A
    decision list with fewer than twenty entries, or with two versions in it, would be a rule
    set read half-written or swapped halfway through an alert.
    """
    n_rules, versions = 20, 8
    path = write_rules(tmp_path / "town", _rules("v0", n_rules))
    library = RuleLibrary(tmp_path, {"town": []}, DEFAULT_CHANNELS, settle_s=0.05)
    alert = _alert(Kind.NOTICE, Status.ACTUAL)
    done = threading.Event()
    seen: list[tuple[int, frozenset[str]]] = []

    def edit() -> None:
        for v in range(1, versions + 1):
            text = _rules(f"v{v}", n_rules)
            with path.open("w", encoding="utf-8") as f:  # not atomic on purpose
                for i in range(0, len(text), 97):
                    f.write(text[i : i + 97])
                    f.flush()
                    time.sleep(0.0005)
            # Long enough for the file to settle, even on a busy machine.
            time.sleep(0.2)
        time.sleep(0.3)
        done.set()

    def watch() -> None:
        while not done.is_set():
            library.check()
            time.sleep(0.005)
        library.check()
        time.sleep(0.06)
        library.check()

    threads = [threading.Thread(target=edit), threading.Thread(target=watch)]
    for t in threads:
        t.start()
    while not done.is_set():
        decisions = library.get("town").decide(alert)
        seen.append((len(decisions), frozenset(d.template for d in decisions)))
    for t in threads:
        t.join()
    final = library.get("town").decide(alert)
    assert len(seen) > 100
    assert all(n == n_rules and len(templates) == 1 for n, templates in seen), {s for s in seen if s[0] != n_rules}
    order = [int(next(iter(templates))[1:]) for _, templates in seen]
    assert order == sorted(order), "versions only move forward"
    assert len(set(order)) >= 2, "edits were picked up while routing went on"
    assert {d.template for d in final} == {f"v{versions}"}
