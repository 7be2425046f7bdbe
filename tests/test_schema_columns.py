"""llmbatch.schema.columns, make_validator and flatten_row: from a schema to typed columns."""

from __future__ import annotations

import enum
from typing import Any, Literal

import pydantic
import pytest

from llmbatch import schema as s
from llmbatch._exceptions import SchemaError
from llmbatch.schema import Column


def cols(schema: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(c.name, c.dtype, c.nullable) for c in s.columns(schema)]


def test_columns_for_builder_schema_in_order() -> None:
    schema = s.schema_object(
        label=s.schema_enum(["a", "b"]),
        score=s.schema_number(),
        stars=s.schema_integer(),
        ok=s.schema_boolean(),
        tags=s.schema_array(s.schema_string()),
        when=s.schema_string(format="date"),
    )
    assert cols(schema) == [
        ("label", "string", False),
        ("score", "float", False),
        ("stars", "int", False),
        ("ok", "bool", False),
        ("tags", "list", False),
        ("when", "string", False),
    ]
    first = s.columns(schema)[0]
    assert first == Column("label", ("label",), "string", False)


def test_columns_flatten_nested_objects_recursively() -> None:
    schema = s.schema_object(
        top=s.schema_string(),
        a=s.schema_object(b=s.schema_object(c=s.schema_integer()), d=s.schema_boolean()),
    )
    assert [(c.name, c.path) for c in s.columns(schema)] == [
        ("top", ("top",)),
        ("a.b.c", ("a", "b", "c")),
        ("a.d", ("a", "d")),
    ]


def test_columns_nullable_from_type_optional_and_parent() -> None:
    schema = s.schema_object(
        {
            "n": s.schema_number(nullable=True),
            "opt": s.schema_string(),
            "parent": s.schema_object(child=s.schema_string()),
            "nullparent": {
                "type": ["object", "null"],
                "properties": {"x": {"type": "string"}},
                "required": ["x"],
            },
        },
        required=["n", "parent", "nullparent"],
    )
    assert cols(schema) == [
        ("n", "float", True),
        ("opt", "string", True),
        ("parent.child", "string", False),
        ("nullparent.x", "string", True),
    ]


@pytest.mark.parametrize(
    ("prop", "dtype", "nullable"),
    [
        ({"enum": [1, 2, 3]}, "int", False),
        ({"enum": [1, 2.5]}, "float", False),
        ({"enum": ["a", None]}, "string", True),
        ({"enum": [True, False]}, "bool", False),
        ({"enum": ["a", 1]}, "string", False),
        ({"type": "integer", "enum": [1, 2]}, "int", False),
        ({"const": "x"}, "string", False),
        ({"const": 3}, "int", False),
        ({"type": "string", "format": "date-time"}, "string", False),
        ({"type": ["integer", "null"]}, "int", True),
        ({"type": ["integer", "number"]}, "float", False),
        ({"type": ["string", "integer"]}, "string", False),
        ({"type": ["string", "array"]}, "json", False),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, "string", True),
        ({"anyOf": [{"type": "integer"}, {"type": "number"}]}, "float", False),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, "string", False),
        ({"anyOf": [{"type": "string"}, {"type": "object"}]}, "json", False),
        ({"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "string"}]}, "string", False),
        ({"oneOf": [{"type": "boolean"}, {"const": None}]}, "bool", True),
        ({"type": "object"}, "json", False),
        ({"type": "object", "properties": {}}, "json", False),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "json", False),
        ({"type": "array", "items": {"type": "object", "properties": {}}}, "list", False),
        ({}, "json", True),
        ({"description": "anything"}, "json", True),
        ({"type": "null"}, "json", True),
        ({"allOf": [{"type": "integer"}]}, "int", False),
    ],
)
def test_column_dtypes(prop: dict[str, Any], dtype: str, nullable: bool) -> None:
    schema = {"type": "object", "properties": {"x": prop}, "required": ["x"]}
    assert cols(schema) == [("x", dtype, nullable)]


