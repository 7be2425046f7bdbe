"""Per-request validation of OpenAI bodies, with the real API's messages, params and codes.

Each ``check_*`` function returns the 400 error envelope
``{"error": {"message", "type": "invalid_request_error", "param", "code"}}`` the real
endpoint would answer, or None when the body is acceptable. Unknown model names are
accepted. Message texts follow observed API answers where known; the rest imitate them.
"""

from __future__ import annotations

import re

import orjson

from llmbatch.emulator.fake_schema_rules import openai_schema_problem
from llmbatch.emulator.fake_text import content_text

_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
_NAME_MAX = 64
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
_CHAT_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_PLAIN_ROLES = frozenset(_CHAT_ROLES) - {"tool"}  # a message with content needs nothing more
_INPUT_ROLES = ("assistant", "system", "developer", "user")
_FORMATS = ("text", "json_object", "json_schema")


def openai_error(
    message: str, param: str | None = None, code: str | None = None
) -> dict[str, dict[str, str | None]]:
    """The OpenAI error envelope for an ``invalid_request_error``."""
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return {"error": error}


def is_reasoning_model(model: str) -> bool:
    """o-series and gpt-5 models: no ``max_tokens``, only the default temperature."""
    return model.startswith(_REASONING_PREFIXES)


def no_model() -> dict:
    return openai_error("you must provide a model parameter")


def missing(param: str) -> dict:
    return openai_error(
        f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    )


def invalid_type(param: str, expected: str, value: object) -> dict:
    message = f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead."
    return openai_error(message, param, "invalid_type")


def invalid_value(value: object, allowed: tuple[str, ...], param: str) -> dict:
    options = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
    if len(allowed) == 2:
        options = f"'{allowed[0]}' and '{allowed[1]}'"
    message = f"Invalid value: '{value}'. Supported values are: {options}."
    return openai_error(message, param, "invalid_value")


def integer_below(param: str, least: int, value: object) -> dict:
    message = (
        f"Invalid '{param}': integer below minimum value. Expected a value >= {least}, "
        f"but got {_show(value)} instead."
    )
    return openai_error(message, param, "integer_below_min_value")


def integer_above(param: str, most: int, value: object) -> dict:
    message = (
        f"Invalid '{param}': integer above maximum value. Expected a value <= {most}, "
        f"but got {_show(value)} instead."
    )
    return openai_error(message, param, "integer_above_max_value")


def check_chat(body: dict) -> dict | None:
    """Validate a ``/v1/chat/completions`` body."""
    return check_chat_model(body) or check_messages(body) or check_chat_options(body)


def check_chat_model(body: dict) -> dict | None:
    """The first chat check: a model name."""
    model = body.get("model")
    return None if isinstance(model, str) and model else no_model()


def check_chat_options(body: dict) -> dict | None:
    """The chat checks after the messages (a valid ``model`` assumed).

    Only a ``json_object`` format reads the messages (for the word 'json'), see
    :func:`options_read_messages`.
    """
    return (
        _check_reasoning(body, body["model"], "max_tokens")
        or _check_sampling(body, ("max_tokens", "max_completion_tokens"), 1)
        or _check_integer(body, "n", 1, 128)
        or _check_chat_format(body)
        or _check_tools(body, nested=True)
    )


def options_read_messages(body: dict) -> bool:
    """Whether :func:`check_chat_options` depends on the messages (a json_object format)."""
    fmt = body.get("response_format")
    return isinstance(fmt, dict) and fmt.get("type") == "json_object"


def check_responses(body: dict) -> dict | None:
    """Validate a ``/v1/responses`` body."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return missing("model")
    return (
        _check_input(body)
        or _check_reasoning(body, model, None)
        or _check_sampling(body, ("max_output_tokens",), 16)
        or _check_text_format(body)
        or _check_tools(body, nested=False)
    )


def check_completions(body: dict) -> dict | None:
    """Validate a ``/v1/completions`` body."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return no_model()
    prompt = body.get("prompt")
    if prompt is None:
        return missing("prompt")
    if not isinstance(prompt, (str, list)):
        return invalid_type("prompt", "a string or an array", prompt)
    return _check_sampling(body, ("max_tokens",), 0) or _check_integer(body, "n", 1, 128)


