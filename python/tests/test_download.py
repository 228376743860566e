"""weights='imagenet' downloads: Keras' cache and file names, hashes checked, KVK_WEIGHTS_URL,
against a local HTTP server (never the internet). No device, no Keras needed."""
import hashlib
import http.server
import os
import socket
import threading

import pytest


class Server:
    """Serves files from a dict; counts requests; `truncate` sends that many bytes less than
    the Content-Length it announces, then closes."""

    def __init__(self):
        self.files, self.requests, self.truncate = {}, [], 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) - server.truncate])
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def test_good_hash_downloads_once_into_keras_cache(server, keras_home, rng):
    from kvk.utils import get_file

    body = rng.bytes(300_000)
    server.files["/dir/a.h5"] = body
    for file_hash in [hashlib.md5(body).hexdigest(), hashlib.sha256(body).hexdigest()]:
        path = get_file("a.h5", server.url + "/dir/a.h5", file_hash=file_hash)
        assert path == os.path.join(str(keras_home), "models", "a.h5")
        assert open(path, "rb").read() == body
        again = get_file("a.h5", server.url + "/dir/a.h5", file_hash=file_hash)
        assert again == path
    assert server.requests == ["/dir/a.h5"]  # the cached file was used, its hash checked
    assert os.listdir(keras_home / "models") == ["a.h5"]  # no partial file left


def test_bad_hash_deletes_and_raises(server, keras_home, rng):
    from kvk.utils import get_file

    server.files["/b.h5"] = rng.bytes(1000)
    with pytest.raises(ValueError, match="Incomplete or corrupted file detected. The md5 file hash"):
        get_file("b.h5", server.url + "/b.h5", file_hash="0" * 32)
    assert os.listdir(keras_home / "models") == []


def test_cached_file_with_wrong_hash_is_fetched_again(server, keras_home, rng):
    from kvk.utils import get_file

    body = rng.bytes(1000)
    server.files["/c.h5"] = body
    os.makedirs(keras_home / "models")
    (keras_home / "models" / "c.h5").write_bytes(b"stale")
    path = get_file("c.h5", server.url + "/c.h5", file_hash=hashlib.md5(body).hexdigest())
    assert open(path, "rb").read() == body and server.requests == ["/c.h5"]


def test_partial_download(server, keras_home, rng):
    from kvk.utils import get_file

    body = rng.bytes(200_000)
    server.files["/d.h5"] = body
    server.truncate = 1000
    with pytest.raises(Exception, match="d.h5"):
        get_file("d.h5", server.url + "/d.h5", file_hash=hashlib.md5(body).hexdigest())
    assert os.listdir(keras_home / "models") == []
    with pytest.raises(Exception, match="d.h5"):  # without a hash too: the length is checked
        get_file("d.h5", server.url + "/d.h5")
    assert os.listdir(keras_home / "models") == []


def test_converted_file_with_recorded_sha256_is_used_offline(server, keras_home, rng):
    """A file kvk converted into the cache (its sha256 recorded beside it) is used although
    Keras' md5 cannot match; once changed, it is fetched again like any stale file."""
    from kvk.utils import CONVERTED_SUFFIX, get_file

    models = keras_home / "models"
    models.mkdir()
    body = rng.bytes(500)
    (models / "c.h5").write_bytes(body)
    (models / ("c.h5" + CONVERTED_SUFFIX)).write_text(hashlib.sha256(body).hexdigest() + "\n")
    keras_md5 = hashlib.md5(b"Keras' own file").hexdigest()
    assert get_file("c.h5", server.url + "/c.h5", file_hash=keras_md5) == str(models / "c.h5")
    assert server.requests == []
    # damaged since (its last byte flipped: appending b"x" in its place left a body that ended
    # in "x" unchanged, one seed in 256, and the test failed)
    (models / "c.h5").write_bytes(body[:-1] + bytes([body[-1] ^ 0xFF]))
    with pytest.raises(Exception, match="URL fetch failure on .*/c.h5"):
        get_file("c.h5", server.url + "/c.h5", file_hash=keras_md5)
    assert server.requests == ["/c.h5"]


def test_server_down_and_missing_file(server, keras_home):
    from kvk.utils import get_file

    with pytest.raises(Exception, match="URL fetch failure on .*/absent.h5"):
        get_file("e.h5", server.url + "/absent.h5")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Exception, match="URL fetch failure"):
        get_file("e.h5", f"http://127.0.0.1:{port}/e.h5")
    assert os.listdir(keras_home / "models") == []


def test_application_uses_keras_names_and_kvk_weights_url(server, keras_home, monkeypatch, rng):
    """ResNet50(weights='imagenet') asks KVK_WEIGHTS_URL for Keras' own file name; a file
    that is not Keras' (its md5 differs) is deleted and refused."""
    from kvk.applications.resnet50 import ResNet50
    from kvk.applications.vgg16 import VGG16

    monkeypatch.setenv("KVK_WEIGHTS_URL", server.url + "/mirror/")
    server.files["/mirror/resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5"] = rng.bytes(100)
    with pytest.raises(ValueError, match="2cb95161c43110f7111970584f804107"):
        ResNet50(weights="imagenet")
    with pytest.raises(Exception, match="URL fetch failure"):
        VGG16(weights="imagenet", include_top=False)
    assert server.requests == [
        "/mirror/resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        "/mirror/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ]
    assert os.listdir(keras_home / "models") == []


def test_keras_file_names():
    from kvk.utils import _mobilenet_name

    assert _mobilenet_name("mobilenet", True, 0.25, 128) == "mobilenet_2_5_128_tf.h5"
    assert _mobilenet_name("mobilenet", False, 1.0, 300) == "mobilenet_1_0_224_tf_no_top.h5"
    assert (
        _mobilenet_name("mobilenet_v2", False, 1.4, 224)
        == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.4_224_no_top.h5"
    )
