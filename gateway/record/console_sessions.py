"""What the console keeps in the database: sessions signed out before they expire (the cookie is signed,
not stored, so a copy of it would work until it expires unless its sign-out is kept), and the forms
already submitted (a double click, a resubmitted page: a comment posted twice, a retry run twice)."""

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


SUBMISSIONS_KEPT_S = 86400.0  # a form older than a day is stale: its session's CSRF token has likely gone too


def first_submission(mirror: Mirror, form: str, now: float) -> bool:
    """Record `form` (a digest of the form's one-time token) as submitted; False when it was already."""
    with mirror.transaction() as tx:
        tx.execute("DELETE FROM console_submissions WHERE at < ?", (now - SUBMISSIONS_KEPT_S,))
        cursor = tx.execute(
            "INSERT INTO console_submissions (form, at) VALUES (?, ?) ON CONFLICT (form) DO NOTHING", (form, now)
        )
        return cursor.rowcount == 1


def forget_submission(mirror: Mirror, form: str) -> None:
    """The submission failed (a refused move, the database away): the same form may be sent again."""
    with mirror.transaction() as tx:
        tx.execute("DELETE FROM console_submissions WHERE form = ?", (form,))
