"""Pictures people would rather look at than read: overlays, 3D plots, timelines."""
