"""Is this CAP 1.2? Against the operator's copy of the OASIS schema, or our own structural check."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lxml import etree

from broadcaster.cap.structure import check_structure
from broadcaster.errors import ConfigError, ParseError
from broadcaster.xmlsafe import parse_xml

if TYPE_CHECKING:
    import xmlschema


def validate_cap(data: bytes, schema_path: Path | None = None) -> list[str]:
    """What makes `data` an invalid CAP 1.2 alert; empty when it is valid.

    With `schema_path` (the OASIS CAP-v1.2.xsd) the `xmlschema` package decides; without it the
    structural check in broadcaster.cap.structure does, which mirrors that schema. Either way the
    bytes go through the hardened parser first: a DOCTYPE or an entity is an error, never expanded.
    A schema path that cannot be loaded is a ConfigError, not a property of the document.
    """
    try:
        root = parse_xml(data)
    except ParseError as e:
        return [str(e)]
    if schema_path is None:
        return check_structure(root)
    return _with_schema(root, _schema(str(Path(schema_path).resolve())))


def _with_schema(root: etree._Element, schema: xmlschema.XMLSchema) -> list[str]:
    import xmlschema

    # xmlschema validates lxml trees, but its annotations only name its own element protocol.
    source = cast(Any, root)
    try:
        return [f"{e.path}: {e.reason or e.message}" for e in schema.iter_errors(source)]
    except xmlschema.XMLSchemaException as e:
        # xmlschema raises rather than reports on some inputs, e.g. an xsi:type naming no type.
        return [f"{type(e).__name__}: {e}"[:300]]


@lru_cache(maxsize=4)
def _schema(path: str) -> xmlschema.XMLSchema:
    try:
        import xmlschema
    except ImportError as e:
        raise ConfigError("validating CAP against a schema file needs the xmlschema package") from e
    try:
        # allow="local": the CAP schema imports nothing, and nothing may be fetched from the network.
        return xmlschema.XMLSchema(path, allow="local")
    except (OSError, xmlschema.XMLSchemaException) as e:
        raise ConfigError(f"cannot load the CAP schema {path}: {e}"[:500]) from e
