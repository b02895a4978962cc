"""`gan translate` for face models (photo2cartoon): `gan prep` inside, the generator, the reference's compositing.

Per photo: FacePrep (detect, align to the template, segment) gives one RGBA square per face; as
photo2cartoon's test.py does, the face is whitened outside its mask and translated, and the cartoon is
put on white through the same mask. Outputs are named as `gan prep` names them (OUT/stem.png for the
largest face, OUT/stem_0.png, stem_1.png, ... with several). With `paste_back`, every face's cartoon is
instead warped back onto the original photo through the inverse of its alignment and its mask (feathered),
one output per photo; pixels outside the masks stay byte-identical. `save_prep` keeps the prepared faces
(white background, with prep's JSON sidecar). A photo without a face is reported and skipped.

Speed: decoding and prep of the next photos run in a thread while the network works on the current one
(MediaPipe and OpenCV release the GIL); a photo's faces go through the network as one batch, in the
contiguous layout it is loaded in: channels-last was slower for this generator, whose many instance norms
reorder every activation (one 256 px face at 1 thread: 1.31 s contiguous, 1.50 s channels-last).
benchmarks/bench_photo2cartoon.py measures both layouts against a plain per-image loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_cli import console
from gan_cli.errors import BadInput
from gan_cli.io.atomic import write_text
from gan_cli.io.images import load_image, save_image
from gan_cli.sampling import LoadedModel
from gan_cli.translate import Job

FEATHER = 1.5  # px at the face size: the soft edge of a pasted cartoon


@dataclass
class FaceReport:
    written: list[Path] = field(default_factory=list)
    no_face: list[Path] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)
    skipped_existing: int = 0
    faces: int = 0
    seconds_prep: float = 0.0
    seconds_net: float = 0.0


def cartoonize(model: LoadedModel, faces: list[np.ndarray], direction: str = "AtoB") -> list[np.ndarray]:
    """RGBA face squares -> cartoons (uint8 RGB, white outside the mask), one batch through the network."""
    from gan_cli.nets.photo2cartoon import output_to_cartoon, photo_to_input

    inputs = [photo_to_input(f, model.family.size) for f in faces]
    out = model.translate(torch.cat([x for x, _ in inputs]), direction)
    return [output_to_cartoon(o, mask) for o, (_, mask) in zip(out, inputs)]


def feathered(cartoon: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA with the face mask as alpha, its edge softened so a pasted face blends into the photo."""
    import cv2

    a = cv2.GaussianBlur(alpha.astype(np.float32), (0, 0), FEATHER) * (alpha > 0)
    return np.dstack([cartoon, np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)])


class FaceTranslator:
    def __init__(self, model: LoadedModel, direction: str, paste_back: bool, save_prep: Path | None) -> None:
        from gan_cli.faces.prep import FacePrep

        self.model, self.direction, self.paste, self.save_prep = model, direction, paste_back, save_prep
        self.prep = FacePrep(size=model.family.size, bg="transparent", all_faces=True)

    def close(self) -> None:
        self.prep.close()

    def _prepared(self, jobs: list[Job]) -> Iterator[tuple[Job, Image.Image | None, object, float]]:
        """(job, photo, prep results, prep seconds) in order, decoded and prepared one photo ahead in a thread;
        (job, None, the error, 0) for a photo that cannot be read."""

        def work(job: Job) -> tuple[Job, Image.Image | None, object, float]:
            try:
                photo = load_image(job.src, "RGB")
            except BadInput as e:
                return job, None, e, 0.0
            t0 = time.perf_counter()
            results = self.prep.process(photo)
            return job, photo, results, time.perf_counter() - t0

        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = [pool.submit(work, job) for job in jobs[:2]]
            for i in range(len(jobs)):
                done = ahead.pop(0).result()
                if i + 2 < len(jobs):
                    ahead.append(pool.submit(work, jobs[i + 2]))
                yield done

    def run(self, jobs: list[Job], overwrite: bool, on_written: Callable[[Path], None]) -> FaceReport:
        from gan_cli.faces.composite import paste_back

        report = FaceReport()
        todo = []
        for job in jobs:
            if job.dst.exists() and not overwrite and self.paste:
                report.skipped_existing += 1
            else:
                todo.append(job)
        for job, photo, results, seconds in self._prepared(todo):
            if photo is None:
                console.warn(f"skipped {results}")
                report.failed.append(job.src)
                continue
            report.seconds_prep += seconds
            t1 = time.perf_counter()
            if not results:
                console.warn(f"{job.src}: no face found; skipped")
                report.no_face.append(job.src)
                continue
            faces = [np.asarray(r.image) for r in results]
            cartoons = cartoonize(self.model, faces, self.direction)
            report.seconds_net += time.perf_counter() - t1
            report.faces += len(results)
            if self.save_prep is not None:
                self._save_prep(job, results, len(results) > 1)
            if self.paste:
                out = np.asarray(photo).copy()
                for r, cartoon, face in zip(results, cartoons, faces):
                    out = paste_back(out, feathered(cartoon, face[:, :, 3] / 255.0), r.affine)
                self._write(Image.fromarray(out), job.dst, report, on_written)
                continue
            for r, cartoon in zip(results, cartoons):
                dst = job.dst.with_name(f"{job.dst.stem}_{r.index}{job.dst.suffix}") if len(results) > 1 else job.dst
                if dst.exists() and not overwrite:
                    report.skipped_existing += 1
                    continue
                self._write(Image.fromarray(cartoon), dst, report, on_written)
        return report

    def _write(self, img: Image.Image, dst: Path, report: FaceReport, on_written: Callable[[Path], None]) -> None:
        save_image(img, dst)
        report.written.append(dst)
        on_written(dst)

    def _save_prep(self, job: Job, results: list, several: bool) -> None:
        from gan_cli.faces.composite import WHITE, composite

        for r in results:
            rgba = np.asarray(r.image)
            base = self.save_prep / (f"{job.dst.stem}_{r.index}" if several else job.dst.stem)
            save_image(Image.fromarray(composite(rgba[:, :, :3], rgba[:, :, 3] / 255.0, WHITE)), f"{base}.png")
            write_text(f"{base}.json", json.dumps(r.sidecar(), indent=1) + "\n")
