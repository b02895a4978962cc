"""Converters from other projects' checkpoint formats into gan-cli checkpoints (nothing is ever executed)."""
