"""Text that XML 1.0 can carry: characters outside its ``Char`` production are dropped, not escaped
(ElementTree would write them as-is and the document would not parse)."""

from __future__ import annotations

import re

__all__ = ["xml_text"]

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str | None) -> str:
    """``value`` without the characters XML 1.0 forbids (NUL, most C0 controls, lone surrogates, U+FFFE/F)."""
    return _NOT_XML.sub("", value or "")
