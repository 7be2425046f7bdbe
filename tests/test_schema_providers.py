"""llmbatch.schema.openai_strict and anthropic_format: the rewrite rules and every refusal."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Literal

import pydantic
import pytest
from jsonschema import Draft202012Validator

from llmbatch import schema as s
from llmbatch._exceptions import SchemaError

Node = dict[str, Any]


def obj(properties: dict[str, Any], **extra: Any) -> Node:
    return {"type": "object", "properties": properties, **extra}


def nest(field: Node) -> Node:
    """``field`` as property 'field' of an object that is property 'outer' of the root."""
    return obj({"outer": obj({"field": field}, required=["field"])}, required=["outer"])


NESTED_PATH = "(at properties.outer.properties.field)"


def walk(node: Node, path: tuple[Any, ...] = ()) -> Iterator[tuple[Node, tuple[Any, ...]]]:
    """Every subschema of a provider form (written independently of the code under test)."""
    yield node, path
    for key in ("properties", "$defs", "definitions"):
        for name, child in (node.get(key) or {}).items():
            yield from walk(child, (*path, key, name))
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], (*path, "items"))
    for key in ("anyOf", "allOf"):
        for i, child in enumerate(node.get(key) or []):
            yield from walk(child, (*path, key, i))


def is_object(node: Node) -> bool:
    typ = node.get("type")
    return typ == "object" or (isinstance(typ, list) and "object" in typ) or "properties" in node


OPENAI_FORBIDDEN = {
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "unevaluatedProperties",
    "propertyNames",
    "contains",
    "minContains",
    "maxContains",
    "uniqueItems",
    "minLength",
    "maxLength",
}


def assert_openai_strict(schema: Node) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    for node, path in walk(schema):
        assert not OPENAI_FORBIDDEN & set(node), path
        assert any(k in node for k in ("type", "enum", "const", "anyOf", "$ref")), path
        if "$ref" in node:
            assert set(node) == {"$ref"}, path
        if "default" in node:
            assert node["default"] is not None, path
        if is_object(node):
            assert node["additionalProperties"] is False, path
            assert node["required"] == list(node.get("properties") or {}), path


ANTHROPIC_FORBIDDEN = OPENAI_FORBIDDEN - {"allOf"} | {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "maxItems",
}


def assert_anthropic_rules(schema: Node) -> None:
    Draft202012Validator.check_schema(schema)
    for node, path in walk(schema):
        assert not ANTHROPIC_FORBIDDEN & set(node), path
        assert node.get("minItems", 0) <= 1, path
        if is_object(node):
            assert node["additionalProperties"] is False, path


# --- OpenAI: rewrites --------------------------------------------------------------------

DEFS = {"D": obj({"q": {"type": "boolean"}}, required=["q"])}


def test_openai_optional_properties_become_required_and_nullable() -> None:
    schema = obj(
        {
            "name": {"type": "string"},
            "age": {"type": "integer", "description": "years"},
            "multi": {"type": ["string", "integer"]},
            "already": {"type": ["string", "null"]},
            "kind": {"type": "string", "enum": ["a", "b"], "description": "k"},
            "fixed": {"const": "x"},
            "ref": {"$ref": "#/$defs/D"},
            "union": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "nested": obj(
                {"city": {"type": "string"}, "zip": {"type": "string"}}, required=["city"]
            ),
        },
        required=["name", "nested"],
        **{"$defs": DEFS},
    )
    out = s.openai_strict(schema)
    assert_openai_strict(out)
    props = out["properties"]
    assert out["required"] == list(schema["properties"])
    assert props["name"] == {"type": "string"}
    assert props["age"] == {"type": ["integer", "null"], "description": "years"}
    assert props["multi"] == {"type": ["string", "integer", "null"]}
    assert props["already"] == {"type": ["string", "null"]}
    assert props["kind"] == {
        "description": "k",
        "anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}],
    }
    assert props["fixed"] == {"anyOf": [{"const": "x"}, {"type": "null"}]}
    assert props["ref"] == {"anyOf": [{"$ref": "#/$defs/D"}, {"type": "null"}]}
    assert props["union"] == {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}
    assert props["nested"]["required"] == ["city", "zip"]
    assert props["nested"]["properties"]["zip"] == {"type": ["string", "null"]}
    assert out["$defs"]["D"]["additionalProperties"] is False


def test_openai_nullable_results_accept_null() -> None:
    schema = obj({"a": {"type": "string", "enum": ["x"]}, "b": {"type": "integer"}})
    out = s.openai_strict(schema)
    check = s.make_validator(out)
    assert check({"a": None, "b": None}) is None
    assert check({"a": "x", "b": 2}) is None
    assert check({"a": "y", "b": 2}) is not None


def test_openai_one_element_allof_is_flattened() -> None:
    schema = obj(
        {"a": {"allOf": [{"$ref": "#/$defs/D"}], "description": "mine"}},
        required=["a"],
        **{"$defs": DEFS},
    )
    out = s.openai_strict(schema)
    assert_openai_strict(out)
    assert out["properties"]["a"] == {
        "type": "object",
        "properties": {"q": {"type": "boolean"}},
        "required": ["q"],
        "additionalProperties": False,
        "description": "mine",
    }


def test_openai_ref_with_siblings_is_inlined_and_made_strict() -> None:
    defs = {"Loose": obj({"x": {"type": "string"}})}
    schema = obj({"a": {"$ref": "#/$defs/Loose", "title": "A"}}, required=["a"], **{"$defs": defs})
    out = s.openai_strict(schema)
    assert_openai_strict(out)
    assert out["properties"]["a"]["title"] == "A"
    assert out["properties"]["a"]["required"] == ["x"]
    assert out["properties"]["a"]["properties"]["x"] == {"type": ["string", "null"]}


def test_openai_recursive_refs_are_kept() -> None:
    defs = {"T": obj({"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#"}}})}
    schema = obj(
        {"tree": {"$ref": "#/$defs/T", "description": "root"}}, required=["tree"], **{"$defs": defs}
    )
    out = s.openai_strict(schema)
    assert_openai_strict(out)
    kids = out["properties"]["tree"]["properties"]["kids"]
    assert kids == {"type": ["array", "null"], "items": {"$ref": "#"}}
    assert out["properties"]["tree"]["description"] == "root"


def test_openai_recursive_ref_with_annotation_sibling_stays_bare() -> None:
    defs = {"T": obj({"next": {"$ref": "#/$defs/T", "description": "the next one"}})}
    schema = obj({"head": {"$ref": "#/$defs/T", "title": "Head"}}, required=["head"])
    schema["$defs"] = defs
    out = s.openai_strict(schema)
    assert_openai_strict(out)
    bare_nullable = {"anyOf": [{"$ref": "#/$defs/T"}, {"type": "null"}]}
    head = out["properties"]["head"]
    assert head["title"] == "Head"
    assert head["properties"]["next"] == bare_nullable  # inside T's own inlining: kept bare
    in_defs = out["$defs"]["T"]["properties"]["next"]  # inlined once, then bare
    assert in_defs["description"] == "the next one"
    assert in_defs["type"] == ["object", "null"]
    assert in_defs["properties"]["next"] == bare_nullable


def test_openai_recursive_ref_with_constraint_sibling_is_refused() -> None:
    defs = {"T": obj({"next": {"$ref": "#/$defs/T", "type": "object"}})}
    schema = obj({"head": {"$ref": "#/$defs/T", "title": "Head"}}, required=["head"])
    schema["$defs"] = defs
    with pytest.raises(SchemaError, match=r"recursive \$ref '#/\$defs/T' has sibling keywords"):
        s.openai_strict(schema)


def test_openai_oneof_becomes_anyof_and_discriminator_is_dropped() -> None:
    class Cat(pydantic.BaseModel):
        kind: Literal["cat"]
        meows: int

    class Dog(pydantic.BaseModel):
        kind: Literal["dog"]
        barks: bool

    class Pet(pydantic.BaseModel):
        pet: Cat | Dog = pydantic.Field(discriminator="kind")

    schema = Pet.model_json_schema()
    assert "oneOf" in schema["properties"]["pet"]
    out = s.openai_strict(schema)
    assert_openai_strict(out)
    assert "discriminator" not in out["properties"]["pet"]
    assert [v["$ref"] for v in out["properties"]["pet"]["anyOf"]] == [
        "#/$defs/Cat",
        "#/$defs/Dog",
    ]


def test_openai_default_none_dropped_other_defaults_kept() -> None:
    schema = obj(
        {
            "a": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "b": {"type": "integer", "default": 3},
        }
    )
    out = s.openai_strict(schema)
    assert "default" not in out["properties"]["a"]
    assert out["properties"]["b"] == {"type": ["integer", "null"], "default": 3}


def test_openai_keeps_supported_constraints() -> None:
    field = {
        "type": "object",
        "properties": {
            "n": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "multipleOf": 0.5},
            "s": {"type": "string", "pattern": "^a+$", "format": "date-time"},
            "l": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 5},
        },
        "required": ["n", "s", "l"],
    }
    out = s.openai_strict(nest(field))
    assert_openai_strict(out)
    got = out["properties"]["outer"]["properties"]["field"]["properties"]
    assert got == field["properties"]


def test_openai_pydantic_model_is_strict() -> None:
    class Address(pydantic.BaseModel):
        city: str
        postcode: str | None = None

    class Review(pydantic.BaseModel):
        label: Literal["positive", "negative"]
        stars: int = pydantic.Field(ge=1, le=5)
        address: Address = pydantic.Field(description="where")
        history: list[Address]
        note: str | None = None
        lang: str = "en"

    out = s.openai_strict(Review.model_json_schema())
    assert_openai_strict(out)
    assert out["properties"]["lang"] == {
        "default": "en",
        "title": "Lang",
        "type": ["string", "null"],
    }
    assert out["properties"]["address"]["description"] == "where"


def test_openai_matches_the_openai_sdk_helper_for_plain_models() -> None:
    helper = pytest.importorskip("openai.lib._pydantic")

    class Inner(pydantic.BaseModel):
        x: int
        y: str | None = None

    class Outer(pydantic.BaseModel):
        label: Literal["a", "b"]
        inner: Inner
        inners: list[Inner]
        maybe: Inner | None = None
        described: Inner = pydantic.Field(description="d")

    assert s.openai_strict(Outer.model_json_schema()) == helper.to_strict_json_schema(Outer)


# --- OpenAI: refusals --------------------------------------------------------------------

ALWAYS_REFUSED = [
    ("not", {"type": "string", "not": {"const": "x"}}),
    ("if", {"type": "string", "if": {"const": "a"}, "then": {"pattern": "b"}}),
    ("then", {"type": "string", "then": {"pattern": "b"}}),
    ("else", {"type": "string", "else": {"pattern": "b"}}),
    ("dependentSchemas", obj({"a": {"type": "string"}}, dependentSchemas={"a": {}})),
    ("patternProperties", obj({"a": {"type": "string"}}, patternProperties={"^x": {}})),
    ("unevaluatedProperties", obj({"a": {"type": "string"}}, unevaluatedProperties=False)),
    ("propertyNames", obj({"a": {"type": "string"}}, propertyNames={"maxLength": 3})),
    ("contains", {"type": "array", "items": {"type": "string"}, "contains": {"const": "a"}}),
    ("prefixItems", {"type": "array", "prefixItems": [{"type": "string"}]}),
    ("unevaluatedItems", {"type": "array", "items": {"type": "string"}, "unevaluatedItems": False}),
]

OPENAI_VALUE_ONLY = [
    ("dependentRequired", obj({"a": {"type": "string"}}, dependentRequired={"a": ["a"]})),
    ("minContains", {"type": "array", "items": {"type": "string"}, "minContains": 1}),
    ("maxContains", {"type": "array", "items": {"type": "string"}, "maxContains": 1}),
    ("uniqueItems", {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
    ("minLength", {"type": "string", "minLength": 1}),
    ("maxLength", {"type": "string", "maxLength": 9}),
    ("minProperties", obj({"a": {"type": "string"}}, minProperties=1)),
    ("maxProperties", obj({"a": {"type": "string"}}, maxProperties=1)),
    ("format", {"type": "string", "format": "uri"}),
]


@pytest.mark.parametrize(("keyword", "field"), ALWAYS_REFUSED + OPENAI_VALUE_ONLY)
def test_openai_refuses_unsupported_keywords(keyword: str, field: Node) -> None:
    schema = nest(field)
    with pytest.raises(SchemaError) as info:
        s.openai_strict(schema)
    message = str(info.value)
    first = message.splitlines()[0]
    assert f"'{keyword}'" in first
    assert "OpenAI strict mode rejects" in first
    assert first.endswith(NESTED_PATH), first
    assert message.splitlines()[-1].startswith("Hint: ")


def test_openai_refuses_multi_allof() -> None:
    field = {"allOf": [{"type": "string"}, {"maxLength": 3}]}
    with pytest.raises(SchemaError, match=r"'allOf' with 2 schemas.*" + r"\(at properties.outer"):
        s.openai_strict(nest(field))


@pytest.mark.parametrize("extra", [True, {"type": "string"}])
def test_openai_refuses_open_objects(extra: Any) -> None:
    field = obj({"a": {"type": "string"}}, additionalProperties=extra)
    with pytest.raises(SchemaError, match=r"'additionalProperties' to (true|a schema)") as info:
        s.openai_strict(nest(field))
    assert NESTED_PATH in str(info.value)


@pytest.mark.parametrize(
    ("field", "pattern"),
    [
        ({}, "has no 'type'"),
        ({"description": "anything"}, "has no 'type'"),
        ({"type": "array", "items": True}, r"boolean schema True.*\(at properties.outer"),
        ({"type": "array", "items": {}}, r"has no 'type'.*items\)"),
        ({"enum": [{"a": 1}]}, "not strings, numbers, booleans or null"),
        ({"enum": []}, "empty 'enum'"),
        ({"oneOf": [{"type": "string"}], "anyOf": [{"type": "string"}]}, "both 'oneOf'"),
    ],
)
def test_openai_refuses_untyped_and_odd_schemas(field: Node, pattern: str) -> None:
    with pytest.raises(SchemaError, match=pattern):
        s.openai_strict(nest(field))


def test_openai_relax_moves_value_only_constraints_into_description() -> None:
    field = {"type": "string", "description": "code", "minLength": 2, "format": "uri"}
    out = s.openai_strict(nest(field), relax=True)
    got = out["properties"]["outer"]["properties"]["field"]
    assert got == {"type": "string", "description": "code\n\n{minLength: 2, format: uri}"}
    with pytest.raises(SchemaError, match="'not'"):
        s.openai_strict(nest({"type": "string", "not": {"const": "a"}}), relax=True)


def flat(n: int, field: Node | None = None) -> Node:
    props = {f"p{i}": field or {"type": "string"} for i in range(n)}
    return obj(props, required=list(props))


def deep(levels: int) -> Node:
    node: Node = obj({"leaf": {"type": "string"}}, required=["leaf"])
    for _ in range(levels - 1):
        node = obj({"child": node}, required=["child"])
    return node


def test_openai_size_limits() -> None:
    s.openai_strict(flat(5000))
    with pytest.raises(SchemaError, match=r"5001 properties \(at most 5000\)"):
        s.openai_strict(flat(5001))
    s.openai_strict(deep(10))
    with pytest.raises(SchemaError, match=r"nested 11 levels deep \(at most 10\)"):
        s.openai_strict(deep(11))
    s.openai_strict(flat(2, {"type": "string", "enum": [f"v{i}" for i in range(500)]}))
    with pytest.raises(SchemaError, match=r"1002 enum values \(at most 1000\)"):
        s.openai_strict(flat(2, {"type": "integer", "enum": list(range(501))}))


def test_openai_depth_counts_through_refs_and_arrays() -> None:
    inner = deep(9)
    schema = obj({"list": {"type": "array", "items": {"$ref": "#/$defs/I"}}}, required=["list"])
    schema["$defs"] = {"I": inner}
    s.openai_strict(schema)
    schema["$defs"] = {"I": deep(10)}
    with pytest.raises(SchemaError, match="nested 11 levels deep"):
        s.openai_strict(schema)


def test_openai_large_string_enums() -> None:
    ok = {"type": "string", "enum": [f"{i:03d}" + "x" * 40 for i in range(300)]}
    s.openai_strict(flat(1, ok))
    big = {"type": "string", "enum": [f"{i:03d}" + "x" * 60 for i in range(300)]}
    with pytest.raises(SchemaError, match=r"enum of 300 strings totalling 18900 characters"):
        s.openai_strict(flat(1, big))
    with pytest.raises(SchemaError, match="characters of names and enum values"):
        s.openai_strict(flat(1000, {"type": "string", "enum": ["y" * 121]}))


def test_openai_strict_accepts_and_refuses_like_to_json_schema() -> None:
    with pytest.raises(SchemaError, match="root must be an object"):
        s.openai_strict({"type": "string"})
    with pytest.raises(SchemaError, match="not valid JSON Schema"):
        s.openai_strict({"type": "objekt"})
    with pytest.raises(SchemaError, match="points outside the schema"):
        s.openai_strict(obj({"a": {"$ref": "https://x.test/a.json"}}))


# --- Anthropic -----------------------------------------------------------------------------


def test_anthropic_closes_objects_keeps_optional_and_turns_oneof_into_anyof() -> None:
    schema = obj(
        {
            "a": {"type": "string"},
            "b": obj({"c": {"type": "integer"}}),
            "d": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "e": {"type": "array", "items": obj({"f": {"type": "boolean"}}), "minItems": 1},
            "g": {"type": "string", "format": "uri", "pattern": "^h", "default": "x"},
            "h": {"allOf": [obj({"i": {"type": "string"}}), {"description": "more"}]},
            "j": {"allOf": [{"type": "string"}, {"pattern": "^a"}]},
        },
        required=["a"],
    )
    out = s.anthropic_format(schema)
    assert_anthropic_rules(out)
    assert out["required"] == ["a"]
    assert "required" not in out["properties"]["b"]
    assert out["properties"]["d"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert out["properties"]["e"]["items"]["additionalProperties"] is False
    assert out["properties"]["g"] == schema["properties"]["g"]
    assert out["properties"]["h"]["allOf"][0]["additionalProperties"] is False


def test_anthropic_refuses_allof_of_objects() -> None:
    field = {"allOf": [obj({"a": {"type": "string"}}), obj({"b": {"type": "string"}})]}
    with pytest.raises(SchemaError, match="combines objects with 'allOf'") as info:
        s.anthropic_format(nest(field))
    assert NESTED_PATH in str(info.value)


@pytest.mark.parametrize("form", [s.openai_strict, s.anthropic_format])
def test_one_element_allof_merges_properties_with_its_parent(form: Any) -> None:
    field = {
        **obj({"a": {"type": "string"}}, required=["a"]),
        "allOf": [obj({"b": {"type": "integer"}}, required=["b"])],
    }
    got = form(nest(field))["properties"]["outer"]["properties"]["field"]
    assert list(got["properties"]) == ["b", "a"]
    assert got["required"] == ["b", "a"]
    assert got["additionalProperties"] is False


@pytest.mark.parametrize(
    ("field", "pattern"),
    [
        (
            {**obj({"a": {"type": "string"}}), "allOf": [obj({"a": {"type": "integer"}})]},
            r"defines properties \['a'\] twice",
        ),
        ({"type": "string", "allOf": [{"type": "integer"}]}, "sets 'type' both inside and beside"),
    ],
)
def test_one_element_allof_conflicts_are_refused(field: Node, pattern: str) -> None:
    for form in (s.openai_strict, s.anthropic_format):
        with pytest.raises(SchemaError, match=pattern):
            form(nest(field))


def test_anthropic_pydantic_model_with_refs() -> None:
    class Address(pydantic.BaseModel):
        city: str
        postcode: str | None = None

    class Person(pydantic.BaseModel):
        name: str
        home: Address = pydantic.Field(description="home")
        others: list[Address]

    out = s.anthropic_format(Person.model_json_schema())
    assert_anthropic_rules(out)
    assert out["$defs"]["Address"]["required"] == ["city"]
    assert out["properties"]["home"]["description"] == "home"
    assert out["properties"]["home"]["additionalProperties"] is False


ANTHROPIC_VALUE_ONLY = [
    ("minimum", {"type": "number", "minimum": 0}),
    ("maximum", {"type": "number", "maximum": 1}),
    ("exclusiveMinimum", {"type": "number", "exclusiveMinimum": 0}),
    ("exclusiveMaximum", {"type": "integer", "exclusiveMaximum": 9}),
    ("multipleOf", {"type": "integer", "multipleOf": 2}),
    ("minLength", {"type": "string", "minLength": 1}),
    ("maxLength", {"type": "string", "maxLength": 5}),
    ("minItems", {"type": "array", "items": {"type": "string"}, "minItems": 2}),
    ("maxItems", {"type": "array", "items": {"type": "string"}, "maxItems": 3}),
    ("uniqueItems", {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
    ("minProperties", obj({"a": {"type": "string"}}, minProperties=1)),
    ("maxProperties", obj({"a": {"type": "string"}}, maxProperties=1)),
    ("dependentRequired", obj({"a": {"type": "string"}}, dependentRequired={"a": ["a"]})),
    ("format", {"type": "string", "format": "regex"}),
]


@pytest.mark.parametrize(("keyword", "field"), ALWAYS_REFUSED + ANTHROPIC_VALUE_ONLY)
def test_anthropic_refuses_unsupported_keywords(keyword: str, field: Node) -> None:
    with pytest.raises(SchemaError) as info:
        s.anthropic_format(nest(field))
    message = str(info.value)
    first = message.splitlines()[0]
    assert f"'{keyword}'" in first
    assert "Anthropic structured outputs reject" in first
    assert first.endswith(NESTED_PATH), first
    assert message.splitlines()[-1].startswith("Hint: ")


def test_anthropic_message_names_property_value_and_path() -> None:
    schema = obj({"score": {"type": "number", "minimum": 0}})
    with pytest.raises(SchemaError) as info:
        s.anthropic_format(schema)
    assert str(info.value) == (
        "schema property 'score' uses 'minimum': 0, which Anthropic structured outputs reject "
        "(at properties.score)\nHint: remove it or describe the range in 'description' "
        "(or pass relax=True to move it into 'description')."
    )


def test_anthropic_allows_min_items_zero_and_one() -> None:
    for n in (0, 1):
        field = {"type": "array", "items": {"type": "string"}, "minItems": n}
        out = s.anthropic_format(nest(field))
        assert out["properties"]["outer"]["properties"]["field"]["minItems"] == n


@pytest.mark.parametrize(
    "all_of",
    [
        [{"$ref": "#/$defs/D"}, {"description": "x"}],
        [obj({"a": {"type": "string"}}), {"$ref": "#/$defs/D"}],
    ],
)
def test_anthropic_refuses_allof_with_ref(all_of: list[Node]) -> None:
    schema = nest({"allOf": all_of})
    schema["$defs"] = copy.deepcopy(DEFS)
    with pytest.raises(SchemaError, match=r"combines 'allOf' with '\$ref'.*outer.properties.field"):
        s.anthropic_format(schema)


SELF = {"T": obj({"n": {"$ref": "#/$defs/T"}})}
LOOP = {"A": obj({"b": {"$ref": "#/$defs/B"}}), "B": obj({"a": {"$ref": "#/$defs/A"}})}


@pytest.mark.parametrize(
    ("schema", "ref", "where"),
    [
        (
            obj(
                {"a": {"$ref": "#/$defs/T"}}, **{"$defs": {"T": obj({"n": {"$ref": "#/$defs/T"}})}}
            ),
            "#/$defs/T",
            "$defs.T.properties.n",
        ),
        (obj({"a": {"$ref": "#"}}), "#", "properties.a"),
        (obj({"a": {"$ref": "#/$defs/A"}}, **{"$defs": LOOP}), "#/$defs/A", "$defs.B.properties.a"),
    ],
)
def test_anthropic_refuses_recursion(schema: Node, ref: str, where: str) -> None:
    with pytest.raises(SchemaError) as info:
        s.anthropic_format(schema)
    first = str(info.value).splitlines()[0]
    assert first == (
        f"$ref {ref!r} makes the schema recursive, which Anthropic structured outputs reject "
        f"(at {where})"
    )
    s.openai_strict(schema)  # OpenAI takes the same schema


def test_anthropic_refuses_recursive_pydantic_model() -> None:
    class Tree(pydantic.BaseModel):
        value: int
        children: list[Tree]

    with pytest.raises(SchemaError, match=r"\$ref '#/\$defs/Tree' makes the schema recursive"):
        s.anthropic_format(Tree.model_json_schema())


def test_anthropic_refuses_external_refs() -> None:
    with pytest.raises(SchemaError, match="points outside the schema"):
        s.anthropic_format(obj({"a": {"$ref": "https://x.test/a.json#/A"}}))


@pytest.mark.parametrize("extra", [True, {"type": "string"}])
def test_anthropic_refuses_open_objects(extra: Any) -> None:
    with pytest.raises(SchemaError, match="Anthropic structured outputs reject: every object"):
        s.anthropic_format(nest(obj({"a": {"type": "string"}}, additionalProperties=extra)))


def test_anthropic_optional_property_limit() -> None:
    props = {f"p{i}": {"type": "string"} for i in range(25)}
    s.anthropic_format(obj(props, required=["p0"]))  # 24 optional
    with pytest.raises(SchemaError, match="25 optional properties, over the limit of 24") as info:
        s.anthropic_format(obj(props))
    assert "properties.p24" in str(info.value)


def test_anthropic_optional_properties_count_across_nested_objects() -> None:
    inner = obj({f"q{i}": {"type": "string"} for i in range(13)})
    schema = obj({"a": inner, "b": copy.deepcopy(inner)}, required=["a", "b"])
    with pytest.raises(SchemaError, match="26 optional properties"):
        s.anthropic_format(schema)


def test_anthropic_union_limit() -> None:
    nullable: Node = {"type": ["string", "null"]}
    props: dict[str, Node] = {f"p{i}": nullable for i in range(16)}
    s.anthropic_format(obj(props, required=list(props)))
    props["extra"] = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    with pytest.raises(SchemaError, match="17 union-typed parts"):
        s.anthropic_format(obj(props, required=list(props)))


def test_anthropic_relax_moves_constraints_like_the_sdk() -> None:
    schema = obj(
        {
            "n": {"type": "integer", "minimum": 1, "maximum": 10, "description": "A number"},
            "s": {"type": "string", "maxLength": 5},
            "l": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "k": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        required=["n", "s", "l", "k"],
    )
    out = s.anthropic_format(schema, relax=True)
    assert_anthropic_rules(out)
    props = out["properties"]
    assert props["n"] == {"type": "integer", "description": "A number\n\n{minimum: 1, maximum: 10}"}
    assert props["s"] == {"type": "string", "description": "{maxLength: 5}"}
    assert props["l"]["description"] == "{minItems: 3}" and "minItems" not in props["l"]
    assert props["k"]["minItems"] == 1


def test_anthropic_relax_matches_sdk_description_text() -> None:
    sdk = pytest.importorskip("anthropic.lib._parse._transform")
    field = {"type": "integer", "minimum": 1, "maximum": 10, "description": "A number"}
    ours = s.anthropic_format(obj({"n": field}, required=["n"]), relax=True)
    assert ours["properties"]["n"] == sdk.transform_schema(field)


def test_anthropic_relax_still_refuses_structural_problems() -> None:
    with pytest.raises(SchemaError, match="'patternProperties'"):
        s.anthropic_format(nest(obj({}, patternProperties={"^a": {}})), relax=True)
    with pytest.raises(SchemaError, match="recursive"):
        s.anthropic_format(obj({"a": {"$ref": "#"}}), relax=True)
