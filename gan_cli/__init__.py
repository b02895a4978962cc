"""gan-cli: train, sample, mix, translate and evaluate GANs from one command line."""

__version__ = "0.1.0"
