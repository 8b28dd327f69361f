"""JSON Schema (the subset a team file needs) -> a pydantic model, for ``output_schema``.

Supported: ``type`` object / string / integer / number / boolean / array (and ``[T, "null"]``),
``properties``, ``required``, ``items``, ``enum``, ``description``, ``title``, ``default``,
``additionalProperties: false``, and the constraints ``minimum``, ``maximum``,
``exclusiveMinimum``, ``exclusiveMaximum``, ``minLength``, ``maxLength``, ``pattern``,
``minItems``, ``maxItems``. Anything else is an error naming the path, never ignored.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from subagents.errors import SubagentsError

__all__ = ["SchemaError", "model_from_json_schema"]

_SCALARS: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}
_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
_CONSTRAINTS = {
    "minimum": "ge", "maximum": "le", "exclusiveMinimum": "gt", "exclusiveMaximum": "lt",
    "minLength": "min_length", "maxLength": "max_length", "pattern": "pattern",
    "minItems": "min_length", "maxItems": "max_length",
}
_KEYS = frozenset({"type", "properties", "required", "items", "enum", "description", "title",
                   "default", "additionalProperties", "examples", "$schema", *_CONSTRAINTS})
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_APPLIES: dict[str, tuple[str, ...]] = {
    "minimum": ("integer", "number"), "maximum": ("integer", "number"),
    "exclusiveMinimum": ("integer", "number"), "exclusiveMaximum": ("integer", "number"),
    "minLength": ("string",), "maxLength": ("string",), "pattern": ("string",),
    "minItems": ("array",), "maxItems": ("array",),
}


class SchemaError(SubagentsError, ValueError):
    """A schema the converter cannot turn into a model.

    Attributes:
        path: keys from the schema's top (``("properties", "files", "items")``).
    """

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


def model_from_json_schema(schema: Mapping[str, Any], name: str) -> type[BaseModel]:
    """Build a pydantic model from an object JSON Schema.

    Args:
        schema: ``{"type": "object", "properties": {...}, "required": [...]}``. Properties
            not in ``required`` are optional: ``T | None`` defaulting to ``None`` (or to
            their ``default``). Nested objects become nested models named
            ``<name><Property>``.
        name: the model's class name (``ExploreOutput``).

    Returns:
        A ``BaseModel`` subclass; property names that are not Python identifiers are
        aliases (validation and ``model_dump`` use the JSON names).

    Raises:
        SchemaError: the schema is not an object schema or uses an unsupported keyword or
            type; ``path`` says where.
    """
    if not isinstance(schema, Mapping):
        raise SchemaError((), f"must be a mapping (a JSON Schema object), got {_kind(schema)}")
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind != "object":
        raise SchemaError(("type",), f"the top level must have type 'object', got {kind!r}")
    _check_keys(schema, ())
    model = _object({"properties": {}, **schema}, (), name)
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model


def _kind(value: Any) -> str:
    return type(value).__name__


def _annotation(schema: Any, path: tuple[str | int, ...], name: str) -> Any:
    if not isinstance(schema, Mapping):
        raise SchemaError(path, f"a schema must be a mapping, got {_kind(schema)}")
    _check_keys(schema, path)
    kind, nullable = _type_name(schema, path)
    base: Any
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values or not all(
                isinstance(v, str | int | float | bool) for v in values):
            raise SchemaError((*path, "enum"), "'enum' must be a non-empty list of scalars")
        base = Literal[tuple(values)]
    elif kind == "object":
        base = _object(schema, path, name)
    elif kind == "array":
        items = schema.get("items")
        item = Any if items is None else _annotation(items, (*path, "items"), name)
        base = list.__class_getitem__(item)
    elif kind in _SCALARS:
        base = _SCALARS[kind]
    else:
        raise SchemaError((*path, "type"), f"unknown type {kind!r} (valid: {', '.join(_TYPES)})")
    field_args = _constraints(schema, path, kind)
    for key in ("description", "title"):
        if key in schema and not isinstance(schema[key], str):
            raise SchemaError((*path, key), f"{key!r} must be a string")
    if "description" in schema:
        field_args["description"] = schema["description"]
    if field_args:
        base = Annotated[base, Field(**field_args)]
    return base | None if nullable else base


def _constraints(schema: Mapping[str, Any], path: tuple[str | int, ...],
                 kind: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for key, arg in _CONSTRAINTS.items():
        if key not in schema:
            continue
        value, where = schema[key], (*path, key)
        if "enum" in schema or kind not in _APPLIES[key]:
            got = "an enum" if "enum" in schema else f"type {kind!r}"
            raise SchemaError(where, f"{key!r} applies to type {' or '.join(_APPLIES[key])} "
                              f"only, not to {got}")
        if key == "pattern":
            if not isinstance(value, str):
                raise SchemaError(where, "'pattern' must be a string")
            try:
                TypeAdapter(Annotated[str, Field(pattern=value)])
            except Exception as exc:  # pydantic's regex engine: a SchemaError or ValueError
                reason = str(exc).strip().splitlines()[-1]
                raise SchemaError(where, f"invalid 'pattern' {value!r}: {reason}") from None
        elif arg.endswith("_length"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SchemaError(where, f"{key!r} must be a non-negative integer")
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise SchemaError(where, f"{key!r} must be a number")
        args[arg] = value
    return args


def _check_keys(schema: Mapping[str, Any], path: tuple[str | int, ...]) -> None:
    unknown = sorted(str(k) for k in schema if k not in _KEYS)
    if unknown:
        raise SchemaError((*path, unknown[0]), f"unsupported JSON Schema keyword "
                          f"{unknown[0]!r} (supported: {', '.join(sorted(_KEYS))})")


def _type_name(schema: Mapping[str, Any], path: tuple[str | int, ...]) -> tuple[str | None, bool]:
    kind = schema.get("type")
    if kind is None:
        if "properties" in schema:
            return "object", False
        if "enum" in schema:
            return None, False
        raise SchemaError(path, "missing 'type' (one of: " + ", ".join(_TYPES) + ")")
    if isinstance(kind, list):
        rest = [k for k in kind if k != "null"]
        if len(rest) != 1 or not isinstance(rest[0], str):
            raise SchemaError((*path, "type"), f"a type list may hold one type and 'null', "
                              f"got {kind!r}")
        return rest[0], len(rest) < len(kind)
    if not isinstance(kind, str):
        raise SchemaError((*path, "type"), f"'type' must be a string, got {_kind(kind)}")
    return kind, False


def _object(schema: Mapping[str, Any], path: tuple[str | int, ...], name: str) -> Any:
    props = schema.get("properties")
    if props is None:
        return dict[str, Any]
    if not isinstance(props, Mapping):
        raise SchemaError((*path, "properties"), "'properties' must be a mapping")
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SchemaError((*path, "required"), "'required' must be a list of property names")
    missing = [r for r in required if r not in props]
    if missing:
        raise SchemaError((*path, "required"), f"required property {missing[0]!r} is not in "
                          f"'properties' ({', '.join(map(str, props)) or 'none'})")
    extra = schema.get("additionalProperties", True)
    if not isinstance(extra, bool):
        raise SchemaError((*path, "additionalProperties"),
                          "'additionalProperties' must be true or false")
    keys = _field_keys(props, path)
    fields: dict[str, Any] = {}
    for (prop, sub), key in zip(props.items(), keys, strict=True):
        where = (*path, "properties", str(prop))
        annotation = _annotation(sub, where, name + _camel(str(prop)))
        if str(prop) in required:
            default: Any = ...
        else:
            default = sub.get("default") if isinstance(sub, Mapping) else None
            if default is None:
                annotation = annotation | None
            else:
                default = _check_default(annotation, default, (*where, "default"))
        alias = None if key == str(prop) else str(prop)
        fields[key] = (annotation, Field(default, alias=alias))
    config = ConfigDict(extra="forbid" if extra is False else "ignore",
                        populate_by_name=True, serialize_by_alias=True)
    try:
        model: type[BaseModel] = create_model(name, __config__=config, **fields)
    except Exception as exc:  # pydantic rejects the combination: report it, never crash
        raise SchemaError(path, f"cannot build a model: {type(exc).__name__}: {exc}") from None
    if isinstance(schema.get("description"), str):
        model.__doc__ = schema["description"]
    return model


def _field_keys(props: Mapping[Any, Any], path: tuple[str | int, ...]) -> list[str]:
    """Python field names of the properties (JSON names that collide are an error).

    A plain identifier is its own name, any other gets a fresh ``field_<index>`` and the
    JSON name becomes its alias.
    """
    texts = [str(prop) for prop in props]
    first: dict[str, Any] = {}
    for prop, text in zip(props, texts, strict=True):
        other = first.setdefault(text, prop)
        if other is not prop:
            raise SchemaError((*path, "properties", text), f"properties {other!r} and "
                              f"{prop!r} are both {text!r} in JSON")
    used = {text for text in texts if _plain(text)}
    keys: list[str] = []
    for index, text in enumerate(texts):
        key = text
        if not _plain(text):
            key = f"field_{index}"
            while key in used:
                key += "_"
            used.add(key)
        keys.append(key)
    return keys


def _check_default(annotation: Any, default: Any, path: tuple[str | int, ...]) -> Any:
    try:
        return TypeAdapter(annotation).validate_python(default, strict=True)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise SchemaError(path, f"default {default!r} does not match the schema: "
                          f"{problem}") from None


def _plain(prop: str) -> bool:
    shadows = prop.startswith("model_") or hasattr(BaseModel, prop)
    return bool(_IDENT.fullmatch(prop)) and not keyword.iskeyword(prop) and not shadows


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text))
