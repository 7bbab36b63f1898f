"""Configuration: the YAML file to a validated, frozen ``RouterConfig``."""
