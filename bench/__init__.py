"""Benchmarks (`make bench`): each prints its rate next to a floor measured in the same run."""
