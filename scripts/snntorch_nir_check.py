"""snnTorch → NIR → somata: a network snnTorch exports runs in somata with the same spikes.

A venv with `pip install snntorch nirtorch torch nir` and somata (`pip install ./python`):

    python scripts/snntorch_nir_check.py

snnTorch's `Leaky` steps `mem ← β·mem + I` (reset to zero: `mem ← (1 − reset)·mem` first) and
exports a NIR `LIF` with `tau = dt/(1 − β)`, `r = tau/dt`, `v_leak = 0`, `v_reset = 0` at
`dt = 1e-4 s`; that is forward Euler of NIR's ODE, which `somata.nir.from_nir(graph, dt=0.1,
method="euler")` reproduces exactly. The check runs a Linear → Leaky → Linear → Leaky network
(per-neuron β and thresholds, reset to zero, as NIR's reset is) on random input and compares
every output spike. Prints the spike counts and `identical: True`.
"""

import numpy as np
import torch
import snntorch as snn
from snntorch import utils as snn_utils
from snntorch.export_nir import export_to_nir

import somata.nir


def main():
    torch.manual_seed(3)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 20),
        snn.Leaky(beta=torch.full((20,), 0.9), threshold=torch.ones(20), init_hidden=True, reset_mechanism="zero"),
        torch.nn.Linear(20, 3),
        snn.Leaky(beta=torch.full((3,), 0.8), threshold=torch.ones(3), init_hidden=True, reset_mechanism="zero", output=True),
    )
    T, B = 300, 4
    x = torch.rand(T, B, 4) * 3.0 + 0.5
    snn_utils.reset(net)
    spk = []
    with torch.no_grad():
        for t in range(T):
            s, _ = net(x[t])
            spk.append(s.numpy().copy())
    spk = np.array(spk)
    graph = export_to_nir(net, x[0, 0])
    seq = somata.nir.from_nir(graph, dt=0.1, method="euler")
    y = seq.forward(x.numpy().transpose(1, 0, 2))
    print(f"NIR nodes: {[type(n).__name__ for n in graph.nodes.values()]}; somata: {seq}")
    print(f"snnTorch spikes: {int(spk.sum())}, somata spikes: {int(y.sum())}, identical: {np.array_equal(spk, y)}")


if __name__ == "__main__":
    main()
