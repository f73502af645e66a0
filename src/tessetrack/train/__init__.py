"""Training: the loop, distributed helpers, checkpoints, and recipes (a model's chain of runs)."""
