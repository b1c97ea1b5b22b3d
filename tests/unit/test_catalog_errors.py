"""Broken catalogs: every problem names its file and key, and all are reported at once."""

from pathlib import Path

import pytest

from clarion.catalog import CatalogError, CatalogIssue, check_catalog, load_catalog

POLICY = "default_locale: en\n"
MESSAGE = """\
name: {name}
id: {id}
category: account
trigger: {{event: payment.failed}}
channels:
  - channel: push
    content: {{title: greeting.title}}
"""
STRINGS = "greeting:\n  title: Hello {{ event.name }}\n"


def write(root: Path, files: dict[str, str]) -> Path:
    base = {
        "clarion.yaml": POLICY,
        "messages/ok.yaml": MESSAGE.format(name="ok", id=1),
        "strings/en.yaml": STRINGS,
    }
    for name, text in (base | files).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def only_issue(root: Path) -> CatalogIssue:
    issues = check_catalog(root)
    assert len(issues) == 1, issues
    return issues[0]


def test_valid_minimal_catalog(tmp_path: Path) -> None:
    assert check_catalog(write(tmp_path, {})) == []


def test_issue_str_names_file_key_and_problem() -> None:
    issue = CatalogIssue("messages/a.yaml", "timing.delay", "invalid duration")
    assert str(issue) == "messages/a.yaml: timing.delay: invalid duration"
    assert str(CatalogIssue("strings/xx.yaml", "", "unknown locale")) == (
        "strings/xx.yaml: unknown locale"
    )


def test_bad_duration(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1) + "timing: {delay: 24 hours}\n"
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert str(issue) == (
        "messages/ok.yaml: timing.delay: invalid duration '24 hours' (use e.g. 90s, 15m, 24h, 7d)"
    )


def test_unknown_channel(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1).replace("channel: push", "channel: fax")
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert (issue.file, issue.key) == ("messages/ok.yaml", "channels[0].channel")
    assert "'fax'" in issue.problem and "inapp" in issue.problem


def test_duplicate_id(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, {"messages/other.yaml": MESSAGE.format(name="other", id=1)}))
    assert (issue.file, issue.key) == ("messages/other.yaml", "id")
    assert "messages/ok.yaml" in issue.problem


def test_missing_string_key(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1).replace("greeting.title", "greeting.body")
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert (issue.file, issue.key) == ("messages/ok.yaml", "channels[0].content.title")
    assert "'greeting.body'" in issue.problem and "strings/en.yaml" in issue.problem


def test_bad_jinja_syntax(tmp_path: Path) -> None:
    strings = STRINGS + "other:\n  broken: Hi {{ event.name }\n"
    issue = only_issue(write(tmp_path, {"strings/en.yaml": strings}))
    assert (issue.file, issue.key) == ("strings/en.yaml", "other.broken")
    assert issue.problem.startswith("template syntax error")


def test_unknown_template_variable(tmp_path: Path) -> None:
    strings = STRINGS + "other:\n  typo: Hi {{ evnt.name }}\n"
    issue = only_issue(write(tmp_path, {"strings/en.yaml": strings}))
    assert (issue.file, issue.key) == ("strings/en.yaml", "other.typo")
    assert "'evnt'" in issue.problem


def test_bad_predicate_operator(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1).replace(
        "trigger: {event: payment.failed}",
        "trigger: {event: payment.failed, condition: {amount: {bigger: 0}}}",
    )
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert (issue.file, issue.key) == ("messages/ok.yaml", "trigger.condition.amount.bigger")
    assert "unknown operator 'bigger'" in issue.problem


def test_unknown_field_in_segment(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1) + "segment: {plan: premium}\n"
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert (issue.file, issue.key) == ("messages/ok.yaml", "segment.plan")
    assert "unknown field 'plan'" in issue.problem


def test_name_must_match_file_stem(tmp_path: Path) -> None:
    text = MESSAGE.format(name="renamed", id=1)
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert (issue.file, issue.key) == ("messages/ok.yaml", "name")
    assert "'ok'" in issue.problem


def test_bad_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": "name: ok\nid: [1\ncategory: x\n"}))
    assert issue.file == "messages/ok.yaml" and issue.key == "line 3"
    assert issue.problem.startswith("invalid YAML")


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1) + "id: 2\n"
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert issue.key == "line 8" and "duplicate key 'id'" in issue.problem


