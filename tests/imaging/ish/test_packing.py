"""The packed per-object helpers of count_fish give the full-field results bit for bit."""

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.morphology import h_maxima

from her2kit.imaging.filters import max_filter_nearest, smooth
from her2kit.imaging.ish import selection, signals
from her2kit.imaging.ish.spots import detect_spots, log_filter
from her2kit.imaging.segment import _packed, ish_nuclei


def _mask(seed, shape=(240, 260), sigma=4.0, level=0.5):
    rng = np.random.default_rng(seed)
    m = smooth(rng.random(shape).astype(np.float32), sigma) > level
    return ndi.binary_opening(m, iterations=2)


@pytest.mark.parametrize("seed", range(4))
def test_h_maxima_packed_matches_full(seed):
    m = _mask(seed, level=0.5 + 0.003 * seed)
    d = smooth(ndi.distance_transform_edt(m).astype(np.float32), 1.25)
    for h in (0.5, 1.25, 3.0):
        full = h_maxima(d, h).astype(bool)
        assert np.array_equal(full, _packed._h_maxima_packed(d, h))
        masked = _packed._h_maxima_packed(d, h, m)
        assert np.array_equal(full[m], masked[m])


@pytest.mark.parametrize("seed", range(3))
def test_edt_fill_holes_and_smooth_boxes_match_full(seed):
    m = ndi.binary_fill_holes(_mask(seed))
    lab, _ = ndi.label(m)
    boxes = ndi.find_objects(lab)
    assert np.array_equal(ndi.distance_transform_edt(m).astype(np.float32),
                          _packed._edt_packed(lab, boxes))
    holes = _mask(seed + 10, sigma=2.0)
    assert np.array_equal(ndi.binary_fill_holes(holes), _packed._fill_holes(holes))
    img = np.random.default_rng(seed).random(m.shape).astype(np.float32)
    for s in (0.5, 1.3, 2.5):
        full = smooth(img, s)
        out = _packed._smooth_boxes(img, s, boxes)
        for b in boxes:
            assert np.array_equal(full[b], out[b])


def test_grow_labels_matches_max_filter():
    comp, _ = ndi.label(np.random.default_rng(0).random((120, 150)) > 0.9)
    comp = comp.astype(np.int32)
    for r in (1, 2, 3):
        ref = np.where(comp > 0, comp, max_filter_nearest(comp, 2 * r + 1))
        assert np.array_equal(ref, signals._grow_labels(comp, r))


def test_refine_outlines_packed_matches_full():
    rng = np.random.default_rng(5)
    full = smooth(rng.random((200, 220)).astype(np.float32), 6.0)
    coarse = full[::2, ::2] > 0.5
    lab, _ = ndi.label(coarse)
    edge = ndi.distance_transform_edt(coarse).astype(np.float32)
    boxes = [b for b in ndi.find_objects(lab) if b is not None]
    kw = dict(f=2, pixel_size_um=0.2, smooth_um=0.5, threshold=0.5)
    ref, _ = ish_nuclei._refine_outlines(full, lab.astype(np.int32), edge, **kw)
    out, _ = ish_nuclei._refine_outlines(full, lab.astype(np.int32), edge, boxes=boxes, **kw)
    assert np.array_equal(ref, out)


def test_window_maxima_detection_unchanged_on_plateaus():
    rng = np.random.default_rng(2)
    img = np.round(ndi.gaussian_filter(rng.poisson(20, (150, 140)).astype(np.float32), 0.5))
    for kw in ({}, {"threshold_method": "mad"}, {"threshold": 3.0}, {"k_mad": 1.5}):
        det = detect_spots(img, pixel_size_um=0.2, spot_sigma_um=0.25, **kw)
        filt = log_filter(img, sigma_px=1.25)
        maxed = max_filter_nearest(filt, 2 * det.min_distance_px + 1)
        peaks = (filt == maxed) & (filt > det.threshold)
        # every reported spot is a window maximum above the threshold, one per plateau
        r, c = np.rint(det.coords_px).astype(int).T
        assert peaks[r, c].all()
        _, n = ndi.label(peaks, structure=np.ones((3, 3), bool))
        assert det.n == n


