"""Faces: detection, alignment, segmentation and compositing for `gan prep` (and photo2cartoon).

    quiet      keep MediaPipe's native logging off the terminal (fd-level)
    models     the bundled MediaPipe models, and creating Tasks objects from them
    detect     FaceFinder: BlazeFace short + full range, tiles for large photos
    align      the template, the similarity transform, the warp
    refine     closed-loop refinement of an alignment in its own square
    segment    PersonSegmenter: selfie segmentation confidence masks
    composite  halo-free cut-outs, compositing, pasting results back
    prep       FacePrep: all of the above, created once, `.process(image)` per photo

mediapipe is imported only when a FaceFinder or PersonSegmenter is created.
"""
