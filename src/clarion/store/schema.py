"""The database schema, one for SQLite and PostgreSQL.

Times are epoch seconds in ``Double`` columns: both dialects compare and index
them the same way, and converting at the edge (``clarion.store.sql.convert``) is
cheaper than either dialect's datetime handling. JSON is ``sa.JSON`` so that
PostgreSQL keeps a real ``json`` column (readable and queryable in psql); the
engine serializes it with orjson (``clarion.store.sql.engine``). Ids that come
from callers are unbounded strings, so both dialects accept the same values.

The migrations in ``clarion.store.migrations`` create exactly these tables; this
module is what the store's queries are written against.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: The ``messages`` rows a device may still be shown: live in-app messages
#: (``clarion.core.model.LIVE_INAPP``). The partial index ``ix_messages_inapp_live``
#: holds only these rows, so a fetch reads a profile's live alerts without
#: visiting its other messages; a query uses it only when its WHERE repeats this
#: predicate with the same literals (bound parameters do not match it).
LIVE_INAPP_CHANNEL = "inapp"
LIVE_INAPP_STATUSES = ("delivered", "sent")
LIVE_INAPP_WHERE = "channel = 'inapp' AND status IN ('delivered', 'sent')"

#: The ``messages`` rows of an escalation ladder still waiting on a rung: the
#: partial index ``ix_messages_ladder_open`` holds only these, so the escalation
#: worker finds timed-out and failed rungs without visiting any other message.
LADDER_OPEN_WHERE = "confirm_by IS NOT NULL"

#: Event states: waiting for the orchestrator, claimed under a lease, processed.
#: An event whose processing raised stays ``processing`` with its lease set to when
#: it is retried (the claim takes expired leases), and after its last attempt is
#: ``dead``: never claimed again (``clarion.runtime.orchestrator``).
PENDING = "pending"
PROCESSING = "processing"
DONE = "done"
DEAD = "dead"

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("type", sa.String, nullable=False),
    sa.Column("profile_id", sa.String, nullable=False),
    sa.Column("account_id", sa.String),
    sa.Column("occurred_at", sa.Double, nullable=False),
    sa.Column("received_at", sa.Double, nullable=False),
    # Intake order among events received at the same instant (see SqlStore).
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    # ``clarion.core.partitions``: only the holder of this partition's lease
    # (``partition_leases``) decides the event.
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("lease_owner", sa.String),
    sa.Column("lease_until", sa.Double),
    sa.Column("processed_at", sa.Double),
    # Failed processing attempts, and the last one's error ("OverflowError: ...").
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String),
    sa.Index("ix_events_claim", "state", "received_at", "seq"),
)

#: Who decides the events of each partition (``clarion.core.partitions``), until
#: when. A row is created the first time a worker looks for partitions; a NULL
#: owner is free. Orchestrators renew their leases and hand partitions over when
#: the set of live workers (``partition_workers``) changes.
partition_leases = sa.Table(
    "partition_leases",
    metadata,
    sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("owner", sa.String),
    sa.Column("lease_until", sa.Double),
)

#: The orchestrators alive, each until its last renewal's lease runs out: every
#: worker divides the partitions by the number of these.
partition_workers = sa.Table(
    "partition_workers",
    metadata,
    sa.Column("owner", sa.String, primary_key=True),
    sa.Column("alive_until", sa.Double, nullable=False),
)

profiles = sa.Table(
    "profiles",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("account_id", sa.String),
    sa.Column("locale", sa.String, nullable=False),
    sa.Column("timezone", sa.String, nullable=False),
    sa.Column("country", sa.String),
    sa.Column("email", sa.String),
    sa.Column("phone", sa.String),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("opt_out_channels", sa.JSON, nullable=False),
    sa.Column("opt_out_categories", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Index("ix_profiles_account", "account_id"),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("profile_id", sa.String, primary_key=True),
    sa.Column("device_id", sa.String, primary_key=True),
    sa.Column("platform", sa.String, nullable=False),
    sa.Column("app_version", sa.String),
    sa.Column("locale", sa.String),
    sa.Column("push_token", sa.String),
    sa.Column("updated_at", sa.Double, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("guid", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String, nullable=False),
    sa.Column("profile_id", sa.String, nullable=False),
    sa.Column("message", sa.String, nullable=False),
    sa.Column("message_id", sa.Integer, nullable=False),
    sa.Column("category", sa.String, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("due_at", sa.Double),
    sa.Column("expires_at", sa.Double),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("devices", sa.JSON, nullable=False),
    sa.Column("dedup_key", sa.String),
    sa.Column("cancel_on", sa.JSON, nullable=False),
    sa.Column("lease_owner", sa.String),
    sa.Column("lease_until", sa.Double),
    sa.Column("provider", sa.String),
    sa.Column("provider_ref", sa.String),
    # The profile's country at decision time (delivery insights group by it).
    sa.Column("country", sa.String),
    # Escalation ladder: the guid of its first rung, this message's rung number,
    # and the time by which it must be confirmed delivered (NULL once settled).
    sa.Column("ladder", sa.String(40)),
    sa.Column("rung", sa.Integer),
    sa.Column("confirm_by", sa.Double),
    # The A/B test and cell the message is in (``abTestId``/``abTestCell``).
    sa.Column("ab_test_id", sa.Integer),
    sa.Column("ab_test_cell", sa.Integer),
    sa.Index("ix_messages_claim", "status", "due_at"),
    # Delivery status callbacks find their message by the provider's id for it.
    sa.Index("ix_messages_provider_ref", "provider_ref"),
    sa.Index("ix_messages_created", "created_at"),
    sa.Index(
        "ix_messages_ladder_open",
        "status",
        "confirm_by",
        sqlite_where=sa.text(LADDER_OPEN_WHERE),
        postgresql_where=sa.text(LADDER_OPEN_WHERE),
    ),
    sa.Index(
        "ix_messages_ladder",
        "ladder",
        sqlite_where=sa.text("ladder IS NOT NULL"),
        postgresql_where=sa.text("ladder IS NOT NULL"),
    ),
    sa.Index("ix_messages_profile", "profile_id", "created_at"),
    sa.Index(
        "ix_messages_inapp_live",
        "profile_id",
        "created_at",
        "guid",
        sqlite_where=sa.text(LIVE_INAPP_WHERE),
        postgresql_where=sa.text(LIVE_INAPP_WHERE),
    ),
)

lifecycle = sa.Table(
    "lifecycle",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("guid", sa.String(40), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_lifecycle_guid", "guid"),
)

#: Per-message in-app state, shared by every device of the profile: impressions
#: (which count against caps), the CTA taken, and notification-center read/archive.
inapp_state = sa.Table(
    "inapp_state",
    metadata,
    sa.Column("guid", sa.String(40), primary_key=True),
    sa.Column("profile_id", sa.String, nullable=False),
    sa.Column("impressions", sa.Integer, nullable=False),
    sa.Column("first_seen_at", sa.Double),
    sa.Column("last_seen_at", sa.Double),
    sa.Column("acted_at", sa.Double),
    sa.Column("action", sa.String),
    sa.Column("read_at", sa.Double),
    sa.Column("archived_at", sa.Double),
    sa.Index("ix_inapp_state_profile", "profile_id"),
)

#: A profile's dismissal of a message: hides it on every device until ``until``
#: (and, with ``all_channels``, stops it on the other channels too).
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("profile_id", sa.String, primary_key=True),
    sa.Column("message", sa.String, primary_key=True),
    sa.Column("until", sa.Double, nullable=False),
    sa.Column("reason", sa.String, nullable=False),
    sa.Column("all_channels", sa.Boolean, nullable=False),
    # The worker that records the end of each suppression finds the ended ones by it.
    sa.Index("ix_suppressions_until", "until"),
)

#: In-app feedback objects that took effect (``FeedbackBody.once_key``: render,
#: feedback type and CTA action), written in the transaction of their effect, so a
#: replayed or concurrent post of the same object acts once. Purged once expired.
feedback_receipts = sa.Table(
    "feedback_receipts",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("guid", sa.String(40), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Index("ix_feedback_receipts_expires_at", "expires_at"),
)

#: What providers said a profile's addresses cannot receive, per profile: ``kind``
#: names the channels it stops (``clarion.core.model.ADDRESS_KINDS``: ``phone``, a
#: number that does not exist; ``sms``, a landline or a handset that is off;
#: ``email``). While the profile's address is listed under a kind, those channels
#: treat it as absent, until ``until`` (a temporary cause) or, when NULL, until the
#: profile changes the address and the entry stops matching.
bad_addresses = sa.Table(
    "bad_addresses",
    metadata,
    sa.Column("profile_id", sa.String, primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("value", sa.String, primary_key=True),
    sa.Column("code", sa.String, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("until", sa.Double),
)

#: Delivery reports that arrived before the message's provider reference was
#: stored (a provider's callback can overtake the dispatcher's record of the send):
#: applied when the reference is stored, purged after a day if it never is.
early_reports = sa.Table(
    "early_reports",
    metadata,
    sa.Column("provider_ref", sa.String, primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("reason", sa.String),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("bad_kind", sa.String(16)),
    sa.Column("bad_value", sa.String),
    sa.Column("bad_code", sa.String),
    # Seconds a temporary bad address lasts (NULL: until the address changes).
    sa.Column("bad_lasts", sa.Double),
    sa.Column("at", sa.Double, nullable=False),
    sa.Index("ix_early_reports_at", "at"),
)

#: Exposure arms: the message was scheduled for sending, or held out.
TREATED = "treated"
HELD_OUT = "held_out"

#: Decisions that are measured (scheduled or held out, of a message with a goal):
#: one row per message (channel step), written with the message. A goal event of
#: the profile before ``goal_until`` converts it (``conversions``).
exposures = sa.Table(
    "exposures",
    metadata,
    sa.Column("guid", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String, nullable=False),
    sa.Column("profile_id", sa.String, nullable=False),
    sa.Column("message", sa.String, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("arm", sa.String(16), nullable=False),
    sa.Column("ab_test_id", sa.Integer),
    sa.Column("ab_test_cell", sa.Integer),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("goal_event", sa.String, nullable=False),
    sa.Column("goal_until", sa.Double, nullable=False),
    #: The held-out share when decided (NULL on rows older than 0012: the catalog's).
    sa.Column("holdout", sa.Double),
    sa.Index("ix_exposures_goal", "profile_id", "goal_event", "goal_until"),
    sa.Index("ix_exposures_message", "message", "created_at"),
)

#: The first goal event that converted an exposure (one row per exposure, so
#: processing the same goal event again changes nothing).
conversions = sa.Table(
    "conversions",
    metadata,
    sa.Column("guid", sa.String(40), primary_key=True),
    sa.Column("profile_id", sa.String, nullable=False),
    sa.Column("message", sa.String, nullable=False),
    sa.Column("goal_event_id", sa.String, nullable=False),
    sa.Column("converted_at", sa.Double, nullable=False),
    sa.Column("recorded_at", sa.Double, nullable=False),
)
