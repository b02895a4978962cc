"""Converters from other projects' checkpoint formats to gan-cli's networks."""
