"""The synthetic model's schema instances and the providers' schema rules."""

from __future__ import annotations

import datetime as dt
import re

import orjson
import pytest
from jsonschema import Draft202012Validator

from llmbatch.emulator.fake_pattern import pattern_string
from llmbatch.emulator.fake_schema import (
    break_instance,
    schema_instance,
    structured_text,
    structured_value,
)
from llmbatch.emulator.fake_schema_rules import (
    anthropic_limits_problem,
    anthropic_schema_problem,
    openai_schema_problem,
)
from llmbatch.emulator.fake_text import Rand, digest

SEEDS = [digest("seed", n) for n in range(40)]
WORDS = ("great", "product", "would", "buy", "again")


def strict(properties: dict, **extra: object) -> dict:
    """An OpenAI-strict object schema: every property required, no additional ones."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        **extra,
    }


NODE = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
    },
    "required": ["name", "children"],
    "additionalProperties": False,
}

SCHEMAS = {
    "enum_label": strict(
        {"label": {"type": "string", "enum": ["positive", "negative", "neutral"]}}
    ),
    "scalars": strict(
        {"flag": {"type": "boolean"}, "count": {"type": "integer"}, "score": {"type": "number"}}
    ),
    "int_ranges": strict(
        {
            "stars": {"type": "integer", "minimum": 1, "maximum": 5},
            "open": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3},
            "even": {"type": "integer", "minimum": 10, "maximum": 40, "multipleOf": 2},
            "negative": {"type": "integer", "maximum": -100},
            "half_step": {"type": "integer", "multipleOf": 0.5, "minimum": 1, "maximum": 9},
        }
    ),
    "number_ranges": strict(
        {
            "prob": {"type": "number", "minimum": 0, "maximum": 1},
            "open": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
            "tenths": {"type": "number", "multipleOf": 0.1, "minimum": 0, "maximum": 2},
            "quarter": {"type": "number", "multipleOf": 0.25, "minimum": -3, "maximum": 3},
            "tiny": {"type": "number", "minimum": 0.001, "maximum": 0.002},
        }
    ),
    "nullable": strict(
        {
            "maybe_text": {"type": ["string", "null"]},
            "maybe_int": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "maybe_enum": {"type": ["string", "null"], "enum": ["a", "b", None]},
        }
    ),
    "nested": strict(
        {
            "author": strict({"name": {"type": "string"}, "age": {"type": "integer"}}),
            "meta": strict({"source": strict({"url": {"type": "string", "format": "uri"}})}),
        }
    ),
    "arrays": strict(
        {
            "tags": {"type": "array", "items": {"type": "string"}},
            "bounded": {
                "type": "array",
                "items": {"type": "integer"},
                "minItems": 2,
                "maxItems": 4,
            },
            "empty_ok": {"type": "array", "items": {"type": "boolean"}, "maxItems": 0},
            "unique": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": 50},
                "minItems": 3,
                "uniqueItems": True,
            },
        }
    ),
    "array_of_objects": strict(
        {
            "items": {
                "type": "array",
                "items": strict({"sku": {"type": "string"}, "qty": {"type": "integer"}}),
            }
        }
    ),
    "formats": strict(
        {
            "day": {"type": "string", "format": "date"},
            "when": {"type": "string", "format": "date-time"},
            "at": {"type": "string", "format": "time"},
            "mail": {"type": "string", "format": "email"},
            "id": {"type": "string", "format": "uuid"},
            "v4": {"type": "string", "format": "ipv4"},
            "v6": {"type": "string", "format": "ipv6"},
            "host": {"type": "string", "format": "hostname"},
            "span": {"type": "string", "format": "duration"},
        }
    ),
    "string_lengths": strict(
        {
            "short": {"type": "string", "maxLength": 3},
            "long": {"type": "string", "minLength": 40},
            "exact": {"type": "string", "minLength": 5, "maxLength": 5},
        }
    ),
    "patterns": strict(
        {
            "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{2,4}$"},
            "choice": {"type": "string", "pattern": "^(red|green|blue)$"},
            "hex": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
        }
    ),
    "defs_ref": {
        **strict({"home": {"$ref": "#/$defs/address"}, "work": {"$ref": "#/$defs/address"}}),
        "$defs": {"address": strict({"street": {"type": "string"}, "zip": {"type": "string"}})},
    },
    "definitions_ref": {
        **strict({"pet": {"$ref": "#/definitions/pet"}}),
        "definitions": {"pet": strict({"kind": {"enum": ["cat", "dog"]}})},
    },
    "recursive": {**strict({"root": {"$ref": "#/$defs/node"}}), "$defs": {"node": NODE}},
    "recursive_root": strict(
        {"value": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#"}, {"type": "null"}]}}
    ),
    "any_of": strict(
        {
            "contact": {
                "anyOf": [
                    strict({"email": {"type": "string", "format": "email"}}),
                    strict({"phone": {"type": "string", "pattern": "^\\+\\d{7,12}$"}}),
                ]
            }
        }
    ),
    "const_and_mixed": strict(
        {
            "version": {"const": 2},
            "kind": {"type": "string", "const": "review"},
            "value": {"type": ["integer", "string"]},
        }
    ),
    "optional_props": {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {"type": "boolean"}},
        "required": ["a"],
        "minProperties": 2,
    },
    "all_of": {
        "allOf": [
            {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
            {"properties": {"y": {"type": "string"}}, "required": ["y"]},
        ]
    },
    "prefix_items": {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "items": False,
        "minItems": 2,
    },
    "draft4_exclusive": {"type": "number", "minimum": 5, "exclusiveMinimum": True, "maximum": 6},
}


def validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_instances_conform(name: str) -> None:
    schema = SCHEMAS[name]
    check = validator(schema)
    for seed in SEEDS:
        instance = schema_instance(schema, seed, WORDS)
        errors = [e.message for e in check.iter_errors(instance)]
        assert not errors, (instance, errors)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_instances_are_deterministic_json(name: str) -> None:
    first = [schema_instance(SCHEMAS[name], seed, WORDS) for seed in SEEDS[:5]]
    again = [schema_instance(SCHEMAS[name], seed, WORDS) for seed in SEEDS[:5]]
    assert orjson.dumps(first) == orjson.dumps(again)


def test_choices_vary_with_the_seed() -> None:
    labels = {schema_instance(SCHEMAS["enum_label"], seed)["label"] for seed in SEEDS}
    assert labels == {"positive", "negative", "neutral"}


def test_nullable_is_mostly_but_not_always_a_value() -> None:
    values = [schema_instance(SCHEMAS["nullable"], seed)["maybe_text"] for seed in SEEDS]
    nulls = values.count(None)
    assert 0 < nulls < len(values) / 2


def test_keys_follow_schema_order() -> None:
    schema = strict({name: {"type": "string"} for name in ("zeta", "alpha", "mid", "beta")})
    assert list(schema_instance(schema, SEEDS[0])) == ["zeta", "alpha", "mid", "beta"]


def test_date_time_and_time_formats_parse() -> None:
    for seed in SEEDS:
        value = schema_instance(SCHEMAS["formats"], seed)
        dt.datetime.fromisoformat(value["when"].replace("Z", "+00:00"))
        assert re.fullmatch(r"\d\d:\d\d:\d\dZ", value["at"])
        assert re.fullmatch(r"P\d+DT\d+H", value["span"])


def test_recursion_is_bounded() -> None:
    depth_seen = 0
    for seed in SEEDS:
        node, depth = schema_instance(SCHEMAS["recursive_root"], seed), 0
        while node is not None:
            node, depth = node["next"], depth + 1
        depth_seen = max(depth_seen, depth)
    assert 1 <= depth_seen <= 8


def test_strings_draw_on_the_prompt_words() -> None:
    value = schema_instance({"type": "string"}, SEEDS[0], WORDS)
    assert set(value.split()) <= set(WORDS)


def test_boolean_and_empty_schemas() -> None:
    assert schema_instance(True, SEEDS[0], WORDS) == "great"
    assert schema_instance({}, SEEDS[0], WORDS) == "great"
    assert schema_instance(False, SEEDS[0]) is None


def test_unresolvable_ref_means_anything() -> None:
    schema = strict({"x": {"$ref": "#/$defs/missing"}, "y": {"$ref": "other.json#/a"}})
    assert set(schema_instance(schema, SEEDS[0])) == {"x", "y"}


def test_unique_items_gives_up_gracefully_when_impossible() -> None:
    schema = {"type": "array", "items": {"type": "boolean"}, "minItems": 3, "uniqueItems": True}
    assert sorted(schema_instance(schema, SEEDS[0])) == [False, True]


def test_unsatisfiable_ranges_give_a_best_effort_value() -> None:
    assert schema_instance({"type": "integer", "minimum": 5, "maximum": 1}, SEEDS[0]) == 5
    value = schema_instance({"type": "number", "multipleOf": 7, "minimum": 1, "maximum": 2}, b"s")
    assert value == 1


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Z]{3}-\d{2,4}$",
        r"^(red|green|blue)$",
        r"^#[0-9a-fA-F]{6}$",
        r"^\w+@\w+\.com$",
        r"^[^aeiou]{4}$",
        r"^\s?x+?y*$",
        r"^(?:ab|cd)+\.(?i:q)$",
        r"^[\d\-]{3}$",
        r"abc",
        r"^.{2}\W\D\S$",
        r"^(?=x)x$",
    ],
)
def test_pattern_strings_match(pattern: str) -> None:
    for seed in SEEDS[:10]:
        text = pattern_string(pattern, Rand(seed))
        assert text is not None
        assert re.search(pattern, text)


@pytest.mark.parametrize("pattern", [r"^(a)\1$", r"(", r"^[^\w\W]$", r"^(?P<x>a)(?P=x)$"])
def test_pattern_strings_give_up(pattern: str) -> None:
    assert pattern_string(pattern, Rand(SEEDS[0])) is None


def test_pattern_fallback_is_a_fixed_string() -> None:
    value = schema_instance({"type": "string", "pattern": r"^(a)\1$"}, SEEDS[0])
    assert value == "synthetic"


def test_structured_text_markers() -> None:
    schema = SCHEMAS["nested"]
    good = structured_text(schema, SEEDS[0], WORDS, "plain")
    validator(schema).validate(orjson.loads(good))
    bad_json = structured_text(schema, SEEDS[0], WORDS, "x [[bad_json]]")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(bad_json)
    bad_schema = orjson.loads(structured_text(schema, SEEDS[0], WORDS, "[[bad_schema]]"))
    assert not validator(schema).is_valid(bad_schema)
    assert bad_schema["__unexpected__"] is True


def test_bad_json_never_parses_even_for_scalars() -> None:
    for schema in ({"type": "integer", "minimum": 10, "maximum": 99}, {"const": 12345}):
        text = structured_text(schema, SEEDS[0], WORDS, "[[bad_json]]")
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(text)


def test_break_instance() -> None:
    assert break_instance({"a": 1, "b": 2}) == {"b": 2, "__unexpected__": True}
    assert break_instance(3) == {"value": 3, "__unexpected__": True}
    assert structured_value(SCHEMAS["scalars"], SEEDS[0], (), "[[bad_schema]]")["__unexpected__"]


STRICT_ADDITIONAL = "'additionalProperties' is required to be supplied and to be false."
REQUIRED_ALL = (
    "'required' is required to be supplied and to be an array including every key in properties."
)

OPENAI_PROBLEMS = [
    (
        {"type": "array", "items": {}},
        "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"array\"'.",
    ),
    (
        {"anyOf": [{"type": "object"}]},
        "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"None\"'.",
    ),
    ("not a schema", "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"None\"'."),
    ({"type": "object", "properties": {}}, f"In context=(), {STRICT_ADDITIONAL}"),
    (
        strict({"x": {"type": "object", "properties": {}}}),
        f"In context=('properties', 'x'), {STRICT_ADDITIONAL}",
    ),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "required": ["a"],
            "additionalProperties": False,
        },
        f"In context=(), {REQUIRED_ALL} Missing 'b'.",
    ),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "required": ["a", "z"],
            "additionalProperties": False,
        },
        f"In context=(), {REQUIRED_ALL} Extra required key 'z' supplied.",
    ),
    (
        strict(
            {
                "steps": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"s": {"type": "string"}},
                        "required": [],
                        "additionalProperties": False,
                    },
                }
            }
        ),
        f"In context=('properties', 'steps', 'items'), {REQUIRED_ALL} Missing 's'.",
    ),
    (
        strict({"x": {"allOf": [{"type": "string"}]}}),
        "In context=('properties', 'x'), 'allOf' is not permitted.",
    ),
    (
        strict({"x": {"type": "string", "not": {"const": "a"}}}),
        "In context=('properties', 'x'), 'not' is not permitted.",
    ),
    (strict({}, **{"if": {}}), "In context=(), 'if' is not permitted."),
    (
        strict({"x": {"type": "object", "patternProperties": {}}}),
        "In context=('properties', 'x'), 'patternProperties' is not permitted.",
    ),
    (strict({}, dependentRequired={}), "In context=(), 'dependentRequired' is not permitted."),
    (
        strict({"x": {"description": "no type"}}),
        "In context=('properties', 'x'), schema must have a 'type' key.",
    ),
    (strict({"x": True}), "In context=('properties', 'x'), schema must be a JSON Schema object."),
    (
        strict({"x": {"$ref": "#/$defs/nope"}}),
        "In context=('properties', 'x'), reference to component '#/$defs/nope' which was not "
        "found in the schema.",
    ),
    (
        {
            **strict({"x": {"$ref": "#/$defs/d"}}),
            "$defs": {"d": {"type": "object", "properties": {}}},
        },
        f"In context=('$defs', 'd'), {STRICT_ADDITIONAL}",
    ),
    (
        strict({"x": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {}}]}}),
        f"In context=('properties', 'x', 'anyOf', '1'), {STRICT_ADDITIONAL}",
    ),
]


@pytest.mark.parametrize(("schema", "problem"), OPENAI_PROBLEMS)
def test_openai_strict_problems(schema: object, problem: str) -> None:
    assert openai_schema_problem(schema) == problem


@pytest.mark.parametrize(
    "name",
    sorted(set(SCHEMAS) - {"optional_props", "all_of", "prefix_items", "draft4_exclusive"}),
)
def test_openai_accepts_strict_schemas(name: str) -> None:
    assert openai_schema_problem(SCHEMAS[name]) is None


ANTHROPIC_PROBLEMS = [
    (
        {"type": "object", "properties": {}},
        "For 'object' type, 'additionalProperties' must be explicitly set to false",
    ),
    (
        {"type": "object", "properties": {}, "additionalProperties": True},
        "For 'object' type, 'additionalProperties: true' is not supported. "
        "Please set 'additionalProperties' to false",
    ),
    (
        strict({"x": strict({"y": {"type": "object"}})}),
        "For 'object' type, 'additionalProperties' must be explicitly set to false",
    ),
    (
        strict({"n": {"type": "integer", "minimum": 0}}),
        "For 'integer' type, property 'minimum' is not supported",
    ),
    (
        strict({"n": {"type": "number", "minimum": 0, "maximum": 1}}),
        "For 'number' type, properties maximum, minimum are not supported",
    ),
    (
        strict({"n": {"type": ["number", "null"], "multipleOf": 2}}),
        "For 'number' type, property 'multipleOf' is not supported",
    ),
    (
        strict({"n": {"type": "number", "exclusiveMinimum": 0}}),
        "For 'number' type, property 'exclusiveMinimum' is not supported",
    ),
    (
        strict({"s": {"type": "string", "minLength": 1}}),
        "For 'string' type, property 'minLength' is not supported",
    ),
    (
        strict({"s": {"type": "string", "minLength": 1, "maxLength": 9}}),
        "For 'string' type, properties maxLength, minLength are not supported",
    ),
    (
        strict({"a": {"type": "array", "items": {"type": "string"}, "minItems": 2}}),
        "For 'array' type, 'minItems' values other than 0 or 1 are not supported",
    ),
    (SCHEMAS["recursive"], "Recursive schemas are not supported"),
    (SCHEMAS["recursive_root"], "Recursive schemas are not supported"),
    (
        strict({"x": {"$ref": "https://example.com/s.json"}}),
        "External $ref 'https://example.com/s.json' is not supported; "
        "use internal references (#/$defs/...)",
    ),
    ([], "Input should be a valid dictionary"),
]


@pytest.mark.parametrize(("schema", "problem"), ANTHROPIC_PROBLEMS)
def test_anthropic_problems(schema: object, problem: str) -> None:
    assert anthropic_schema_problem(schema) == problem


@pytest.mark.parametrize(
    "name", ["enum_label", "scalars", "nullable", "nested", "defs_ref", "any_of", "formats"]
)
def test_anthropic_accepts_supported_schemas(name: str) -> None:
    assert anthropic_schema_problem(SCHEMAS[name]) is None


def test_anthropic_accepts_min_items_one_and_shared_defs() -> None:
    schema = strict({"a": {"type": "array", "items": {"type": "string"}, "minItems": 1}})
    assert anthropic_schema_problem(schema) is None
    assert anthropic_schema_problem(SCHEMAS["defs_ref"]) is None


def test_anthropic_limits() -> None:
    many_optional = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string"} for i in range(25)},
        "additionalProperties": False,
    }
    assert anthropic_limits_problem([many_optional]) == (
        "Schemas contains too many optional parameters (25), which would make grammar "
        "compilation inefficient. Reduce the number of optional parameters in your tool "
        "schemas (limit: 24)."
    )
    unions = strict({f"u{i}": {"type": ["string", "null"]} for i in range(9)})
    assert anthropic_limits_problem([unions]) is None
    assert "too many parameters with union types (18)" in anthropic_limits_problem([unions, unions])
    assert anthropic_limits_problem([SCHEMAS["nested"], "junk"]) is None
