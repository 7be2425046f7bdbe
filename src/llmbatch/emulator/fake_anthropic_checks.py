"""Validation of Anthropic Messages ``params``, worded like the API's ``invalid_request_error``.

:func:`check_params` returns the error message (``"<field path>: <problem>"``) or None.
Structured-output schemas (``output_config.format``, the legacy ``output_format`` and strict
tools) follow :func:`fake_schema_rules.anthropic_schema_problem`.
"""

from __future__ import annotations

from llmbatch.emulator.fake_schema_rules import anthropic_limits_problem, anthropic_schema_problem

_ROLES = ("user", "assistant")
_CHOICES = ("auto", "any", "tool", "none")
_THINKING_MINIMUM = 1024
_SYSTEM_ROLE = (
    'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
    'parameter, not "system" as an input message role.'
)
_EMPTY_CONTENT = (
    "all messages must have non-empty content except for the optional final assistant message"
)
_THINKING_BUDGET = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
    "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    "#max-tokens-and-context-window-size"
)


def check_params(params: object) -> str | None:
    """The ``invalid_request_error`` message the API would give for ``params``, or None."""
    if not isinstance(params, dict):
        return "params: Input should be a valid dictionary"
    return check_basics(params) or check_messages(params.get("messages")) or check_options(params)


def check_options(params: dict) -> str | None:
    """The checks after the messages (valid basics assumed); none of them reads the messages."""
    return (
        _check_temperature(params.get("temperature"))
        or _check_thinking(params)
        or _check_tools(params)
        or _check_format(params)
    )


def custom_tools(params: dict) -> list[dict]:
    """The user-defined (client) tools of a request, in order."""
    tools = params.get("tools")
    if not isinstance(tools, list):
        return []
    return [t for t in tools if isinstance(t, dict) and t.get("type", "custom") == "custom"]


def output_schema(params: dict) -> tuple[str, object] | None:
    """``(field path, schema)`` of the structured-output format, or None when plain text."""
    config = params.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is not None:
        return "output_config.format", fmt
    if params.get("output_format") is not None:
        return "output_format", params["output_format"]
    return None


def check_basics(params: dict) -> str | None:
    """The first checks: ``model``, ``max_tokens`` and the type of ``system``."""
    model = params.get("model")
    if model is None:
        return "model: Field required"
    if not isinstance(model, str) or not model:
        return "model: Input should be a valid string"
    limit = params.get("max_tokens")
    if limit is None:
        return "max_tokens: Field required"
    if not isinstance(limit, int) or isinstance(limit, bool):
        return "max_tokens: Input should be a valid integer"
    if limit < 1:
        return "max_tokens: Input should be greater than or equal to 1"
    system = params.get("system")
    if system is not None and not isinstance(system, (str, list)):
        return "system: Input should be a valid string"
    return None


def check_messages(messages: object) -> str | None:
    """The ``messages`` checks: roles, content, only a final assistant message may be empty."""
    if messages is None:
        return "messages: Field required"
    if not isinstance(messages, list):
        return "messages: Input should be a valid list"
    if not messages:
        return "messages: at least one message is required"
    for index, message in enumerate(messages):
        if isinstance(message, dict):  # the plain case, without building the field path
            role, content = message.get("role"), message.get("content")
            plain = type(role) is str and role in _ROLES
            if plain and content and isinstance(content, (str, list)):
                continue
        problem = _message_problem(message, index, len(messages))
        if problem is not None:
            return problem
    return None


def _message_problem(message: object, index: int, count: int) -> str | None:
    """What is wrong with message ``index`` of ``count``, or None."""
    where = f"messages.{index}"
    if not isinstance(message, dict):
        return f"{where}: Input should be a valid dictionary"
    role = message.get("role")
    if role is None:
        return f"{where}.role: Field required"
    if role == "system":
        return _SYSTEM_ROLE
    if role not in _ROLES:
        return f"{where}.role: Input should be 'user' or 'assistant'"
    content = message.get("content")
    if content is None:
        return f"{where}.content: Field required"
    if not isinstance(content, (str, list)):
        return f"{where}.content: Input should be a valid list"
    final_assistant = index == count - 1 and role == "assistant"
    if not content and not final_assistant:
        return f"{where}: {_EMPTY_CONTENT}"
    return None


def _check_temperature(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "temperature: Input should be a valid number"
    if value < 0:
        return "temperature: Input should be greater than or equal to 0"
    if value > 1:
        return "temperature: Input should be less than or equal to 1"
    return None


def _check_thinking(params: dict) -> str | None:
    thinking = params.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool):
        return "thinking.enabled.budget_tokens: Field required"
    if budget < _THINKING_MINIMUM:
        field = "thinking.enabled.budget_tokens"
        return f"{field}: Input should be greater than or equal to {_THINKING_MINIMUM}"
    if budget >= params["max_tokens"]:
        return _THINKING_BUDGET
    return None


def _check_tools(params: dict) -> str | None:
    tools = params.get("tools")
    if tools is not None and not isinstance(tools, list):
        return "tools: Input should be a valid list"
    for index, tool in enumerate(tools or []):
        if not isinstance(tool, dict):
            return f"tools.{index}: Input should be a valid dictionary"
        if tool.get("type", "custom") != "custom":
            continue  # server tools (web search, ...) are accepted and never run
        for key in ("name", "input_schema"):
            if key not in tool:
                return f"tools.{index}.custom.{key}: Field required"
        if tool.get("strict") is True:
            problem = anthropic_schema_problem(tool["input_schema"])
            if problem is not None:
                return f"tools.{index}.custom.input_schema: {problem}"
    return _check_choice(params)


def _check_choice(params: dict) -> str | None:
    choice = params.get("tool_choice")
    if choice is None:
        return None
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in _CHOICES:
        expected = ", ".join(f"'{c}'" for c in _CHOICES)
        return f"tool_choice: Input tag does not match any of the expected tags: {expected}"
    if kind in ("any", "tool") and not custom_tools(params):
        return "tool_choice: tool_choice may only be specified while providing tools"
    names = [tool.get("name") for tool in custom_tools(params)]
    if kind == "tool" and choice.get("name") not in names:
        return f"tool_choice.name: Tool '{choice.get('name')}' not found in the provided tools"
    thinking = params.get("thinking")
    if (
        kind in ("any", "tool")
        and isinstance(thinking, dict)
        and thinking.get("type") != "disabled"
    ):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def _check_format(params: dict) -> str | None:
    found = output_schema(params)
    schemas = [t.get("input_schema") for t in custom_tools(params) if t.get("strict") is True]
    if found is not None:
        where, fmt = found
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
            return f"{where}.type: Input should be 'json_schema'"
        if "schema" not in fmt:
            return f"{where}.schema: Field required"
        problem = anthropic_schema_problem(fmt["schema"])
        if problem is not None:
            return f"{where}.schema: {problem}"
        schemas.append(fmt["schema"])
    return anthropic_limits_problem(schemas)
