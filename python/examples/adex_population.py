"""100 AdExIF neurons under currents spread from 0 to 40 mA (brainpy.state's AdExIF with its
defaults), as a BrainPy user writes it: a layer, ``init_state``, a loop of ``update`` or one
``run`` over the whole sequence; prints the firing rate of every tenth neuron and the
adaptation current of the last.

    python python/examples/adex_population.py
"""

import numpy as np

import somata


def main():
    somata.environ.set(dt=0.1)
    n = 100
    neu = somata.AdExIF(n, spk_reset="hard")
    neu.init_state()
    currents = np.linspace(0.0, 40.0, n)                      # mA, one per neuron
    spikes, states = neu.run(currents, duration="500 ms", record=["V", "w"])
    rates = spikes.sum(axis=0) / 0.5                          # Hz over 500 ms
    for i in range(0, n, 10):
        print(f"neuron {i:3d}: I = {currents[i]:5.1f} mA, {rates[i]:6.1f} Hz")
    print(f"w of neuron {n - 1} after 500 ms: {states['w'][-1, -1]:.3f} mA")
    # the same, step by step (bit-identical to run)
    neu.reset_state()
    stepped = np.stack([neu.update(currents) for _ in range(spikes.shape[0])])
    assert np.array_equal(stepped, spikes.astype(np.float32))


if __name__ == "__main__":
    main()
