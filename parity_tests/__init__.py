"""The parity suite: the pair registry, the generic harness, the test matrix."""