def test_columns_resolve_refs_and_defs() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Point": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
            },
            "Level": {"type": "integer", "enum": [1, 2, 3]},
        },
        "properties": {
            "at": {"$ref": "#/$defs/Point", "description": "where"},
            "maybe": {"anyOf": [{"$ref": "#/$defs/Point"}, {"type": "null"}]},
            "level": {"$ref": "#/$defs/Level"},
        },
        "required": ["at", "maybe", "level"],
    }
    assert cols(schema) == [
        ("at.x", "float", False),
        ("at.y", "float", False),
        ("maybe.x", "float", True),
        ("maybe.y", "float", True),
        ("level", "int", False),
    ]


def test_columns_stop_at_recursion() -> None:
    class Node(pydantic.BaseModel):
        value: int
        child: Node | None = None
        kids: list[Node]

    assert cols(Node.model_json_schema()) == [
        ("value", "int", False),
        ("child.value", "int", True),
        ("child.child", "json", True),
        ("child.kids", "list", True),
        ("kids", "list", False),
    ]


class Level(int, enum.Enum):
    low = 1
    high = 2


def test_columns_for_a_pydantic_model() -> None:
    class Inner(pydantic.BaseModel):
        a: str
        b: float | None = None

    class Model(pydantic.BaseModel):
        label: Literal["x", "y"]
        level: Level
        inner: Inner = pydantic.Field(description="inner")
        inners: list[Inner]
        either: int | str
        meta: dict[str, int]
        flag: bool = False

    assert cols(Model.model_json_schema()) == [
        ("label", "string", False),
        ("level", "int", False),
        ("inner.a", "string", False),
        ("inner.b", "float", True),
        ("inners", "list", False),
        ("either", "string", False),
        ("meta", "json", False),
        ("flag", "bool", True),
    ]


def test_columns_of_the_openai_strict_form_match() -> None:
    schema = s.schema_object(
        {"a": s.schema_string(), "b": s.schema_object(c=s.schema_integer())}, required=["b"]
    )
    strict = s.openai_strict(schema)
    assert cols(strict) == cols(schema) == [("a", "string", True), ("b.c", "int", False)]


def test_columns_refuse_colliding_names() -> None:
    schema = s.schema_object({"a.b": s.schema_string(), "a": s.schema_object(b=s.schema_string())})
    with pytest.raises(SchemaError, match=r"same column name 'a\.b'"):
        s.columns(schema)


def test_columns_check_the_schema() -> None:
    with pytest.raises(SchemaError, match="root must be an object"):
        s.columns({"type": "string"})


# --- make_validator ------------------------------------------------------------------------

SCHEMA = s.schema_object(
    label=s.schema_enum(["pos", "neg"]),
    score=s.schema_number(),
    detail=s.schema_object(tags=s.schema_array(s.schema_string())),
)


def test_make_validator_valid_and_invalid() -> None:
    check = s.make_validator(SCHEMA)
    good = {"label": "pos", "score": 0.5, "detail": {"tags": ["a"]}}
    assert check(good) is None
    assert check({**good, "score": "x"}) == "at score: 'x' is not of type 'number'"
    assert check({**good, "label": "meh"}) == "at label: 'meh' is not one of ['pos', 'neg']"
    assert check({**good, "detail": {"tags": [1]}}) == "at detail.tags.0: 1 is not of type 'string'"
    assert check({"label": "pos", "score": 1}) == "at the root: 'detail' is a required property"
    extra = check({**good, "more": 1})
    assert extra is not None and extra.startswith("at the root: Additional properties")
    assert check(["not", "an", "object"]) is not None


def test_make_validator_does_not_check_formats() -> None:
    check = s.make_validator(s.schema_object(when=s.schema_string(format="date")))
    assert check({"when": "not a date"}) is None


