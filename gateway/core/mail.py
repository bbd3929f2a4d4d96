"""The one SMTP edge: send a message with the standard library's client, every failure classified.

Like `gateway.core.http`: connection refused, timeouts and 4xx replies are worth trying again;
5xx replies, TLS and protocol refusals are not. Messages name the server's reply code and text,
never the password.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from gateway.core.outbound import ConnectorError, PermanentError, RetryableError


def send_mail(
    message: EmailMessage,
    *,
    host: str,
    port: int,
    starttls: bool,
    user: str,
    password: str,
    timeout: float,
    what: str = "SMTP server",
) -> None:
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            if starttls:
                smtp.starttls(context=ssl.create_default_context())
            if user:
                smtp.login(user, password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise _refused(what, exc) from None
    except smtplib.SMTPResponseException as exc:
        raise _reply(what, exc.smtp_code, exc.smtp_error) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentError(f"{what} does not support {exc}") from None
    except smtplib.SMTPServerDisconnected:
        raise RetryableError(f"{what} closed the connection") from None
    except ssl.SSLError as exc:
        raise PermanentError(f"{what}: TLS failed ({type(exc).__name__})") from None
    except TimeoutError:
        raise RetryableError(f"{what} timed out after {timeout:g} s") from None
    except OSError as exc:  # refused, unreachable, name not resolved: the server may come back
        raise RetryableError(f"{what} could not be reached ({type(exc).__name__})") from None


def _reply(what: str, code: int, text: bytes | str) -> ConnectorError:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    message = f"{what} answered {code} {' '.join(said.split())[:200]}".rstrip()
    return RetryableError(message) if 400 <= code < 500 else PermanentError(message)


def _refused(what: str, exc: smtplib.SMTPRecipientsRefused) -> ConnectorError:
    """Every recipient refused: retryable only when every refusal was temporary (4xx)."""
    codes = [code for code, _ in exc.recipients.values()]
    detail = "; ".join(f"{address}: {code}" for address, (code, _) in exc.recipients.items())
    message = f"{what} refused the recipients ({detail})"
    if codes and all(400 <= code < 500 for code in codes):
        return RetryableError(message)
    return PermanentError(message)
