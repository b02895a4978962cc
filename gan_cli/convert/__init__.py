"""Converters from official third-party checkpoints to gan-cli tensors and configs."""
