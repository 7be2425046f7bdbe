"""llmbatch.schema: builders, JsonSchema, and to_json_schema over every input form."""

from __future__ import annotations

import copy
import enum
from typing import Any, Literal

import pydantic
import pytest

from llmbatch import schema as s
from llmbatch._exceptions import InputError, SchemaError


class Mood(str, enum.Enum):
    happy = "happy"
    sad = "sad"


class Address(pydantic.BaseModel):
    """Where the reviewer lives."""

    city: str
    postcode: str | None = None


class Review(pydantic.BaseModel):
    label: Literal["positive", "negative", "neutral"]
    stars: int
    address: Address = pydantic.Field(description="reviewer address")
    tags: list[str]
    mood: Mood
    note: str | None = None


# --- builders ----------------------------------------------------------------------------


def test_schema_string_plain_and_with_options() -> None:
    assert s.schema_string() == {"type": "string"}
    assert s.schema_string("name", format="date", pattern="^a") == {
        "type": "string",
        "description": "name",
        "format": "date",
        "pattern": "^a",
    }
    assert s.schema_string(enum=["a", "b"]) == {"type": "string", "enum": ["a", "b"]}


def test_schema_string_nullable_enum_includes_none() -> None:
    out = s.schema_string(enum=["a"], nullable=True)
    assert out == {"type": ["string", "null"], "enum": ["a", None]}


def test_schema_string_rejects_bad_enum() -> None:
    with pytest.raises(SchemaError, match=r"not of type 'string'"):
        s.schema_string(enum=["a", 1])  # type: ignore[list-item]
    with pytest.raises(SchemaError, match="non-empty list"):
        s.schema_string(enum=[])


@pytest.mark.parametrize(
    ("values", "typ"),
    [
        (["a", "b"], "string"),
        ([1, 2, 3], "integer"),
        ([1, 2.5], "number"),
        ([True, False], "boolean"),
    ],
)
def test_schema_enum_infers_type(values: list[Any], typ: str) -> None:
    assert s.schema_enum(values) == {"type": typ, "enum": values}


def test_schema_enum_options() -> None:
    out = s.schema_enum(["x"], "pick one", nullable=True)
    assert out == {"type": ["string", "null"], "description": "pick one", "enum": ["x", None]}
    assert s.schema_enum([1, 2], type="number") == {"type": "number", "enum": [1, 2]}


@pytest.mark.parametrize(
    ("values", "kwargs", "pattern"),
    [
        (["a", 1], {}, "not of type"),
        ([1, True], {}, "not of type"),
        (["a", "b"], {"type": "integer"}, "not of type 'integer'"),
        (["a", "a", "b"], {}, r"duplicate enum values: \['a'\]"),
        ([], {}, "non-empty list"),
        ("ab", {}, "non-empty list"),
        ([None], {}, "not of type"),
        (["a"], {"type": "object"}, "not supported"),
    ],
)
def test_schema_enum_errors(values: Any, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern):
        s.schema_enum(values, **kwargs)


def test_schema_enum_keeps_one_and_true_apart() -> None:
    assert s.schema_enum([1, 2])["enum"] == [1, 2]
    with pytest.raises(SchemaError, match="duplicate enum values"):
        s.schema_enum([1, 1])


def test_schema_number_and_integer() -> None:
    assert s.schema_number() == {"type": "number"}
    assert s.schema_number("p", minimum=0, maximum=1.5, nullable=True) == {
        "type": ["number", "null"],
        "description": "p",
        "minimum": 0,
        "maximum": 1.5,
    }
    assert s.schema_integer(minimum=1) == {"type": "integer", "minimum": 1}


@pytest.mark.parametrize("builder", [s.schema_number, s.schema_integer])
def test_numeric_bounds_checked(builder: Any) -> None:
    with pytest.raises(SchemaError, match="greater than maximum"):
        builder(minimum=5, maximum=1)
    with pytest.raises(SchemaError, match="minimum must be a number"):
        builder(minimum="0")
    with pytest.raises(SchemaError, match="maximum must be a number"):
        builder(maximum=True)


def test_schema_boolean() -> None:
    assert s.schema_boolean() == {"type": "boolean"}
    assert s.schema_boolean("flag", nullable=True) == {
        "type": ["boolean", "null"],
        "description": "flag",
    }


