"""Structured logs (structlog, JSON) and Prometheus metrics shared by every component."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_ACCEPTED = Counter(
    "clarion_events_accepted_total", "Events durably accepted by intake.", registry=REGISTRY
)
EVENTS_DUPLICATE = Counter(
    "clarion_events_duplicate_total", "Repeated events answered idempotently.", registry=REGISTRY
)
FEEDBACK_DUPLICATE = Counter(
    "clarion_inapp_feedback_duplicate_total",
    "In-app feedback objects posted again, answered as duplicates (nothing changed), by type.",
    ["type"],
    registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "clarion_events_processed_total", "Events turned into decisions.", registry=REGISTRY
)
EVENTS_FAILED = Counter(
    "clarion_events_failed_total",
    "Failed attempts at processing an event that will be retried after a backoff.",
    registry=REGISTRY,
)
EVENTS_DEAD_LETTERED = Counter(
    "clarion_events_dead_lettered_total",
    "Events set aside as dead after their last failed processing attempt.",
    registry=REGISTRY,
)
DECISIONS = Counter(
    "clarion_decisions_total",
    "Messages decided, by channel, status and reason.",
    ["channel", "status", "reason"],
    registry=REGISTRY,
)
CONVERSIONS = Counter(
    "clarion_conversions_total",
    "Measured decisions (sent or held out) converted by a goal event, by message and arm.",
    ["message", "arm"],
    registry=REGISTRY,
)
CANCELLATIONS = Counter(
    "clarion_cancellations_total", "Pending messages cancelled by events.", registry=REGISTRY
)
ESCALATIONS = Counter(
    "clarion_escalations_total",
    "Escalation ladder moves, by the channel of the rung left and the reason "
    "(escalated:failed, escalated:timeout, escalation_confirmed, ...).",
    ["channel", "reason"],
    registry=REGISTRY,
)
DISPATCHED = Counter(
    "clarion_dispatch_total",
    "Dispatch attempts, by channel, provider and outcome.",
    ["channel", "provider", "outcome"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "clarion_dispatch_retries_total",
    "Failed attempts rescheduled on the same provider, by provider and error code.",
    ["provider", "code"],
    registry=REGISTRY,
)
FAILOVERS = Counter(
    "clarion_failovers_total",
    "Messages handed from one provider of their route to the next, by error code.",
    ["channel", "from_provider", "to_provider", "code"],
    registry=REGISTRY,
)
RATE_LIMIT_WAIT = Histogram(
    "clarion_rate_limit_wait_seconds",
    "How long sends waited for their provider's rate limit (sends that waited).",
    ["provider"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
RATE_LIMIT_DEFERRED = Counter(
    "clarion_rate_limit_deferred_total",
    "Messages rescheduled for a later send slot (rate limit or Retry-After), by provider.",
    ["provider"],
    registry=REGISTRY,
)
PROVIDER_PAUSES = Counter(
    "clarion_provider_pauses_total",
    "Retry-After answers that paused a provider's sends.",
    ["provider"],
    registry=REGISTRY,
)
POSSIBLE_DUPLICATES = Counter(
    "clarion_possible_duplicates_total",
    "Sends after an unconfirmed attempt through a provider that may not deduplicate.",
    ["provider"],
    registry=REGISTRY,
)
EVENT_TO_PROVIDER = Histogram(
    "clarion_event_to_provider_seconds",
    "From event acceptance to the provider's answer, for messages without delay.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
PROVIDER_REPORTS = Counter(
    "clarion_provider_reports_total",
    "Delivery status callbacks from providers, by provider and result "
    "(the status applied, ignored, held until the message's reference is stored, "
    "or rejected for a bad signature).",
    ["provider", "result"],
    registry=REGISTRY,
)
INTAKE_BATCH = Histogram(
    "clarion_intake_commit_events",
    "Events per intake group commit.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
    registry=REGISTRY,
)
INTAKE_SPLITS = Counter(
    "clarion_intake_commit_splits_total",
    "Intake group commits the database refused, split to isolate the request behind it.",
    registry=REGISTRY,
)
PARTITIONS_HELD = Gauge(
    "clarion_partitions_held",
    "Partitions of profiles whose events this process's orchestrator decides.",
    registry=REGISTRY,
)
PARTITION_REBALANCES = Counter(
    "clarion_partition_rebalances_total",
    "Partitions this process took (free, or expired from a dead worker) or gave back "
    "(for a fair share, or a clean stop), or lost (taken over while its lease lapsed).",
    ["change"],
    registry=REGISTRY,
)
CATALOG_RELOADS = Counter(
    "clarion_catalog_reloads_total", "Catalog reload attempts.", ["result"], registry=REGISTRY
)
CATALOG_MESSAGES = Gauge(
    "clarion_catalog_messages", "Message definitions in the live catalog.", registry=REGISTRY
)
DATABASE_CALLS_ABANDONED = Counter(
    "clarion_database_calls_abandoned_total",
    "Store calls whose PostgreSQL connection was closed for outliving its time budget "
    "(the database stopped answering).",
    registry=REGISTRY,
)
DATABASE_OUTAGES = Counter(
    "clarion_database_outages_total",
    "Database outages a worker loop met (each logged once when it starts and once "
    "when it ends), by worker.",
    ["worker"],
    registry=REGISTRY,
)
MESSAGES_BY_STATUS = Gauge(
    "clarion_messages", "Stored messages by status.", ["status"], registry=REGISTRY
)
PUSH_DEVICES = Counter(
    "clarion_push_devices_total",
    "Push deliveries to devices, by service and outcome (sent, unregistered, failed, ...).",
    ["service", "outcome"],
    registry=REGISTRY,
)
SMTP_CONNECTIONS = Counter(
    "clarion_smtp_connections_opened_total",
    "SMTP sessions opened (pooled connections are reused across messages).",
    registry=REGISTRY,
)
EMAIL_TRACKING = Counter(
    "clarion_email_tracking_total",
    "Email opens and clicks, by kind and result (recorded, or why rejected).",
    ["kind", "result"],
    registry=REGISTRY,
)


def configure_logging(level: str = "INFO", json: bool = True, file: TextIO | None = None) -> None:
    """JSON lines on stderr, or ``file`` (or a console renderer for humans)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=file or sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
