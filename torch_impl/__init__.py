"""PyTorch twins of the reference layers, built from torch's modules; autograd does backward."""
