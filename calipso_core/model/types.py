"""Calipso's model as data: object, link and clique types, loaded from YAML and checked.

The shipped definitions are calipso_core/model/data/{object,link,clique}_types.yaml. Operators
change them without code changes: a directory named by CALIPSO_TYPES_DIR (or passed to
load_registry) may hold any of the same three files. Its entries replace shipped entries of the
same name and add new ones, an entry set to null removes a shipped one, and `replace: true` at the
top of a file drops everything the shipped file defines. Over both, layers of definitions held
elsewhere (`TypeLayer`: the clique and link types admins edit per environment through the API,
`calipso_core.model.edits`) replace or add entries the same way.

Everything is checked when the types load, and an error names the file and the entry: unknown
keys, unknown types referenced, a name given twice, a state rule outside its vocabulary or reading
a field its types do not declare, a clique walk that cannot reach one of its link types.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import yaml

from calipso_core.model.state import RuleError, StateRule, parse_rule

SHIPPED_DIR = Path(__file__).with_name("data")
TYPES_DIR_ENV = "CALIPSO_TYPES_DIR"
OBJECT_TYPES_FILE = "object_types.yaml"
LINK_TYPES_FILE = "link_types.yaml"
CLIQUE_TYPES_FILE = "clique_types.yaml"
# The sections each file holds; every section maps entry names to their definitions.
SECTIONS = {OBJECT_TYPES_FILE: ("common_fields", "object_types"),
            LINK_TYPES_FILE: ("common_fields", "link_types"),
            CLIQUE_TYPES_FILE: ("clique_types",)}
# The parent of top-level objects: the environment itself, not an object type.
ENVIRONMENT = "environment"
MATCH_KEYS = ("distribution", "mechanism_drivers", "type_drivers")
KINDS: dict[str, Callable[[object], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list | tuple),
    "dict": lambda v: isinstance(v, Mapping),
    # Stored documents hold datetimes, their JSON renderings ISO 8601 strings.
    "timestamp": lambda v: isinstance(v, datetime | str),
}


class TypeDataError(ValueError):
    """Type data that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str
    description: str
    nullable: bool = False
    required: bool = True
    values: tuple[str, ...] = ()

    def problem(self, container: Mapping[str, Any]) -> str | None:
        """Why container's value for this field is not valid, or None."""
        if self.name not in container:
            return f"{self.name}: missing" if self.required else None
        value = container[self.name]
        if value is None:
            return None if self.nullable else f"{self.name}: null, but not nullable"
        if not KINDS[self.kind](value):
            return f"{self.name}: expected {self.kind}, got {type(value).__name__}"
        if self.values and value not in self.values:
            return f"{self.name}: {value!r} is not one of {list(self.values)}"
        return None


@dataclass(frozen=True)
class ObjectType:
    name: str
    label: str
    icon: str
    description: str
    id_from: str
    parents: tuple[str, ...]
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class LinkType:
    name: str
    source_type: str
    target_type: str
    description: str
    state: StateRule
    attributes: tuple[FieldSpec, ...] = ()


@dataclass(frozen=True)
class WalkStep:
    """A link type of a clique walk, followed from objects of from_type to the other end (both
    ways when from_type == to_type)."""

    link_type: str
    from_type: str
    to_type: str


@dataclass(frozen=True)
class Restriction:
    """Objects of `object_type` join a clique only when an object of `by_type` in it names them
    in the field at `path`; with `via`, only those reached over that link type (the remote
    oteps of tunnels), the others joining as usual."""

    object_type: str
    by_type: str
    path: tuple[str, ...]
    via: str | None = None


@dataclass(frozen=True)
class CliqueType:
    name: str
    entry: str
    description: str
    focal_type: str
    steps: tuple[WalkStep, ...]
    stop_types: frozenset[str] = frozenset()
    max_depth: int | None = None
    restrictions: tuple[Restriction, ...] = ()
    match: tuple[tuple[str, frozenset[str]], ...] = ()

    @property
    def link_types(self) -> tuple[str, ...]:
        return tuple(step.link_type for step in self.steps)

    def applies_to(self, properties: Mapping[str, frozenset[str]]) -> bool:
        """Whether every value the environment has for each matched property is allowed."""
        return all(properties.get(key) and properties[key] <= allowed
                   for key, allowed in self.match)


