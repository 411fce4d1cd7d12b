"""Link state rules: a small declarative vocabulary, read from the link types' data and evaluated
without eval or exec, so that an operator's YAML can never run code.

A rule, in a link type's `state`:

    state:
      down_when:                 # optional; any condition true -> "down", whatever else holds
        - {field: link.attributes.error, present: true}
      up_when:                   # required; all true -> "up", any false -> "down", else "unknown"
        - {field: source.attributes.state, equals: up}
        - {field: target.attributes.status, in: [active], when_missing: true}
        - any:
            - {field: link.attributes.link_state, equals: up}
            - {field: target.attributes.switch, equals: vpp}

A field is a dotted path rooted at `link`, `source` or `target` (the link and its two end objects)
and walks dict keys only. A condition is a field test (`field` plus exactly one operator), or
`any:` / `all:` over a list of conditions. Conditions are three-valued: true, false or unknown.
A test on a missing field (absent, or null) is unknown unless it says otherwise with
`when_missing: true | false | unknown`; `present` tests the presence itself. Strings compare
case-insensitively, because the sources disagree on case (`ip` says UP, OVS up, Nova ACTIVE), and a
boolean never equals a number.

Operators: equals, not_equals, in, not_in (a list of scalars), greater_than, less_than (a number;
a value that is not a number counts as missing), present (true or false), in_field (another field
path: the value is one of that field's list, or equals it when that field holds one value).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

State = Literal["up", "down", "unknown"]
Scalar = str | int | float | bool
# Three-valued truth: None is "cannot tell from the facts at hand".
Truth = bool | None

ROOTS = ("link", "source", "target")
SCALAR_OPERATORS = ("equals", "not_equals")
LIST_OPERATORS = ("in", "not_in")
NUMBER_OPERATORS = ("greater_than", "less_than")
OPERATORS = (*SCALAR_OPERATORS, *LIST_OPERATORS, *NUMBER_OPERATORS, "present", "in_field")
_MISSING = object()


class RuleError(ValueError):
    """A state rule that does not follow the vocabulary; the message says where and why."""


@dataclass(frozen=True)
class FieldTest:
    """`field` tested with one operator against `values` (one scalar for equals, not_equals,
    greater_than, less_than and present; the list for in, not_in) or the field `other`
    (in_field)."""

    field: tuple[str, ...]
    operator: str
    values: tuple[Scalar, ...] = ()
    other: tuple[str, ...] = ()
    when_missing: Truth = None


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


Condition = FieldTest | AnyOf | AllOf


@dataclass(frozen=True)
class StateRule:
    up_when: tuple[Condition, ...]
    down_when: tuple[Condition, ...] = ()

    def fields(self) -> Iterator[tuple[str, ...]]:
        """Every field path the rule reads, for checking them against the types' fields."""
        pending = [*self.up_when, *self.down_when]
        while pending:
            condition = pending.pop()
            if isinstance(condition, FieldTest):
                yield condition.field
                if condition.other:
                    yield condition.other
            else:
                pending.extend(condition.conditions)


def parse_rule(data: object) -> StateRule:
    """A StateRule from its data (a link type's `state`); RuleError when it is malformed."""
    if not isinstance(data, Mapping):
        raise RuleError("state must be a mapping with up_when (and optionally down_when)")
    # By text: a key may be a number, and numbers do not sort among strings.
    unknown = sorted(set(data) - {"up_when", "down_when"}, key=str)
    if unknown:
        raise RuleError(f"state: unknown keys {unknown}; expected up_when, down_when")
    if "up_when" not in data:
        raise RuleError("state: up_when is required (a state comes from facts, never a constant)")
    return StateRule(up_when=_conditions(data["up_when"], "up_when"),
                     down_when=_conditions(data.get("down_when", []), "down_when", empty=True))


def _conditions(items: object, where: str, empty: bool = False) -> tuple[Condition, ...]:
    if not isinstance(items, list) or not (items or empty):
        raise RuleError(f"{where} must be a {'' if empty else 'non-empty '}list of conditions")
    return tuple(_condition(item, f"{where}[{i}]") for i, item in enumerate(items))


