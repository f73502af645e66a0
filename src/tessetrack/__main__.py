"""`python -m tessetrack` runs the command-line interface."""

from tessetrack.cli import main

main()
