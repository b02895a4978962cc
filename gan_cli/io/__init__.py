"""Everything that touches files: images and grids, checkpoints, latents, data sets."""
