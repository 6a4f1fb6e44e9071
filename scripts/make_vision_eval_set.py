#!/usr/bin/python3
"""Generates MingChu's small labelled evaluation set for the shipped COCO detector, in YOLO format:

    /usr/bin/python3 scripts/make_vision_eval_set.py OUT_DIR [--skimage-data DIR]

Frames are composed from images the project may distribute: scikit-image's sample photos
(chelsea.png: a cat, CC0; astronaut.png: NASA, public domain; coffee.png: CC0; camera.png: CC0),
pasted at known boxes, scaled, onto kitchen-like backgrounds rendered by ffmpeg (lavfi: tiled
walls, steel gradients, noise), plus empty frames. Deterministic (a fixed seed; ffmpeg renders
the same pixels for the same filter), so the set can be rebuilt and compared.

The photos come from Debian's python3-skimage package. That package cannot be installed next to
libboost1.81-dev (its dependencies pull libboost1.74-dev), so when --skimage-data is not given the
script fetches the .deb with `apt-get download python3-skimage` and unpacks only its data files.

Output: OUT_DIR/images/*.jpg, OUT_DIR/labels/*.txt ("class cx cy w h", normalised),
OUT_DIR/classes.txt (COCO names), OUT_DIR/manifest.json (where every object came from).
"""
import argparse
import glob
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np

W, H = 640, 360
CLASSES = ["person", "cat", "cup"]
# The object inside each source photo (x, y, w, h in the photo's pixels), drawn once by hand.
OBJECTS = {
    "chelsea.png": ("cat", (0, 0, 405, 300), "CC0 (scikit-image: Chelsea the cat, Stefan van der Walt)"),
    "astronaut.png": ("person", (15, 0, 350, 512), "public domain (NASA, Eileen Collins)"),
    "coffee.png": ("cup", (170, 20, 245, 230), "CC0 (scikit-image: Rachel Michetti)"),
    "camera.png": ("person", (0, 60, 320, 452), "CC0 (scikit-image: cameraman)"),
}
BACKGROUNDS = [
    # white wall tiles with grey grout
    "color=c=0xe8e6e0:s={w}x{h},geq=lum='if(lt(mod(X,64),3)+lt(mod(Y,64),3),150,232)':cb=128:cr=128",
    # brushed steel: a horizontal gradient with noise
    "gradients=s={w}x{h}:c0=0x8a8f94:c1=0xd0d4d8:x0=0:y0=0:x1={w}:y1=0:seed=1",
    # beige tiles, larger
    "color=c=0xd9cbb0:s={w}x{h},geq=lum='if(lt(mod(X,96),4)+lt(mod(Y,80),4),120,200)':cb=120:cr=135",
    # dark floor with noise
    "color=c=0x4a4a48:s={w}x{h},noise=alls=8",
]


def ffmpeg_raw(args, w, h):
    out = subprocess.run(["ffmpeg", "-v", "error", *args, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(out, dtype=np.uint8).reshape(h, w, 3).copy()


def load_photo(path):
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                            "-of", "csv=p=0", path], check=True, capture_output=True, text=True).stdout.strip()
    w, h = (int(x) for x in probe.split(",")[:2])
    return ffmpeg_raw(["-i", path], w, h)


def resize(img, w, h):
    # nearest-neighbour index maps; enough for composing (the detector resizes to 300x300 anyway)
    ys = (np.arange(h) * img.shape[0] / h).astype(int)
    xs = (np.arange(w) * img.shape[1] / w).astype(int)
    return img[ys][:, xs]


def save_jpeg(img, path):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-i", "-",
                    "-q:v", "6", "-frames:v", "1", path], input=img.tobytes(), check=True)


def skimage_data_dir():
    tmp = tempfile.mkdtemp(prefix="mingchu-skimage-")
    subprocess.run(["apt-get", "download", "python3-skimage"], cwd=tmp, check=True, capture_output=True)
    deb = glob.glob(os.path.join(tmp, "python3-skimage_*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "x")], check=True)
    return glob.glob(os.path.join(tmp, "x", "usr", "lib", "python3*", "dist-packages", "skimage", "data"))[0] \
        if glob.glob(os.path.join(tmp, "x", "usr", "lib", "python3*")) else \
        os.path.join(tmp, "x", "usr", "lib", "python3", "dist-packages", "skimage", "data")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--skimage-data")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--empty", type=int, default=10)
    args = ap.parse_args()
    data = args.skimage_data or skimage_data_dir()
    photos = {name: load_photo(os.path.join(data, name)) for name in OBJECTS}
    rng = random.Random(20261202)
    os.makedirs(os.path.join(args.out, "images"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "labels"), exist_ok=True)
    with open(os.path.join(args.out, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    backgrounds = [ffmpeg_raw(["-f", "lavfi", "-i", b.format(w=W, h=H)], W, H) for b in BACKGROUNDS]
    manifest = {"sources": {n: {"label": o[0], "licence": o[2], "box_in_photo": o[1]} for n, o in OBJECTS.items()},
                "backgrounds": BACKGROUNDS, "frames": []}
    names = sorted(OBJECTS)
    for i in range(args.frames):
        img = backgrounds[i % len(backgrounds)].copy()
        labels, placed = [], []
        count = 0 if i < args.empty else (1 if i % 3 else 2)
        for k in range(count):
            name = names[(i + k) % len(names)] if k == 0 else names[(i * 7 + 3) % len(names)]
            label, (bx, by, bw, bh), _ = OBJECTS[name]
            photo = photos[name]
            for _ in range(50):
                scale = rng.uniform(0.22, 0.62) * H / photo.shape[0]
                pw, ph = int(photo.shape[1] * scale), int(photo.shape[0] * scale)
                if pw >= W or ph >= H:
                    continue
                x, y = rng.randint(0, W - pw), rng.randint(0, H - ph)
                if all(x + pw <= px or px + pww <= x or y + ph <= py or py + phh <= y for px, py, pww, phh in placed):
                    break
            else:
                continue
            placed.append((x, y, pw, ph))
            img[y:y + ph, x:x + pw] = resize(photo, pw, ph)
            ox, oy = x + bx * scale, y + by * scale
            ow, oh = min(bw * scale, W - ox), min(bh * scale, H - oy)
            labels.append((CLASSES.index(label), (ox + ow / 2) / W, (oy + oh / 2) / H, ow / W, oh / H))
            manifest["frames"].append({"image": f"{i:03d}.jpg", "source": name, "box": [round(ox), round(oy),
                                                                                         round(ow), round(oh)]})
        save_jpeg(img, os.path.join(args.out, "images", f"{i:03d}.jpg"))
        with open(os.path.join(args.out, "labels", f"{i:03d}.txt"), "w") as f:
            for c, cx, cy, w, h in labels:
                f.write(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"{args.frames} frames ({args.empty} empty) -> {args.out}")


if __name__ == "__main__":
    sys.exit(main())