def _condition(item: object, where: str) -> Condition:
    if not isinstance(item, Mapping):
        raise RuleError(f"{where}: a condition is a mapping, got {item!r}")
    if set(item) == {"any"}:
        return AnyOf(_conditions(item["any"], f"{where}.any"))
    if set(item) == {"all"}:
        return AllOf(_conditions(item["all"], f"{where}.all"))
    if "field" not in item:
        raise RuleError(f"{where}: expected {{field: ..., <operator>: ...}}, {{any: [...]}} or "
                        f"{{all: [...]}}, got keys {sorted(item, key=str)}")
    unknown = sorted(set(item) - {"field", "when_missing", *OPERATORS}, key=str)
    if unknown:
        raise RuleError(f"{where}: unknown keys {unknown}; operators are {list(OPERATORS)}")
    operators = [key for key in item if key in OPERATORS]
    if len(operators) != 1:
        raise RuleError(f"{where}: exactly one operator is needed, got {operators or 'none'}")
    operator = operators[0]
    field = _path(item["field"], where)
    if operator == "present" and "when_missing" in item:
        raise RuleError(f"{where}: present decides about missing fields itself")
    when_missing = _when_missing(item.get("when_missing", "unknown"), where)
    if operator == "in_field":
        return FieldTest(field, operator, other=_path(item[operator], where),
                         when_missing=when_missing)
    return FieldTest(field, operator, _operand(operator, item[operator], where),
                     when_missing=when_missing)


def _path(path: object, where: str) -> tuple[str, ...]:
    if not isinstance(path, str) or not path:
        raise RuleError(f"{where}: a field is a dotted path string, got {path!r}")
    parts = tuple(path.split("."))
    if parts[0] not in ROOTS or len(parts) < 2 or not all(parts):
        raise RuleError(f"{where}: field {path!r} must be <root>.<name>[.<name> ...] with root "
                        f"one of {list(ROOTS)}")
    return parts


def _is_scalar(value: object) -> TypeGuard[Scalar]:
    return isinstance(value, str | int | float | bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _operand(operator: str, value: object, where: str) -> tuple[Scalar, ...]:
    if operator in SCALAR_OPERATORS and _is_scalar(value):
        return (value,)
    if operator in LIST_OPERATORS and isinstance(value, list) and value \
            and all(_is_scalar(v) for v in value):
        return tuple(value)
    if operator in NUMBER_OPERATORS and _is_number(value):
        return (value,)
    if operator == "present" and isinstance(value, bool):
        return (value,)
    expected = {"equals": "a scalar", "not_equals": "a scalar", "in": "a non-empty list of "
                "scalars", "not_in": "a non-empty list of scalars", "greater_than": "a number",
                "less_than": "a number", "present": "true or false"}[operator]
    raise RuleError(f"{where}: {operator} takes {expected}, got {value!r}")


def _when_missing(value: object, where: str) -> Truth:
    # YAML reads true and false as booleans, and unknown as a string.
    if isinstance(value, bool):
        return value
    if value != "unknown":
        raise RuleError(f"{where}: when_missing is true, false or unknown, got {value!r}")
    return None


def evaluate_state(rule: StateRule, link: Mapping[str, Any], source: Mapping[str, Any] | None,
                   target: Mapping[str, Any] | None) -> State:
    """The state of a link from its rule, the link and its end objects (None when unknown)."""
    roots = {"link": link, "source": source, "target": target}
    if _any(_evaluate(c, roots) for c in rule.down_when) is True:
        return "down"
    up = _all(_evaluate(c, roots) for c in rule.up_when)
    return "up" if up is True else "down" if up is False else "unknown"


def _evaluate(condition: Condition, roots: Mapping[str, object]) -> Truth:
    if isinstance(condition, AnyOf):
        return _any(_evaluate(c, roots) for c in condition.conditions)
    if isinstance(condition, AllOf):
        return _all(_evaluate(c, roots) for c in condition.conditions)
    actual = _resolve(condition.field, roots)
    operator, values = condition.operator, condition.values
    if operator == "present":
        return (actual is not _MISSING) is values[0]
    if actual is _MISSING:
        return condition.when_missing
    if operator in ("equals", "in"):
        return any(_same(actual, v) for v in values)
    if operator in ("not_equals", "not_in"):
        return not any(_same(actual, v) for v in values)
    if operator in NUMBER_OPERATORS:
        if not _is_number(actual):
            return condition.when_missing
        bound = values[0]
        return actual > bound if operator == "greater_than" else actual < bound
    other = _resolve(condition.other, roots)
    if other is _MISSING:
        return condition.when_missing
    members = other if isinstance(other, list | tuple) else (other,)
    return any(_same(actual, member) for member in members)


def _resolve(path: tuple[str, ...], roots: Mapping[str, object]) -> object:
    node = roots.get(path[0])
    for key in path[1:]:
        if not isinstance(node, Mapping):
            return _MISSING
        node = node.get(key)
    return _MISSING if node is None else node


def _same(actual: object, expected: object) -> bool:
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    return actual == expected


def _any(values: Iterable[Truth]) -> Truth:
    result: Truth = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def _all(values: Iterable[Truth]) -> Truth:
    result: Truth = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result
