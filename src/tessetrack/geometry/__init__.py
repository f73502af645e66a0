"""Camera geometry: projection with distortion, undistortion, triangulation, voxel grids, and the
batched cameras of several views the network takes (:class:`Views`)."""

from __future__ import annotations

from tessetrack.geometry.camera import (
    Camera,
    camera_center,
    distort_normalized,
    distortion_jacobian,
    normalized_to_pixel,
    pixel_to_normalized,
    pixel_to_ray,
    project_points,
    projection_matrix,
    stack_cameras,
    undistort_normalized,
    undistort_pixels,
    world_to_camera,
)
from tessetrack.geometry.triangulation import (
    dlt_rows,
    reprojection_error,
    triangulate_dlt,
    triangulate_undistorted,
)
from tessetrack.geometry.units import UNIT_SCALE, LengthUnit, from_metres, guess_unit, to_metres
from tessetrack.geometry.views import Views
from tessetrack.geometry.voxel_grid import (
    VoxelGrid,
    grid_centers,
    index_to_world,
    world_to_grid_sample,
    world_to_index,
)

__all__ = [
    "Camera",
    "Views",
    "VoxelGrid",
    "grid_centers",
    "index_to_world",
    "world_to_grid_sample",
    "world_to_index",
    "LengthUnit",
    "UNIT_SCALE",
    "camera_center",
    "distort_normalized",
    "distortion_jacobian",
    "dlt_rows",
    "from_metres",
    "guess_unit",
    "normalized_to_pixel",
    "pixel_to_normalized",
    "pixel_to_ray",
    "project_points",
    "projection_matrix",
    "reprojection_error",
    "stack_cameras",
    "to_metres",
    "triangulate_dlt",
    "triangulate_undistorted",
    "undistort_normalized",
    "undistort_pixels",
    "world_to_camera",
]
