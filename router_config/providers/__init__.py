"""Provider calls: LiteLLM's Router, the direct pooled path, error classes, prices."""
