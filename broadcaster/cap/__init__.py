"""Alert <-> CAP 1.2 XML, both ways; pure functions (docs/cap.md says how each field maps).

to_cap(alert) -> bytes       a CAP 1.2 document, valid against the OASIS schema
from_cap(bytes | element)    the Alert a CAP 1.2 or 1.1 document describes (ParseError if not)
validate_cap(bytes, xsd?)    what makes a document invalid CAP 1.2, with or without the XSD

from_cap(to_cap(alert)) == alert for every alert whose datetimes are whole seconds (CAP's
precision), including the fields CAP lacks: tenant, event key, origin and received time travel as
"broadcaster:" <code> values (broadcaster.cap.ext).
"""

from broadcaster.cap.ext import PREFIX as EXTENSION_PREFIX
from broadcaster.cap.kind import infer_kind
from broadcaster.cap.lists import join_list, split_list
from broadcaster.cap.names import CAP11, CAP12
from broadcaster.cap.read import from_cap
from broadcaster.cap.validate import validate_cap
from broadcaster.cap.write import CapEncodeError, to_cap

__all__ = [
    "CAP11",
    "CAP12",
    "EXTENSION_PREFIX",
    "CapEncodeError",
    "from_cap",
    "infer_kind",
    "join_list",
    "split_list",
    "to_cap",
    "validate_cap",
]