def test_schema_array() -> None:
    items = s.schema_string()
    out = s.schema_array(items, "tags", min_items=1, max_items=3)
    assert out == {
        "type": "array",
        "description": "tags",
        "items": {"type": "string"},
        "minItems": 1,
        "maxItems": 3,
    }
    assert out["items"] is not items
    assert s.schema_array(items, nullable=True)["type"] == ["array", "null"]


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        (("string",), {}, "schema dict"),
        (({"type": "string"},), {"min_items": -1}, "non-negative"),
        (({"type": "string"},), {"max_items": 1.5}, "non-negative"),
        (({"type": "string"},), {"min_items": 3, "max_items": 1}, "greater than"),
    ],
)
def test_schema_array_errors(args: tuple[Any, ...], kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern):
        s.schema_array(*args, **kwargs)


def test_schema_object_all_required_by_default() -> None:
    out = s.schema_object(label=s.schema_string(), score=s.schema_number(), description="d")
    assert out == {
        "type": "object",
        "description": "d",
        "properties": {"label": {"type": "string"}, "score": {"type": "number"}},
        "required": ["label", "score"],
        "additionalProperties": False,
    }


def test_schema_object_mapping_then_keywords_and_required() -> None:
    out = s.schema_object(
        {"first name": s.schema_string(), "required": s.schema_boolean()},
        last=s.schema_string(),
        required=["last"],
        additional_properties=True,
    )
    assert list(out["properties"]) == ["first name", "required", "last"]
    assert out["required"] == ["last"]
    assert out["additionalProperties"] is True


@pytest.mark.parametrize(
    ("args", "kwargs", "pattern"),
    [
        (({"a": {"type": "string"}},), {"a": {"type": "string"}}, "given twice"),
        ((), {"a": "string"}, "not schema dicts"),
        ((), {"a": {"type": "string"}, "required": ["b"]}, r"\['b'\] are not fields"),
        ((), {"description": 3}, "description must be a string"),
    ],
)
def test_schema_object_errors(args: tuple[Any, ...], kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern):
        s.schema_object(*args, **kwargs)


def test_builders_compose_into_a_valid_schema() -> None:
    built = s.schema_object(
        label=s.schema_enum(["a", "b"]),
        detail=s.schema_object(reason=s.schema_string(), sure=s.schema_boolean()),
        tags=s.schema_array(s.schema_string()),
    )
    assert s.to_json_schema(built).schema == built


# --- JsonSchema and create_json_schema ------------------------------------------------------


def test_create_json_schema_and_to_dict() -> None:
    body = s.schema_object(a=s.schema_string())
    js = s.create_json_schema("my-schema_1", body, description="what")
    assert js == s.JsonSchema("my-schema_1", body, True, "what")
    assert js.schema is not body
    out = js.to_dict()
    assert out == {"name": "my-schema_1", "schema": body, "strict": True, "description": "what"}
    assert out["schema"] is not js.schema
    plain = s.create_json_schema("x", body, strict=False).to_dict()
    assert plain == {"name": "x", "schema": body, "strict": False}


@pytest.mark.parametrize("name", ["", "has space", "a" * 65, "dot.name", 3])
def test_create_json_schema_rejects_bad_names(name: Any) -> None:
    with pytest.raises(SchemaError, match=r"schema name .* is not allowed"):
        s.create_json_schema(name, s.schema_object(a=s.schema_string()))


def test_create_json_schema_checks_the_schema() -> None:
    with pytest.raises(SchemaError, match="root must be an object"):
        s.create_json_schema("x", {"type": "string"})


def test_json_schema_is_frozen() -> None:
    js = s.create_json_schema("x", s.schema_object(a=s.schema_string()))
    with pytest.raises(AttributeError):
        js.name = "y"  # type: ignore[misc]


# --- to_json_schema ------------------------------------------------------------------------

BARE = {
    "type": "object",
    "properties": {"label": {"type": "string"}},
    "required": ["label"],
    "additionalProperties": False,
}


def test_to_json_schema_bare_dict() -> None:
    js = s.to_json_schema(BARE)
    assert js == s.JsonSchema("classification", BARE, True, None)
    assert js.schema is not BARE


def test_to_json_schema_openai_wrapper() -> None:
    wrapper = {"name": "sent", "schema": BARE, "strict": False, "description": "d"}
    assert s.to_json_schema(wrapper) == s.JsonSchema("sent", BARE, False, "d")
    assert s.to_json_schema({"name": "n", "schema": BARE}).strict is True


def test_to_json_schema_whole_response_format_and_anthropic_format() -> None:
    openai_rf = {"type": "json_schema", "json_schema": {"name": "rf", "schema": BARE}}
    assert s.to_json_schema(openai_rf) == s.JsonSchema("rf", BARE)
    anthropic = {"type": "json_schema", "schema": BARE}
    assert s.to_json_schema(anthropic) == s.JsonSchema("classification", BARE)


