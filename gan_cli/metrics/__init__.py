"""Image-set metrics: FID and KID on the FID Inception-v3, as pytorch-fid computes them.

- inception.py: the network (pytorch-fid's FIDInceptionV3 layout and quirks), plus a fused copy for speed;
- weights.py:   where its weights come from (--inception, $GAN_CLI_INCEPTION, cache, download);
- preprocess.py: image files / generated pixels -> network input (legacy = pytorch-fid, clean = clean-fid);
- stats.py:     streaming float64 mean and covariance, pytorch-fid's .npz format;
- fid.py:       the Fréchet distance, robust to singular covariances;
- kid.py:       the Kernel Inception Distance;
- sources.py, extract.py, evaluate.py: what `gan eval-fid` runs.
"""

from gan_cli.metrics.fid import frechet_distance, trace_sqrt_product

__all__ = ["frechet_distance", "trace_sqrt_product"]
