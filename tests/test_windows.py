import numpy as np
import pytest

from sedcycle.windows import crop, split_windows, window_positions


def test_rfcx_positions_match_the_source():
    expected = [
        [0, 512],
        [463, 975],
        [926, 1438],
        [1389, 1901],
        [1852, 2364],
        [2315, 2827],
        [2778, 3290],
        [3241, 3753],
    ]
    assert window_positions(3751, 512, 49).tolist() == expected


def test_test_time_overlap_gives_14_windows():
    positions = window_positions(3751, 512, 256)
    assert len(positions) == 14
    assert positions[-1, 1] >= 3751 and positions[-2, 1] < 3751


def test_short_clip_is_one_padded_window():
    assert window_positions(300, 512, 49).tolist() == [[0, 512]]


@pytest.mark.parametrize("cover", [-1, 512, 600])
def test_bad_cover_is_rejected(cover):
    with pytest.raises(ValueError, match="cover"):
        window_positions(3751, 512, cover)


def test_split_pads_the_tail_with_zeros():
    array = np.arange(2 * 11, dtype=np.float32).reshape(2, 11) + 1
    windows = split_windows(array, window_positions(11, 4, 1))  # starts 0, 3, 6, 9
    assert windows.shape == (4, 2, 4)
    np.testing.assert_array_equal(windows[1], array[:, 3:7])
    np.testing.assert_array_equal(windows[3, :, :2], array[:, 9:])
    assert (windows[3, :, 2:] == 0).all()


def test_crop_of_labels_keeps_dtype():
    labels = np.ones((3, 5), dtype=np.int8)
    out = crop(labels, 3, 4)
    assert out.dtype == np.int8 and out.tolist() == [[1, 1, 0, 0]] * 3
