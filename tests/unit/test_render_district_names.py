"""A text in another language names the town's districts as the town's settings name them in
English (name_en), not in kanji; Japanese texts keep the kanji (docs/website.md, *Languages*)."""

from __future__ import annotations

from broadcaster.model import DISTRICT_CODE, Alert, Area, NamedValue
from tests.render_support import PUBLIC_URL, dispatch, renderer, sample

NAMES_EN = {"kawashima": "Kawashima", "omachi": "Omachi"}


def _with_kanji_areas() -> Alert:
    # As the pipeline hands it to the channels: the normalize stage gives each district its kanji name.
    a = sample("manual/evacuation_order.json")
    names = {"kawashima": "川島", "omachi": "大町"}
    infos = tuple(
        i.model_copy(
            update={
                "area": tuple(
                    Area(area_desc=names[d], geocode=(NamedValue(value_name=DISTRICT_CODE, value=d),))
                    for d in ("kawashima", "omachi")
                )
            }
        )
        for i in a.info
    )
    return a.model_copy(update={"info": infos})


def test_english_and_vietnamese_texts_name_districts_in_english() -> None:
    a = _with_kanji_areas()
    langs = ("ja", "en", "vi")
    texts = renderer().render(
        a,
        dispatch(a, "website", langs),
        None,
        tenant_name="穴水町",
        public_url=PUBLIC_URL,
        languages=langs,
        district_names_en=NAMES_EN,
    )
    by_lang = {t.language: t.body for t in texts}
    for lang in ("en", "vi"):
        assert "Kawashima" in by_lang[lang] and "Omachi" in by_lang[lang], by_lang[lang]
        assert "川島" not in by_lang[lang] and "大町" not in by_lang[lang], by_lang[lang]
    assert "川島" in by_lang["ja"]


def test_without_english_names_the_kanji_stay() -> None:
    a = _with_kanji_areas()
    texts = renderer().render(
        a,
        dispatch(a, "website", ("en",)),
        None,
        tenant_name="穴水町",
        public_url=PUBLIC_URL,
        languages=("en",),
    )
    assert "川島" in texts[0].body