def test_to_json_schema_property_named_schema_is_not_a_wrapper() -> None:
    body = {"type": "object", "properties": {"schema": {"type": "object", "properties": {}}}}
    assert s.to_json_schema(body).schema == body


@pytest.mark.parametrize(
    ("wrapper", "pattern"),
    [
        ({"name": "bad name", "schema": BARE}, "schema name 'bad name'"),
        ({"name": "n", "schema": BARE, "strict": "yes"}, "'strict' must be true or false"),
        ({"name": "n", "schema": BARE, "description": 1}, "description must be a string"),
    ],
)
def test_to_json_schema_bad_wrapper(wrapper: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern):
        s.to_json_schema(wrapper)


def test_to_json_schema_json_schema_instance_and_rename() -> None:
    js = s.create_json_schema("orig", BARE, strict=False)
    assert s.to_json_schema(js) == js
    assert s.to_json_schema(js, name="renamed") == s.JsonSchema("renamed", BARE, False)
    with pytest.raises(SchemaError, match="schema name"):
        s.to_json_schema(js, name="no good")


def test_to_json_schema_round_trips_through_to_dict() -> None:
    js = s.create_json_schema("x", BARE, description="d")
    assert s.to_json_schema(js.to_dict()) == js


def test_to_json_schema_pydantic_model() -> None:
    js = s.to_json_schema(Review)
    assert js.name == "Review"
    assert js.schema == Review.model_json_schema()
    assert js.schema["required"] == ["label", "stars", "address", "tags", "mood"]
    assert set(js.schema["$defs"]) == {"Address", "Mood"}


def test_to_json_schema_pydantic_name_is_sanitised() -> None:
    Generic = pydantic.create_model("Answer[int] v2", value=(int, ...))
    assert s.to_json_schema(Generic).name == "Answer_int__v2"
    assert s.to_json_schema(Generic, name="given").name == "given"


def test_to_json_schema_pydantic_recursive_model_root_ref_inlined() -> None:
    class Node(pydantic.BaseModel):
        value: int
        children: list[Node]

    js = s.to_json_schema(Node)
    assert js.schema["type"] == "object"
    assert "$ref" not in js.schema
    assert js.schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}


def test_to_json_schema_pydantic_failure_is_a_schema_error() -> None:
    class Weird(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        f: Any = None
        g: object

    class Broken:
        @classmethod
        def model_json_schema(cls) -> dict[str, Any]:
            raise RuntimeError("boom")

    assert s.to_json_schema(Weird).name == "Weird"
    with pytest.raises(SchemaError, match="could not build a JSON Schema for Broken: boom"):
        s.to_json_schema(Broken)


def test_to_json_schema_labels() -> None:
    js = s.to_json_schema(["positive", "negative"])
    assert js == s.JsonSchema(
        "classification",
        {
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["positive", "negative"]}},
            "required": ["label"],
            "additionalProperties": False,
        },
    )
    custom = s.to_json_schema(("a", "b"), label_column="sentiment", name="sent")
    assert custom.name == "sent"
    assert list(custom.schema["properties"]) == ["sentiment"]
    assert custom.schema["required"] == ["sentiment"]


@pytest.mark.parametrize(
    ("labels", "kwargs", "pattern"),
    [
        (["a", "b", "a", "c", "c"], {}, r"duplicate labels: \['a', 'c'\]"),
        (["a", ""], {}, r"non-empty strings; got \[''\]"),
        (["a", "  "], {}, "non-empty strings"),
        (["a", 1], {}, r"got \[1\]"),
        ([], {}, "list of labels is empty"),
        (["a"], {"label_column": ""}, "label_column must be a non-empty string"),
    ],
)
def test_to_json_schema_bad_labels(labels: Any, kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern):
        s.to_json_schema(labels, **kwargs)


@pytest.mark.parametrize(
    ("value", "pattern"),
    [("positive", "got a single string"), (3, "got int"), (None, "got NoneType")],
)
def test_to_json_schema_wrong_kind(value: Any, pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern) as info:
        s.to_json_schema(value)
    assert "\nHint: " in str(info.value)


