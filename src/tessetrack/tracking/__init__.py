"""Online multi-person tracking: sliding windows, births, deaths, re-identification, merging."""
