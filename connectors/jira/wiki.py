"""Jira wiki markup: payload text is data, so its markup characters are escaped with a backslash.

Without this an anomaly description holding `{code}`, `[label|http://elsewhere]` or `!image.png!`
would render as markup (or a disguised link) in the issue. A target lists the fields whose text
is trusted markup under `trusted_markup:`; those are sent as they are.
"""

from __future__ import annotations

import re

# Backslashes (else a payload's own `\[` would pair with ours), braces (macros), brackets (links),
# ! (images), | (tables, link labels) always; * and _ (bold,
# italics) only where they could open or close an effect, so `customer_id` stays as it is.
_SPECIAL = re.compile(r"[\\{}\[\]!|]|(?<![A-Za-z0-9])[*_]|[*_](?![A-Za-z0-9])")


def escape(text: str) -> str:
    return _SPECIAL.sub(lambda found: "\\" + found.group(0), text)
