"""Shared values for the in-app tests: the example catalog, tracking, a fake feedback maker."""

from pathlib import Path

from clarion.core.model import JSONObject
from clarion.core.tracking import FeedbackBody, Tracking

EXAMPLE = Path(__file__).parents[2] / "catalog"
KEY = b"k" * 32


def tracking(template: str = "standard", **changes: object) -> Tracking:
    values: dict[str, object] = {
        "message_guid": "786DECAE429EEB029EEE057191675F6764555F12",
        "event_guid": "D6AC068F169C0E616E99AF1C72F1AD8264555F12",
        "render_guid": "85661FCF-0857-42A7-AA0E-559A26A5723B_R",
        "message_name": "payment_failed",
        "message_id": 1001,
        "locale": "en",
        "template_id": template,
        "ab_test_id": 2222,
        "ab_test_cell": 2,
    }
    return Tracking(**{**values, **changes})  # type: ignore[arg-type]


def echo(body: FeedbackBody) -> JSONObject:
    """A feedback maker that shows what it was given, instead of signing it."""
    return body.to_json()
