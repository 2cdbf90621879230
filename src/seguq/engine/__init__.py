"""Orchestration shared by the command line and the Python API: train, predict, evaluate, demo."""
