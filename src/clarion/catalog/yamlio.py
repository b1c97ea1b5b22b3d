"""Reading catalog YAML: YAML 1.2 scalars, no duplicate keys, errors with line numbers.

PyYAML follows YAML 1.1, where ``22:00`` is the integer 1320, ``no`` is false and
``2024-05-01`` a date. In a catalog those are clock times, the string "no" in a
translation, and text; so this loader resolves only the YAML 1.2 core scalars
(null, true/false, decimal and hex integers, floats) and leaves the rest as strings.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

_DROPPED: Final = frozenset(
    {
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:timestamp",
    }
)
_CORE: Final = (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
        r"|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
)


class YAMLError(ValueError):
    """A file that is not valid YAML; ``line`` is 1-based, or 0 when unknown."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.line = line
        self.problem = problem


class _Loader(yaml.SafeLoader):
    """A safe loader with YAML 1.2 core scalars that rejects duplicate keys."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _pattern, _first in _CORE:
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def load_yaml(path: Path) -> object:
    """The data in one YAML file; raises ``YAMLError`` with a line number on bad syntax."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YAMLError(0, f"cannot read: {exc}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YAMLError(line, problem or "invalid YAML") from None
    except yaml.YAMLError as exc:
        raise YAMLError(0, str(exc)) from None
