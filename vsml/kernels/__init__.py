"""Fused kernels for the dense VSML tick (Section 3, Eq. 7; Appendix C "LSTM implementation").

Both do a whole ``DenseTick`` call without materialising the gate
pre-activations ``[P, A*B, 4N]``: every sub-LSTM's ``h, c`` stay in registers
for all micro-ticks and are written once, and the outgoing messages are
reduced in the same pass.

* ``cpu_tick``: C++ with vector extensions and OpenMP, compiled on first use
  with the system's C++ compiler and called through ``ctypes``;
* ``triton_tick``: a Triton kernel for CUDA (also runs under ``TRITON_INTERPRET=1``).
* ``cpu_conv``: the same for the convolutional layer of Appendix B.2
  (``vsml.conv.ConvTick``), ``h W_h`` once per kernel weight and tick;
* ``vector_math``: the C++ vector helpers (``exp``, sigmoid, tanh, a small
  projection) that the CPU kernels and the cloned-layer kernel
  (``vsml.cloning.kernel``) share; ``build``: how they are compiled and cached.

``vsml.dense_tick.DenseTick`` picks them for inference (no autograd) and falls back
to its PyTorch path where they do not apply.
"""
