"""Reading, writing and describing data: cases, sources, synthetic data, transforms."""
