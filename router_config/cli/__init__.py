"""The ``llm-router`` command and what it prints (check, drill, versions, spend)."""
