"""The one training loop that every family uses, and what it writes into a run folder."""
