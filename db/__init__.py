"""Persistence: models, the async engine and sessions, repositories and migrations."""
