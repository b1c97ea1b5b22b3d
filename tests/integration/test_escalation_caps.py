"""Ladders of one profile moved in one pass of the escalation worker share its caps
(SQLite and PostgreSQL): each move counts the rungs the pass already scheduled for
the profile, as ``decide()`` counts an event's earlier messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from clarion.core.ids import message_guid
from clarion.core.model import Channel, Status
from clarion.store import SqlStore
from tests.integration.test_escalation import Rig, accepted

# Not transactional, so caps apply: push, then SMS if the push is not confirmed
# within 10 minutes. The example catalog allows one SMS a day.
LADDER = """
name: card_declined
id: 1901
category: engagement
trigger: {event: card.declined}
channels:
  - channel: push
    content: {title: payment_failed.push.title, body: payment_failed.push.body}
  - channel: sms
    content: {body: payment_failed.sms.body}
escalation:
  - {channel: push, timeout: 10m}
  - {channel: sms}
"""


def test_two_ladders_moved_in_one_pass_share_the_sms_cap(store: SqlStore, tmp_path: Path) -> None:
    r = Rig(store, tmp_path, {c: accepted for c in Channel}, LADDER)
    r.send("card.declined", "e1")
    r.send("card.declined", "e2")
    assert r.calls(Channel.PUSH) == 2 and r.calls(Channel.SMS) == 0

    r.later(timedelta(minutes=11))  # both pushes unconfirmed: one pass moves both ladders
    sms = [store.get_message(message_guid(e, "card_declined", 1, "ana")) for e in ("e1", "e2")]
    assert [(m.status, m.reason) for m in sms if m is not None] == [
        (Status.SENT, None),
        (Status.SUPPRESSED, "frequency_capped:channel:sms:1/1d"),
    ]
    assert r.calls(Channel.SMS) == 1
