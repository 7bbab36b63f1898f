"""What a request to a path this gateway does not serve is told, in OpenAI's error shape.

OpenAI's SDKs show the error message to developers: "Not Found" tells them
nothing, so the answer names the endpoint, says the gateway does not serve it,
and lists what it does serve. A known path called with the wrong method says
which method it takes.
"""

from __future__ import annotations

# OpenAI's endpoint families, by path prefix (after /v1), with their names.
OPENAI_ENDPOINTS = {
    "assistants": "Assistants",
    "audio": "Audio",
    "batches": "Batch",
    "chatkit": "ChatKit",
    "containers": "Containers",
    "conversations": "Conversations",
    "evals": "Evals",
    "files": "Files",
    "fine_tuning": "Fine-tuning",
    "images": "Images",
    "moderations": "Moderations",
    "organization": "Administration",
    "realtime": "Realtime",
    "threads": "Threads",
    "uploads": "Uploads",
    "vector_stores": "Vector stores",
    "videos": "Videos",
}
SERVED = (
    "POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings, POST /v1/responses, "
    "POST /v1/messages, GET /v1/models"
)


def not_found_message(method: str, path: str) -> str:
    """The message of a 404 for ``method path``."""
    parts = path.strip("/").split("/")
    family = parts[1] if len(parts) > 1 and parts[0] == "v1" else parts[0]
    name = OPENAI_ENDPOINTS.get(family)
    if name is not None:
        what = f"OpenAI's {name} API ({method} {path}) is not supported by this gateway"
    else:
        what = f"{method} {path} is not an endpoint of this gateway"
    return f"{what}. It serves: {SERVED}."


def wrong_method_message(method: str, path: str) -> str:
    """The message of a 405: the path exists, the method does not."""
    return f"{method} is not allowed on {path}; see GET /openapi.json for the methods it takes."
