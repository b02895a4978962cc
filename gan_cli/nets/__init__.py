"""Networks ported from reference implementations, with their state-dict key names."""
