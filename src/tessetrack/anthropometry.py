"""Real people's body proportions: mean bone lengths as fractions of the stature, and their spread.

Data, with their sources, used where a body's size has to be guessed from the parts of it that are
seen: the synthetic people's proportions (:mod:`tessetrack.synth.motion`) and the bone lengths a
tracked person seen too briefly to measure is given (:func:`tessetrack.tracking.bones.stature`).
"""

from __future__ import annotations

__all__ = ["REAL_PROPORTIONS"]

#: Real people's mean proportions as fractions of stature (sexes pooled) and the coefficient of
#: variation of each segment once overall size is removed. Lengths are between joint centres, as
#: the humanoid's joints are; the breadths are where real keypoints put the shoulders and hips.
#:
#: ================  ========  =====  ====  =====================================================
#: group             humanoid  mean   CV    source
#: ================  ========  =====  ====  =====================================================
#: shoulder_breadth  0.226     0.200  5 %   Shelf ground truth, statures from its annotated top
#:                                          of head (0.198 H); US Army (ANSUR) biacromial
#:                                          breadth ≈ 0.225 H less the acromion's ≈ 2 cm over
#:                                          each shoulder joint
#: hip_breadth       0.105     0.125  6 %   hip keypoints of real people: CMU Panoptic (0.63 ×
#:                                          their shoulder breadth), Shelf (0.14 H); the hip
#:                                          joint centres proper (≈ 0.105 H) lie inside them
#: upper_arm         0.170     0.160  4.5%  de Leva (1996) table 4, shoulder to elbow joint centre
#:                                          (men 281.7 mm / 1741, women 275.1 / 1735)
#: forearm           0.160     0.153  4.5%  de Leva (1996), elbow to wrist joint centre
#:                                          (men 268.9 / 1741, women 264.3 / 1735)
#: thigh             0.260     0.245  5 %   Winter (2009) fig. 4.1 after Drillis & Contini (1966):
#:                                          hip 0.530 H, knee 0.285 H
#: shank             0.253     0.246  5 %   Winter (2009): knee 0.285 H, ankle 0.039 H
#: spine             0.284     0.290  4 %   de Leva (1996), mid hip joints to mid shoulder joints
#:                                          (men 515.5 / 1741, women 497.9 / 1735), where real
#:                                          keypoints put the neck; Winter's hip to shoulder
#:                                          height 0.288 H
#: neck              0.111     0.120  7 %   CMU Panoptic: ears' centre 0.198 m from the neck
#:                                          (``benchmarks/head_geometry.py``) at the stature
#:                                          0.329 m / 0.200 = 1.645 m its shoulder breadth gives
#: head              0.093     0.098  4 %   CMU Panoptic: ears 0.162 m apart, same stature
#: neck_to_nose      —         0.149  13 %  CMU Panoptic: nose 0.245 m from the neck at the same
#:                                          stature; not a rigid bone (it shortens as the head
#:                                          nods: 0.19-0.27 m, 10th-90th percentile)
#: nose_to_eye       —         0.031  6 %   CMU Panoptic: each eye 0.052 m from the nose (the
#:                                          eyes 65 mm apart; adults' interpupillary distance:
#:                                          63 mm, Dodgson 2004)
#: eye_to_ear        —         0.063  6 %   CMU Panoptic: each ear 0.105 m from its eye
#: ================  ========  =====  ====  =====================================================
#:
#: The last three rows are medians of :func:`tessetrack.eval.head_geometry.face_stats` over the 80
#: real CMU Panoptic poses of the test data (both sides pooled), their CVs (90th − 10th
#: percentile) / 2.56 over the median. The face keypoints have no humanoid column: the synthetic
#: face is drawn from ``neck`` and ``head``.
#:
#: ``humanoid`` is the humanoid with the ``humanoid`` face, whose stature H is 1.619 m from its
#: sole (the foot box, 0.05 m under the ankle) to the top of its head sphere (0.65 × the ears'
#: breadth over their centre). Real people add up the same way: sole to ankle 0.039 H, shank,
#: thigh, spine, neck, crown 0.65 × 0.098 H = 0.064 H make 1.004 H; the mean person drawn here
#: (the ankle kept 0.05 m over the sole by the motion) is 0.995 × the humanoid's stature. ``neck``
#: and ``head`` depend on the face model: the ``measured`` face is drawn 1.11× real size to suit
#: the humanoid's broad shoulders, so with real shoulders it shrinks by about 0.82 and 0.88.
REAL_PROPORTIONS: dict[str, tuple[float, float]] = {
    "shoulder_breadth": (0.200, 0.05),
    "hip_breadth": (0.125, 0.06),
    "upper_arm": (0.160, 0.045),
    "forearm": (0.153, 0.045),
    "thigh": (0.245, 0.05),
    "shank": (0.246, 0.05),
    "spine": (0.290, 0.04),
    "neck": (0.120, 0.07),
    "head": (0.098, 0.04),
    "neck_to_nose": (0.149, 0.13),
    "nose_to_eye": (0.031, 0.06),
    "eye_to_ear": (0.063, 0.06),
}
