"""The committed in-app contract: JSON Schema snapshots and golden payloads.

``tests/golden/inapp/*.schema.json`` are snapshots of the schemas that
``clarion.inapp.contract`` generates from its models; ``*.payload.json`` are payloads
assembled once from the example catalog with fixed tracking, clock and key.
``tests/unit/test_golden_contract.py`` compares the generated schemas with the
snapshots, validates the golden payloads against both, and checks that payloads
assembled today have the golden ones' shape: since the models both build the payload
and generate the schema, only committed copies catch a renamed or dropped field.

Every UI platform reads this contract, so change it only on purpose:

    .venv/bin/python -m tests.golden.inapp

rewrites the snapshots and payloads; review ``git diff tests/golden/`` (every changed
line is a change for the web SDK and the apps) and commit it with the change.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from clarion.catalog import load_catalog
from clarion.catalog.example import example_context
from clarion.core.inapp_spec import ActionType, Template
from clarion.core.payload import (
    Notification,
    NotificationAction,
    alerts_response,
    assemble_alert,
    assemble_notification,
    notifications_response,
)
from clarion.inapp import FeedbackSigner
from clarion.inapp.contract import ALERTS_RESPONSE_SCHEMA, NOTIFICATIONS_RESPONSE_SCHEMA
from tests.unit.inapp_fixtures import EXAMPLE, KEY, tracking

HERE = Path(__file__).parent / "inapp"
SCHEMAS: dict[str, dict[str, object]] = {
    "alerts": ALERTS_RESPONSE_SCHEMA,
    "notifications": NOTIFICATIONS_RESPONSE_SCHEMA,
}
_SIGNER = FeedbackSigner({"k1": KEY}, "k1", lambda: datetime(2024, 5, 1, tzinfo=UTC))


def alerts_payload() -> dict[str, object]:
    """``payment_failed``'s alert in English, as a fetch returns it."""
    catalog = load_catalog(EXAMPLE)
    spec = catalog.message("payment_failed")
    [step] = [s for s in spec.channels if s.inapp is not None]
    assert step.inapp is not None and step.inapp.template is Template.STANDARD
    fields = catalog.render(spec.name, step.index, "en", example_context(spec, "en")).fields
    info = tracking(step.inapp.template.value, message_name=spec.name, locale="en")
    return alerts_response([assemble_alert(step.inapp, fields, info, _SIGNER.sign)])


def notifications_payload() -> dict[str, object]:
    """A page of two notification-center items: one with an image and an action."""
    info = tracking("notification", message_name="top_pick")
    items = [
        Notification(
            "N1",
            datetime(2024, 5, 1, tzinfo=UTC),
            "**Dark** is back",
            "Season 3 is here.",
            image="https://img.example.com/dark.jpg",
            action=NotificationAction(ActionType.REDIRECT, "/title/dark"),
        ),
        Notification("N0", datetime(2024, 4, 1, tzinfo=UTC), "Hi", "There", read=True),
    ]
    assembled = [assemble_notification(item, info, _SIGNER.sign) for item in items]
    return notifications_response(assembled, unread_count=1, next_cursor="abc")


PAYLOADS = {"alerts": alerts_payload, "notifications": notifications_payload}


def dump(value: object) -> str:
    """A file's text: sorted keys and an indent, so a diff reads field by field."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, schema in SCHEMAS.items():
        (HERE / f"{name}.schema.json").write_text(dump(schema), encoding="utf-8")
        (HERE / f"{name}.payload.json").write_text(dump(PAYLOADS[name]()), encoding="utf-8")
    print(f"wrote {HERE}: review `git diff tests/golden/` before committing")


if __name__ == "__main__":
    main()
