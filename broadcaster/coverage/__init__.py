"""Who was actually reached: households per district, by medium, and the districts left behind.

docs/coverage.md describes what counts as reached and how a district is flagged.
"""
