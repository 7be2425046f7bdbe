"""What the emulated APIs know, as data: models, aliases, output caps, body fields, versions.

The strict checks (request_checks.py) read these tables; nothing here is logic. Update them
when the providers publish new models or parameters, and move `AS_OF` with them.

Sources: reference batch-apis.md F.1, F.4, F.9, F.12; the official SDKs' request types
(openai 3.57, anthropic 2.14) for the parameter names; the providers' model pages for the
model ids and output caps.
"""

from __future__ import annotations

AS_OF = "2026-11"

# ---- Anthropic --------------------------------------------------------------------------

# Alias -> the dated model id the API resolves it to (and reports in `message.model`).
ANTHROPIC_ALIASES: dict[str, str] = {
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-3-7-sonnet-latest": "claude-3-7-sonnet-20250219",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
}

# Dated model id -> the largest `max_tokens` it accepts (F.9, as of AS_OF).
ANTHROPIC_OUTPUT_CAPS: dict[str, int] = {
    "claude-opus-4-6": 128_000,
    "claude-sonnet-4-6": 128_000,
    "claude-haiku-4-5-20251001": 64_000,
    "claude-sonnet-4-5-20250929": 64_000,
    "claude-opus-4-5-20251101": 64_000,
    "claude-opus-4-1-20250805": 32_000,
    "claude-opus-4-20250514": 32_000,
    "claude-sonnet-4-20250514": 64_000,
    "claude-3-7-sonnet-20250219": 64_000,
    "claude-3-5-haiku-20241022": 8_192,
    "claude-3-haiku-20240307": 4_096,
}

# Every top-level field of a Messages request (`params` of a batch request).
ANTHROPIC_PARAMS: frozenset[str] = frozenset(
    {
        "cache_control",
        "container",
        "context_management",
        "diagnostics",
        "inference_geo",
        "max_tokens",
        "mcp_servers",
        "messages",
        "metadata",
        "model",
        "output_config",
        "output_format",
        "service_tier",
        "speed",
        "stop_sequences",
        "stream",
        "system",
        "temperature",
        "thinking",
        "tool_choice",
        "tools",
        "top_k",
        "top_p",
        "user_profile_id",
        "workspace_id",
    }
)

# `params` fields the Message Batches API refuses although Messages accepts them:
# field -> (value that is refused; None: any non-null value, message).
ANTHROPIC_BATCH_REFUSED: dict[str, tuple[object, str]] = {
    "stream": (True, "Streaming is not supported in the Message Batches API"),
    "speed": (None, "Fast mode is not supported in the Message Batches API"),
}

# `anthropic-version` header values the API accepts (F.12).
ANTHROPIC_VERSIONS: frozenset[str] = frozenset({"2023-01-01", "2023-06-01", "2026-10-21"})

# ---- OpenAI -----------------------------------------------------------------------------

# Alias -> dated snapshot (reported in the answer's `model`).
OPENAI_ALIASES: dict[str, str] = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "gpt-5-nano": "gpt-5-nano-2025-08-07",
    "o1": "o1-2024-12-17",
    "o3": "o3-2025-04-16",
    "o3-mini": "o3-mini-2025-01-31",
    "o4-mini": "o4-mini-2025-04-16",
    "gpt-3.5-turbo-instruct": "gpt-3.5-turbo-instruct",
}

# Models the Batch API serves besides the aliases and their snapshots.
OPENAI_OTHER_MODELS: frozenset[str] = frozenset(
    {
        "gpt-4o-2024-05-13",
        "gpt-4o-2024-11-20",
        "gpt-4-turbo",
        "gpt-4",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0125",
        "davinci-002",
        "babbage-002",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "omni-moderation-latest",
        "omni-moderation-2024-09-26",
        "text-moderation-latest",
        "text-moderation-stable",
    }
)
OPENAI_MODELS: frozenset[str] = frozenset(
    {*OPENAI_ALIASES, *OPENAI_ALIASES.values(), *OPENAI_OTHER_MODELS}
)

_CHAT_FIELDS = (
    "audio frequency_penalty function_call functions logit_bias logprobs max_completion_tokens "
    "max_tokens messages metadata modalities model moderation n parallel_tool_calls prediction "
    "presence_penalty prompt_cache_key prompt_cache_options prompt_cache_retention "
    "reasoning_effort response_format safety_identifier seed service_tier stop store stream "
    "stream_options temperature tool_choice tools top_logprobs top_p user verbosity "
    "web_search_options"
)
_RESPONSES_FIELDS = (
    "access_programs background background_options context_management conversation image "
    "include input instructions max_output_tokens max_tool_calls metadata model moderation "
    "parallel_tool_calls previous_response_id prompt prompt_cache_key prompt_cache_options "
    "prompt_cache_retention reasoning safety_identifier service_tier store stream "
    "stream_options temperature text tool_choice tools top_logprobs top_p truncation user"
)
_COMPLETIONS_FIELDS = (
    "best_of echo frequency_penalty logit_bias logprobs max_tokens model n presence_penalty "
    "prompt seed stop stream stream_options suffix temperature top_p user"
)

# Endpoint -> every body field it accepts; anything else is a per-line 400 (F.4).
OPENAI_BODY_FIELDS: dict[str, frozenset[str]] = {
    "/v1/chat/completions": frozenset(_CHAT_FIELDS.split()),
    "/v1/responses": frozenset(_RESPONSES_FIELDS.split()),
    "/v1/completions": frozenset(_COMPLETIONS_FIELDS.split()),
    "/v1/embeddings": frozenset({"dimensions", "encoding_format", "input", "model", "user"}),
    "/v1/moderations": frozenset({"input", "model"}),
}

# Endpoint -> body fields a line must carry, or the batch fails at validation (F.1).
OPENAI_REQUIRED: dict[str, tuple[str, ...]] = {
    "/v1/chat/completions": ("model", "messages"),
    "/v1/responses": ("model",),
    "/v1/completions": ("model", "prompt"),
    "/v1/embeddings": ("model", "input"),
    "/v1/moderations": ("input",),
}

# Endpoint -> the name the API's messages use for it.
OPENAI_ENDPOINT_TITLES: dict[str, str] = {
    "/v1/chat/completions": "Chat Completions",
    "/v1/responses": "Responses",
    "/v1/completions": "Completions",
    "/v1/embeddings": "Embeddings",
    "/v1/moderations": "Moderations",
}
