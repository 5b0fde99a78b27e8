"""Where templates are found, listed once so that rendering never asks the disk.

Templates live in layers: a deployment's own folder (settings `templates_dir`) over the
project's defaults (top-level `templates/`), and inside each, tenant overrides
(`tenants/<tenant>/...`) over the shared files. The first layer that has a name wins.

Jinja's own loader checks every file's modification time on every lookup; during a disaster
staff edit templates while thousands of messages render, so instead the layers are listed once
and a cheap check (one directory walk and a stat per file, at most every `check_interval_s`)
tells when something changed; `TemplateSet.refresh()` forces it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import jinja2

from broadcaster.channels import channel_family

# Files a reload must notice: templates and the phrase tables beside them.
_WATCHED = (".j2", ".yaml")


class TemplateSet:
    def __init__(self, roots: Sequence[Path], *, check_interval_s: float = 2.0) -> None:
        self.roots = [r for i, r in enumerate(roots) if r.resolve() not in {x.resolve() for x in roots[:i]}]
        self.check_interval_s = check_interval_s
        self.files: dict[str, Path] = {}
        self.generation = 0
        # What the last refresh found added, removed or edited (paths).
        self.changed_paths: set[Path] = set()
        self._stamp: dict[Path, int] = {}
        self._checked = 0.0
        self.refresh()

    def _walk(self) -> Iterator[tuple[str, Path]]:
        for root in self.roots:
            if not root.is_dir():
                continue
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for f in sorted(filenames):
                    if f.endswith(_WATCHED):
                        path = Path(dirpath) / f
                        yield path.relative_to(root).as_posix(), path

    def refresh(self) -> bool:
        """List the layers again; True when anything was added, removed or edited."""
        files: dict[str, Path] = {}
        stamps: dict[Path, int] = {}
        for name, path in self._walk():
            try:
                stamps[path] = path.stat().st_mtime_ns
            except OSError:
                continue  # removed between the walk and the stat: the next check sees it
            files.setdefault(name, path)  # the first layer wins
        self._checked = time.monotonic()
        if stamps == self._stamp and self.generation:
            return False
        self.changed_paths = {
            path for path in stamps.keys() | self._stamp.keys() if stamps.get(path) != self._stamp.get(path)
        }
        self.files = files
        self._stamp = stamps
        self.generation += 1
        return True

    def changed(self) -> bool:
        """At most every `check_interval_s`: did the files change? (0 or less: never checks.)"""
        if self.check_interval_s <= 0 or time.monotonic() - self._checked < self.check_interval_s:
            return False
        return self.refresh()

    def has(self, name: str) -> bool:
        return name in self.files

    def first(self, names: Sequence[str]) -> str | None:
        for name in names:
            if name in self.files:
                return name
        return None

    def phrase_dirs(self) -> list[Path]:
        return [root / "_phrases" for root in self.roots]


class IndexedLoader(jinja2.BaseLoader):
    """Reads a template from the file the set listed for it."""

    def __init__(self, templates: TemplateSet) -> None:
        self.templates = templates

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        path = self.templates.files.get(template)
        if path is None:
            raise jinja2.TemplateNotFound(template)
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as e:
            raise jinja2.TemplateNotFound(template) from e
        # Up to date until the set says otherwise (the renderer clears Jinja's cache then).
        return source, str(path), lambda: True

    def list_templates(self) -> list[str]:
        return sorted(n for n in self.templates.files if n.endswith(".j2"))


def channel_candidates(tenant: str, channel: str, kinds: Sequence[str], langs: Sequence[str], suffix: str = "j2") -> list[str]:
    """Names to try for a channel's template, best first: the kind before the language.

    kinds: the template kind (cancel, update, drill or the family), the family, then default.
    langs: the served language, then "any" (the phrase-driven templates every language uses).
    """
    out: list[str] = []
    for folder in dict.fromkeys(f for f in (channel, channel_family(channel), "_default") if f):
        for kind in dict.fromkeys([*kinds, "default"]):
            for lang in dict.fromkeys(langs):
                out.append(f"tenants/{tenant}/{folder}/{kind}.{lang}.{suffix}")
                out.append(f"{folder}/{kind}.{lang}.{suffix}")
    return out


def kind_library_candidates(tenant: str, kind: str, langs: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in dict.fromkeys([kind, "default"]):
        for lang in dict.fromkeys(langs):
            out.append(f"tenants/{tenant}/_kinds/{name}.{lang}.j2")
            out.append(f"_kinds/{name}.{lang}.j2")
    return out
