"""Converters from other projects' checkpoint files to gan-cli's networks and tensors."""