@pytest.mark.parametrize(
    ("schema", "pattern"),
    [
        (
            {"type": "objekt"},
            r"not valid JSON Schema: 'objekt' is not valid under any of the given schemas "
            r"\(at type\)",
        ),
        (
            {"type": "object", "properties": ["a"]},
            r"not valid JSON Schema: \['a'\] is not of type 'object' \(at properties\)",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string", "minLength": -1}}},
            r"\(at properties\.a\.minLength\)",
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": "a"},
            r"\(at required\)",
        ),
    ],
)
def test_meta_validation_failures(schema: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern) as info:
        s.to_json_schema(schema)
    assert isinstance(info.value, InputError)
    assert str(info.value).splitlines()[-1].startswith("Hint: ")


@pytest.mark.parametrize(
    ("schema", "pattern"),
    [
        ({"type": "string"}, "root must be an object .* has type 'string'"),
        ({"type": "array", "items": {"type": "string"}}, "has type 'array'"),
        ({"anyOf": [{"type": "string"}]}, "has no 'type'"),
        ({"type": ["object", "null"], "properties": {"a": {}}}, "has type"),
        ({"type": "object"}, "object without properties"),
        ({"type": "object", "properties": {}}, "object without properties"),
    ],
)
def test_root_must_be_an_object_with_properties(schema: dict[str, Any], pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern) as info:
        s.to_json_schema(schema)
    assert "schema_object" in str(info.value)


@pytest.mark.parametrize(
    ("ref", "pattern"),
    [
        ("https://example.com/s.json", "points outside the schema"),
        ("other.json#/a", "points outside the schema"),
        ("#/$defs/Missing", "does not resolve"),
        ("#anchor", "uses an anchor"),
        ("#/properties/a/type", "does not point at a schema object"),
    ],
)
def test_refs_must_be_internal_and_resolve(ref: str, pattern: str) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"$ref": ref}}}
    with pytest.raises(SchemaError, match=pattern) as info:
        s.to_json_schema(schema)
    assert "(at properties.b)" in str(info.value)


def test_ref_pointer_escapes_resolve() -> None:
    schema = {
        "type": "object",
        "$defs": {"a/b": {"type": "string"}, "c~d": {"type": "integer"}},
        "properties": {"x": {"$ref": "#/$defs/a~1b"}, "y": {"$ref": "#/$defs/c~0d"}},
    }
    assert s.to_json_schema(schema).schema == schema


def test_required_names_must_be_properties() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"]}
    with pytest.raises(SchemaError, match=r"names \['b'\], which are not in 'properties'"):
        s.to_json_schema(schema)


def test_recursive_schemas_are_accepted_by_to_json_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"tree": {"$ref": "#/$defs/T"}},
        "$defs": {"T": {"type": "object", "properties": {"kids": {"$ref": "#/$defs/T"}}}},
    }
    assert s.to_json_schema(schema).schema == schema


def test_pydantic_is_not_imported_by_llmbatch_schema() -> None:
    import subprocess
    import sys

    code = "import sys, llmbatch.schema; print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- nothing is mutated, everything is fresh --------------------------------------------------


def test_no_function_mutates_its_input() -> None:
    schema = Review.model_json_schema()
    schema["properties"]["extra"] = {"allOf": [{"$ref": "#/$defs/Address"}], "description": "x"}
    before = copy.deepcopy(schema)
    outputs = [
        s.to_json_schema(schema).schema,
        s.openai_strict(schema),
        s.anthropic_format(schema),
        s.create_json_schema("x", schema).schema,
    ]
    s.columns(schema)
    s.make_validator(schema)
    assert schema == before
    for out in outputs:
        out["properties"]["address"]["mutated"] = True
    assert schema == before


def test_builders_do_not_share_nested_dicts() -> None:
    inner = s.schema_string()
    props = {"a": inner}
    obj = s.schema_object(props, b=inner)
    obj["properties"]["a"]["type"] = "changed"
    assert inner == {"type": "string"}
    assert props == {"a": {"type": "string"}}


def test_repeated_calls_return_fresh_dicts() -> None:
    js = s.to_json_schema(BARE)
    first, second = s.openai_strict(js.schema), s.openai_strict(js.schema)
    assert first == second
    assert first is not second and first["properties"] is not second["properties"]


@pytest.mark.parametrize(
    "module",
    [
        "llmbatch.schema",
        "llmbatch._schema_strict",
        "llmbatch._schema_columns",
        "llmbatch._schema_validate",
        "llmbatch._schema_builders",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_errors_in_definitions_name_the_definition() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/Big"}},
        "$defs": {"Big": {"type": "object", "additionalProperties": True}},
    }
    with pytest.raises(SchemaError, match=r"schema definition 'Big' sets .* \(at \$defs\.Big\)"):
        s.openai_strict(schema)
