"""The tiny TesseTrack network the training, runner and CLI tests share (overrides on ``cpu-small``).

Importable from any test because pytest puts ``tests/`` (the folder of ``conftest.py``) on ``sys.path``.
"""

TINY_NETWORK = {
    "model.backbone.small_width": 8,
    "model.backbone.channels": 8,
    "model.volume.shape": [16, 16, 16],
    "model.volume.fusion_hidden": 8,
    "model.detector.hidden": 8,
    "model.tesseract.shape": [8, 8, 8],
    "model.tesseract.channels": [8, 8, 8],
    "model.tesseract.descriptor_dim": 16,
    "model.tesseract.fusion_hidden": 8,
    "model.matcher.sinkhorn_iters": 10,
    "model.pose_head.merge_hidden": 8,
}

#: for inference tests: at most 2 people per frame and every NMS peak kept
TINY_INFERENCE = {
    **TINY_NETWORK,
    "model.detector.max_people": 2,
    "model.detector.threshold": 0.0,
}