class TypeRegistry:
    """The loaded types, with lookups."""

    def __init__(self, common_fields: tuple[FieldSpec, ...], link_fields: tuple[FieldSpec, ...],
                 object_types: Mapping[str, ObjectType], link_types: Mapping[str, LinkType],
                 clique_types: tuple[CliqueType, ...]) -> None:
        self.common_fields = common_fields
        self.link_fields = link_fields
        self.object_types: Mapping[str, ObjectType] = MappingProxyType(dict(object_types))
        self.link_types: Mapping[str, LinkType] = MappingProxyType(dict(link_types))
        self.clique_types = clique_types

    def object_type(self, name: str) -> ObjectType:
        if name not in self.object_types:
            raise KeyError(f"unknown object type {name!r}")
        return self.object_types[name]

    def link_type(self, name: str) -> LinkType:
        if name not in self.link_types:
            raise KeyError(f"unknown link type {name!r}")
        return self.link_types[name]

    def clique_types_for(self, environment_properties: Mapping[str, Any]) -> list[CliqueType]:
        """One entry per clique type name: the most specific that applies to an environment
        with these properties (distribution, mechanism_drivers, type_drivers), by name."""
        properties = {key: _property_values(environment_properties.get(key))
                      for key in MATCH_KEYS}
        chosen = []
        for name in sorted({c.name for c in self.clique_types}):
            candidates = [c for c in self.clique_types
                          if c.name == name and c.applies_to(properties)]
            if not candidates:
                continue
            best = max(len(c.match) for c in candidates)
            top = [c for c in candidates if len(c.match) == best]
            if len(top) > 1:
                raise TypeDataError(
                    f"clique type {name!r}: entries {[c.entry for c in top]} apply equally to an "
                    f"environment with {dict(environment_properties)}; add an entry matching "
                    f"more properties, or narrow one of them")
            chosen.append(top[0])
        return chosen

    def object_problems(self, obj: Mapping[str, Any]) -> list[str]:
        """What keeps obj from being a valid object document of its type ([] if nothing)."""
        type_name = obj.get("type")
        object_type = self.object_types.get(type_name) if isinstance(type_name, str) else None
        if object_type is None:
            return [f"type: unknown object type {type_name!r}"]
        problems = [p for spec in self.common_fields if (p := spec.problem(obj))]
        attributes = obj.get("attributes")
        if isinstance(attributes, Mapping):
            problems += [f"attributes.{p}" for spec in object_type.fields
                         if (p := spec.problem(attributes))]
        if (obj.get("parent_type") or ENVIRONMENT) not in object_type.parents:
            problems.append(f"parent_type: {obj.get('parent_type')!r} is not a parent of "
                            f"{type_name} ({list(object_type.parents)})")
        return problems

    def link_problems(self, link: Mapping[str, Any]) -> list[str]:
        """What keeps link from being a valid link document of its type ([] if nothing)."""
        type_name = link.get("link_type")
        link_type = self.link_types.get(type_name) if isinstance(type_name, str) else None
        if link_type is None:
            return [f"link_type: unknown link type {type_name!r}"]
        problems = [p for spec in self.link_fields if (p := spec.problem(link))]
        attributes = link.get("attributes")
        if isinstance(attributes, Mapping):
            problems += [f"attributes.{p}" for spec in link_type.attributes
                         if (p := spec.problem(attributes))]
        for end in ("source", "target"):
            expected = getattr(link_type, f"{end}_type")
            if link.get(f"{end}_type") != expected:
                problems.append(f"{end}_type: {link.get(f'{end}_type')!r}, but {type_name} "
                                f"links {link_type.source_type} to {link_type.target_type}")
        return problems


def _property_values(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value.casefold()} if value else ())
    if isinstance(value, Iterable):
        return frozenset(str(v).casefold() for v in value if v)
    return frozenset()


