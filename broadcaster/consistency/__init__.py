"""The consistency guard: every medium says the same thing (docs/consistency.md)."""
