"""The matching rule of one alert per real change (broadcaster/model/change.py), on its own."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broadcaster.model import JST, Status
from broadcaster.model.change import Change, Known, choose

T0 = datetime(2025, 7, 10, 7, 2, 40, tzinfo=JST)


def change(kind: str = "missile", qualifier: str | None = None, at: float = 0, relay: bool = True) -> Change:
    return Change("anamizu", kind, Status.ACTUAL, qualifier, T0 + timedelta(seconds=at), relay, "new", "jalert|new")


def known(cid: str, qualifier: str | None = None, at: float = 0, identified: bool = False) -> Known:
    return Known(cid, f"ev|{cid}", qualifier, T0 + timedelta(seconds=at), identified)


@pytest.mark.parametrize(
    ("new", "have", "joins"),
    [
        # nothing known: a change of its own
        (change(), [], None),
        # a relay without a stage joins the nearest report of the kind
        (change(at=10), [known("a", "launch", 0), known("b", "take_cover", 60)], "a"),
        (change(at=50), [known("a", "launch", 0), known("b", "take_cover", 60)], "b"),
        # a stage joins the same stage, else a report whose stage is not known yet
        (change(qualifier="launch", at=50), [known("a", "launch", 0), known("b", "take_cover", 60)], "a"),
        (change(qualifier="launch", at=5), [known("c", None, 0)], "c"),
        (change(qualifier="passed", at=5), [known("a", "launch", 0)], None),
        # outside the kind's window (missile: 3 minutes)
        (change(at=181), [known("a", None, 0)], None),
        (change(at=-180), [known("a", None, 0)], "a"),
        # an identified report never joins a change an identified report already made
        (change(kind="eew", relay=False, at=5), [known("a", None, 0, identified=True)], None),
        (change(kind="eew", relay=False, at=5), [known("a", None, 0, identified=False)], "a"),
        # a relay joins whatever reported the change first, identified or not
        (change(kind="eew", at=5), [known("a", None, 0, identified=True)], "a"),
        # tsunami grades: 大津波警報 is not 津波注意報; a longer window (10 minutes)
        (change(kind="tsunami", qualifier="大津波警報", at=300), [known("a", "津波注意報", 0)], None),
        (change(kind="tsunami", qualifier="大津波警報", at=300), [known("a", "大津波警報", 0)], "a"),
    ],
)
def test_which_change_a_report_joins(new: Change, have: list[Known], joins: str | None) -> None:
    found = choose(new, have)
    assert (found.change_id if found else None) == joins


@given(
    st.lists(
        st.tuples(st.sampled_from([None, "launch", "take_cover"]), st.integers(-400, 400), st.booleans()),
        max_size=8,
    ),
    st.sampled_from([None, "launch", "take_cover"]),
    st.integers(-400, 400),
)
def test_a_report_only_ever_joins_a_compatible_change_within_the_window(
    have: list[tuple[str | None, int, bool]], qualifier: str | None, at: int
) -> None:
    new = change(qualifier=qualifier, at=at)
    recorded = [known(f"k{i}", q, s, ident) for i, (q, s, ident) in enumerate(have)]
    found = choose(new, recorded)
    if found is None:
        # Nothing compatible was within reach.
        assert not any(
            abs(k.at - new.at) <= new.window and (qualifier is None or k.qualifier in (None, qualifier))
            for k in recorded
        )
        return
    assert abs(found.at - new.at) <= new.window
    assert qualifier is None or found.qualifier in (None, qualifier)
    # The order of what is known does not change the answer.
    assert choose(new, list(reversed(recorded))) == found
