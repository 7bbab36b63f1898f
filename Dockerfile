# The llm-router gateway image (compose.yaml builds it from the repo).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY router_config ./router_config
COPY plugins ./plugins
RUN pip install --no-cache-dir .
COPY litellm_config.yaml ./
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4000/health')"
CMD ["llm-router", "serve", "--config", "/app/litellm_config.yaml", "--host", "0.0.0.0", "--port", "4000"]
