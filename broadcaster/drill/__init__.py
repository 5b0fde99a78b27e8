"""The drill room: scenarios run into a sandbox where everything is Exercise (docs/drills.md)."""
