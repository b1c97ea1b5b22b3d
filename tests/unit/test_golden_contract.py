"""The in-app contract against its committed copies (``tests/golden/inapp/``).

The schema is generated from the same models that build the payload, so a field
renamed in the models still passes every test that validates a payload against the
generated schema. These tests compare with files that only change on purpose (see
``tests/golden/inapp.py`` for how to update them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from jsonschema import Draft202012Validator

from tests.golden.inapp import HERE, PAYLOADS, SCHEMAS, dump

UPDATE = "the contract changed: if on purpose, run `.venv/bin/python -m tests.golden.inapp`"


def committed(name: str) -> object:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def shape(value: object, path: str = "$") -> Iterator[str]:
    """Every member path of a JSON value (list items as ``[]``), with its JSON type."""
    if isinstance(value, dict):
        yield f"{path} object"
        for key, item in value.items():
            yield from shape(item, f"{path}.{key}")
    elif isinstance(value, list):
        yield f"{path} array"
        for item in value:
            yield from shape(item, f"{path}[]")
    else:
        yield f"{path} {type(value).__name__}"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_generated_schema_is_the_committed_snapshot(name: str) -> None:
    snapshot = (HERE / f"{name}.schema.json").read_text(encoding="utf-8")
    assert dump(SCHEMAS[name]) == snapshot, UPDATE


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_golden_payload_validates_against_both_schemas(name: str) -> None:
    golden = committed(f"{name}.payload.json")
    for schema in (committed(f"{name}.schema.json"), SCHEMAS[name]):
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(golden)]
        assert errors == [], UPDATE


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_payloads_assembled_today_have_the_golden_shape(name: str) -> None:
    golden = committed(f"{name}.payload.json")
    assert sorted(set(shape(PAYLOADS[name]()))) == sorted(set(shape(golden))), UPDATE


def test_a_renamed_field_fails() -> None:
    golden = committed("alerts.payload.json")
    assert isinstance(golden, dict)
    cta = golden["alerts"][0]["template"]["ctas"][0]
    cta["isDefault"] = cta.pop("isSelected")
    for schema in (committed("alerts.schema.json"), SCHEMAS["alerts"]):
        assert not Draft202012Validator(schema).is_valid(golden)
    assert set(shape(golden)) != set(shape(PAYLOADS["alerts"]()))