def check_moderations(body: dict) -> dict | None:
    """Validate a ``/v1/moderations`` body."""
    value = body.get("input")
    if value is None:
        return missing("input")
    if not isinstance(value, (str, list)):
        return invalid_type("input", "a string or an array", value)
    return None


def check_messages(body: dict) -> dict | None:
    """The chat ``messages`` checks (each message an object with a known role and content)."""
    messages = body.get("messages")
    if messages is None:
        return missing("messages")
    if not isinstance(messages, list):
        return invalid_type("messages", "an array of objects", messages)
    if not messages:
        message = (
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead."
        )
        return openai_error(message, "messages", "empty_array")
    for index, item in enumerate(messages):
        if isinstance(item, dict):  # the plain case, without building the field path
            role = item.get("role")
            if type(role) is str and role in _PLAIN_ROLES and item.get("content") is not None:
                continue
        problem = _check_message(item, f"messages[{index}]")
        if problem is not None:
            return problem
    return None


def _check_message(item: object, where: str) -> dict | None:
    if not isinstance(item, dict):
        return invalid_type(where, "an object", item)
    role = item.get("role")
    if role is None:
        return missing(f"{where}.role")
    if role not in _CHAT_ROLES:
        return invalid_value(role, _CHAT_ROLES, f"{where}.role")
    if item.get("content") is None and not (role == "assistant" and item.get("tool_calls")):
        return missing(f"{where}.content")
    if role == "tool" and not item.get("tool_call_id"):
        return missing(f"{where}.tool_call_id")
    return None


def _check_input(body: dict) -> dict | None:
    value = body.get("input")
    if value is None:
        return missing("input")
    if isinstance(value, str):
        return None
    if not isinstance(value, list):
        return invalid_type("input", "a string or an array of input items", value)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            return invalid_type(f"input[{index}]", "an object", item)
        role = item.get("role")
        if item.get("type", "message") == "message" and role not in _INPUT_ROLES:
            if role is None:
                return missing(f"input[{index}].role")
            return invalid_value(role, _INPUT_ROLES, f"input[{index}].role")
    return None


def _check_reasoning(body: dict, model: str, forbidden: str | None) -> dict | None:
    if not is_reasoning_model(model):
        return None
    if forbidden is not None and body.get(forbidden) is not None:
        message = (
            f"Unsupported parameter: '{forbidden}' is not supported with this model. "
            "Use 'max_completion_tokens' instead."
        )
        return openai_error(message, forbidden, "unsupported_parameter")
    temperature = body.get("temperature")
    if temperature is None or temperature == 1:
        return None
    if forbidden is None:  # the Responses API words it differently
        message = "Unsupported parameter: 'temperature' is not supported with this model."
        return openai_error(message, "temperature", "unsupported_parameter")
    message = (
        f"Unsupported value: 'temperature' does not support {_show(temperature)} with this "
        "model. Only the default (1) value is supported."
    )
    return openai_error(message, "temperature", "unsupported_value")


def _check_sampling(body: dict, limits: tuple[str, ...], least: int) -> dict | None:
    temperature = body.get("temperature")
    if temperature is not None:
        if not _is_number(temperature):
            return invalid_type("temperature", "a decimal", temperature)
        if temperature < 0:
            return _decimal_out_of_range("temperature", "below", 0, temperature)
        if temperature > 2:
            return _decimal_out_of_range("temperature", "above", 2, temperature)
    for name in limits:
        problem = _check_integer(body, name, least, None)
        if problem is not None:
            return problem
    return None


def _decimal_out_of_range(param: str, side: str, bound: int, value: object) -> dict:
    end, sign = ("min", ">=") if side == "below" else ("max", "<=")
    message = (
        f"Invalid '{param}': decimal {side} {end}imum value. Expected a value {sign} {bound}, "
        f"but got {_show(value)} instead."
    )
    return openai_error(message, param, f"decimal_{side}_{end}_value")


def _check_integer(body: dict, name: str, least: int, most: int | None) -> dict | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return invalid_type(name, "an integer", value)
    if value < least:
        return integer_below(name, least, value)
    if most is not None and value > most:
        return integer_above(name, most, value)
    return None


