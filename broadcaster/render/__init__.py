"""Rendering alerts into each channel's text, per language, within each channel's limits.

renderer   the Renderer the channel workers call, template lookup, safety rules, fallback
lookup     listing the template layers once; cheap change checks for hot reload
limits     each channel's limits, measured as its provider measures (twitter-text for X)
fit        splitting into parts at sentence ends, numbering, cut marks
facts      an alert's parameters as records templates can use
wording    t(), term() and friends: the phrase tables in the reader's language
phrases    the phrase tables (templates/_phrases/*.yaml), review status, loading and saving
phrase_csv the tables to CSV for translators and back
languages  supported tags, やさしい日本語 as ja-x-easy, fallback order
flex       the LINE Flex bubble
preview    one alert on every channel and language, for the console and `broadcaster preview`
commands   the `preview` and `phrases` CLI commands

docs/templates.md describes templates, languages, limits and the review workflow.
"""
