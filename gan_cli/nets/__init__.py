"""Network architectures shared by several families, laid out to load other projects' checkpoints unchanged."""
