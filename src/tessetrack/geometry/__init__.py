"""Camera geometry: projection with distortion, undistortion, triangulation, voxel grids."""

from __future__ import annotations

from tessetrack.geometry.camera import (
    Camera,
    camera_center,
    distort_normalized,
    project_points,
    projection_matrix,
    stack_cameras,
    world_to_camera,
)

__all__ = [
    "Camera",
    "camera_center",
    "distort_normalized",
    "project_points",
    "projection_matrix",
    "stack_cameras",
    "world_to_camera",
]
