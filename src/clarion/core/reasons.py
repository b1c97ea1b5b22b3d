"""Reason codes: why a message was not sent (DESIGN.md "Suppression reasons are first-class")."""

from __future__ import annotations

OPTED_OUT = "opted_out"
NOT_IN_SEGMENT = "not_in_segment"
NO_ELIGIBLE_DEVICE = "no_eligible_device"
NO_ADDRESS = "no_address"
DUPLICATE = "duplicate"
OUTSIDE_WINDOW = "outside_window"
EXPIRED = "expired"
HELD_OUT = "held_out"
LEASE_EXPIRED = "lease_expired"
RETRYING = "retrying"
DEAD_LETTERED = "dead_lettered"
#: Why an escalation ladder moved on from a rung (``escalated:<why>``).
ESCALATION_FAILED = "failed"
ESCALATION_TIMEOUT = "timeout"
ESCALATION_SKIPPED = "skipped"
#: A ladder ended at a rung confirmed delivered.
ESCALATION_CONFIRMED = "escalation_confirmed"
#: A lifecycle entry (status ``sending``) written before a call to a provider
#: without idempotency keys: the window in which a crash may cause a duplicate.
ATTEMPT = "attempt"
#: Rescheduled for the provider's next free send slot (its rate limit or Retry-After).
RATE_LIMITED = "rate_limited"
#: A suppression (a dismissal) of an in-app message ended: the alert may show again.
UNSUPPRESSED = "unsuppressed"


def capped(rule: str) -> str:
    return f"frequency_capped:{rule}"


def cancelled(event_type: str) -> str:
    return f"cancelled:{event_type}"


def resolved(event_type: str) -> str:
    return f"resolved:{event_type}"


def suppressed(by: str) -> str:
    return f"suppressed:{by}"


def provider_rejected(code: str) -> str:
    return f"provider_rejected:{code}"


def escalated(why: str) -> str:
    return f"escalated:{why}"


def escalation_stopped(event_type: str) -> str:
    return f"escalation_stopped:{event_type}"


def failover(code: str) -> str:
    return f"failover:{code}"
