"""A YAML reader that remembers where every value came from, so a policy mistake is
reported as ``file:line: reason`` — the way an editor of the policy can find it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml


class PolicyError(ValueError):
    """A policy file is malformed or inconsistent. The message names file, line, reason."""

    def __init__(self, file: str, line: int, reason: str) -> None:
        super().__init__(f"{file}:{line}: {reason}")
        self.file = file
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Node:
    """One YAML value with its file and (1-based) line."""

    raw: yaml.Node
    file: str

    @property
    def line(self) -> int:
        return self.raw.start_mark.line + 1

    def error(self, reason: str) -> PolicyError:
        return PolicyError(self.file, self.line, reason)

    # --- scalars --------------------------------------------------------------------

    def _scalar(self, what: str) -> str:
        if not isinstance(self.raw, yaml.ScalarNode):
            raise self.error(f"expected {what}, found a {self._kind()}")
        return str(self.raw.value)

    def _kind(self) -> str:
        if isinstance(self.raw, yaml.MappingNode):
            return "mapping"
        if isinstance(self.raw, yaml.SequenceNode):
            return "list"
        return "scalar"

    def text(self) -> str:
        value = self._scalar("text")
        if not value.strip():
            raise self.error("expected non-empty text")
        return value

    def integer(self) -> int:
        value = self._scalar("a whole number")
        try:
            return int(value)
        except ValueError:
            raise self.error(f"expected a whole number, found {value!r}") from None

    def boolean(self) -> bool:
        value = self._scalar("true or false").lower()
        if value not in ("true", "false"):
            raise self.error(f"expected true or false, found {value!r}")
        return value == "true"

    def number(self) -> float:
        value = self._scalar("a number")
        try:
            return float(value)
        except ValueError:
            raise self.error(f"expected a number, found {value!r}") from None

    # --- collections ----------------------------------------------------------------

    def is_list(self) -> bool:
        return isinstance(self.raw, yaml.SequenceNode)

    def items(self) -> list[Node]:
        if not isinstance(self.raw, yaml.SequenceNode):
            raise self.error(f"expected a list, found a {self._kind()}")
        return [Node(child, self.file) for child in self.raw.value]

    def texts(self) -> list[str]:
        return [item.text() for item in self.items()]

    def mapping(self) -> Mapping:
        if not isinstance(self.raw, yaml.MappingNode):
            raise self.error(f"expected a mapping, found a {self._kind()}")
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in self.raw.value:
            key = Node(key_node, self.file)
            name = key.text()
            if name in entries:
                raise key.error(f"duplicate key {name!r}")
            entries[name] = (key, Node(value_node, self.file))
        return Mapping(self, entries)


@dataclass
class Mapping:
    """A YAML mapping whose keys must all be consumed: an unknown key is an error, so a
    misspelt field is never silently ignored."""

    node: Node
    entries: dict[str, tuple[Node, Node]]

    def __post_init__(self) -> None:
        self._used: set[str] = set()
        self._asked: set[str] = set()

    def require(self, key: str) -> Node:
        self._asked.add(key)
        if key not in self.entries:
            raise self.node.error(f"missing required field {key!r}")
        self._used.add(key)
        return self.entries[key][1]

    def optional(self, key: str) -> Node | None:
        self._asked.add(key)
        if key not in self.entries:
            return None
        self._used.add(key)
        return self.entries[key][1]

    def pairs(self) -> Iterator[tuple[str, Node, Node]]:
        for key, (key_node, value_node) in self.entries.items():
            self._used.add(key)
            yield key, key_node, value_node

    def done(self) -> None:
        """Refuse any key nobody asked for."""
        for key, (key_node, _) in self.entries.items():
            if key not in self._used:
                allowed = ", ".join(sorted(self._asked)) or "none"
                raise key_node.error(f"unknown field {key!r} (expected one of: {allowed})")


def read_yaml(path: Path, name: str) -> Node:
    """Parse one policy file into a ``Node``; a YAML syntax error becomes a PolicyError."""
    try:
        document = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise PolicyError(name, line, f"not valid YAML: {error.problem or error}") from None
    except OSError as error:
        raise PolicyError(name, 1, f"cannot read the file: {error.strerror}") from None
    if document is None:
        raise PolicyError(name, 1, "the file is empty")
    return Node(document, name)
