"""Console sessions signed out before they expire: the cookie is signed, not stored, so a copy of it
(a shared machine's browser, a proxy log) would work until it expires unless its sign-out is kept."""

from __future__ import annotations

from gateway.record.mirror import Mirror


def sign_out(mirror: Mirror, session: str, expires: float, now: float) -> None:
    """Keep `session` (a digest of the session, never the cookie) as signed out until it would have expired."""
    with mirror.transaction() as tx:
        tx.execute("DELETE FROM console_signouts WHERE expires <= ?", (now,))  # past their expiry: refused anyway
        tx.execute(
            "INSERT INTO console_signouts (session, expires) VALUES (?, ?) ON CONFLICT (session) DO NOTHING",
            (session, expires),
        )


def signed_out(mirror: Mirror, session: str) -> bool:
    row = mirror.connection().execute("SELECT 1 FROM console_signouts WHERE session = ?", (session,)).fetchone()
    return row is not None
