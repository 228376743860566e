"""Builds libkvk with CMake (the checkout one folder up) and ships it inside the package, so
`pip install ./python` is the whole installation. KVK_PREBUILT_LIBRARY=path/libkvk.so ships a
library already built instead (the tests use it; no second build)."""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithLibkvk(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "kvk" / "_libs" / "libkvk.so"
        target.parent.mkdir(parents=True, exist_ok=True)
        prebuilt = os.environ.get("KVK_PREBUILT_LIBRARY")
        if prebuilt:
            library = Path(prebuilt)
        else:
            build = Path(self.get_finalized_command("build").build_temp) / "libkvk"
            configure = ["cmake", "-S", str(HERE.parent), "-B", str(build),
                         "-DCMAKE_BUILD_TYPE=Release", "-DKVK_BUILD_TESTS=OFF"]
            if shutil.which("ninja"):
                configure += ["-G", "Ninja"]
            subprocess.run(configure, check=True)
            jobs = [] if os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") else ["-j", str(os.cpu_count() or 1)]
            subprocess.run(["cmake", "--build", str(build), *jobs], check=True)
            library = build / "libkvk.so"
        if not library.exists():
            raise SystemExit(f"kvk: no libkvk at {library}")
        shutil.copyfile(library.resolve(), target)  # the file, not the symlink


setup(cmdclass={"build_py": BuildPyWithLibkvk})
