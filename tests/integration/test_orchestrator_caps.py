"""One event, two catalog messages, one fatigue budget, through the orchestrator and
the store (SQLite and PostgreSQL): the event's messages count against each other's
caps, and against those of the events decided before it, in the same batch
(``_remember``) or in an earlier one (the stored history), and no decision is
counted twice."""

from __future__ import annotations

import shutil
from pathlib import Path

from clarion.catalog import Catalog, load_catalog
from clarion.core.model import Channel, Device, Event, Profile, Status
from clarion.runtime.orchestrator import Orchestrator
from clarion.store import SqlStore, migrate
from clarion.store.records import MessageQuery
from tests.integration.pipeline_support import EXAMPLE_CATALOG, FakeClock

#: Two more messages on one event type, a push each; the example catalog caps push
#: at 3 a day.
_RELEASE = """\
name: {name}
id: {id}
category: engagement
trigger: {{event: trailer.released}}
channels:
  - channel: push
    content: {{title: new_season.push.title, body: new_season.push.body}}
"""


def _catalog(tmp_path: Path) -> Catalog:
    root = tmp_path / "catalog"
    shutil.copytree(EXAMPLE_CATALOG, root)
    for i, name in enumerate(["trailer_first", "trailer_second"]):
        (root / "messages" / f"{name}.yaml").write_text(_RELEASE.format(name=name, id=9001 + i))
    return load_catalog(root)


def _trailer(event_id: str, clock: FakeClock) -> Event:
    payload = {"show_title": "Dark", "season": 2}
    return Event(event_id, "trailer.released", "ana", clock(), payload)


def _pushes(store: SqlStore) -> list[tuple[str, str, Status]]:
    found = store.list_messages(MessageQuery("ana"))
    return sorted((m.event_id, m.message, m.status) for m in found if m.channel is Channel.PUSH)


def _run(db_url: str, tmp_path: Path, batches: list[list[str]]) -> list[tuple[str, str, Status]]:
    clock = FakeClock()
    migrate(db_url)
    store = SqlStore(db_url)
    try:
        device = Device("phone", "ios", "17.0", None, "tok")
        store.upsert_profile(Profile(id="ana", devices=(device,)), clock())
        catalog = _catalog(tmp_path)
        orchestrator = Orchestrator(store, lambda: catalog, clock, "w1")
        for batch in batches:
            store.accept_events([_trailer(e, clock) for e in batch], clock())
            while orchestrator.run_once():
                pass
        return _pushes(store)
    finally:
        store.close()


EXPECTED = [
    ("e1", "trailer_first", Status.SCHEDULED),
    ("e1", "trailer_second", Status.SCHEDULED),
    ("e2", "trailer_first", Status.SCHEDULED),
    ("e2", "trailer_second", Status.SUPPRESSED),
]


def test_one_batch_s_events_share_the_push_cap(db_url: str, tmp_path: Path) -> None:
    assert _run(db_url, tmp_path, [["e1", "e2"]]) == EXPECTED


def test_events_of_two_batches_share_the_push_cap(db_url: str, tmp_path: Path) -> None:
    assert _run(db_url, tmp_path, [["e1"], ["e2"]]) == EXPECTED
