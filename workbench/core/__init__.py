"""The bottom layer: files (atomic, strict JSON, hashes), secrets, the registry shape, parallelism,
formatting, package versions, and the runner↔kernel protocol (run context, journal, run records,
notebook-side tracking). Imports nothing above it; importing it is cheap (no numpy, no pandas).
"""