def test_missing_required_keys(tmp_path: Path) -> None:
    root = write(tmp_path, {"messages/ok.yaml": "id: 1\n", "messages/empty.yaml": ""})
    found = {(i.file, i.key, i.problem) for i in check_catalog(root)}
    assert found == {
        ("messages/empty.yaml", "", "expected a mapping, got nothing"),
        ("messages/ok.yaml", "name", "missing required key"),
        ("messages/ok.yaml", "category", "missing required key"),
        ("messages/ok.yaml", "trigger", "missing required key"),
        ("messages/ok.yaml", "channels", "missing required key"),
    }


def test_unknown_key_lists_allowed_ones(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1) + "timing: {dealy: 1h}\n"
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert (issue.key, issue.problem.split(" (")[0]) == ("timing.dealy", "unknown key")
    assert "delay" in issue.problem


def test_bad_locale_file_name(tmp_path: Path) -> None:
    issue = only_issue(write(tmp_path, {"strings/klingon.yaml": STRINGS}))
    assert (issue.file, issue.key) == ("strings/klingon.yaml", "")
    assert "unknown locale" in issue.problem


def test_same_locale_twice(tmp_path: Path) -> None:
    files = {"strings/pt-BR.yaml": STRINGS, "strings/pt_BR.yaml": STRINGS}
    issue = only_issue(write(tmp_path, files))
    assert "already defined" in issue.problem


def test_missing_default_locale_strings(tmp_path: Path) -> None:
    issues = check_catalog(write(tmp_path, {"clarion.yaml": "default_locale: es\n"}))
    assert [(i.file, i.key) for i in issues] == [("strings/es.yaml", "")]


def test_translation_gaps_are_not_errors(tmp_path: Path) -> None:
    root = write(tmp_path, {"strings/pt.yaml": "other: {x: y}\n"})
    assert check_catalog(root) == []
    assert load_catalog(root).missing_translations() == {"pt": ["greeting.title"]}


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    ok = MESSAGE.format(name="ok", id=1)
    files = {
        "clarion.yaml": "default_locale: en\nquiet_hours: {start: '25:00', end: '08:00'}\n",
        "messages/ok.yaml": ok + "timing: {delay: 24 hours, expires_after: soon}\n",
        "messages/fax.yaml": MESSAGE.format(name="fax", id=2).replace("push", "fax"),
        "messages/dup.yaml": MESSAGE.format(name="dup", id=1),
        "messages/missing.yaml": MESSAGE.format(name="missing", id=3).replace(
            "greeting.title", "nowhere.title"
        ),
        "messages/cond.yaml": MESSAGE.format(name="cond", id=4) + "segment: {plan: x}\n",
        "messages/stem.yaml": MESSAGE.format(name="not_stem", id=5),
        "messages/syntax.yaml": "name: [syntax\n",
        "strings/en.yaml": STRINGS + "bad: '{% if %}'\n",
        "strings/zz.yaml": STRINGS,
    }
    issues = check_catalog(write(tmp_path, files))
    found = {(i.file, i.key) for i in issues}
    assert found == {
        ("clarion.yaml", "quiet_hours.start"),
        ("messages/ok.yaml", "timing.delay"),
        ("messages/ok.yaml", "timing.expires_after"),
        ("messages/fax.yaml", "channels[0].channel"),
        ("messages/ok.yaml", "id"),  # dup.yaml sorts first and keeps id 1
        ("messages/missing.yaml", "channels[0].content.title"),
        ("messages/cond.yaml", "segment.plan"),
        ("messages/stem.yaml", "name"),
        ("messages/syntax.yaml", "line 2"),
        ("strings/en.yaml", "bad"),
        ("strings/zz.yaml", ""),
    }
    with pytest.raises(CatalogError) as raised:
        load_catalog(tmp_path)
    assert raised.value.issues == issues
    assert "messages/ok.yaml: timing.delay: invalid duration" in str(raised.value)


def test_missing_directory(tmp_path: Path) -> None:
    issue = only_issue(tmp_path / "nope")
    assert issue.problem == "catalog directory not found"


def test_unknown_operand_reference_in_segment(tmp_path: Path) -> None:
    text = MESSAGE.format(name="ok", id=1) + "segment: {attributes.x: {eq: {profile: y}}}\n"
    issue = only_issue(write(tmp_path, {"messages/ok.yaml": text}))
    assert (issue.file, issue.key) == ("messages/ok.yaml", "segment.attributes.x.eq")
    assert "unknown operand reference 'profile'" in issue.problem