def _check_chat_format(body: dict) -> dict | None:
    fmt = body.get("response_format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        return invalid_type("response_format", "an object", fmt)
    kind = fmt.get("type")
    if kind not in _FORMATS:
        return invalid_value(kind, _FORMATS, "response_format.type")
    if kind == "json_object" and "json" not in _all_text(body.get("messages")).lower():
        message = (
            "'messages' must contain the word 'json' in some form, to use 'response_format' "
            "of type 'json_object'."
        )
        return openai_error(message, "messages")
    if kind != "json_schema":
        return None
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict):
        return missing("response_format.json_schema")
    return _check_schema_spec(spec, "response_format.json_schema", "response_format", None)


def _check_text_format(body: dict) -> dict | None:
    text = body.get("text")
    fmt = text.get("format") if isinstance(text, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        return invalid_type("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind not in _FORMATS:
        return invalid_value(kind, _FORMATS, "text.format.type")
    if kind == "json_object" and "json" not in _all_text(body.get("input")).lower():
        message = (
            "Response input messages must contain the word 'json' in some form to use "
            "'text.format' of type 'json_object'."
        )
        return openai_error(message, "input")
    if kind != "json_schema":
        return None
    return _check_schema_spec(fmt, "text.format", "text.format.schema", "invalid_json_schema")


def _check_schema_spec(spec: dict, where: str, param: str, code: str | None) -> dict | None:
    name = spec.get("name")
    if name is None:
        return missing(f"{where}.name")
    if not isinstance(name, str):
        return invalid_type(f"{where}.name", "a string", name)
    if len(name) > _NAME_MAX:
        message = (
            f"Invalid '{where}.name': string too long. Expected a string with maximum length "
            f"{_NAME_MAX}, but got a string with length {len(name)} instead."
        )
        return openai_error(message, f"{where}.name", "string_above_max_length")
    if not _NAME.match(name):
        message = (
            f"Invalid '{where}.name': string does not match pattern. Expected a string that "
            "matches the pattern '^[a-zA-Z0-9_-]+$'."
        )
        return openai_error(message, f"{where}.name", "invalid_value")
    if spec.get("strict") is not True:
        return None
    problem = openai_schema_problem(spec.get("schema"))
    if problem is None:
        return None
    return openai_error(f"Invalid schema for response_format '{name}': {problem}", param, code)


def _check_tools(body: dict, *, nested: bool) -> dict | None:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is None:
        if choice is not None and choice != "none":
            message = (
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified."
            )
            return openai_error(message, "tool_choice")
        return None
    if not isinstance(tools, list):
        return invalid_type("tools", "an array of objects", tools)
    names = []
    for index, tool in enumerate(tools):
        problem, name = _check_tool(tool, index, nested)
        if problem is not None:
            return problem
        names.append(name)
    wanted = forced_tool_name(choice)
    if wanted is not None and wanted not in names:
        message = f"Invalid value for 'tool_choice': function '{wanted}' not found in 'tools'."
        return openai_error(message, "tool_choice", "invalid_value")
    return None


def _check_tool(tool: object, index: int, nested: bool) -> tuple[dict | None, str | None]:
    where = f"tools[{index}]"
    if not isinstance(tool, dict):
        return invalid_type(where, "an object", tool), None
    if tool.get("type") != "function":
        return None, None  # built-in tools (web search, ...) are accepted and never called
    spec = tool.get("function") if nested else tool
    if not isinstance(spec, dict):
        return missing(f"{where}.function"), None
    name = spec.get("name")
    prefix = f"{where}.function" if nested else where
    if not isinstance(name, str) or not name:
        return missing(f"{prefix}.name"), None
    if spec.get("strict") is True:
        problem = openai_schema_problem(spec.get("parameters"))
        if problem is not None:
            message = f"Invalid schema for function '{name}': {problem}"
            return openai_error(
                message, f"{prefix}.parameters", "invalid_function_parameters"
            ), name
    return None, name


def forced_tool_name(choice: object) -> str | None:
    """The function a ``tool_choice`` forces (chat or responses form), or None."""
    if not isinstance(choice, dict) or choice.get("type") != "function":
        return None
    inner = choice.get("function")
    name = inner.get("name") if isinstance(inner, dict) else choice.get("name")
    return name if isinstance(name, str) else None


def _all_text(messages: object) -> str:
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return ""
    return "\n".join(content_text(m.get("content")) for m in messages if isinstance(m, dict))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: object) -> str:
    """A value as the API echoes it (JSON text: ``0.2``, ``3``, ``"x"``)."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else "null"