def test_make_validator_follows_refs() -> None:
    schema = {
        "type": "object",
        "$defs": {"P": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        "properties": {"p": {"$ref": "#/$defs/P"}},
    }
    check = s.make_validator(schema)
    assert check({"p": {"x": 1}}) is None
    assert check({"p": {"x": "1"}}) == "at p.x: '1' is not of type 'integer'"


def test_make_validator_truncates_long_messages() -> None:
    check = s.make_validator(s.schema_object(label=s.schema_enum(["a", "b"])))
    message = check({"label": "z" * 1000})
    assert message is not None and len(message) == 300 and message.endswith("...")


def test_make_validator_refuses_a_broken_schema_up_front() -> None:
    with pytest.raises(SchemaError, match="not valid JSON Schema"):
        s.make_validator({"type": "objekt"})


# --- flatten_row ---------------------------------------------------------------------------


def test_flatten_row() -> None:
    schema = s.schema_object(
        {
            "label": s.schema_string(),
            "score": s.schema_number(),
            "n": s.schema_integer(),
            "tags": s.schema_array(s.schema_string()),
            "meta": {"type": "object"},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "d": s.schema_object(e=s.schema_boolean(), f=s.schema_object(g=s.schema_string())),
        }
    )
    columns = s.columns(schema)
    row = {
        "label": "a",
        "score": 3,
        "n": 4,
        "tags": ["x"],
        "meta": {"k": [1, "é"]},
        "either": "s",
        "d": {"e": True, "f": {"g": "deep"}},
    }
    assert s.flatten_row(row, columns) == {
        "label": "a",
        "score": 3.0,
        "n": 4,
        "tags": ["x"],
        "meta": '{"k":[1,"é"]}',
        "either": "s",
        "d.e": True,
        "d.f.g": "deep",
    }
    assert isinstance(s.flatten_row(row, columns)["score"], float)


def test_flatten_row_missing_and_null_values_are_none() -> None:
    columns = s.columns(
        s.schema_object(a=s.schema_string(), b=s.schema_object(c=s.schema_integer()))
    )
    assert s.flatten_row({}, columns) == {"a": None, "b.c": None}
    assert s.flatten_row({"a": None, "b": None}, columns) == {"a": None, "b.c": None}
    assert s.flatten_row({"b": "not an object"}, columns) == {"a": None, "b.c": None}
    assert s.flatten_row(["not", "a", "dict"], columns) == {"a": None, "b.c": None}


def test_flatten_row_does_not_mutate_the_answer() -> None:
    columns = s.columns(s.schema_object(a=s.schema_object(b=s.schema_number())))
    answer = {"a": {"b": 1}}
    s.flatten_row(answer, columns)
    assert answer == {"a": {"b": 1}}


# --- the fast validation path agrees with jsonschema -------------------------------------------


def _fast_path_schemas() -> list[dict[str, Any]]:
    class Inner(pydantic.BaseModel):
        a: str
        b: float | None = None

    class Tree(pydantic.BaseModel):
        value: int
        kids: list[Tree]
        parent: Tree | None = None

    class Model(pydantic.BaseModel):
        label: Literal["x", "y"]
        level: Level
        inner: Inner
        inners: list[Inner] = pydantic.Field(min_length=1, max_length=2)
        n: int = pydantic.Field(ge=0, lt=10)
        either: int | str | None

    bounded = s.schema_object(
        p=s.schema_number(minimum=0, maximum=1),
        q={"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        w={"type": "string", "minLength": 1, "maxLength": 3},
    )
    mixed = {
        "type": "object",
        "properties": {
            "e": {"enum": [1, "a", True, None]},
            "c": {"const": 1},
            "o": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 0}]},
            "all": {"allOf": [{"type": "string"}, {"maxLength": 2}]},
            "m": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "maxProperties": 1,
            },
            "t": {"type": ["integer", "boolean"]},
        },
        "required": ["e"],
        "minProperties": 1,
    }
    return [
        SCHEMA,
        s.openai_strict(SCHEMA),
        Model.model_json_schema(),
        s.openai_strict(Model.model_json_schema()),
        Tree.model_json_schema(),
        s.to_json_schema(["a", "b"]).schema,
        bounded,
        mixed,
    ]


