"""2D joint heatmaps: rendered Gaussians by hand, peaks against scipy's maximum filter, sub-pixel
peaks, plateaus and borders, and peaks redrawn unchanged."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tessetrack.errors import InputError
from tessetrack.ops.heatmaps2d import (
    heatmap_peaks,
    render_detection_heatmaps,
    rerender_heatmap_peaks,
)


def test_render_detection_heatmaps_values():
    # one person, joint 0 at (u=3, v=4) conf 1; joint 1 at (u=0, v=0) conf 0.5; sigma 1
    kp = torch.tensor([[[[3.0, 4.0, 1.0], [0.0, 0.0, 0.5]]]])
    hm = render_detection_heatmaps(kp, (8, 8), sigma=1.0)
    assert hm.shape == (1, 2, 8, 8)
    assert hm[0, 0, 4, 3] == pytest.approx(1.0)
    # one pixel right of the peak: exp(-1 / 2) = 0.60653
    assert hm[0, 0, 4, 4] == pytest.approx(0.60653, abs=1e-5)
    assert hm[0, 1, 0, 0] == pytest.approx(0.5)  # scaled by confidence
    # two people: per joint the max
    kp2 = torch.tensor([[[[1.0, 1.0, 1.0]], [[6.0, 6.0, 0.8]]]])
    hm2 = render_detection_heatmaps(kp2, (8, 8), sigma=1.0)
    assert hm2[0, 0, 1, 1] == pytest.approx(1.0) and hm2[0, 0, 6, 6] == pytest.approx(0.8)
    empty = render_detection_heatmaps(torch.zeros(2, 0, 19, 3), (4, 4), 1.0)
    assert empty.shape == (2, 19, 4, 4) and empty.abs().sum() == 0


def _rendered(points, size=(24, 32), sigma=2.0):
    """(P, J, 3) heatmap-pixel detections of one image → (1, J, H, W) rendered heatmaps."""
    return render_detection_heatmaps(torch.tensor(points, dtype=torch.float32)[None], size, sigma)


def test_heatmap_peaks_find_the_rendered_people_and_redraw_them_unchanged():
    # two people, two joints; joint 1 of person 1 missing; integer positions (pixel centres)
    pts = [[[5.0, 4.0, 0.9], [20.0, 10.0, 0.6]], [[25.0, 18.0, 0.7], [0.0, 0.0, 0.0]]]
    heat = _rendered(pts)
    peaks = heatmap_peaks(heat, threshold=0.1, max_peaks=3)  # 1×3×2×3
    assert peaks.shape == (1, 3, 2, 3)
    got0 = sorted(map(tuple, peaks[0, :, 0].tolist()), key=lambda p: -p[2])
    np.testing.assert_allclose(got0[:2], [(5.0, 4.0, 0.9), (25.0, 18.0, 0.7)], atol=1e-5)
    assert got0[2][2] == 0.0  # no third peak
    got1 = peaks[0, :, 1]
    np.testing.assert_allclose(got1[0].tolist(), [20.0, 10.0, 0.6], atol=1e-5)
    assert (got1[1:, 2] == 0).all()
    again = rerender_heatmap_peaks(heat, sigma=2.0, threshold=0.1, max_peaks=3)
    torch.testing.assert_close(again, heat, atol=1e-5, rtol=0)


def test_heatmap_peaks_agree_with_scipy_maximum_filter_on_noise():
    """Independent route: the local maxima ≥ threshold of scipy.ndimage.maximum_filter."""
    from scipy.ndimage import maximum_filter

    g = torch.Generator().manual_seed(0)
    heat = torch.rand(2, 3, 12, 15, generator=g)
    peaks = heatmap_peaks(heat, threshold=0.6, max_peaks=12 * 15)
    for n in range(2):
        for j in range(3):
            x = heat[n, j].numpy()
            ref = (x >= maximum_filter(x, size=3, mode="constant", cval=-np.inf)) & (x >= 0.6)
            conf = peaks[n, :, j, 2].numpy()
            kept = np.sort(conf[conf > 0])
            np.testing.assert_allclose(kept, np.sort(x[ref]), rtol=0, atol=0)
            # positions stay within half a pixel of the peak pixel
            v, u = np.nonzero(ref)
            for uu, vv, cc in peaks[n, :, j].numpy()[conf > 0]:
                k = int(np.argmin(np.abs(x[v, u] - cc)))
                assert abs(uu - u[k]) <= 0.5 + 1e-6 and abs(vv - v[k]) <= 0.5 + 1e-6


@pytest.mark.parametrize("u_true, v_true", [(10.4, 7.0), (10.0, 6.7), (9.25, 7.45)])
def test_heatmap_peaks_find_a_subpixel_peak(u_true, v_true):
    heat = _rendered([[[u_true, v_true, 1.0]]])
    (u, v, c) = heatmap_peaks(heat, threshold=0.1, max_peaks=1)[0, 0, 0].tolist()
    assert abs(u - u_true) < 0.05 and abs(v - v_true) < 0.05 and 0.9 < c <= 1.0


def test_a_plateau_is_one_peak_at_its_first_pixel():
    heat = torch.zeros(1, 1, 8, 9)
    heat[0, 0, 3:5, 4:6] = 0.8  # a 2×2 plateau
    heat[0, 0, 1, 1:4] = 0.5  # a 1×3 ridge
    peaks = heatmap_peaks(heat, threshold=0.1, max_peaks=6)[0, :, 0]
    kept = peaks[peaks[:, 2] > 0].tolist()
    assert len(kept) == 2
    # the plateau's first pixel (4, 3), moved half a pixel towards its equal neighbours
    np.testing.assert_allclose(kept[0], [4.5, 3.5, 0.8], atol=1e-5)
    np.testing.assert_allclose(kept[1], [1.5, 1.0, 0.5], atol=1e-5)


def test_a_peak_on_the_border_stays_at_its_pixel_on_that_axis():
    heat = _rendered([[[0.3, 5.0, 1.0]]])  # peak pixel u = 0: no left neighbour
    (u, v, _) = heatmap_peaks(heat, threshold=0.1, max_peaks=1)[0, 0, 0].tolist()
    assert u == 0.0 and abs(v - 5.0) < 1e-5


def test_heatmap_peaks_refuse_a_wrong_shape_or_an_even_window():
    with pytest.raises(InputError, match=r"\(N, J, H, W\)"):
        heatmap_peaks(torch.zeros(3, 4, 5), threshold=0.1, max_peaks=2)
    with pytest.raises(InputError, match="odd"):
        heatmap_peaks(torch.zeros(1, 1, 4, 5), threshold=0.1, max_peaks=2, kernel=4)
