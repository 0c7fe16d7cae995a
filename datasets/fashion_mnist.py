"""Fashion-MNIST (Xiao, Rasul and Vollgraf 2017) as a source: ``--source fashion-mnist``.

Ten classes of Zalando article images, 28 x 28 grey, 60,000 train / 10,000 test: the same
shape and file format as MNIST, so the Colored MNIST construction (noise-textured background
in the class's colour for 1 - r of the training images; aligned, conflicting, cycled and
greyscale test splits) applies unchanged and gives Colored Fashion-MNIST. The garment's
pixels take the role of the digit's strokes.

Not shipped with the suite (MIT licence, 30 MB). Where a run finds the files, in order:
``--data-root`` / ``$BENCH_DATA_ROOT`` (``<root>/FashionMNIST/raw/``, torchvision's layout, or
the folder of the four files itself); else Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist/``). torchvision downloads the same files where there is
network: ``torchvision.datasets.FashionMNIST(root, download=True)`` then ``--data-root root``.

Checksums. The SHA-256s below are of the *uncompressed* official files, computed from the
copies Debian ships; those copies are gzipped again without the file name in the header (each
.gz is 23-24 bytes shorter than the published one, which is exactly the stored name), so their
.gz MD5s differ from the values published in zalandoresearch/fashion-mnist's README
(``8d4fb7e6...``, ``25c81989...``, ``bef4ecab...``, ``bb300cfd...``), while the compressed data
and the uncompressed content are the same. Hashing the content accepts both.
"""
from __future__ import annotations

from pathlib import Path

from bench.registry import SOURCES
from bench.datasets.idx_files import IdxFile, OfficialFiles
from bench.datasets.sources import OfficialSource

FASHION_MNIST = OfficialFiles("Fashion-MNIST", "FashionMNIST", (
    IdxFile("train-images-idx3-ubyte", (60000, 28, 28),
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    IdxFile("train-labels-idx1-ubyte", (60000,),
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", classes=10),
    IdxFile("t10k-images-idx3-ubyte", (10000, 28, 28),
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    IdxFile("t10k-labels-idx1-ubyte", (10000,),
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", classes=10),
))
# Label order of the official README (and of torchvision's FashionMNIST.classes).
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot")
# Searched when no root is named: where system packages install the official files.
SYSTEM_FOLDERS = (Path("/usr/share/datasets/fashion-mnist"),)

FASHION_MNIST_SOURCE = OfficialSource(
    "fashion-mnist", FASHION_MNIST, CLASSES, fallbacks=SYSTEM_FOLDERS,
    fallback_name=f"the system copy in {SYSTEM_FOLDERS[0]}",
    damaged_fix=(f"reinstall the dataset-fashion-mnist package, or point --data-root at an "
                 f"official copy"),
    not_found=(f"no Fashion-MNIST found: pass --data-root with the folder that holds "
               f"FashionMNIST/raw/ (torchvision's layout), or install Debian's "
               f"dataset-fashion-mnist ({SYSTEM_FOLDERS[0]}); see docs/datasets.md"))
SOURCES.add("fashion-mnist", FASHION_MNIST_SOURCE)
