"""Shared state: Redis with local fallback, rate windows, alerts, spend reports."""
