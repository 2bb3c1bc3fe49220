"""A two-layer spiking network trained by surrogate-gradient BPTT on the UCI digits shipped with
somata (8×8 images, 10 classes), from numpy arrays: Linear 64→128 → LIF (τ = 5 ms, Sigmoid
surrogate) → LeakyRateReadout 128→10, 20 steps of 1 ms, Adam, with a checkpoint per epoch.

    python python/examples/train_digits.py [--epochs 10]
"""

import argparse
import gzip
import pathlib
import tempfile

import numpy as np

import somata

DIGITS = pathlib.Path(__file__).resolve().parents[2] / "crates" / "somata" / "data" / "digits.csv.gz"


def load():
    a = np.loadtxt(gzip.open(DIGITS, "rt"), delimiter=",", dtype=np.float32)
    x, y = a[:, :64] / 16.0, a[:, 64].astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    k = int(0.8 * len(x))
    return (x[:k], y[:k]), (x[k:], y[k:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    a = ap.parse_args()
    (xtr, ytr), (xte, yte) = load()
    net = somata.nn.Sequential(
        [
            somata.nn.Linear(64, 128, seed=0),
            somata.LIF(128, tau="5 ms", V_th=1.0, spk_fun="Sigmoid"),
            somata.nn.Readout(128, 10, tau="5 ms", seed=1),
        ],
        dt=1.0,
    )
    ckpt = pathlib.Path(tempfile.gettempdir()) / "somata_digits.safetensors"
    hist = net.fit(xtr, ytr, steps=20, epochs=a.epochs, lr=5e-3, batch_size=64, validation=(xte, yte), checkpoint=ckpt)
    for h in hist:
        print(f"epoch {h['epoch'] + 1}: loss {h['loss']:.4f}, train {100 * h['accuracy']:.1f}%, test {100 * h['val_accuracy']:.1f}%")
    _, acc = net.evaluate(xte, yte, steps=20)
    print(f"checkpoint: {ckpt}")
    print(f"test accuracy: {100 * acc:.2f}%")


if __name__ == "__main__":
    main()
