"""Text from Telegram made safe to store: PostgreSQL refuses a NUL byte in text, and other
control characters only hide what was written. Line breaks and tabs are kept."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str | None) -> str:
    """NFC-normalised text without NUL or other control characters (newlines and tabs stay)."""
    if not text:
        return ""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text))
