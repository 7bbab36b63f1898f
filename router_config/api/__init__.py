"""The HTTP surface: FastAPI app, routes, auth, OpenAI-shaped errors, SSE."""
