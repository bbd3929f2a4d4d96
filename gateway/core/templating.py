"""The one Jinja2 environment the gateway renders configured templates with: sandboxed and never
HTML-escaped (the output is ticket text, escaped later for wherever it lands)."""

from __future__ import annotations

from jinja2 import StrictUndefined, Undefined
from jinja2.sandbox import SandboxedEnvironment


def sandbox(*, strict: bool = True) -> SandboxedEnvironment:
    """`strict`: an undefined name is an error (flows); otherwise it renders empty (tracker note templates,
    which also run for moves made by people, whose context has no event)."""
    return SandboxedEnvironment(
        undefined=StrictUndefined if strict else Undefined, autoescape=False, keep_trailing_newline=True
    )