@pytest.mark.parametrize("shape", [(200, 131), (37, 50), (2, 9)])
def test_strip_filters_match_whole_image(shape, monkeypatch):
    from her2kit.imaging.ish import spots

    rng = np.random.default_rng(shape[0])
    a = (rng.random(shape) * 100).astype(np.float32)
    monkeypatch.setattr(spots, "_LOG_STRIP_ROWS", 10**9)
    whole = spots._log_binomial(a, 1.25)
    for step in (1, 7, 64):
        monkeypatch.setattr(spots, "_LOG_STRIP_ROWS", step)
        assert np.array_equal(whole, spots._log_binomial(a, 1.25))
    for f in (1, 3, 4):
        coarse = (rng.random((-(-shape[0] // f), -(-shape[1] // f))) * 10).astype(np.float32)
        bg = signals._Background(coarse, f, 1.7, shape)
        full = bg.full
        assert np.array_equal(full[3:11], bg.rows(3, 11))
        for s in (0.1, 0.625, 1.3):
            top = a - full
            top -= np.float32(1.7)
            for step in (1, 5, 64):
                t, sm = signals._top_smooth(a, bg, s, step=step)
                assert np.array_equal(top, t)
                assert np.array_equal(smooth(top, s), sm)
            idx = np.arange(0, top.size, 3)
            assert np.array_equal(top.ravel()[idx], signals._top_at(a, bg, idx))


@pytest.mark.parametrize("seed", range(3))
def test_grow_labels_matches_maximum_filter(seed):
    rng = np.random.default_rng(seed)
    for _ in range(10):
        shape = tuple(int(v) for v in rng.integers(1, 60, 2))
        comp, _ = ndi.label(rng.random(shape) > rng.uniform(0.5, 0.99))
        for r in (1, 2, 3):
            ref = np.where(comp > 0, comp, ndi.maximum_filter(comp, 2 * r + 1, mode="nearest"))
            assert np.array_equal(ref, signals._grow_labels(comp, r))


@pytest.mark.parametrize("shape", [(512, 512), (7, 9), (100, 37)])
def test_grey_opening_matches_scipy(shape):
    a = np.random.default_rng(shape[0]).random(shape).astype(np.float32)
    for k in (3, 5, 7, 9, 4):
        assert np.array_equal(_packed._grey_opening(a, k), ndi.grey_opening(a, size=(k, k)))


def _blobs(seed, size=600):
    """Ellipses at random orientation, some with a second lobe (concave), one label each."""
    rng = np.random.default_rng(seed)
    lab = np.zeros((size, size), np.int32)
    yy, xx = np.mgrid[:size, :size]
    k = 0
    for cy in range(30, size, 60):
        for cx in range(30, size, 60):
            k += 1
            a, b = rng.uniform(3, 25, 2)
            th = rng.uniform(0, np.pi)
            u = (yy - cy) * np.cos(th) + (xx - cx) * np.sin(th)
            v = -(yy - cy) * np.sin(th) + (xx - cx) * np.cos(th)
            m = (u / a) ** 2 + (v / b) ** 2 <= 1
            if rng.random() < 0.3:
                dy, dx = rng.uniform(-15, 15, 2)
                m |= (yy - cy - dy) ** 2 + (xx - cx - dx) ** 2 <= rng.uniform(9, 100)
            lab[m & (lab == 0)] = k
    return lab, k


@pytest.mark.parametrize("seed", range(3))
def test_octagon_bound_gives_the_same_solidity_decisions(seed):
    from types import SimpleNamespace

    lab, n = _blobs(seed)
    geo = SimpleNamespace(fine=lab, fine_factor=1)
    cent, exact, cnt = selection._centroids_solidity(geo, n)
    assert np.array_equal(cnt[1:], np.bincount(lab.ravel(), minlength=n + 1)[1:])
    assert (exact[1:] < 0.9).any() and (exact[1:] >= 0.9).any()  # both kinds present
    for min_solidity in (0.8, 0.9, 0.95):
        c2, bounded, _ = selection._centroids_solidity(geo, n, min_solidity=min_solidity)
        assert np.array_equal(cent, c2, equal_nan=True)
        assert np.array_equal(exact < min_solidity, bounded < min_solidity)
        # The bound never exceeds the exact value; where the hull was computed it is exact.
        assert np.all(bounded <= exact + 1e-12)
        skipped = bounded == min_solidity
        assert skipped.sum() > 0
        assert np.array_equal(bounded[~skipped], exact[~skipped])
