"""How processing fails: retryable (try again later) or permanent (a person must look)."""

from __future__ import annotations


class ProcessingError(Exception):
    """`step` says where it failed (e.g. "mercadopago GET /v1/payments/123"), so the
    event's `last_error` tells a person what to look at."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message


class RetryableError(ProcessingError):
    def __init__(self, step: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(step, message)
        self.retry_after = retry_after


class PermanentError(ProcessingError):
    pass
