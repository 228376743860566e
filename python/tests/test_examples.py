"""The two examples of the Keras Applications documentation, unchanged but for imports and
weights= (a file of random weights written by real Keras), against Keras' own outputs on the
same file and photo (make_oracle.py). Needs a Vulkan device (CTest runs it per driver)."""
import json
import os
import threading

import numpy as np
import pytest

from conftest import rel_error

TOLERANCE = 1e-4  # max abs error over max abs value


def test_resnet50_example(oracle, capsys):
    from kvk.applications.resnet50 import ResNet50, decode_predictions, preprocess_input
    from kvk.preprocessing import image

    photo = json.load(open(os.path.join(oracle, "oracle.json")))["photo"]
    model = ResNet50(weights=os.path.join(oracle, "resnet50.h5"))
    img = image.load_img(photo, target_size=(224, 224))
    x = image.img_to_array(img)
    x = np.expand_dims(x, axis=0)
    x = preprocess_input(x)
    np.testing.assert_array_equal(x, np.load(os.path.join(oracle, "resnet50_x.npy")))
    preds = model.predict(x)
    want = np.load(os.path.join(oracle, "resnet50_preds.npy"))
    assert preds.dtype == np.float32 and preds.shape == (1, 1000)
    err = rel_error(preds, want)
    print(f"resnet50 example: relative error {err:.2e}")
    assert err <= TOLERANCE
    top = decode_predictions(preds, top=3)[0]
    print("Predicted:", top)
    assert len(top) == 3 and all(len(t) == 3 for t in top)
    # the same classes as Keras' top 3, but where Keras' scores are closer than the error
    keras_top = np.argsort(want[0])[::-1][:3]
    from kvk.applications.imagenet_utils import _class_index

    for (wnid, _, score), k in zip(top, keras_top):
        if wnid != _class_index()[k][0]:
            assert abs(score - want[0][k]) <= 2 * TOLERANCE * want.max()
    assert "1/1" in capsys.readouterr().out  # Keras' progress bar line


def test_vgg19_feature_extraction_example(oracle):
    from kvk.applications.vgg19 import VGG19, preprocess_input  # noqa: F401 (the example's)
    from kvk.models import Model

    x = np.load(os.path.join(oracle, "vgg19_x.npy"))
    base_model = VGG19(
        weights=os.path.join(oracle, "vgg19.h5"), include_top=False, input_shape=(96, 96, 3)
    )
    model = Model(inputs=base_model.input, outputs=base_model.get_layer("block4_pool").output)
    block4_pool_features = model.predict(x, verbose=0)
    want = np.load(os.path.join(oracle, "vgg19_block4_pool.npy"))
    err = rel_error(block4_pool_features, want)
    print(f"vgg19 block4_pool: relative error {err:.2e}")
    assert err <= TOLERANCE
    names = json.load(open(os.path.join(oracle, "oracle.json")))["layers"]["vgg19_block4_pool"]
    assert [layer.name for layer in model.layers][1:] == names[1:]  # the input's name differs


def test_several_outputs_and_batches(rng):
    """Model(outputs=[...]) gives each layer's output; batches of any size give what the
    images give one by one (the model is rebuilt for a larger batch on the way)."""
    from kvk.applications.mobilenet_v2 import MobileNetV2
    from kvk.models import Model

    base = MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = Model(base.input, [base.get_layer("block_3_expand_relu").output, base.output])
    x = rng.uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32)
    both = model.predict(x, batch_size=2, verbose=0)
    assert isinstance(both, list) and [a.shape for a in both] == [(3, 8, 8, 144), (3, 1, 1, 1280)]
    for i in range(3):
        one = model.predict(x[i : i + 1], verbose=0)
        for got, want in zip(both, one):
            assert rel_error(got[i : i + 1], want) <= 1e-5
    np.testing.assert_array_equal(base.predict(x, batch_size=3, verbose=0), model.predict(x, verbose=0)[1])


def test_layers_summary_get_layer(oracle, capsys):
    from kvk.applications.resnet50 import ResNet50

    model = ResNet50(weights=os.path.join(oracle, "resnet50.h5"))
    names = json.load(open(os.path.join(oracle, "oracle.json")))["layers"]["resnet50"]
    # the same layers in Keras' order (the input's name differs: tf-keras counts its inputs;
    # Keras lists a block's shortcut after its first convolutions, as kvk now does)
    assert [layer.name for layer in model.layers[1:]] == names[1:]
    assert model.input.shape == (None, 224, 224, 3)
    assert model.output.shape == (None, 1000)
    assert model.get_layer("conv5_block3_out").output.shape == (None, 7, 7, 2048)
    assert model.get_layer(index=2).name == names[2]
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    model.summary()
    out = capsys.readouterr().out
    assert 'Model: "resnet50"' in out and "conv1_conv (Conv2D)" in out and "(None, 1000)" in out
    with pytest.raises(ValueError, match="incompatible with the layer: expected shape=\\(None, 224, 224, 3\\)"):
        model.predict(np.zeros((1, 200, 200, 3), np.float32))


def test_load_model(oracle):
    from kvk.models import load_model

    model = load_model(os.path.join(oracle, "small_model.h5"))
    x = np.load(os.path.join(oracle, "small_x.npy"))
    err = rel_error(model.predict(x, verbose=0), np.load(os.path.join(oracle, "small_y.npy")))
    assert err <= TOLERANCE
    assert [layer.name for layer in model.layers][1:] == ["c1", "bn", "pool", "c2", "gap", "out"]
    with pytest.raises(ValueError, match="File not found"):
        load_model(os.path.join(oracle, "absent.h5"))


def test_models_in_threads(rng):
    """Several models, each run from its own thread and one run from several threads at
    once: every result equals the same model's result run alone."""
    from kvk.applications.mobilenet_v2 import MobileNetV2
    from kvk.applications.resnet50 import ResNet50

    models = [
        ResNet50(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg"),
        MobileNetV2(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max"),
    ]
    xs = [rng.uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32) for _ in range(4)]
    alone = [[m.predict(x, verbose=0) for x in xs] for m in models]
    results, errors = {}, []

    def work(mi, xi):
        try:
            results[(mi, xi)] = models[mi].predict(xs[xi], verbose=0)
        except Exception as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(mi, xi)) for mi in range(2) for xi in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (mi, xi), got in results.items():
        np.testing.assert_array_equal(got, alone[mi][xi])
    assert len(results) == 8


def test_installed_package_has_its_library():
    """Run from a pip-installed copy (python_install): the library is the one inside it."""
    import kvk
    from kvk import _lib

    if os.environ.get("KVK_LIBRARY"):
        pytest.skip("KVK_LIBRARY names the library: this run is not of an installed copy")
    assert os.path.exists(os.path.join(os.path.dirname(kvk.__file__), "_libs", "libkvk.so"))
    assert _lib.lib._name == os.path.join(os.path.dirname(kvk.__file__), "_libs", "libkvk.so")
