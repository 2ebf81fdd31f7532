"""Hand-written NumPy layers with forward and backward. Never imports torch."""
