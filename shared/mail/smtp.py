"""One delivery to the configured SMTP server, its failure classified.

Transient (the mail waits and is tried again): the server cannot be reached or stops
answering, a 4xx reply, and a refusal of our own log-in or TLS (535, a certificate that
does not verify): those are this installation's configuration to fix, not the mail's
fault, so the mail must not be lost meanwhile. Permanent (the mail fails): a 5xx reply to
the mail itself (its sender, its recipient, its content).
"""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from shared.config import Settings


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def _tls_context(settings: Settings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.smtp_tls_ca_file or None)


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def classify(exc: Exception) -> DeliveryError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.recipient}: {_reply(r)}" for r in exc.recipients)
        return DeliveryError(
            f"recipient refused: {text}", permanent=all(500 <= c < 600 for c in codes)
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"the SMTP server refused our log-in ({_reply(exc)}); check "
            "CHORUS_SMTP_USERNAME and CHORUS_SMTP_PASSWORD",
            permanent=False,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(
            f"the SMTP server answered {_reply(exc)}", permanent=500 <= exc.code < 600
        )
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(
            f"TLS with the SMTP server failed ({exc}); check CHORUS_SMTP_SECURITY and "
            "CHORUS_SMTP_TLS_CA_FILE",
            permanent=False,
        )
    if isinstance(exc, aiosmtplib.SMTPNotSupported):  # SMTPUTF8 for a non-ASCII address
        return DeliveryError(f"the SMTP server cannot take this mail: {exc}", permanent=True)
    if isinstance(exc, OSError):  # refused, timed out, disconnected (aiosmtplib's included)
        reason = str(exc) or type(exc).__name__
        return DeliveryError(f"the SMTP server could not be reached: {reason}", permanent=False)
    # STARTTLS or AUTH not offered, and the like: this installation's configuration.
    return DeliveryError(
        f"SMTP failed: {exc}; check CHORUS_SMTP_SECURITY and CHORUS_SMTP_USERNAME",
        permanent=False,
    )


async def send(settings: Settings, message: EmailMessage) -> None:
    """Returns once the server has accepted the mail (250 after DATA); raises
    :class:`DeliveryError` otherwise."""
    security = settings.smtp_security
    username = settings.smtp_username or None
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port_in_use,
            username=username,
            password=settings.smtp_password.get_secret_value() if username else None,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            tls_context=_tls_context(settings) if security != "none" else None,
            timeout=settings.smtp_timeout_seconds,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:  # TimeoutError, ssl.SSLError included
        raise classify(exc) from exc
