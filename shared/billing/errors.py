from __future__ import annotations

from shared.errors import AppError


class PaymentRequired(AppError):
    """The plan does not allow this, or the agency is read-only until paid (402)."""

    status_code = 402
    code = "payment_required"
    title = "Your plan does not allow this"
