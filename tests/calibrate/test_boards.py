from __future__ import annotations

import numpy as np
import pytest

from tessetrack.calibrate.boards import parse_board
from tessetrack.errors import InputError


def _checkerboard_image(squares: tuple[int, int], px: int, margin: int) -> np.ndarray:
    """A white image with a (rows × cols squares) checkerboard whose squares are ``px`` wide."""
    rows, cols = squares
    img = np.full((rows * px + 2 * margin, cols * px + 2 * margin), 255, np.uint8)
    for i in range(rows):
        for j in range(cols):
            if (i + j) % 2 == 0:
                img[
                    margin + i * px : margin + (i + 1) * px, margin + j * px : margin + (j + 1) * px
                ] = 0
    return img


def test_parse_checkerboard_and_object_points():
    board = parse_board("checkerboard:4x7:0.06")
    assert (board.kind, board.rows, board.cols, board.square_m) == ("checkerboard", 4, 7, 0.06)
    pts = board.object_points()
    assert pts.shape == (28, 3)
    # corner (row 1, col 2) is index 1·7 + 2 = 9 at (2·0.06, 1·0.06, 0)
    np.testing.assert_allclose(pts[9], [0.12, 0.06, 0.0])


@pytest.mark.parametrize(
    "text", ["checkerboard:4x7", "checkers:4x7:0.06", "checkerboard:1x7:0.06",
             "checkerboard:4x7:-1", "charuco:5x7:0.04:0.05", "charuco:5x7:0.04:0.03:DICT_NOPE"],
)  # fmt: skip
def test_parse_board_refuses_bad_text(text):
    with pytest.raises(InputError, match="board"):
        parse_board(text)


def test_charuco_parses_with_default_dictionary():
    board = parse_board("charuco:5x7:0.04:0.03")
    assert board.dictionary == "DICT_4X4_50" and board.corner_grid == (4, 6)


def test_checkerboard_found_at_its_inner_corners():
    # 5×8 squares of 40 px with a 60 px margin: inner corners at 60 + 40·k (k = 1..), 4×7 of them
    img = _checkerboard_image((5, 8), 40, 60)
    found = parse_board("checkerboard:4x7:0.06").detect(img)
    assert found is not None and found.corners.shape == (28, 2)
    xs = np.sort(np.unique(np.round(found.corners[:, 0])))
    ys = np.sort(np.unique(np.round(found.corners[:, 1])))
    # pixel centres: the edge between pixel 99 and 100 is at x = 99.5
    np.testing.assert_allclose(xs, 59.5 + 40 * np.arange(1, 8), atol=1.0)
    np.testing.assert_allclose(ys, 59.5 + 40 * np.arange(1, 5), atol=1.0)
    assert parse_board("checkerboard:5x9:0.06").detect(img) is None


def test_checkerboard_corners_start_beside_the_dark_outer_square():
    """A 4×7 board (5×8 squares, the square at the top left dark, the one at the bottom right
    light): corner 0 is the top-left inner corner, in the image and in the image turned half
    round alike; the orientation test reads the two outer squares' colours."""
    from tessetrack.calibrate.boards import _dark_beyond_last

    board = parse_board("checkerboard:4x7:0.06")
    img = _checkerboard_image((5, 8), px=30, margin=40)
    found = board.detect(img)
    assert found is not None
    np.testing.assert_allclose(found.corners[0], [69.5, 69.5], atol=1.0)  # 40 + 30, pixel centres
    turned = board.detect(np.ascontiguousarray(img[::-1, ::-1]))
    h, w = img.shape
    np.testing.assert_allclose(np.array([w - 1, h - 1]) - turned.corners, found.corners, atol=0.1)
    assert not _dark_beyond_last(board, img, found.corners)
    assert _dark_beyond_last(board, img, found.corners[::-1])
    assert not parse_board("checkerboard:4x6:0.06").oriented
    assert parse_board("charuco:5x7:0.04:0.03").oriented
