"""Twin of reference/bilinear.py: torch's Bilinear, weight (out, in1, in2) as the reference's."""

from torch import nn

from torch_impl.base import check_input


class Bilinear(nn.Bilinear):
    def forward(self, x1, x2):
        check_input(x1, "Bilinear first input", ("N", self.in1_features))
        check_input(x2, "Bilinear second input", (x1.shape[0], self.in2_features))
        return super().forward(x1, x2)
