"""Benchmark protocols (leave-one-domain-out, ...) and their result tables."""
