"""Network definitions shared by model families and converters."""