# Loading


class _Entry(NamedTuple):
    path: str
    """Where the entry was read: a file, or a layer's origin and file name."""
    data: object


@dataclass(frozen=True)
class TypeLayer:
    """Definitions laid over the model's files: file name -> section -> entry name ->
    definition, each replacing or adding the entry of that name. `origin` names the layer in
    error messages."""

    origin: str
    files: Mapping[str, Mapping[str, Mapping[str, Any]]]


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (PyYAML keeps the last one
    silently, which would hide a duplicated type)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen = set()
    for key_node, _value in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, str) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"{key!r} is given twice", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TypeDataError(f"{path}: cannot be read: {exc.strerror}") from exc
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TypeDataError(f"{path}: not valid YAML: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise TypeDataError(f"{path}: expected a mapping at the top, got {type(doc).__name__}")
    return doc


def _merged(file_name: str, directories: list[Path],
            layers: Iterable[TypeLayer] = ()) -> dict[str, dict[str, _Entry]]:
    """The entries of one file across the shipped directory, the override, then the layers,
    by section."""
    sections = SECTIONS[file_name]
    merged: dict[str, dict[str, _Entry]] = {s: {} for s in sections}
    for index, directory in enumerate(directories):
        path = directory / file_name
        if index > 0 and not path.exists():
            continue  # an override directory holds only the files it changes
        doc = _read(path)
        unknown = sorted(set(doc) - {*sections, "replace"}, key=str)
        if unknown:
            raise TypeDataError(f"{path}: unknown top-level keys {unknown}; expected "
                                f"{list(sections)} and optionally replace")
        if not isinstance(doc.get("replace", False), bool):
            raise TypeDataError(f"{path}: replace is true or false")
        if doc.get("replace"):
            merged = {s: {} for s in sections}
        for section in sections:
            _merge_section(merged[section], doc.get(section), f"{path}", section)
    for layer in layers:
        for section, body in layer.files.get(file_name, {}).items():
            if section not in sections:
                raise TypeDataError(f"{layer.origin}: {file_name} has no section {section!r}")
            _merge_section(merged[section], body, f"{layer.origin}: {file_name}", section)
    return merged


def _merge_section(entries: dict[str, _Entry], body: object, where: str, section: str) -> None:
    """One source's entries of a section into those merged so far; null removes an entry."""
    body = body or {}
    if not isinstance(body, Mapping):
        raise TypeDataError(f"{where}: {section} must map names to definitions")
    for name, data in body.items():
        if not isinstance(name, str) or not name:
            raise TypeDataError(f"{where}: {section}: {name!r} is not a name")
        if data is not None:
            entries[name] = _Entry(where, data)
        elif entries.pop(name, None) is None:
            raise TypeDataError(f"{where}: {section} {name!r}: null removes an entry, "
                                "but there is no such entry")


def raw_definitions(file_name: str, directories: list[Path]) -> dict[str, dict[str, Any]]:
    """One model file's definitions as written (section -> name -> definition), merged across
    the shipped directory and the override as the loader merges them: what an admin reads and
    edits, where the loaded registry has parsed them into another shape."""
    return {section: {name: entry.data for name, entry in entries.items()}
            for section, entries in _merged(file_name, directories).items()}

def _mapping(data: object, where: str, required: tuple[str, ...],
             optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeDataError(f"{where}: expected a mapping, got {data!r}")
    missing = [key for key in required if key not in data]
    if missing:
        raise TypeDataError(f"{where}: missing {missing}")
    # By text: a key may be a number, and numbers do not sort among strings.
    unknown = sorted(set(data) - {*required, *optional}, key=str)
    if unknown:
        raise TypeDataError(f"{where}: unknown keys {unknown}; allowed: "
                            f"{[*required, *optional]}")
    return data


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise TypeDataError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value


def _names(value: object, where: str, key: str, known: Iterable[str] | None = None,
           allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not (value or allow_empty) \
            or not all(isinstance(v, str) and v for v in value):
        raise TypeDataError(f"{where}: {key} must be a list of names, got {value!r}")
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        raise TypeDataError(f"{where}: {key}: {duplicates} given twice")
    if known is not None:
        known = set(known)
        unknown = [v for v in value if v not in known]
        if unknown:
            raise TypeDataError(f"{where}: {key}: unknown {unknown}")
    return tuple(value)


def _fields(entries: Mapping[str, object], where: str) -> tuple[FieldSpec, ...]:
    if not isinstance(entries, dict):
        raise TypeDataError(f"{where}: fields must map names to definitions")
    specs = []
    for name, data in entries.items():
        field_where = f"{where} {name!r}"
        spec = _mapping(data, field_where, ("kind", "description"),
                        ("nullable", "required", "values"))
        if spec["kind"] not in KINDS:
            raise TypeDataError(f"{field_where}: kind {spec['kind']!r} is not one of "
                                f"{list(KINDS)}")
        flags = {key: spec.get(key, default)
                 for key, default in (("nullable", False), ("required", True))}
        for key, flag in flags.items():
            if not isinstance(flag, bool):
                raise TypeDataError(f"{field_where}: {key} is true or false, got {flag!r}")
        values = _names(spec.get("values", []), field_where, "values", allow_empty=True)
        specs.append(FieldSpec(name, spec["kind"], _text(spec, "description", field_where),
                               flags["nullable"], flags["required"], values))
    return tuple(specs)


def _object_types(entries: Mapping[str, _Entry]) -> dict[str, ObjectType]:
    types = {}
    for name, (path, data) in entries.items():
        where = f"{path}: object_types {name!r}"
        if name == ENVIRONMENT:
            raise TypeDataError(f"{where}: {ENVIRONMENT!r} names the environment itself (as a "
                                "parent) and cannot be an object type")
        spec = _mapping(data, where, ("label", "icon", "description", "id_from", "parents"),
                        ("fields",))
        types[name] = ObjectType(
            name, _text(spec, "label", where), _text(spec, "icon", where),
            _text(spec, "description", where), _text(spec, "id_from", where),
            _names(spec["parents"], where, "parents"),
            _fields(spec.get("fields") or {}, f"{where}: field"))
    for name, object_type in types.items():
        _names(list(object_type.parents), f"{entries[name].path}: object_types {name!r}",
               "parents", known=[*types, ENVIRONMENT])
    return types


def _path_problem(path: tuple[str, ...], common: Iterable[FieldSpec],
                  attributes: Iterable[FieldSpec], owner: str) -> str | None:
    """Why a field path inside a document (common fields, then its attributes) does not name a
    declared field, or None."""
    dotted = ".".join(path)
    top = {spec.name: spec for spec in common}.get(path[0])
    if top is None:
        return f"{dotted}: {path[0]!r} is not a common field of {owner}"
    if top.name != "attributes" or len(path) == 1:
        if len(path) > 1 and top.kind != "dict":
            return f"{dotted}: {path[0]!r} is a {top.kind}, it has no fields"
        return None
    declared = {spec.name: spec for spec in attributes}
    spec = declared.get(path[1])
    if spec is None:
        return f"{dotted}: {path[1]!r} is not an attribute of {owner} ({sorted(declared)})"
    if len(path) > 2 and spec.kind != "dict":
        return f"{dotted}: {path[1]!r} is a {spec.kind}, it has no fields"
    return None


def _link_types(entries: Mapping[str, _Entry], object_types: Mapping[str, ObjectType],
                common: tuple[FieldSpec, ...],
                link_common: tuple[FieldSpec, ...]) -> dict[str, LinkType]:
    types = {}
    for name, (path, data) in entries.items():
        where = f"{path}: link_types {name!r}"
        spec = _mapping(data, where, ("source_type", "target_type", "description", "state"),
                        ("attributes",))
        ends = {}
        for end in ("source", "target"):
            ends[end] = object_types.get(spec[f"{end}_type"])
            if ends[end] is None:
                raise TypeDataError(f"{where}: {end}_type {spec[f'{end}_type']!r} is not an "
                                    "object type")
        attributes = _fields(spec.get("attributes") or {}, f"{where}: attribute")
        try:
            rule = parse_rule(spec["state"])
        except RuleError as exc:
            raise TypeDataError(f"{where}: {exc}") from None
        for field in rule.fields():
            if field[0] == "link":
                if field[1] == "state":
                    raise TypeDataError(f"{where}: state: a rule cannot read link.state, the "
                                        "state it computes")
                problem = _path_problem(field[1:], link_common, attributes, f"link {name}")
            else:
                end_type = ends[field[0]]
                problem = _path_problem(field[1:], common, end_type.fields, end_type.name)
            if problem:
                raise TypeDataError(f"{where}: state: {field[0]}.{problem}")
        types[name] = LinkType(name, ends["source"].name, ends["target"].name,
                               _text(spec, "description", where), rule, attributes)
    return types


def _walk(focal_type: str, names: tuple[str, ...], link_types: Mapping[str, LinkType],
          where: str) -> tuple[WalkStep, ...]:
    """Orient each link type outward from the focal type: from the end the list reaches first."""
    reached = {focal_type: 0}
    steps = []
    for index, name in enumerate(names, start=1):
        link = link_types[name]
        source_level = reached.get(link.source_type)
        target_level = reached.get(link.target_type)
        if source_level is None and target_level is None:
            raise TypeDataError(f"{where}: link_types: {name!r} touches neither {focal_type!r} "
                                f"nor a type the link types before it reach ({sorted(reached)})")
        if source_level is not None and (target_level is None or source_level <= target_level):
            step = WalkStep(name, link.source_type, link.target_type)
        else:
            step = WalkStep(name, link.target_type, link.source_type)
        reached.setdefault(step.to_type, index)
        steps.append(step)
    return tuple(steps)


def _restrictions(data: object, where: str, focal_type: str, reached: set[str],
                  stop_types: frozenset[str], object_types: Mapping[str, ObjectType],
                  common: tuple[FieldSpec, ...],
                  link_type_names: frozenset[str]) -> tuple[Restriction, ...]:
    if not isinstance(data, dict):
        raise TypeDataError(f"{where}: restrict must map types to <type>.<field path>")
    restrictions = []
    for object_type, spec in data.items():
        rwhere = f"{where}: restrict {object_type!r}"
        reference, via = (spec.get("named_by"), spec.get("via")) if isinstance(spec, dict) \
            else (spec, None)
        if object_type not in reached or object_type == focal_type:
            raise TypeDataError(f"{rwhere}: not a type the walk reaches beyond the focal object")
        # Leaving an object out after the walk is only sound if nothing was reached through it:
        # a stop type, or (with via) the objects reached over that link type, never walked on.
        if via is None and object_type not in stop_types:
            raise TypeDataError(f"{rwhere}: a restricted type must be a stop type, or name "
                                "the link type it is restricted over (via)")
        if via is not None and via not in link_type_names:
            raise TypeDataError(f"{rwhere}: via {via!r} is not a link type of this clique")
        by_type, _, field = reference.partition(".") if isinstance(reference, str) else ("", "", "")
        if by_type not in reached or not field:
            raise TypeDataError(f"{rwhere}: {reference!r} is not <type>.<field path> with a "
                                f"type the clique reaches ({sorted(reached)})")
        path = tuple(field.split("."))
        problem = _path_problem(path, common, object_types[by_type].fields, by_type)
        if problem or not all(path):
            raise TypeDataError(f"{rwhere}: {problem or repr(reference)}")
        restrictions.append(Restriction(object_type, by_type, path, via))
    for restriction in restrictions:
        if restriction.by_type in data:
            raise TypeDataError(f"{where}: restrict {restriction.object_type!r}: "
                                f"{restriction.by_type!r} is itself restricted")
    return tuple(restrictions)


def _match(data: object, where: str) -> tuple[tuple[str, frozenset[str]], ...]:
    if not isinstance(data, dict):
        raise TypeDataError(f"{where}: match must map properties to values")
    match = []
    for key, value in data.items():
        if key not in MATCH_KEYS:
            raise TypeDataError(f"{where}: match: {key!r} is not one of {list(MATCH_KEYS)}")
        values = [value] if isinstance(value, str) else value
        _names(values, where, f"match {key}")
        match.append((key, frozenset(v.casefold() for v in values)))
    return tuple(sorted(match))


def _clique_types(entries: Mapping[str, _Entry], object_types: Mapping[str, ObjectType],
                  link_types: Mapping[str, LinkType],
                  common: tuple[FieldSpec, ...]) -> tuple[CliqueType, ...]:
    cliques = []
    seen: dict[tuple[str, tuple[tuple[str, frozenset[str]], ...]], str] = {}
    for entry, (path, data) in entries.items():
        where = f"{path}: clique_types {entry!r}"
        spec = _mapping(data, where, ("description", "focal_type", "link_types"),
                        ("clique_type", "stop_types", "max_depth", "restrict", "match"))
        name = _text(spec, "clique_type", where) if "clique_type" in spec else entry
        focal_type = spec["focal_type"]
        if focal_type not in object_types:
            raise TypeDataError(f"{where}: focal_type {focal_type!r} is not an object type")
        steps = _walk(focal_type, _names(spec["link_types"], where, "link_types", link_types),
                      link_types, where)
        stop_types = frozenset(_names(spec.get("stop_types", []), where, "stop_types",
                                      object_types, allow_empty=True))
        max_depth = spec.get("max_depth")
        if max_depth is not None and (not isinstance(max_depth, int)
                                      or isinstance(max_depth, bool) or max_depth < 1):
            raise TypeDataError(f"{where}: max_depth is a positive integer, got {max_depth!r}")
        reached = {focal_type, *(step.to_type for step in steps)}
        restrictions = _restrictions(spec.get("restrict") or {}, where, focal_type, reached,
                                     stop_types, object_types, common,
                                     frozenset(step.link_type for step in steps))
        match = _match(spec.get("match") or {}, where)
        if (name, match) in seen:
            raise TypeDataError(f"{where}: clique type {name!r} with the same match as entry "
                                f"{seen[name, match]!r}")
        seen[name, match] = entry
        cliques.append(CliqueType(name, entry, _text(spec, "description", where), focal_type,
                                  steps, stop_types, max_depth, restrictions, match))
    return tuple(cliques)


def type_directories(override_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Where the types are read from: the shipped directory, then the operator's overrides in
    override_dir (by default, the directory CALIPSO_TYPES_DIR names, if it is set)."""
    chosen = override_dir if override_dir is not None else os.environ.get(TYPES_DIR_ENV) or None
    directories = [SHIPPED_DIR]
    if chosen is not None:
        if not Path(chosen).is_dir():
            raise TypeDataError(f"{chosen}: the types override directory ({TYPES_DIR_ENV}) is not "
                                "a directory")
        directories.append(Path(chosen))
    return directories


def load_registry(override_dir: str | os.PathLike[str] | None = None,
                  layers: Iterable[TypeLayer] = ()) -> TypeRegistry:
    """The shipped types with an operator's overrides from override_dir (by default, the
    directory CALIPSO_TYPES_DIR names, if it is set), then the layers."""
    directories = type_directories(override_dir)
    layers = tuple(layers)
    objects = _merged(OBJECT_TYPES_FILE, directories, layers)
    links = _merged(LINK_TYPES_FILE, directories, layers)
    cliques = _merged(CLIQUE_TYPES_FILE, directories, layers)
    common = _section_fields(objects["common_fields"])
    link_common = _section_fields(links["common_fields"])
    object_types = _object_types(objects["object_types"])
    link_types = _link_types(links["link_types"], object_types, common, link_common)
    clique_types = _clique_types(cliques["clique_types"], object_types, link_types, common)
    return TypeRegistry(common, link_common, object_types, link_types, clique_types)


def _section_fields(entries: Mapping[str, _Entry]) -> tuple[FieldSpec, ...]:
    """A common_fields section, each entry checked with the file it came from."""
    return tuple(spec for name, (path, data) in entries.items()
                 for spec in _fields({name: data}, f"{path}: common_fields"))
