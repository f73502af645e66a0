"""Training: the loop, distributed helpers and checkpoints."""