POOL: list[Any] = [None, True, False, 0, 1, 1.0, 1.5, -1, 10, "", "a", "x", "pos", "abcd"]
POOL += [[], [1], ["a"], [{"a": "s"}], {}, {"a": "s"}, {"a": "s", "b": 1.5}, {"value": 1}]


def _sample(node: Any, root: dict[str, Any], rng: Any, depth: int = 0) -> Any:
    """A random answer that mostly follows the schema, with a random mistake now and then."""
    if rng.random() < 0.05 or depth > 5 or not isinstance(node, dict):
        return rng.choice(POOL)
    if "$ref" in node:
        target = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part] if part else target
        return _sample(target, root, rng, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            return _sample(
                rng.choice(node[key][:1] if key == "allOf" else node[key]), root, rng, depth
            )
    if "enum" in node or "const" in node:
        return rng.choice(node.get("enum", [node.get("const")]))
    typ = node.get("type")
    typ = rng.choice(typ) if isinstance(typ, list) else typ
    if typ == "object" or "properties" in node:
        required = set(node.get("required", []))
        props = node.get("properties", {})
        out = {
            k: _sample(v, root, rng, depth + 1)
            for k, v in props.items()
            if k in required or rng.random() < 0.5
        }
        if rng.random() < 0.05:
            out["extra"] = 1
        return out
    if typ == "array":
        return [
            _sample(node.get("items", {}), root, rng, depth + 1) for _ in range(rng.randint(0, 3))
        ]
    choices: dict[Any, list[Any]] = {
        "string": ["", "a", "pos", "abcd", "x"],
        "number": [0, 0.5, 1, 1.5, -1, 10],
        "integer": [0, 1, 5, 9, 10, -1, 2.0],
        "boolean": [True, False],
        "null": [None],
    }
    return rng.choice(choices.get(typ, POOL))


def _instances(schema: dict[str, Any], rng: Any, n: int) -> list[Any]:
    return [*POOL, *(_sample(schema, schema, rng) for _ in range(n))]


@pytest.mark.parametrize("index", range(8))
def test_fast_validation_agrees_with_jsonschema(index: int) -> None:
    import random

    from jsonschema import Draft202012Validator

    from llmbatch._schema_validate import fast_check

    schema = _fast_path_schemas()[index]
    fast = fast_check(schema)
    reference = Draft202012Validator(schema)
    check = s.make_validator(schema)
    rng = random.Random(index)
    for instance in _instances(schema, rng, 1500):
        expected = reference.is_valid(instance)
        assert fast(instance) == expected, instance
        assert (check(instance) is None) == expected, instance


def test_fast_validation_hits_both_outcomes() -> None:
    import random

    from jsonschema import Draft202012Validator

    for schema in _fast_path_schemas():
        reference = Draft202012Validator(schema)
        results = {reference.is_valid(x) for x in _instances(schema, random.Random(0), 1500)}
        assert results == {True, False}, schema.get("title")


def test_unusual_keywords_fall_back_to_jsonschema() -> None:
    schema = s.schema_object(code=s.schema_string(pattern="^[A-Z]{2}$"), tags={"type": "array"})
    schema["properties"]["tags"]["uniqueItems"] = True
    check = s.make_validator(schema)
    assert check({"code": "AB", "tags": [1, 2]}) is None
    assert check({"code": "ab", "tags": [1]}) == "at code: 'ab' does not match '^[A-Z]{2}$'"
    assert check({"code": "AB", "tags": [1, 1]}) is not None


def test_flatten_row_normalises_numbers_and_huge_ints() -> None:
    schema = s.schema_object(n=s.schema_integer(), x=s.schema_number(), j={"type": "object"})
    row = s.flatten_row({"n": 2.0, "x": 1, "j": {"big": 2**70}}, s.columns(schema))
    assert row == {"n": 2, "x": 1.0, "j": '{"big":1180591620717411303424}'}
    assert type(row["n"]) is int
