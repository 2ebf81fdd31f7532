"""The matrix: every case of every pair (named by the root conftest.py), forward, gradients
and state against torch."""

from parity_tests import parity_matrix

test_parity = parity_matrix()
