"""Which of their past messages ``decide()`` reads for a batch of events.

The orchestrator loads the history of a batch's profiles before deciding it. A
profile's whole recent history is needed only where caps are counted: a message
that is not transactional, for the profiles it reaches. Elsewhere ``decide()``
reads two kinds of message: those with a dedup key (dedup), and those still open
(pending, a live in-app alert, a ladder waiting) that one of the batch's event
types may cancel. Loading only these keeps a batch's memory and time in
proportion to what its rules read: a profile that piles up thousands of
transactional messages (four a failed payment, each alert live a week) no longer
costs every batch of its events the whole pile (issue 11, item 7).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from clarion.core.model import Event, Profile
from clarion.core.spec import Audience, CatalogSpec


@dataclass(frozen=True, slots=True)
class HistoryNeeds:
    """What a batch's decisions read of its profiles' messages."""

    #: Profiles whose every recent message counts (caps); the others get only the next two.
    capped: frozenset[str]
    #: Whether messages with a dedup key (within the history window) are read.
    dedup: bool
    #: Open messages are read when one of these event types may cancel them.
    cancel_types: frozenset[str]


def history_needs(
    events: Sequence[Event], profiles: Mapping[str, Profile], catalog: CatalogSpec
) -> HistoryNeeds:
    """What ``decide()`` reads of the history for ``events``; ``profiles`` are those
    loaded for them (an account audience reaches its account's profiles)."""
    capped: set[str] = set()
    dedup = False
    for event in events:
        for spec in catalog.by_trigger.get(event.type, ()):
            dedup = dedup or spec.dedup is not None
            if spec.transactional:
                continue  # no caps: decide() skips them for transactional messages
            capped.add(event.profile_id)
            if spec.audience is Audience.ACCOUNT and event.account_id:
                capped.update(p.id for p in profiles.values() if p.account_id == event.account_id)
    return HistoryNeeds(frozenset(capped), dedup, frozenset(e.type for e in events))
